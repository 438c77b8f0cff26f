//! Fatal-signal dumps of real programs (issue 2): C, C++ and Rust programs
//! built at test time crash through named call chains; each test checks the
//! program's own frames (consecutive, in order, compared with gdb's `bt` for
//! a representative subset), the event line and the death signal.
//!
//! Assertions stick to the current thread and FORMAT.md's fixed parts, so
//! they hold with all-thread dumps, DWARF lines and other formats merged in.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use common::*;

// ---- the programs ---------------------------------------------------------

fn faults_o0() -> PathBuf {
    build_c("faults.c", "faults-O0", &["-O0", "-g"])
}

/// Optimised, no frame pointers, not position-independent.
fn faults_o2() -> PathBuf {
    build_c(
        "faults.c",
        "faults-O2-nofp-nopie",
        &["-O2", "-fomit-frame-pointer", "-no-pie", "-g"],
    )
}

/// No `.symtab`: the chain is named from `.dynsym` (exported with -rdynamic).
fn faults_stripped() -> PathBuf {
    build_c("faults.c", "faults-stripped", &["-O0", "-rdynamic", "-s"])
}

fn threads() -> PathBuf {
    build_c("threads.c", "threads", &["-O0", "-g", "-pthread"])
}

fn plugin() -> PathBuf {
    build_c(
        "plugin.c",
        "libplugin.so",
        &["-O0", "-g", "-shared", "-fPIC"],
    )
}

/// The chain every `faults` mode crashes through, innermost first.
fn chain_of(mode_fn: &str) -> Vec<&str> {
    vec![
        mode_fn,
        "crash_inner",
        "crash_middle",
        "crash_outer",
        "main",
    ]
}

fn uid() -> u32 {
    // SAFETY: getuid cannot fail.
    unsafe { libc::getuid() }
}

/// A fresh directory under the test's temporary directory.
fn scratch_dir(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("fatal-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The event line of a SIGSEGV the process sent itself (raise, tgkill).
fn assert_segv_sent_by_itself(dump: &Dump, run: &Run) {
    assert_eq!(
        dump.event.as_deref(),
        Some(&*format!(
            "Fatal error: Segmentation fault (SIGSEGV, SI_TKILL, sent by pid {}, uid {})",
            run.pid,
            uid()
        ))
    );
}

fn assert_complete(run: &Run) -> Dump {
    let dumps = run.dumps();
    assert_eq!(dumps.len(), 1, "expected one dump in:\n{}", run.stderr);
    let dump = dumps.into_iter().next().unwrap();
    assert!(dump.complete, "dump not complete:\n{}", run.stderr);
    assert_eq!(dump.pid as u32, run.pid, "{}", run.stderr);
    assert!(
        !run.stderr.contains("the dump itself failed"),
        "{}",
        run.stderr
    );
    dump
}

/// The symbol `name` of `file` as `nm` gives it: (value, size).
fn nm_symbol(file: &Path, name: &str) -> (u64, u64) {
    let out = Command::new("nm").arg("-S").arg(file).output().expect("nm");
    let text = String::from_utf8_lossy(&out.stdout);
    text.lines()
        .find_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (f.len() == 4 && f[3] == name).then(|| {
                (
                    u64::from_str_radix(f[0], 16).unwrap(),
                    u64::from_str_radix(f[1], 16).unwrap(),
                )
            })
        })
        .unwrap_or_else(|| panic!("{name} not in nm output of {}", file.display()))
}

// ---- each signal from a real fault, and sent with kill ---------------------

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

// ---- build variants ---------------------------------------------------------

/// The module offset of a frame is what `addr2line -e MODULE` takes: inside
/// the function's symbol in the file (for a return address, the call before
/// it is).
fn assert_offset_in_symbol(frame: &Frame, file: &Path) {
    let (start, size) = nm_symbol(file, frame.name());
    let lookup = frame.module_offset - u64::from(frame.index > 0);
    assert!(
        (start..start + size).contains(&lookup),
        "{}+0x{:x} is not inside {} [0x{start:x}, +0x{size:x})",
        frame.module,
        frame.module_offset,
        frame.name()
    );
}

