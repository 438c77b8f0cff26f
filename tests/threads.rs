//! All threads: fatal, user-signal and timeout dumps of multi-threaded
//! programs; threads that cannot answer; alternate stacks for every thread.

mod common;

use std::time::Duration;

use common::*;

fn thread<'d>(dump: &'d Dump, name: &str) -> &'d Thread {
    dump.threads
        .iter()
        .find(|t| t.name == name)
        .unwrap_or_else(|| panic!("no thread named {name} in:\n{}", dump.text()))
}

/// The five waiting threads of waiting_threads.c, each with its own two functions.
fn assert_waiting_threads(dump: &Dump) {
    for (name, chain) in [
        ("sleeper", ["sleeper_wait", "sleeper_main"]),
        ("condvar", ["condvar_wait", "condvar_main"]),
        ("mutex", ["mutex_wait", "mutex_main"]),
        ("piper", ["pipe_wait", "pipe_main"]),
        ("busy", ["busy_loop", "busy_main"]),
    ] {
        let t = thread(dump, name);
        assert!(!t.current, "{name} is not the current thread");
        t.assert_chain(&chain);
        assert!(t.no_answer.is_none(), "{name}: {:?}", t.no_answer);
        assert_eq!(t.names().last().copied(), Some("clone3"), "{name}");
    }
    let busy = thread(dump, "busy");
    assert_eq!(
        busy.frames[0].name(),
        "busy_loop",
        "interrupted in user code"
    );
    assert_eq!(dump.threads.len(), 6, "{}", dump.text());
    assert!(dump.threads[0].current, "the current thread comes first");
    let names = dump.text();
    assert!(!names.contains("faultdump::"), "no frame of ours:\n{names}");
}

#[test]
fn fatal_dump_shows_every_waiting_thread() {
    let prog = build_c(
        "waiting_threads.c",
        "waiting_threads-O0",
        &["-O0", "-g", "-pthread"],
    );
    let run = Runner::new(&prog).arg("fatal").run();
    run.assert_killed_by(libc::SIGSEGV);
    let dump = run.dump();
    assert!(dump.complete, "{}", run.stderr);
    dump.current().assert_chain(&["crash_now", "main"]);
    assert_waiting_threads(&dump);
}

#[test]
fn user_signal_dump_shows_every_thread_and_the_program_goes_on() {
    for opt in ["-O0", "-O2"] {
        let prog = build_c(
            "waiting_threads.c",
            &format!("waiting_threads{opt}"),
            &[opt, "-g", "-pthread"],
        );
        let run = Runner::new(&prog)
            .arg("signal")
            .env("FAULTHANDLER_SIGNAL", "USR1")
            .run();
        assert_eq!(run.code(), Some(0), "{opt}: {}", run.stderr);
        assert_eq!(run.stdout, "after the dump\nall joined\n");
        let dump = run.dump();
        assert!(dump.complete && dump.event.is_none(), "{}", run.stderr);
        let current = dump.current();
        assert_eq!(current.frames[0].name(), "kill", "{opt}");
        assert!(current.position("main").is_some());
        assert_waiting_threads(&dump);
    }
}

#[test]
fn threads_blocking_every_signal_are_shown_from_their_system_call() {
    for opt in ["-O0", "-O2"] {
        let prog = build_c(
            "sigwait_all.c",
            &format!("sigwait_all{opt}"),
            &[opt, "-g", "-pthread"],
        );
        let run = Runner::new(&prog)
            .env("FAULTHANDLER_TIMEOUT", "0.5:exit")
            .run();
        assert_eq!(run.code(), Some(1), "{opt}: {}", run.stderr);
        let dump = run.dump();
        assert!(dump.complete, "{}", run.stderr);
        assert_eq!(dump.event.as_deref(), Some("Timeout (0:00:00.500000)!"));
        assert!(dump.threads.iter().all(|t| !t.current), "no current thread");
        assert_eq!(
            dump.threads.len(),
            4,
            "watchdog not shown:\n{}",
            dump.text()
        );
        let sigwait = libc_function("sigwait");
        dump.threads[0].assert_chain(&[sigwait, "main_wait", "main"]);
        for t in &dump.threads[1..] {
            assert_eq!(t.name, "waiter");
            t.assert_chain(&[sigwait, "waiter_wait", "waiter_main", "start_thread"]);
        }
    }
}

