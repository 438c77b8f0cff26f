//! Each fatal signal, from a real fault and sent with `kill` (also by another
//! process, into `sigsuspend`), and dispositions inherited as `SIG_IGN`: the
//! event line, the Cause line, the chain and the death signal.

use std::os::unix::process::CommandExt;

use crate::common::*;

#[test]
fn seven_signals_from_real_faults() {
    let prog = faults_o0();
    let uid = uid();
    /// Checks the event line, given the dump and the uid.
    type EventCheck = fn(&str, &Dump, u32) -> bool;
    /// Mode, signal, libc frames above the program's own, event, cause.
    type Case = (
        &'static str,
        i32,
        &'static [&'static str],
        EventCheck,
        Option<&'static str>,
    );
    let cases: [Case; 7] = [
        (
            "segv",
            libc::SIGSEGV,
            &[],
            |e, _, _| e == "Fatal error: Segmentation fault (SIGSEGV, SEGV_MAPERR, address 0x0)",
            Some("Cause: null pointer dereference; no mapping at 0x0"),
        ),
        (
            "fpe",
            libc::SIGFPE,
            &[],
            |e, d, _| {
                e == format!(
                    "Fatal error: Floating point exception (SIGFPE, FPE_INTDIV, address 0x{:x})",
                    d.current().frames[0].addr
                )
            },
            Some("Cause: integer divide by zero"),
        ),
        (
            "abrt",
            libc::SIGABRT,
            &["abort"],
            |e, d, uid| {
                e == format!(
                    "Fatal error: Aborted (SIGABRT, SI_TKILL, sent by pid {}, uid {uid})",
                    d.pid
                )
            },
            None,
        ),
        (
            "bus",
            libc::SIGBUS,
            &[],
            |e, _, _| e.starts_with("Fatal error: Bus error (SIGBUS, BUS_ADRERR, address 0x"),
            Some("Cause: access beyond the end of a mapped file; 0x"),
        ),
        (
            "ill",
            libc::SIGILL,
            &[],
            |e, d, _| {
                e == format!(
                    "Fatal error: Illegal instruction (SIGILL, ILL_ILLOPN, address 0x{:x})",
                    d.current().frames[0].addr
                )
            },
            None,
        ),
        (
            "trap",
            libc::SIGTRAP,
            &[],
            |e, _, _| e == "Fatal error: Trace/breakpoint trap (SIGTRAP, SI_KERNEL)",
            None,
        ),
        (
            "sys",
            libc::SIGSYS,
            &["syscall"],
            |e, _, _| {
                e == "Fatal error: Bad system call (SIGSYS, SYS_SECCOMP, system call 110 (getppid))"
            },
            None,
        ),
    ];
    for (mode, sig, above, event_ok, cause) in cases {
        let above: Vec<&str> = above.iter().map(|n| libc_function(n)).collect();
        let run = Runner::new(&prog).arg(mode).run();
        run.assert_killed_by(sig);
        let dump = assert_complete(&run);
        let event = dump.event.clone().unwrap_or_default();
        assert!(event_ok(&event, &dump, uid), "{mode}: event {event:?}");
        match cause {
            Some(c) => assert!(
                dump.cause.as_deref().is_some_and(|got| got.starts_with(c)),
                "{mode}: cause {:?}, want {c:?}",
                dump.cause
            ),
            None => assert_eq!(dump.cause, None, "{mode}"),
        }
        let first = format!("do_{mode}");
        let mut chain: Vec<&str> = above.to_vec();
        chain.extend(chain_of(&first));
        let current = dump.current();
        current.assert_chain(&chain);
        let at = current.position(chain[0]).unwrap();
        assert!(
            at <= 3 && (!above.is_empty() || at == 0),
            "{mode}: the chain starts at frame 0, or right after libc's frames: {:?}",
            current.names()
        );
        assert_eq!(current.frames[0].index, 0);
        assert_eq!(dump.registers.len(), 5, "{mode}: Registers: four to a line");
        assert!(
            dump.modules
                .iter()
                .any(|m| m.contains(&*prog.to_string_lossy()) && m.contains("(build-id ")),
            "{mode}: the program in Modules: {:?}",
            dump.modules
        );
        assert!(
            dump.modules
                .iter()
                .any(|m| m.contains("/libc.so.6 (build-id "))
        );
    }
}

