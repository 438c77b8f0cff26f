//! The program's own handlers: a dump from inside another handler, a handler
//! installed before ours chained after the dump, a handler that recovers.

use crate::common::*;

/// The program's own handler, installed after ours, puts ours back and
/// raises again from inside itself: the dump continues through the
/// trampoline to the frames of the original fault.
#[test]
fn dump_from_inside_another_handler() {
    let prog = faults_o0();
    let run = Runner::new(&prog).arg("reraise").run();
    run.assert_killed_by(libc::SIGSEGV);
    let dump = assert_complete(&run);
    assert_segv_sent_by_itself(&dump, &run);
    let current = dump.current();
    let mut chain = vec!["reraising_handler", "<signal handler called>", "do_segv"];
    chain.extend(chain_of("do_reraise"));
    current.assert_chain(&chain);
    let gdb = gdb_backtrace_past_main(
        &prog,
        &["reraise"],
        &[],
        &["handle SIGSEGV nostop noprint pass", "break raise"],
    );
    assert_matches_gdb(current, &gdb, "reraising_handler", None);
}

/// A handler installed before ours (here by a library initialised first)
/// is put back after the dump and gets the signal: a fault repeats (the
/// kernel's siginfo), a sent signal is sent again.
#[test]
fn handler_installed_before_ours_runs_after_the_dump() {
    let prog = faults_o0();
    let early = build_c(
        "early_handler.c",
        "libearly_handler.so",
        &["-O2", "-shared", "-fPIC"],
    );
    let preload = format!("{} {}", lib_path().display(), early.display());
    for (mode, code) in [("segv", "1"), ("kill", "-6")] {
        let run = Runner::new(&prog)
            .arg(mode)
            .preload(&preload)
            .env("FAULTS_SIGNAL", libc::SIGSEGV.to_string())
            .run();
        assert_eq!(
            run.code(),
            Some(42),
            "{mode}: the early handler exits 42:\n{}",
            run.stderr
        );
        let dump = assert_complete(&run);
        dump.current()
            .assert_chain(&chain_of(&format!("do_{mode}")));
        let last = run.stderr.lines().last().unwrap_or_default();
        assert_eq!(
            last,
            format!("early handler: si_code {code}"),
            "{mode}: after the dump, with the fault's own si_code (SEGV_MAPERR) \
             or the re-sent signal's (SI_TKILL)"
        );
    }
}

#[test]
fn own_handler_that_recovers_gets_no_dump() {
    let prog = faults_o0();
    let run = Runner::new(&prog).arg("recover").run();
    assert_eq!(run.code(), Some(0), "{}", run.stderr);
    assert_eq!(run.stdout.trim(), "recovered 3");
    assert!(!run.stderr.contains("faultdump"), "{}", run.stderr);
}