#[test]
fn threads_that_cannot_answer_get_a_reason_and_the_dump_ends_in_time() {
    let prog = build_c("unanswering.c", "unanswering", &["-O0", "-g", "-pthread"]);
    let run = Runner::new(&prog)
        .arg("traced")
        .env("FAULTHANDLER_SIGNAL", "USR1")
        .env("FAULTHANDLER_DEADLINE", "1")
        .run();
    assert_eq!(run.code(), Some(0), "{}", run.stderr);
    let took: u64 = run
        .stdout
        .lines()
        .find_map(|l| l.strip_prefix("dump took "))
        .and_then(|l| l.strip_suffix(" ms"))
        .unwrap()
        .parse()
        .unwrap();
    assert!(took < 1000, "the dump took {took} ms, deadline 1 s");
    let dump = run.dump();
    assert!(dump.complete, "{}", run.stderr);
    let deaf = thread(&dump, "deaf");
    assert_eq!(
        deaf.no_answer.as_deref(),
        Some("signal blocked and not in a system call")
    );
    assert!(deaf.frames.is_empty());
    thread(&dump, "sleeper").assert_chain(&["sleeper_wait", "sleeper_main"]);
    if run.stdout.contains("ptrace unavailable") {
        eprintln!("ptrace is not permitted here: the traced thread is not checked");
    } else {
        let traced = thread(&dump, "traced");
        assert_eq!(traced.no_answer.as_deref(), Some("stopped by a tracer (t)"));
    }
}

#[test]
fn a_deadlock_ends_with_a_timeout_dump_and_status_1() {
    let prog = build_c("deadlock.c", "deadlock", &["-O0", "-g", "-pthread"]);
    let run = Runner::new(&prog)
        .env("FAULTHANDLER_TIMEOUT", "1:exit")
        .timeout(Duration::from_secs(20))
        .run();
    assert!(!run.timed_out, "{}", run.stderr);
    assert_eq!(run.code(), Some(1), "{}", run.stderr);
    let dump = run.dump();
    assert!(dump.complete, "{}", run.stderr);
    assert_eq!(dump.event.as_deref(), Some("Timeout (0:00:01)!"));
    assert_eq!(dump.threads.len(), 3, "{}", dump.text());
    assert!(!dump.text().contains("faultdump-watch"));
    for chain in [
        ["take_a_then_b", "first_main"],
        ["take_b_then_a", "second_main"],
    ] {
        let t = dump
            .threads
            .iter()
            .find(|t| t.has_chain(&chain))
            .unwrap_or_else(|| panic!("no thread with {chain:?}:\n{}", dump.text()));
        let locking = t.position(chain[0]).unwrap() - 1;
        assert!(
            t.names()[locking].contains("mutex_lock"),
            "{chain:?} waits in the lock: {:?}",
            t.names()
        );
    }
}

#[test]
fn user_signals_while_computing_leave_the_output_intact() {
    let prog = build_c("compute.c", "compute", &["-O2", "-g", "-pthread"]);
    let reference = Runner::new(&prog).without_library().run();
    assert_eq!(reference.code(), Some(0), "{}", reference.stderr);
    let run = Runner::new(&prog)
        .arg("prod")
        .env("FAULTHANDLER_SIGNAL", "USR1")
        .run();
    assert_eq!(run.code(), Some(0), "{}", run.stderr);
    assert_eq!(run.stdout, reference.stdout);
    let dumps = run.dumps();
    assert_eq!(dumps.len(), 5, "{}", run.stderr);
    for d in &dumps {
        assert!(d.complete && d.threads.len() >= 2, "{}", d.text());
    }
}

#[test]
fn stack_overflow_in_a_thread_with_a_small_stack() {
    let prog = build_c(
        "thread_overflow.c",
        "thread_overflow",
        &["-O0", "-g", "-pthread"],
    );
    let run = Runner::new(&prog).run();
    run.assert_killed_by(libc::SIGSEGV);
    let dump = run.dump();
    assert!(dump.complete, "{}", run.stderr);
    dump.assert_cause("stack overflow");
    let t = dump.current();
    assert_eq!(t.name, "deep");
    assert_eq!(t.frames[0].name(), "recurse");
    let (omitted, at) = t.omitted.expect("a frames-not-shown line");
    assert!(omitted > 1000, "{omitted}");
    assert_eq!(t.frames.len(), 100);
    let outer = &t.names()[at..];
    assert!(
        outer.ends_with(&["recurse", "overflow_main", "start_thread", "clone3"]),
        "{outer:?}"
    );
    assert_eq!(
        t.frames[at].index as u64,
        at as u64 + omitted,
        "numbers go on"
    );
    thread(&dump, "thread_overflow").assert_chain(&["main"]);
}