#[test]
fn pie_at_o0_matches_gdb() {
    let prog = faults_o0();
    let run = Runner::new(&prog).arg("segv").run();
    run.assert_killed_by(libc::SIGSEGV);
    let dump = assert_complete(&run);
    let current = dump.current();
    current.assert_chain(&chain_of("do_segv"));
    for f in &current.frames[..5] {
        assert_eq!(f.module, prog.to_string_lossy());
        assert!(
            f.module_offset < f.addr,
            "PIE: loaded above its link address"
        );
        assert_offset_in_symbol(f, &prog);
    }
    let gdb = gdb_backtrace_past_main(&prog, &["segv"], &[], &[]);
    assert_matches_gdb(current, &gdb, "do_segv", None);
    assert_eq!(current.names()[0], gdb[0]);
}

#[test]
fn non_pie_at_o2_without_frame_pointers_matches_gdb() {
    let prog = faults_o2();
    for mode in ["segv", "abrt"] {
        let run = Runner::new(&prog).arg(mode).run();
        run.assert_killed_by(if mode == "segv" {
            libc::SIGSEGV
        } else {
            libc::SIGABRT
        });
        let dump = assert_complete(&run);
        let current = dump.current();
        let first = format!("do_{mode}");
        current.assert_chain(&chain_of(&first));
        let f = &current.frames[current.position(&first).unwrap()];
        assert_eq!(f.module_offset, f.addr, "non-PIE: load bias 0");
        assert_offset_in_symbol(f, &prog);
        let gdb = gdb_backtrace_past_main(&prog, &[mode], &[], &[]);
        assert_matches_gdb(current, &gdb, &first, None);
    }
}

#[test]
fn stripped_binary_is_named_from_exported_symbols() {
    let prog = faults_stripped();
    let nm = Command::new("nm").arg(&prog).output().unwrap();
    assert!(
        String::from_utf8_lossy(&nm.stderr).contains("no symbols"),
        "the program must have no .symtab"
    );
    let run = Runner::new(&prog).arg("segv").run();
    run.assert_killed_by(libc::SIGSEGV);
    let dump = assert_complete(&run);
    let current = dump.current();
    current.assert_chain(&chain_of("do_segv"));
    assert_eq!(current.names()[0], "do_segv");
    let gdb = gdb_backtrace_past_main(&prog, &["segv"], &[], &[]);
    assert_matches_gdb(current, &gdb, "do_segv", Some("main"));
}

// ---- libraries, languages ----------------------------------------------------

#[test]
fn crash_in_a_library_loaded_with_dlopen() {
    let prog = threads();
    let lib = plugin();
    let lib_arg = lib.to_string_lossy().into_owned();
    let run = Runner::new(&prog).args(["plugin", &lib_arg]).run();
    run.assert_killed_by(libc::SIGSEGV);
    let dump = assert_complete(&run);
    let current = dump.current();
    current.assert_chain(&[
        "plugin_inner",
        "plugin_crash",
        "load_plugin",
        "run_plugin",
        "main",
    ]);
    assert_eq!(current.frames[0].module, lib_arg);
    assert_offset_in_symbol(&current.frames[0], &lib);
    assert!(
        dump.modules.iter().any(|m| m.contains(&lib_arg)),
        "the dlopen'ed library is listed in Modules"
    );
    let gdb = gdb_backtrace_past_main(&prog, &["plugin", &lib_arg], &[], &[]);
    assert_matches_gdb(current, &gdb, "plugin_inner", None);
}

/// The constructor of a dlopen'ed library faults while the loader holds
/// its lock: the dump must not need that lock.
#[test]
fn crash_in_the_constructor_of_a_dlopened_library() {
    let prog = threads();
    let lib = plugin();
    let lib_arg = lib.to_string_lossy().into_owned();
    let run = Runner::new(&prog)
        .args(["plugin", &lib_arg])
        .env("PLUGIN_CRASH_IN_CTOR", "1")
        .timeout(Duration::from_secs(20))
        .run();
    run.assert_killed_by(libc::SIGSEGV);
    let dump = assert_complete(&run);
    let current = dump.current();
    current.assert_chain(&["plugin_inner", "plugin_ctor_inner", "plugin_ctor"]);
    current.assert_chain(&["load_plugin", "run_plugin", "main"]);
    assert!(current.position("plugin_ctor") < current.position("load_plugin"));
    assert_eq!(current.frames[0].module, lib_arg);
}

