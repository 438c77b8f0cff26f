//! Stack overflow on the main thread: the frame limit's shape (innermost and
//! outermost frames around a gap), and the program's own small alternate
//! stack.

use crate::common::*;

#[test]
fn stack_overflow_on_the_main_thread() {
    let prog = faults_o0();
    let run = Runner::new(&prog).arg("overflow").run();
    run.assert_killed_by(libc::SIGSEGV);
    let dump = assert_complete(&run);
    dump.assert_cause("stack overflow;");
    let current = dump.current();
    // Default limit 100: the innermost 75, a gap, the outermost 25.
    assert_eq!(current.frames.len(), 100, "{:?}", current.names());
    let (omitted, at) = current.omitted.expect("frames cut in the middle");
    assert_eq!(at, 75);
    assert!(omitted > 1000, "deep recursion: {omitted} frames omitted");
    assert!(current.names()[..75].iter().all(|n| *n == "recurse"));
    for (i, f) in current.frames[..75].iter().enumerate() {
        assert_eq!(f.index, i);
    }
    for (i, f) in current.frames[75..].iter().enumerate() {
        assert_eq!(
            f.index as u64,
            75 + omitted + i as u64,
            "numbers go on after the gap"
        );
    }
    let tail = &current.names()[75..];
    let outermost = [
        "recurse",
        "do_overflow",
        "crash_inner",
        "crash_middle",
        "crash_outer",
        "main",
    ];
    assert!(
        tail.windows(outermost.len()).any(|w| w == outermost),
        "outermost frames after the gap, in order: {tail:?}"
    );
    assert!(tail[..tail.len() - 8].iter().all(|n| *n == "recurse"));

    // A small limit keeps the same shape: 3/4 innermost, 1/4 outermost.
    let run = Runner::new(&prog)
        .arg("overflow")
        .env("FAULTHANDLER_MAX_FRAMES", "12")
        .run();
    run.assert_killed_by(libc::SIGSEGV);
    let current = assert_complete(&run).current().clone();
    assert_eq!(current.frames.len(), 12);
    assert_eq!(current.omitted.unwrap().1, 9);
    assert_eq!(
        &current.names()[9..],
        ["__libc_start_call_main", "__libc_start_main_impl", "_start"]
    );
}

/// The program replaced the library's alternate signal stack by an 8 KiB
/// one (glibc's classic SIGSTKSZ): the handler starts there, with the
/// kernel's signal frame on it, and must move to its own stack at once.
#[test]
fn stack_overflow_with_the_programs_small_alternate_stack() {
    let prog = faults_o0();
    let run = Runner::new(&prog).arg("small-altstack").run();
    run.assert_killed_by(libc::SIGSEGV);
    let dump = assert_complete(&run);
    dump.assert_cause("stack overflow;");
    let mut chain = vec!["recurse", "do_overflow"];
    chain.extend(chain_of("do_small_altstack"));
    dump.current().assert_chain(&chain);
}