#[test]
fn threads_ending_every_way_free_their_alternate_stacks() {
    let prog = build_c("thread_exits.c", "thread_exits", &["-O0", "-g", "-pthread"]);
    let run = Runner::new(&prog).run();
    assert_eq!(run.code(), Some(0), "{}", run.stderr);
    assert!(!run.stdout.contains("not cancelled"), "{}", run.stdout);
    let numbers = |key: &str| -> (usize, usize) {
        let line = run
            .stdout
            .lines()
            .find(|l| l.starts_with(key))
            .unwrap_or_else(|| panic!("no {key} in {}", run.stdout));
        let v: Vec<usize> = line
            .split(' ')
            .skip(1)
            .map(|n| n.parse().unwrap())
            .collect();
        (v[0], v[1])
    };
    // Each live thread has its own alternate stack, and the check sees it.
    assert_eq!(numbers("alive"), (100, 100));
    // 1200 threads later: only the few kept for reuse are still mapped.
    let (distinct, mapped) = numbers("ended");
    assert!(distinct >= 1, "{}", run.stdout);
    assert!(mapped <= 64, "leaked alternate stacks: {}", run.stdout);
    let reference = Runner::new(&prog).without_library().run();
    assert_eq!(reference.stdout, "alive 0 0\nended 0 0\n");
}

#[test]
fn at_most_max_threads_are_shown() {
    let prog = build_c("many_threads.c", "many_threads", &["-O0", "-g", "-pthread"]);
    let run = Runner::new(&prog).arg("200").run();
    run.assert_killed_by(libc::SIGSEGV);
    let dump = run.dump();
    assert!(dump.complete, "{}", run.stderr);
    assert_eq!(dump.threads.len(), 100);
    assert_eq!(dump.threads_omitted, Some(101));
    assert!(dump.threads[0].current);
    for t in &dump.threads[1..] {
        t.assert_chain(&["idle_wait", "idle_main"]);
    }
    let run = Runner::new(&prog)
        .arg("20")
        .env("FAULTHANDLER_MAX_THREADS", "5")
        .run();
    let dump = run.dump();
    assert_eq!(dump.threads.len(), 5);
    assert_eq!(dump.threads_omitted, Some(16));
}

#[test]
fn a_forked_child_gets_its_own_watchdog() {
    let prog = build_c("fork_watch.c", "fork_watch", &["-O0", "-g"]);
    let run = Runner::new(&prog).env("FAULTHANDLER_TIMEOUT", "0.5").run();
    assert_eq!(run.code(), Some(0), "{}", run.stderr);
    let child: i32 = run
        .stdout
        .trim()
        .strip_prefix("child ")
        .unwrap()
        .parse()
        .unwrap();
    let dumps = run.dumps();
    assert_eq!(dumps.len(), 2, "{}", run.stderr);
    let in_child = dumps
        .iter()
        .find(|d| d.pid == child)
        .expect("the child's dump");
    assert_eq!(in_child.event.as_deref(), Some("Timeout (0:00:00.500000)!"));
    assert_eq!(in_child.threads.len(), 1);
    in_child.threads[0].assert_chain(&["child_sleep", "main"]);
    let in_parent = dumps.iter().find(|d| d.pid != child).unwrap();
    in_parent.threads[0].assert_chain(&["main"]);
}