#[test]
fn uncaught_cpp_exception_in_namespaced_template_code() {
    let prog = build_cpp("exception.cpp", "exception", &["-O0", "-g"]);
    let run = Runner::new(&prog).run();
    run.assert_killed_by(libc::SIGABRT);
    let dump = assert_complete(&run);
    let current = dump.current();
    current.assert_chain(&[
        "__cxa_throw",
        "ns::Thing<int>::method",
        "ns::run<int>",
        "main",
    ]);
    let method = &current.frames[current.position("ns::Thing<int>::method").unwrap()];
    assert_eq!(method.function, "ns::Thing<int>::method()");
    let run_fn = &current.frames[current.position("ns::run<int>").unwrap()];
    assert_eq!(run_fn.function, "ns::run<int>(ns::Thing<int>&)");
    assert!(current.position("std::terminate").is_some());
    assert!(
        current.frames.iter().all(|f| !f.function.starts_with("_Z")),
        "every C++ name demangled: {:?}",
        current.names()
    );
    let gdb = gdb_backtrace_past_main(&prog, &[], &[], &[]);
    assert_matches_gdb(current, &gdb, "std::terminate", None);
}

#[test]
fn rust_panic_with_panic_abort() {
    let prog = build_rust("rust_panic.rs", "rust_panic", &["-C", "panic=abort", "-g"]);
    let run = Runner::new(&prog).run();
    run.assert_killed_by(libc::SIGABRT);
    let dump = assert_complete(&run);
    let current = dump.current();
    current.assert_chain(&[
        "core::panicking::panic_fmt",
        "rust_panic::Parser::parse",
        "rust_panic::outer",
        "rust_panic::main",
    ]);
    let hash = regex::Regex::new(r"::h[0-9a-f]{16}|^_R|^_ZN").unwrap();
    assert!(
        current.frames.iter().all(|f| !hash.is_match(&f.function)),
        "Rust names demangled, without hash: {:?}",
        current.names()
    );
    let gdb = gdb_backtrace_past_main(&prog, &[], &[], &[]);
    // gdb names std's internals from DWARF (`std::rt::__rust_abort` where the
    // symbol says `__rustc::__rust_abort`): compare from the panic down.
    assert_matches_gdb(
        current,
        &gdb,
        "core::panicking::panic_fmt",
        Some("rust_panic::main"),
    );
}

// ---- broken stacks -----------------------------------------------------------

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

#[test]
fn stack_overflow_on_the_main_thread() {
    let prog = faults_o0();
    let run = Runner::new(&prog).arg("overflow").run();
    run.assert_killed_by(libc::SIGSEGV);
    let dump = assert_complete(&run);
    assert!(
        dump.cause
            .as_deref()
            .unwrap_or_default()
            .starts_with("Cause: stack overflow;"),
        "{:?}",
        dump.cause
    );
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
    assert!(
        dump.cause
            .as_deref()
            .unwrap_or_default()
            .starts_with("Cause: stack overflow;")
    );
    let mut chain = vec!["recurse", "do_overflow"];
    chain.extend(chain_of("do_small_altstack"));
    dump.current().assert_chain(&chain);
}

// ---- handlers of the program --------------------------------------------------

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

// ---- locks held by the faulting thread ----------------------------------------------

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

// ---- threads and processes ------------------------------------------------------

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

// ---- where the dump goes ------------------------------------------------------------

