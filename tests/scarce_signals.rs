//! Every thread shown when real-time signals are scarce (issue 22;
//! tests/programs/signal_queue.c): the per-user signal queue full
//! (`RLIMIT_SIGPENDING` at 0), and a program with a handler on every
//! real-time signal, whose threads compute while one queues signals to the
//! process. The computing threads are stopped and walked, the dump says
//! how, and none of the program's own signals is lost.

mod common;

use std::path::PathBuf;

use common::*;

fn program() -> PathBuf {
    build_c("signal_queue.c", "signal_queue", &["-O0", "-g", "-pthread"])
}

/// The three computing threads, each walked to `compute_forever`.
fn assert_computing_threads_shown(dump: &Dump, stderr: &str) {
    let computing = dump
        .threads
        .iter()
        .filter(|t| !t.current && t.has_chain(&["compute_forever", "worker"]))
        .count();
    assert_eq!(computing, 3, "{stderr}");
    assert!(
        dump.threads.iter().all(|t| t.no_answer.is_none()),
        "{stderr}"
    );
}

/// `signal_queue MODE` dies of SIGSEGV with a complete dump that shows the
/// computing threads and a note starting with `noted`.
fn assert_crash_shows_threads_and_note(mode: &str, noted: &str) {
    let run = Runner::new(program()).arg(mode).run();
    run.assert_killed_by(libc::SIGSEGV);
    let dump = assert_complete(&run);
    assert_computing_threads_shown(&dump, &run.stderr);
    assert!(dump.note(noted).is_some(), "{}", run.stderr);
}

#[test]
fn full_signal_queue_with_computing_threads() {
    assert_crash_shows_threads_and_note(
        "full",
        "faultdump: the signal queue is full (RLIMIT_SIGPENDING)",
    );
}

#[test]
fn program_owning_every_realtime_signal_crashes() {
    assert_crash_shows_threads_and_note(
        "owned",
        "faultdump: the program has a handler on every real-time signal",
    );
}

#[test]
fn program_owning_every_realtime_signal_gets_all_of_them() {
    let run = Runner::new(program())
        .arg("owned-user")
        .env("FAULTHANDLER_SIGNAL", "SIGUSR1")
        .run();
    assert_eq!(run.code(), Some(0), "{}", run.stderr);
    let dumps = run.dumps();
    assert_eq!(dumps.len(), 3, "{}", run.stderr);
    for dump in &dumps {
        assert!(dump.complete, "{}", run.stderr);
        assert_computing_threads_shown(dump, &run.stderr);
    }
    // "sent N delivered N": every signal the program queued reached its
    // handlers, through the dumps that borrowed one of them.
    let words: Vec<&str> = run.stdout.split_whitespace().collect();
    assert_eq!(words.len(), 4, "{}", run.stdout);
    let sent: u64 = words[1].parse().unwrap();
    assert!(sent > 0, "{}", run.stdout);
    assert_eq!(words[1], words[3], "signals lost: {}", run.stdout);
}
