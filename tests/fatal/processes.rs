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
