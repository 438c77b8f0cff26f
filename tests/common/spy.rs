//! The signal-safety spy: an interposer preloaded after the library
//! (tests/programs/sigsafety_interposer.c) wraps every handler the library
//! installs and logs each call of malloc & co., stdio, mutexes, the loader
//! and backtrace() made while one runs, on whatever stack.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::*;

pub fn interposer() -> PathBuf {
    build_c(
        "sigsafety_interposer.c",
        "sigsafety_interposer.so",
        &["-O2", "-g", "-shared", "-fPIC", "-Wall", "-Werror"],
    )
}

/// What the interposer saw during one run.
pub struct Log {
    pub text: String,
}

impl Log {
    pub fn lines(&self, kind: &str) -> Vec<&str> {
        self.text
            .lines()
            .filter(|l| l.starts_with(&format!("{kind} ")))
            .collect()
    }
}

/// Runs `prog args` with `library` then the interposer preloaded.
pub fn run_checked(library: &Path, prog: &Path, args: &[&str], env: &[(&str, &str)]) -> (Run, Log) {
    static SEQ: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = SEQ.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let log_path = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("sigsafety-{}-{n}.log", std::process::id()));
    let _ = std::fs::remove_file(&log_path);
    let mut runner = Runner::new(prog)
        .args(args)
        .preload(&format!("{} {}", library.display(), interposer().display()))
        .env("SIGSAFETY_LOG", &log_path)
        .timeout(Duration::from_secs(30));
    for (k, v) in env {
        runner = runner.env(k, v);
    }
    let run = runner.run();
    let text = std::fs::read_to_string(&log_path).unwrap_or_default();
    let _ = std::fs::remove_file(&log_path);
    (run, Log { text })
}

/// The crash dumped, the process died by `sig`, the interposer wrapped the
/// library's handlers and saw one run, and nothing unsafe was called.
pub fn assert_safe(what: &str, run: &Run, log: &Log, sig: i32) {
    run.assert_killed_by(sig);
    let dump = run.dump();
    assert!(dump.complete, "{what}: incomplete dump:\n{}", run.stderr);
    for s in [4, 5, 6, 7, 8, 11, 31] {
        assert!(
            log.lines("wrapped")
                .iter()
                .any(|l| l.contains(&format!("sig={s} "))),
            "{what}: the interposer did not wrap the handler of signal {s}:\n{}",
            log.text
        );
    }
    assert!(
        log.lines("entered")
            .iter()
            .any(|l| l.contains(&format!("sig={sig} "))),
        "{what}: the interposer did not see the handler run:\n{}",
        log.text
    );
    assert!(
        log.lines("unsafe").is_empty(),
        "{what}: unsafe calls in the handler:\n{}",
        log.text
    );
}