#[test]
fn bad_timeout_and_signal_entries_warn_and_the_rest_applies() {
    let prog = build_c(
        "waiting_threads.c",
        "waiting_threads-O0",
        &["-O0", "-g", "-pthread"],
    );
    let run = Runner::new(&prog)
        .arg("signal")
        .env("FAULTHANDLER_SIGNAL", "KILL,SEGV,BOGUS,32,USR1")
        .env("FAULTHANDLER_TIMEOUT", "soon")
        .run();
    assert_eq!(run.code(), Some(0), "{}", run.stderr);
    let warnings: Vec<&str> = run
        .stderr
        .lines()
        .filter(|l| l.starts_with("faultdump: ignoring "))
        .collect();
    assert_eq!(warnings.len(), 5, "{}", run.stderr);
    for (entry, why) in [
        ("FAULTHANDLER_SIGNAL='KILL'", "cannot be caught"),
        ("FAULTHANDLER_SIGNAL='SEGV'", "fatal signals"),
        ("FAULTHANDLER_SIGNAL='BOGUS'", "unknown signal"),
        ("FAULTHANDLER_SIGNAL='32'", "reserved by the C library"),
        ("FAULTHANDLER_TIMEOUT='soon'", "seconds"),
    ] {
        assert!(
            warnings
                .iter()
                .any(|w| w.contains(entry) && w.contains(why)),
            "{entry}: {warnings:?}"
        );
    }
    assert_eq!(run.dumps().len(), 1, "USR1 still dumps");
}

#[test]
fn a_dump_the_process_survives_does_not_interrupt_sleeping_threads() {
    let prog = build_c(
        "quiet_sleepers.c",
        "quiet_sleepers",
        &["-O0", "-g", "-pthread"],
    );
    let run = Runner::new(&prog).env("FAULTHANDLER_SIGNAL", "USR1").run();
    assert_eq!(run.code(), Some(0), "{}", run.stderr);
    assert_eq!(
        run.stdout,
        "nanosleep 0\npoll 0\nepoll_wait 0\nselect 0\nsigtimedwait 0\npause 0\n"
    );
    let dump = run.dump();
    assert!(dump.complete, "{}", run.stderr);
    for (name, chain) in [
        ("nanosleep", ["nano_sleep", "nano_main"]),
        ("poll", ["poll_sleep", "poll_main"]),
        ("epoll_wait", ["epoll_sleep", "epoll_main"]),
        ("select", ["select_sleep", "select_main"]),
        ("sigtimedwait", ["sigwait_sleep", "sigwait_main"]),
        ("pause", ["pause_sleep", "pause_main"]),
    ] {
        let t = thread(&dump, name);
        t.assert_chain(&chain);
        assert_eq!(t.names().last().copied(), Some("clone3"), "{name}");
    }
}

#[test]
fn the_park_signal_sent_by_someone_else_still_ends_the_process() {
    let prog = build_c(
        "rt_after_dump.c",
        "rt_after_dump",
        &["-O0", "-g", "-pthread"],
    );
    let run = Runner::new(&prog).env("FAULTHANDLER_SIGNAL", "USR1").run();
    assert_eq!(run.stdout, "after the dump\n");
    run.assert_killed_by(libc::SIGRTMAX());
    assert_eq!(run.dumps().len(), 1);
    let reference = Runner::new(&prog)
        .env("FAULTHANDLER_SIGNAL", "USR1")
        .without_library()
        .run();
    reference.assert_killed_by(libc::SIGUSR1);
}

/// Issue 17, item 4: threads that replace the alternate stack faultdump
/// gave them with their own do not leak faultdump's: after 2,000 of them,
/// the process has about as many mappings as without the library.
#[test]
fn threads_with_their_own_alternate_stacks_leak_none_of_ours() {
    let prog = build_c(
        "own_altstacks.c",
        "own_altstacks",
        &["-O0", "-g", "-pthread"],
    );
    let maps = |run: &Run| -> (i64, i64) {
        assert_eq!(run.code(), Some(0), "{}", run.stderr);
        let v: Vec<i64> = run
            .stdout
            .trim()
            .strip_prefix("maps ")
            .unwrap_or_else(|| panic!("{}", run.stdout))
            .split(' ')
            .map(|n| n.parse().unwrap())
            .collect();
        (v[0], v[1])
    };
    let (before, after) = maps(&Runner::new(&prog).arg("2000").run());
    let (plain_before, plain_after) = maps(&Runner::new(&prog).arg("2000").without_library().run());
    // The pool of alternate stacks kept for reuse is a few mappings; 2,000
    // leaked stacks would be 4,000.
    assert!(
        after - before <= plain_after - plain_before + 8,
        "with the library {before} -> {after}, without {plain_before} -> {plain_after}"
    );
}
