//! Threads and processes: eight threads faulting at once give one dump; a
//! forked child dumps with its own pid.

use std::time::Duration;

use crate::common::*;

#[test]
fn eight_threads_faulting_at_once_give_one_dump() {
    let prog = threads();
    for _ in 0..3 {
        let run = Runner::new(&prog)
            .arg("eight")
            .timeout(Duration::from_secs(30))
            .run();
        run.assert_killed_by(libc::SIGSEGV);
        let headers = run
            .stderr
            .lines()
            .filter(|l| l.starts_with("faultdump: pid "))
            .count();
        assert_eq!(headers, 1, "one dump header:\n{}", run.stderr);
        let dump = assert_complete(&run);
        assert_eq!(
            run.stderr
                .lines()
                .filter(|l| l.starts_with("Fatal error:"))
                .count(),
            1
        );
        let current = dump.current();
        assert_ne!(current.tid as u32, run.pid);
        current.assert_chain(&[
            "thread_null_write",
            "faulting_thread",
            "start_thread",
            "clone3",
        ]);
    }
    let gdb = gdb_backtrace_past_main(&prog, &["eight"], &[], &[]);
    let run = Runner::new(&prog).arg("eight").run();
    assert_matches_gdb(
        assert_complete(&run).current(),
        &gdb,
        "thread_null_write",
        None,
    );
}

#[test]
fn forked_child_that_crashes_dumps_with_its_own_pid() {
    let prog = threads();
    let run = Runner::new(&prog).arg("fork").run();
    assert_eq!(
        run.code(),
        Some(0),
        "the parent is unaffected: {}",
        run.stderr
    );
    let (child, signal) = run
        .stdout
        .trim()
        .strip_prefix("child ")
        .and_then(|s| s.split_once(" signal "))
        .map(|(c, s)| (c.parse::<i32>().unwrap(), s.parse::<i32>().unwrap()))
        .unwrap_or_else(|| panic!("stdout {:?}", run.stdout));
    assert_eq!(signal, libc::SIGSEGV, "the child dies by the signal");
    let dumps = run.dumps();
    assert_eq!(dumps.len(), 1, "{}", run.stderr);
    let dump = &dumps[0];
    assert!(dump.complete);
    assert_eq!(dump.pid, child);
    assert_ne!(dump.pid as u32, run.pid);
    assert_eq!(dump.current().tid, child);
    dump.current()
        .assert_chain(&["thread_null_write", "child_crash", "run_fork", "main"]);
}

/// Issue 17, item 1: a worker crashes while the main thread waits in a
/// call that any handler interrupts (EINTR whatever SA_RESTART says). The
/// dump must not let the main thread return from it: the process dies of
/// the worker's SIGSEGV after one whole dump showing the worker's frames
/// and the main thread's wait.
#[test]
fn worker_crash_while_main_waits_dies_with_one_dump() {
    let prog = build_c("main_waits.c", "main_waits", &["-O0", "-g", "-pthread"]);
    let modes = ["sleep", "poll", "pause", "epoll", "sigsuspend"];
    let runs: Vec<_> = modes
        .iter()
        .map(|&mode| {
            let prog = prog.clone();
            std::thread::spawn(move || {
                Runner::new(&prog)
                    .arg(mode)
                    .timeout(Duration::from_secs(30))
                    .run()
            })
        })
        .collect();
    for (mode, run) in modes.iter().zip(runs) {
        let run = run.join().unwrap();
        assert!(
            !run.stderr.contains("main: "),
            "{mode}: the main thread returned from its wait:\n{}",
            run.stderr
        );
        run.assert_killed_by(libc::SIGSEGV);
        let dump = assert_complete(&run);
        let current = dump.current();
        assert_ne!(current.tid as u32, run.pid, "{mode}");
        current.assert_chain(&["worker_crash", "worker_main", "start_thread"]);
        let main = dump
            .thread(run.pid as i32)
            .unwrap_or_else(|| panic!("{mode}: no main thread in\n{}", run.stderr));
        assert!(main.position("main").is_some(), "{mode}:\n{}", run.stderr);
    }
}