#[test]
fn seven_signals_sent_with_kill() {
    let prog = faults_o0();
    let uid = uid();
    for sig in [
        libc::SIGSEGV,
        libc::SIGFPE,
        libc::SIGABRT,
        libc::SIGBUS,
        libc::SIGILL,
        libc::SIGSYS,
        libc::SIGTRAP,
    ] {
        let run = Runner::new(&prog)
            .arg("kill")
            .env("FAULTS_SIGNAL", sig.to_string())
            .run();
        run.assert_killed_by(sig);
        let dump = assert_complete(&run);
        let (title, abbrev) = match sig {
            libc::SIGSEGV => ("Segmentation fault", "SEGV"),
            libc::SIGFPE => ("Floating point exception", "FPE"),
            libc::SIGABRT => ("Aborted", "ABRT"),
            libc::SIGBUS => ("Bus error", "BUS"),
            libc::SIGILL => ("Illegal instruction", "ILL"),
            libc::SIGSYS => ("Bad system call", "SYS"),
            _ => ("Trace/breakpoint trap", "TRAP"),
        };
        assert_eq!(
            dump.event.as_deref(),
            Some(&*format!(
                "Fatal error: {title} (SIG{abbrev}, SI_USER, sent by pid {}, uid {uid})",
                run.pid
            ))
        );
        assert_eq!(dump.cause, None, "a sent signal has no cause");
        let mut chain = vec!["kill"];
        chain.extend(chain_of("do_kill"));
        dump.current().assert_chain(&chain);
        assert_eq!(dump.current().names()[0], "kill");
    }
}

/// The sender is another process, and the signal arrives in `sigsuspend`
/// with a mask that blocks it again on return: the process must still die.
#[test]
fn signal_sent_by_another_process_into_sigsuspend() {
    let prog = faults_o0();
    let run = Runner::new(&prog).arg("kill-from-child").run();
    run.assert_killed_by(libc::SIGSEGV);
    let sender: u32 = run
        .stdout
        .trim()
        .strip_prefix("sender ")
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("stdout {:?}", run.stdout));
    let dump = assert_complete(&run);
    assert_eq!(
        dump.event.as_deref(),
        Some(&*format!(
            "Fatal error: Segmentation fault (SIGSEGV, SI_USER, sent by pid {sender}, uid {})",
            uid()
        ))
    );
    dump.current().assert_chain(&chain_of("do_kill_from_child"));
}

/// Dispositions inherited as SIG_IGN: a signal a process sends stays
/// ignored (no dump, the program goes on), a signal the kernel forces
/// (fault, int3, seccomp, abort's second raise) kills as without us.
#[test]
fn inherited_sig_ign_behaves_as_without_the_library() {
    let prog = faults_o0();
    let cases = [
        ("kill", libc::SIGSEGV, false),
        ("kill", libc::SIGTRAP, false),
        ("segv", libc::SIGSEGV, true),
        ("trap", libc::SIGTRAP, true),
        ("sys", libc::SIGSYS, true),
        ("abrt", libc::SIGABRT, true),
    ];
    for (mode, sig, dumps) in cases {
        let ignoring = |r: Runner| {
            let mut r = r.arg(mode).env("FAULTS_SIGNAL", sig.to_string());
            // SAFETY: signal() is async-signal-safe, fine between fork and exec.
            unsafe {
                r.command().pre_exec(move || {
                    libc::signal(sig, libc::SIG_IGN);
                    Ok(())
                });
            }
            r.run()
        };
        let without = ignoring(Runner::new(&prog).without_library());
        let with = ignoring(Runner::new(&prog));
        assert!(!with.timed_out && !without.timed_out);
        assert_eq!(
            (with.signal(), with.code()),
            (without.signal(), without.code()),
            "{mode} with SIG{sig} ignored: status differs from the run without the library; stderr:\n{}",
            with.stderr
        );
        assert_eq!(
            with.dumps().len(),
            usize::from(dumps),
            "{mode}/{sig}:\n{}",
            with.stderr
        );
        if !dumps {
            assert!(!with.stderr.contains("faultdump"), "{}", with.stderr);
        }
    }
}
