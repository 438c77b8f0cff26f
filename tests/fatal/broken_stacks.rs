//! Stacks the unwinder cannot trust: smashed stack and frame pointer, a call
//! through a garbage function pointer.

use std::time::Duration;

use crate::common::*;

#[test]
fn smashed_stack_and_frame_pointer() {
    let prog = faults_o0();
    // Pointers into nothing, then into readable junk.
    for readable in [false, true] {
        let mut runner = Runner::new(&prog)
            .arg("smash")
            .timeout(Duration::from_secs(20));
        if readable {
            runner = runner.env("FAULTS_SMASH", "readable");
        }
        let run = runner.run();
        run.assert_killed_by(libc::SIGSEGV);
        let dump = assert_complete(&run);
        let current = dump.current();
        assert_eq!(current.names()[0], "do_smash", "readable={readable}");
        assert!(
            current.frames.len() <= 2,
            "nothing to unwind past the junk: {:?}",
            current.names()
        );
    }
}

#[test]
fn call_through_a_garbage_function_pointer() {
    let prog = faults_o0();
    let run = Runner::new(&prog).arg("bad-pointer").run();
    run.assert_killed_by(libc::SIGSEGV);
    let dump = assert_complete(&run);
    assert_eq!(
        dump.event.as_deref(),
        Some("Fatal error: Segmentation fault (SIGSEGV, SEGV_MAPERR, address 0xdead0000)")
    );
    assert!(
        dump.cause
            .as_deref()
            .unwrap_or_default()
            .starts_with("Cause: jump to an unmapped address")
    );
    let current = dump.current();
    let f0 = &current.frames[0];
    assert_eq!((f0.function.as_str(), f0.offset), ("??", None));
    assert_eq!(f0.addr, 0xdead0000);
    assert_eq!(f0.module, "[anonymous]");
    assert_eq!(
        current.names()[1],
        "do_bad_pointer",
        "frame 1 is the caller"
    );
    current.assert_chain(&chain_of("do_bad_pointer"));
    let gdb = gdb_backtrace_past_main(&prog, &["bad-pointer"], &[], &[]);
    assert_matches_gdb(current, &gdb, "??", None);
}

/// Issue 17, items 2 and 3: a fault of the signal being handled, inside
/// the dump. The frame pointer points into a page of a file mapping past
/// the end of the file (readable in /proc/self/maps, SIGBUS when read):
/// the program dies of SIGBUS there, and the dump's unwinder faults with
/// SIGBUS again, inside a recovery point (`sys::recover`): the walk stops
/// there and the dump goes on, whole, and the process dies of the
/// program's SIGBUS (before item 2: no output at all; before item 3: the
/// "dump itself failed" line instead of the rest of the dump).
#[cfg(target_arch = "x86_64")]
#[test]
fn same_signal_fault_inside_the_dump_is_recovered_and_dies_as_the_program() {
    let prog = build_c("nested_fault.c", "nested_fault", &["-O0", "-g"]);
    let run = Runner::new(&prog).timeout(Duration::from_secs(20)).run();
    run.assert_killed_by(libc::SIGBUS);
    let dump = assert_complete(&run);
    assert!(
        dump.event
            .as_deref()
            .unwrap_or_default()
            .starts_with("Fatal error: Bus error (SIGBUS"),
        "{}",
        run.stderr
    );
    assert_eq!(dump.current().names()[0], "bus_with_frame_past_eof");
    assert!(!dump.modules.is_empty(), "{}", run.stderr);
}

/// A fault of our own inside the dump, of the signal being handled (a
/// SIGSEGV while dumping a SIGSEGV, outside any recovery point: the
/// `selftest-fault-in-dump` build reads a bad address after the event line)
/// reaches the fatal handler, which says so in one line and lets the
/// program die of its own signal; and the same for a fault of another
/// signal's dump (SIGSEGV while dumping SIGABRT).
#[test]
fn a_fault_of_our_own_inside_the_dump_says_so_and_dies_as_the_program() {
    let lib = selftest_library("selftest-fault-in-dump");
    let lib = lib.to_string_lossy().into_owned();
    for (mode, signal, event) in [
        (
            "segv",
            libc::SIGSEGV,
            "Fatal error: Segmentation fault (SIGSEGV",
        ),
        ("abrt", libc::SIGABRT, "Fatal error: Aborted (SIGABRT"),
    ] {
        let run = Runner::new(faults_o0())
            .arg(mode)
            .preload(&lib)
            .timeout(Duration::from_secs(20))
            .run();
        run.assert_killed_by(signal);
        let lines: Vec<&str> = run.stderr.lines().collect();
        let at = lines
            .iter()
            .position(|l| l.starts_with(event))
            .unwrap_or_else(|| panic!("{mode}: no event line: {}", run.stderr));
        assert!(
            lines[at..]
                .contains(&"faultdump: the dump itself failed with SIGSEGV; ending the process"),
            "{mode}: {}",
            run.stderr
        );
    }
}