#[test]
fn file_output_named_with_the_pid() {
    let prog = faults_o0();
    let dir = scratch_dir("file");
    let template = dir.join("crash-%p.log");

    // Nothing crashes: no file.
    let run = Runner::new(&prog)
        .arg("nothing")
        .env("FAULTHANDLER", &template)
        .run();
    assert_eq!(run.code(), Some(0));
    assert_eq!(
        std::fs::read_dir(&dir).unwrap().count(),
        0,
        "no empty file left behind"
    );

    let run = Runner::new(&prog)
        .arg("segv")
        .env("FAULTHANDLER", &template)
        .run();
    run.assert_killed_by(libc::SIGSEGV);
    assert!(
        !run.stderr.contains("faultdump"),
        "nothing on stderr: {}",
        run.stderr
    );
    let file = dir.join(format!("crash-{}.log", run.pid));
    let meta = std::fs::metadata(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
    assert_eq!(meta.permissions().mode() & 0o777, 0o600);
    let text = std::fs::read_to_string(&file).unwrap();
    let dumps = parse_dumps(&text);
    assert_eq!(dumps.len(), 1);
    assert!(dumps[0].complete);
    assert_eq!(dumps[0].pid as u32, run.pid);
    dumps[0].current().assert_chain(&chain_of("do_segv"));

    // Appended, not truncated; %e is the executable's name.
    let named = dir.join("faults-O0.log");
    std::fs::write(&named, "earlier line\n").unwrap();
    let run = Runner::new(&prog)
        .arg("abrt")
        .env("FAULTHANDLER", dir.join("%e.log"))
        .run();
    run.assert_killed_by(libc::SIGABRT);
    let text = std::fs::read_to_string(&named).unwrap();
    assert!(text.starts_with("earlier line\nfaultdump: pid "), "{text}");
    assert!(parse_dumps(&text)[0].complete);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn unopenable_file_falls_back_to_stderr_saying_why() {
    let prog = faults_o0();
    let path = "/nonexistent-faultdump-dir/crash-%p.log";
    let run = Runner::new(&prog)
        .arg("segv")
        .env("FAULTHANDLER", path)
        .run();
    run.assert_killed_by(libc::SIGSEGV);
    let dump = assert_complete(&run);
    let expanded = format!("/nonexistent-faultdump-dir/crash-{}.log", run.pid);
    let why: Vec<&String> = dump
        .notes
        .iter()
        .filter(|n| n.contains(&expanded))
        .collect();
    assert_eq!(why.len(), 1, "one line saying why: {:?}", dump.notes);
    assert!(why[0].contains("No such file or directory"), "{}", why[0]);
    dump.current().assert_chain(&chain_of("do_segv"));
}

/// The program closed stderr and fd 2 is now its data file (regular, not
/// O_APPEND): the dump must not be written into it.
#[test]
fn stderr_reused_for_a_data_file_gets_no_dump() {
    let prog = faults_o0();
    let dir = scratch_dir("data");
    let data = dir.join("data.txt");
    let run = Runner::new(&prog)
        .arg("stderr-data")
        .env("FAULTS_DATA", &data)
        .run();
    run.assert_killed_by(libc::SIGSEGV);
    assert_eq!(
        std::fs::read_to_string(&data).unwrap(),
        "data line 1\ndata line 2\n",
        "the data file is untouched"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// Runs `prog args` with stderr the write end of a pipe, `reader` deciding
/// what happens to the read end; returns the exit status and the time taken.
fn run_with_stderr_pipe(
    prog: &Path,
    args: &[&str],
    env: &[(&str, &str)],
    keep_reader: bool,
) -> (std::process::ExitStatus, Duration) {
    let mut fds = [0; 2];
    // SAFETY: fds has room for two descriptors.
    assert_eq!(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) }, 0);
    // SAFETY: both descriptors were just created and are owned here.
    let (read, write) = unsafe {
        use std::os::fd::FromRawFd;
        (
            std::os::fd::OwnedFd::from_raw_fd(fds[0]),
            std::os::fd::OwnedFd::from_raw_fd(fds[1]),
        )
    };
    if keep_reader {
        // A reader that never reads: fill the pipe so that writes block.
        // SAFETY: setting O_NONBLOCK on our own descriptor.
        unsafe { libc::fcntl(fds[1], libc::F_SETFL, libc::O_NONBLOCK) };
        let junk = [b'x'; 4096];
        // SAFETY: writing our own buffer to our own pipe.
        while unsafe { libc::write(fds[1], junk.as_ptr().cast(), junk.len()) } > 0 {}
        // SAFETY: back to blocking, as a program's stderr normally is.
        unsafe { libc::fcntl(fds[1], libc::F_SETFL, 0) };
    } else {
        drop(read);
    }
    let mut cmd = Command::new(prog);
    cmd.args(args)
        .env("LD_PRELOAD", lib_path())
        .env_remove("FAULTHANDLER")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::from(write));
    for (k, v) in env {
        cmd.env(k, v);
    }
    let start = std::time::Instant::now();
    let mut child = cmd.spawn().unwrap();
    drop(cmd); // the parent's copy of the write end
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if start.elapsed() > Duration::from_secs(30) {
            let _ = child.kill();
            panic!("{} {args:?} hung with stderr a stuck pipe", prog.display());
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    (status, start.elapsed())
}

#[test]
fn stderr_pipe_without_reader_still_dies_by_the_signal() {
    use std::os::unix::process::ExitStatusExt;
    let prog = faults_o0();
    let (status, _) = run_with_stderr_pipe(&prog, &["segv"], &[], false);
    assert_eq!(
        status.signal(),
        Some(libc::SIGSEGV),
        "not SIGPIPE: {status:?}"
    );
    let (status, _) = run_with_stderr_pipe(&prog, &["abrt"], &[], false);
    assert_eq!(
        status.signal(),
        Some(libc::SIGABRT),
        "not SIGPIPE: {status:?}"
    );
}

#[test]
fn stderr_pipe_that_is_never_read_is_bounded_by_the_deadline() {
    use std::os::unix::process::ExitStatusExt;
    let prog = faults_o0();
    let (status, took) =
        run_with_stderr_pipe(&prog, &["segv"], &[("FAULTHANDLER_DEADLINE", "0.3")], true);
    assert_eq!(status.signal(), Some(libc::SIGSEGV), "{status:?}");
    assert!(took < Duration::from_secs(10), "took {took:?}");
}

// ---- set-uid ----------------------------------------------------------------------

/// Removes what the set-uid test installed, also when it fails.
struct Installed(Vec<PathBuf>);

impl Drop for Installed {
    fn drop(&mut self) {
        for p in &self.0 {
            let _ = std::fs::remove_file(p).or_else(|_| std::fs::remove_dir_all(p));
        }
    }
}

/// A user other than root to own the set-uid program: `nobody`, or one made
/// with useradd.
fn other_user() -> (String, u32) {
    for name in ["nobody", "faultdump-suid"] {
        let cname = std::ffi::CString::new(name).unwrap();
        // SAFETY: getpwnam returns a pointer into static storage or null;
        // the test reads it at once.
        let pw = unsafe { libc::getpwnam(cname.as_ptr()) };
        if !pw.is_null() {
            // SAFETY: pw is non-null and valid until the next getpw* call.
            return (name.to_string(), unsafe { (*pw).pw_uid });
        }
    }
    let status = Command::new("useradd")
        .args(["--system", "--no-create-home", "faultdump-suid"])
        .status()
        .expect("useradd");
    assert!(status.success(), "useradd faultdump-suid failed");
    other_user()
}

/// A set-uid program owned by another user, run by root with the library
/// from a trusted directory: AT_SECURE. FAULTHANDLER names a file, which
/// must not be created; the dump shows names and module offsets, no
/// absolute addresses, no registers, no load addresses.
#[test]
fn setuid_program_gets_no_file_and_no_addresses() {
    // SAFETY: geteuid cannot fail.
    assert_eq!(
        unsafe { libc::geteuid() },
        0,
        "this test needs root (CI runs as root): it installs a set-uid program and a library \
         in a trusted directory"
    );
    let (user, owner_uid) = other_user();
    let dir = scratch_dir_in_tmp("suid");
    let mut installed = Installed(vec![dir.clone()]);
    let prog = dir.join("faults-suid");
    std::fs::copy(faults_o0(), &prog).unwrap();
    let lib_name = format!("libfaultdump-suidtest-{}.so", std::process::id());
    let trusted = PathBuf::from("/usr/lib/x86_64-linux-gnu").join(&lib_name);
    installed.0.push(trusted.clone());
    std::fs::copy(lib_path(), &trusted).unwrap();
    std::fs::set_permissions(&trusted, std::fs::Permissions::from_mode(0o4755)).unwrap();
    let c_prog = std::ffi::CString::new(prog.to_string_lossy().as_bytes()).unwrap();
    // SAFETY: chown on a path we created.
    assert_eq!(unsafe { libc::chown(c_prog.as_ptr(), owner_uid, 0) }, 0);
    std::fs::set_permissions(&prog, std::fs::Permissions::from_mode(0o4755)).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    let out_dir = dir.join("out");
    std::fs::create_dir(&out_dir).unwrap();
    std::fs::set_permissions(&out_dir, std::fs::Permissions::from_mode(0o777)).unwrap();

    let run = Runner::new(&prog)
        .arg("segv")
        .preload(&lib_name)
        .env("FAULTHANDLER", out_dir.join("crash-%p.log"))
        .run();
    run.assert_killed_by(libc::SIGSEGV);
    assert_eq!(
        std::fs::read_dir(&out_dir).unwrap().count(),
        0,
        "no file from the environment in a set-uid process"
    );
    let dump = assert_complete(&run);
    assert_eq!(
        dump.event.as_deref(),
        Some("Fatal error: Segmentation fault (SIGSEGV, SEGV_MAPERR)"),
        "running as {user}: no address in the event"
    );
    assert_eq!(
        dump.cause.as_deref(),
        Some("Cause: null pointer dereference")
    );
    let current = dump.current();
    current.assert_chain(&chain_of("do_segv"));
    for f in &current.frames {
        assert_eq!(f.addr, 0, "absolute addresses are zeroed: {f:?}");
        if f.module == prog.to_string_lossy() {
            assert!(f.module_offset > 0 && f.module_offset < 0x10000, "{f:?}");
        }
    }
    assert!(dump.registers.is_empty() && !dump.text().contains("Registers:"));
    assert!(!dump.modules.is_empty());
    assert!(
        dump.modules.iter().all(|m| !m.contains("0x")),
        "no load addresses: {:?}",
        dump.modules
    );
    let absolute = regex::Regex::new(r"0x([0-9a-f]{9,})").unwrap();
    for line in dump.text().lines() {
        for c in absolute.captures_iter(line) {
            assert!(
                c[1].bytes().all(|b| b == b'0'),
                "absolute address in {line:?}"
            );
        }
    }

    // A frame no file backs: its offset would be the address itself.
    let run = Runner::new(&prog)
        .arg("bad-pointer")
        .preload(&lib_name)
        .run();
    run.assert_killed_by(libc::SIGSEGV);
    let dump = assert_complete(&run);
    let f0 = &dump.current().frames[0];
    assert_eq!(
        (f0.addr, f0.module.as_str(), f0.module_offset),
        (0, "[anonymous]", 0)
    );
    assert_eq!(dump.current().names()[1], "do_bad_pointer");
    assert!(!dump.text().contains("dead"), "{}", dump.text());

    drop(installed);
    assert!(!trusted.exists() && !dir.exists(), "cleaned up");
}

/// A directory under /tmp (world-traversable, so the set-uid program's
/// owner can read its own file).
fn scratch_dir_in_tmp(name: &str) -> PathBuf {
    let dir = PathBuf::from(format!("/tmp/faultdump-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// FAULTHANDLER_STATS=1 ends the dump with the time and dump memory it took,
/// as a note line (what the benchmarks report); without it, no such line.
#[test]
fn stats_note_reports_time_and_memory() {
    let prog = faults_o0();
    let run = Runner::new(&prog)
        .arg("segv")
        .env("FAULTHANDLER_STATS", "1")
        .run();
    run.assert_killed_by(libc::SIGSEGV);
    let dump = assert_complete(&run);
    let re = regex::Regex::new(
        r"^faultdump: dump written in \d+\.\d{3} ms with (\d+) KiB of dump memory at most$",
    )
    .unwrap();
    let kib: u64 = dump
        .notes
        .iter()
        .find_map(|n| re.captures(n).map(|c| c[1].parse().unwrap()))
        .unwrap_or_else(|| panic!("no stats note in:\n{}", run.stderr));
    assert!(kib > 0, "{}", run.stderr);
    let plain = Runner::new(&prog).arg("segv").run();
    assert!(
        plain
            .dump()
            .notes
            .iter()
            .all(|n| !n.contains("dump written in"))
    );
}
