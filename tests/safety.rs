//! Signal safety, proven on real crashes: an interposer preloaded after the
//! library (tests/programs/sigsafety_interposer.c) wraps every handler the
//! library installs and logs each call of malloc & co., stdio, mutexes, the
//! loader and backtrace() made while one runs, on whatever stack. Every
//! crash below must log none. The positive control, a build of the library
//! whose handler calls malloc (signal stack) and calloc (dump stack), must
//! log both.

mod common;

use std::path::{Path, PathBuf};

use common::spy::{assert_safe, run_checked};
use common::*;

/// The positive control's library (see [`selftest_library`]).
fn unsafe_library() -> PathBuf {
    selftest_library("selftest-unsafe-handler")
}

#[test]
fn no_unsafe_call_in_any_dump() {
    let lib = lib_path();
    let faults = faults_o0();
    let threads = threads();
    let plugin = plugin();
    let plugin = plugin.to_string_lossy().into_owned();
    let exception = exception();
    let rust = rust_panic();
    let file_dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("sigsafety-files-{}", std::process::id()));
    std::fs::create_dir_all(&file_dir).unwrap();
    let file_template = file_dir.join("dump-%p.log").to_string_lossy().into_owned();

    type Case<'a> = (
        &'a str,
        &'a Path,
        Vec<&'a str>,
        Vec<(&'a str, &'a str)>,
        i32,
    );
    let cases: Vec<Case> = vec![
        ("segv", &faults, vec!["segv"], vec![], libc::SIGSEGV),
        ("fpe", &faults, vec!["fpe"], vec![], libc::SIGFPE),
        ("abrt", &faults, vec!["abrt"], vec![], libc::SIGABRT),
        ("bus", &faults, vec!["bus"], vec![], libc::SIGBUS),
        ("ill", &faults, vec!["ill"], vec![], libc::SIGILL),
        ("trap", &faults, vec!["trap"], vec![], libc::SIGTRAP),
        ("sys", &faults, vec!["sys"], vec![], libc::SIGSYS),
        (
            "kill",
            &faults,
            vec!["kill"],
            vec![("FAULTS_SIGNAL", "7")],
            libc::SIGBUS,
        ),
        ("overflow", &faults, vec!["overflow"], vec![], libc::SIGSEGV),
        (
            "bad pointer",
            &faults,
            vec!["bad-pointer"],
            vec![],
            libc::SIGSEGV,
        ),
        (
            "smashed stack",
            &faults,
            vec!["smash"],
            vec![("FAULTS_SMASH", "1")],
            libc::SIGSEGV,
        ),
        (
            "inside another handler",
            &faults,
            vec!["reraise"],
            vec![],
            libc::SIGSEGV,
        ),
        (
            "stdout locked",
            &faults,
            vec!["flockfile"],
            vec![],
            libc::SIGSEGV,
        ),
        ("C++ exception", &exception, vec![], vec![], libc::SIGABRT),
        ("Rust panic", &rust, vec![], vec![], libc::SIGABRT),
        (
            "dlopen'ed library",
            &threads,
            vec!["plugin", &plugin],
            vec![],
            libc::SIGSEGV,
        ),
        (
            "constructor of a dlopen'ed library",
            &threads,
            vec!["plugin", &plugin],
            vec![("PLUGIN_CRASH_IN_CTOR", "1")],
            libc::SIGSEGV,
        ),
        (
            "eight threads",
            &threads,
            vec!["eight"],
            vec![],
            libc::SIGSEGV,
        ),
        (
            "locked malloc",
            &threads,
            vec!["locked-malloc"],
            vec![],
            libc::SIGABRT,
        ),
        (
            "malloc loop",
            &threads,
            vec!["malloc-loop"],
            vec![],
            libc::SIGSEGV,
        ),
        (
            "stdio loop",
            &threads,
            vec!["stdio-loop"],
            vec![],
            libc::SIGSEGV,
        ),
        (
            "dlopen loop",
            &threads,
            vec!["dlopen-loop", &plugin],
            vec![],
            libc::SIGSEGV,
        ),
    ];
    for (what, prog, args, env, sig) in &cases {
        let (run, log) = run_checked(&lib, prog, args, env);
        assert_safe(what, &run, &log, *sig);
    }

    // Python frames read from a CPython process (3.11 layout, and the
    // 3.8 to 3.10 one, which finds threads through struct pthread).
    let crash_py = programs_dir().join("python/crash.py");
    let pyenv = std::env::var("PYENV_ROOT").unwrap_or_else(|_| "/root/.pyenv".to_string());
    let pyenv_39 = std::fs::read_dir(Path::new(&pyenv).join("versions"))
        .into_iter()
        .flatten()
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .find(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("3.9."))
        })
        .map(|p| p.join("bin/python3.9"));
    for python in [Some(PathBuf::from("/usr/bin/python3")), pyenv_39] {
        match python.filter(|p| p.exists()) {
            Some(python) => {
                let (run, log) = run_checked(&lib, &python, &[crash_py.to_str().unwrap()], &[]);
                assert_safe(&python.display().to_string(), &run, &log, libc::SIGSEGV);
                assert!(
                    run.stderr.contains("[python] level3_read_null at "),
                    "no Python frames:\n{}",
                    run.stderr
                );
            }
            None => println!("SKIPPED: Python frames under the spy: no such interpreter"),
        }
    }

    // A dump to a file (opened in the handler).
    let (run, log) = run_checked(
        &lib,
        &faults,
        &["segv"],
        &[("FAULTHANDLER", &file_template)],
    );
    run.assert_killed_by(libc::SIGSEGV);
    let text = std::fs::read_to_string(file_dir.join(format!("dump-{}.log", run.pid))).unwrap();
    assert!(parse_dumps(&text)[0].complete);
    assert!(
        log.lines("entered").len() == 1 && log.lines("unsafe").is_empty(),
        "{}",
        log.text
    );
    let _ = std::fs::remove_dir_all(&file_dir);
}

/// The same check on a library that does call malloc in its handler must
/// report it, on the signal stack and on the dump stack: the interposer
/// sees the library's own calls, wherever the handler runs.
#[test]
fn positive_control_catches_malloc_in_the_handler() {
    let lib = unsafe_library();
    let faults = faults_o0();
    let (run, log) = run_checked(&lib, &faults, &["segv"], &[]);
    run.assert_killed_by(libc::SIGSEGV);
    assert!(run.dump().complete, "{}", run.stderr);
    let unsafe_calls = log.lines("unsafe");
    for call in ["malloc", "calloc"] {
        assert!(
            unsafe_calls
                .iter()
                .any(|l| l.starts_with(&format!("unsafe {call} sig=11 "))),
            "the positive control's {call} was not caught:\n{}",
            log.text
        );
    }
}
