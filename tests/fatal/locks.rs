//! Locks held by the faulting thread: the malloc arena lock, a stdio lock,
//! the loader lock.

use std::time::Duration;

use crate::common::*;

/// glibc aborts inside free() holding the arena lock (multi-threaded, so
/// free locks; a small-bin chunk freed twice with its tcache bin full).
#[test]
fn abort_inside_free_with_the_arena_lock_held() {
    let prog = threads();
    let run = Runner::new(&prog)
        .arg("locked-malloc")
        .timeout(Duration::from_secs(20))
        .run();
    run.assert_killed_by(libc::SIGABRT);
    assert!(
        run.stderr.contains("double free or corruption (!prev)"),
        "glibc must detect it inside free: {}",
        run.stderr
    );
    assert!(
        run.elapsed < Duration::from_secs(10),
        "took {:?}",
        run.elapsed
    );
    let dump = assert_complete(&run);
    let current = dump.current();
    let (abort, free) = (libc_function("abort"), libc_function("free"));
    current.assert_chain(&[free, "double_free", "run_locked_malloc", "main"]);
    assert!(current.position(abort) < current.position(free));
    let gdb = gdb_backtrace_past_main(&prog, &["locked-malloc"], &[], &[]);
    assert_matches_gdb(current, &gdb, "double_free", None);
}

/// SIGSEGV sent to a thread that loops in malloc/free, in stdio (holding
/// the FILE lock) or in dlopen/dlclose (holding the loader lock).
#[test]
fn sigsegv_sent_to_threads_inside_malloc_stdio_and_the_loader() {
    let prog = threads();
    let lib = plugin();
    let lib_arg = lib.to_string_lossy().into_owned();
    for mode in ["malloc-loop", "stdio-loop", "dlopen-loop"] {
        for _ in 0..2 {
            let run = Runner::new(&prog)
                .args([mode, &lib_arg])
                .timeout(Duration::from_secs(20))
                .run();
            run.assert_killed_by(libc::SIGSEGV);
            let dump = assert_complete(&run);
            assert_segv_sent_by_itself(&dump, &run);
            let current = dump.current();
            assert_ne!(current.tid as u32, run.pid, "the looping thread is current");
            let loop_fn = mode.replace('-', "_");
            current.assert_chain(&[&loop_fn, "looping_thread", "start_thread"]);
        }
    }
}

#[test]
fn crash_while_stdout_is_locked() {
    let prog = faults_o0();
    let run = Runner::new(&prog)
        .arg("flockfile")
        .timeout(Duration::from_secs(20))
        .run();
    run.assert_killed_by(libc::SIGSEGV);
    let dump = assert_complete(&run);
    let mut chain = vec!["do_segv"];
    chain.extend(chain_of("do_flockfile"));
    dump.current().assert_chain(&chain);
}
