//! Running a program with the library preloaded, and what every fatal run
//! is checked for.

use std::io::Read;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use super::dirs::root;
use super::parse::{Dump, parse_dumps};

/// The library under test: `$FAULTDUMP_LIB`, else the release build.
pub fn lib_path() -> PathBuf {
    let path = std::env::var_os("FAULTDUMP_LIB")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("target/release/libfaultdump.so"));
    assert!(
        path.exists(),
        "{} missing: run `cargo build --release` first (scripts/test.sh does)",
        path.display()
    );
    path
}

/// A finished run of a program.
pub struct Run {
    /// The process id of the program run.
    pub pid: u32,
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
    pub timed_out: bool,
    pub elapsed: Duration,
}

impl Run {
    /// The signal that killed the process, if one did.
    pub fn signal(&self) -> Option<i32> {
        self.status.signal()
    }

    pub fn code(&self) -> Option<i32> {
        self.status.code()
    }

    /// The first dump in stderr; panics with the output if there is none.
    pub fn dump(&self) -> Dump {
        parse_dumps(&self.stderr)
            .into_iter()
            .next()
            .unwrap_or_else(|| panic!("no dump in stderr:\n{}", self.stderr))
    }

    pub fn dumps(&self) -> Vec<Dump> {
        parse_dumps(&self.stderr)
    }

    pub fn assert_killed_by(&self, sig: i32) {
        assert!(!self.timed_out, "timed out; stderr:\n{}", self.stderr);
        assert_eq!(
            self.signal(),
            Some(sig),
            "status {:?}; stderr:\n{}",
            self.status,
            self.stderr
        );
    }
}

/// How to run a program under test.
pub struct Runner {
    cmd: Command,
    timeout: Duration,
    preload: Option<String>,
}

impl Runner {
    /// `program args...` with the library preloaded, FAULTHANDLER* cleared.
    pub fn new(program: impl AsRef<Path>) -> Runner {
        let mut cmd = Command::new(program.as_ref());
        for (k, _) in std::env::vars_os() {
            if k.to_string_lossy().starts_with("FAULTHANDLER") {
                cmd.env_remove(&k);
            }
        }
        cmd.env_remove("LD_PRELOAD");
        cmd.stdin(Stdio::null());
        Runner {
            cmd,
            timeout: Duration::from_secs(60),
            preload: Some(lib_path().to_string_lossy().into_owned()),
        }
    }

    pub fn arg(mut self, arg: impl AsRef<std::ffi::OsStr>) -> Runner {
        self.cmd.arg(arg);
        self
    }

    pub fn args<I, S>(mut self, args: I) -> Runner
    where
        I: IntoIterator<Item = S>,
        S: AsRef<std::ffi::OsStr>,
    {
        self.cmd.args(args);
        self
    }

    pub fn env(mut self, k: &str, v: impl AsRef<std::ffi::OsStr>) -> Runner {
        self.cmd.env(k, v);
        self
    }

    pub fn current_dir(mut self, dir: impl AsRef<Path>) -> Runner {
        self.cmd.current_dir(dir);
        self
    }

    /// Run without the library (the reference behaviour).
    pub fn without_library(mut self) -> Runner {
        self.preload = None;
        self
    }

    /// Preload this instead of (or after) the library: `LD_PRELOAD` as given.
    pub fn preload(mut self, value: &str) -> Runner {
        self.preload = Some(value.to_string());
        self
    }

    pub fn timeout(mut self, t: Duration) -> Runner {
        self.timeout = t;
        self
    }

    /// Access to the command for anything else (stdio, pre_exec).
    pub fn command(&mut self) -> &mut Command {
        &mut self.cmd
    }

    pub fn run(mut self) -> Run {
        if let Some(p) = &self.preload {
            self.cmd.env("LD_PRELOAD", p);
        }
        self.cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
        let start = Instant::now();
        let mut child = spawn(&mut self.cmd);
        let pid = child.id();
        let mut out = child.stdout.take().unwrap();
        let mut err = child.stderr.take().unwrap();
        let out_reader = std::thread::spawn(move || {
            let mut v = Vec::new();
            let _ = out.read_to_end(&mut v);
            v
        });
        let err_reader = std::thread::spawn(move || {
            let mut v = Vec::new();
            let _ = err.read_to_end(&mut v);
            v
        });
        let mut timed_out = false;
        let status = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break status;
            }
            if start.elapsed() > self.timeout {
                timed_out = true;
                let _ = child.kill();
                break child.wait().unwrap();
            }
            std::thread::sleep(Duration::from_millis(5));
        };
        let elapsed = start.elapsed();
        let stdout = String::from_utf8_lossy(&out_reader.join().unwrap()).into_owned();
        let stderr = String::from_utf8_lossy(&err_reader.join().unwrap()).into_owned();
        Run {
            pid,
            status,
            stdout,
            stderr,
            timed_out,
            elapsed,
        }
    }
}

/// The one dump of `run`: complete, written by the process that ran, and
/// not cut short by a failure of the dump itself.
pub fn assert_complete(run: &Run) -> Dump {
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

pub fn uid() -> u32 {
    // SAFETY: getuid cannot fail.
    unsafe { libc::getuid() }
}

/// The event line of a SIGSEGV the process sent itself (raise, tgkill).
pub fn assert_segv_sent_by_itself(dump: &Dump, run: &Run) {
    assert_eq!(
        dump.event.as_deref(),
        Some(&*format!(
            "Fatal error: Segmentation fault (SIGSEGV, SI_TKILL, sent by pid {}, uid {})",
            run.pid,
            uid()
        ))
    );
}

/// scripts/faultdump-symbolize, for a test to give its arguments and
/// environment before `symbolize_output`.
pub fn symbolize_command() -> Command {
    Command::new(root().join("scripts/faultdump-symbolize"))
}

/// Runs `cmd` (a `symbolize_command`) on `input`; asserts it succeeded; its
/// standard output and standard error.
pub fn symbolize_output(cmd: &mut Command, input: &str) -> (String, String) {
    use std::io::Write;
    let mut child = cmd
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(out.status.success(), "{stderr}");
    (String::from_utf8(out.stdout).unwrap(), stderr)
}

/// Runs scripts/faultdump-symbolize on `input`; its standard output.
pub fn run_symbolize(args: &[&str], input: &str) -> String {
    symbolize_output(symbolize_command().args(args), input).0
}

/// Starts `cmd`. A program file a test has just written can be refused for
/// a moment with ETXTBSY: another test thread that forked while the file
/// was open for writing holds that descriptor until its child execs
/// (`O_CLOEXEC` closes it only then). Retried for up to a second.
fn spawn(cmd: &mut Command) -> std::process::Child {
    for _ in 0..100 {
        match cmd.spawn() {
            Err(e) if e.raw_os_error() == Some(libc::ETXTBSY) => {
                std::thread::sleep(Duration::from_millis(10))
            }
            result => return result.expect("spawn"),
        }
    }
    cmd.spawn().expect("spawn")
}
