//! Shared support for the integration tests: building the test programs at
//! test time, running them with the real library preloaded, and parsing the
//! dumps they print (by FORMAT.md's fixed parts only).
#![allow(dead_code)] // each test file uses its own part of this module

use std::collections::HashMap;
use std::io::Read;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use regex::Regex;

pub mod release;

/// FORMAT.md's frame-line expression, verbatim.
pub const FRAME_RE: &str =
    r"^  #(\d+) +0x([0-9a-f]+) in (.+?)( \(inlined\))?( at (.+):(\d+))? \((.+)\+0x([0-9a-f]+)\)$";

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

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

/// Runs scripts/build-release.sh for these builds (`x86_64-glibc`, ...);
/// panics with its output if it fails.
pub fn build_release(names: &[&str]) {
    let out = Command::new(root().join("scripts/build-release.sh"))
        .args(names)
        .output()
        .expect("scripts/build-release.sh");
    assert!(
        out.status.success(),
        "build-release.sh {names:?} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

pub fn programs_dir() -> PathBuf {
    root().join("tests/programs")
}

/// Where built test programs go.
pub fn out_dir() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("programs");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn build_lock(key: &str) -> std::sync::Arc<Mutex<()>> {
    static LOCKS: OnceLock<Mutex<HashMap<String, std::sync::Arc<Mutex<()>>>>> = OnceLock::new();
    LOCKS
        .get_or_init(Default::default)
        .lock()
        .unwrap()
        .entry(key.to_string())
        .or_default()
        .clone()
}

/// Builds `tests/programs/<source>` with `compiler` and `flags` into
/// `<out_name>`, once per test process (rebuilt when the source is newer).
pub fn build(compiler: &str, source: &str, out_name: &str, flags: &[&str]) -> PathBuf {
    let src = programs_dir().join(source);
    let out = out_dir().join(out_name);
    let lock = build_lock(out_name);
    let _guard = lock.lock().unwrap();
    let fresh = match (std::fs::metadata(&src), std::fs::metadata(&out)) {
        (Ok(s), Ok(o)) => o.modified().unwrap() >= s.modified().unwrap(),
        _ => false,
    };
    if !fresh {
        let tmp = out.with_extension(format!("tmp{}", std::process::id()));
        let mut cmd = Command::new(compiler);
        if compiler == "rustc" {
            cmd.arg(&src).arg("-o").arg(&tmp).args(flags);
        } else {
            cmd.args(flags).arg(&src).arg("-o").arg(&tmp);
        }
        let output = cmd.output().unwrap_or_else(|e| panic!("{compiler}: {e}"));
        assert!(
            output.status.success(),
            "building {source}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        std::fs::rename(&tmp, &out).unwrap();
    }
    out
}

pub fn build_c(source: &str, out_name: &str, flags: &[&str]) -> PathBuf {
    build("gcc", source, out_name, flags)
}

pub fn build_cpp(source: &str, out_name: &str, flags: &[&str]) -> PathBuf {
    build("g++", source, out_name, flags)
}

pub fn build_rust(source: &str, out_name: &str, flags: &[&str]) -> PathBuf {
    build("rustc", source, out_name, flags)
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
        let mut child = self.cmd.spawn().expect("spawn");
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

#[derive(Debug, Clone)]
pub struct Frame {
    pub index: usize,
    pub addr: u64,
    /// As printed, without `+0x…`.
    pub function: String,
    pub offset: Option<u64>,
    pub inlined: bool,
    pub file: Option<String>,
    pub line: Option<u32>,
    pub module: String,
    pub module_offset: u64,
}

impl Frame {
    /// The function name without a C++ parameter list: `ns::f<int>(int)` ->
    /// `ns::f<int>`, as gdb's `bt` names functions with debug info.
    pub fn name(&self) -> &str {
        strip_params(&self.function)
    }
}

/// `ns::f<int>(int) const` -> `ns::f<int>`.
pub fn strip_params(name: &str) -> &str {
    if !name.ends_with(')') && !name.ends_with(" const") {
        return name;
    }
    // The '(' that opens the trailing parameter list (not inside <...>).
    let mut depth = 0i32;
    for (i, c) in name.char_indices() {
        match c {
            '<' => depth += 1,
            '>' => depth -= 1,
            '(' if depth == 0 && i > 0 => return &name[..i],
            _ => {}
        }
    }
    name
}

#[derive(Debug, Clone, Default)]
pub struct Thread {
    pub tid: i32,
    pub name: String,
    pub current: bool,
    pub frames: Vec<Frame>,
    /// `... N frames not shown ...`: N, and the index in `frames` it stands before.
    pub omitted: Option<(u64, usize)>,
    pub no_answer: Option<String>,
}

impl Thread {
    pub fn names(&self) -> Vec<&str> {
        self.frames.iter().map(Frame::name).collect()
    }

    /// Asserts that `chain` appears as consecutive frames, in order.
    pub fn assert_chain(&self, chain: &[&str]) {
        assert!(
            self.has_chain(chain),
            "expected consecutive frames {chain:?} in thread {} ({}), got {:?}",
            self.tid,
            self.name,
            self.names()
        );
    }

    pub fn has_chain(&self, chain: &[&str]) -> bool {
        let names = self.names();
        names.windows(chain.len()).any(|w| w == chain)
    }

    pub fn position(&self, name: &str) -> Option<usize> {
        self.names().iter().position(|n| *n == name)
    }
}

#[derive(Debug, Clone, Default)]
pub struct Dump {
    /// `faultdump: pid PID (EXE) at TIME`
    pub pid: i32,
    pub exe: String,
    pub event: Option<String>,
    pub cause: Option<String>,
    pub notes: Vec<String>,
    pub threads: Vec<Thread>,
    pub threads_omitted: Option<usize>,
    pub registers: Vec<String>,
    pub modules: Vec<String>,
    pub lines: Vec<String>,
    /// The last line was there.
    pub complete: bool,
}

impl Dump {
    pub fn current(&self) -> &Thread {
        self.threads
            .iter()
            .find(|t| t.current)
            .unwrap_or_else(|| panic!("no current thread in:\n{}", self.lines.join("\n")))
    }

    pub fn thread(&self, tid: i32) -> Option<&Thread> {
        self.threads.iter().find(|t| t.tid == tid)
    }

    /// Asserts the `Cause:` line starts with `what`.
    pub fn assert_cause(&self, what: &str) {
        let cause = self.cause.as_deref().unwrap_or("");
        assert!(
            cause
                .strip_prefix("Cause: ")
                .is_some_and(|c| c.starts_with(what)),
            "cause {cause:?}, want {what:?}"
        );
    }

    pub fn text(&self) -> String {
        self.lines.join("\n")
    }
}

/// Every dump in `text` (other output between dumps is ignored). Also checks
/// FORMAT.md's frame-line expression on every frame line.
pub fn parse_dumps(text: &str) -> Vec<Dump> {
    static RES: OnceLock<(Regex, Regex, Regex)> = OnceLock::new();
    let (first, frame, header) = RES.get_or_init(|| {
        (
            Regex::new(r"^faultdump: pid (\d+) \((.*)\) at \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
                .unwrap(),
            Regex::new(FRAME_RE).unwrap(),
            Regex::new(r#"^(Current thread|Thread) (\d+) "(.*)" \(most recent call first\):$"#)
                .unwrap(),
        )
    });
    let mut dumps = Vec::new();
    let mut cur: Option<Dump> = None;
    #[derive(PartialEq)]
    enum Section {
        Top,
        Threads,
        Registers,
        Modules,
    }
    let mut section = Section::Top;
    for line in text.lines() {
        if let Some(c) = first.captures(line) {
            if let Some(d) = cur.take() {
                dumps.push(d);
            }
            cur = Some(Dump {
                pid: c[1].parse().unwrap(),
                exe: c[2].to_string(),
                ..Default::default()
            });
            section = Section::Top;
            cur.as_mut().unwrap().lines.push(line.to_string());
            continue;
        }
        let Some(d) = cur.as_mut() else { continue };
        d.lines.push(line.to_string());
        if line.starts_with("faultdump: end of dump, pid ") {
            d.complete = true;
            dumps.push(cur.take().unwrap());
            continue;
        }
        if let Some(c) = header.captures(line) {
            section = Section::Threads;
            d.threads.push(Thread {
                tid: c[2].parse().unwrap(),
                name: c[3].to_string(),
                current: &c[1] == "Current thread",
                ..Default::default()
            });
            continue;
        }
        if line.starts_with("  #") {
            let c = frame
                .captures(line)
                .unwrap_or_else(|| panic!("frame line does not match FORMAT.md: {line:?}"));
            let (function, offset) = match c[3].rsplit_once("+0x") {
                Some((f, off)) if u64::from_str_radix(off, 16).is_ok() => {
                    (f.to_string(), Some(u64::from_str_radix(off, 16).unwrap()))
                }
                _ => (c[3].to_string(), None),
            };
            let t = d.threads.last_mut().expect("frame before a thread header");
            t.frames.push(Frame {
                index: c[1].parse().unwrap(),
                addr: u64::from_str_radix(&c[2], 16).unwrap(),
                function,
                offset,
                inlined: c.get(4).is_some(),
                file: c.get(6).map(|m| m.as_str().to_string()),
                line: c.get(7).map(|m| m.as_str().parse().unwrap()),
                module: c[8].to_string(),
                module_offset: u64::from_str_radix(&c[9], 16).unwrap(),
            });
            continue;
        }
        if let Some(n) = line
            .strip_prefix("  ... ")
            .and_then(|rest| rest.strip_suffix(" frames not shown ..."))
        {
            let t = d.threads.last_mut().unwrap();
            t.omitted = Some((n.parse().unwrap(), t.frames.len()));
            continue;
        }
        if let Some(n) = line
            .strip_prefix("... ")
            .and_then(|rest| rest.strip_suffix(" more threads not shown ..."))
        {
            d.threads_omitted = Some(n.parse().unwrap());
            continue;
        }
        if let Some(why) = line.strip_prefix("  <no answer: ") {
            d.threads.last_mut().unwrap().no_answer = Some(why.trim_end_matches('>').to_string());
            continue;
        }
        if line.starts_with("faultdump: ") {
            // A note about the dump itself, wherever it stands.
            d.notes.push(line.to_string());
            continue;
        }
        match line {
            "Registers:" => section = Section::Registers,
            "Modules:" => section = Section::Modules,
            "" => {}
            _ => match section {
                Section::Registers => d.registers.push(line.to_string()),
                Section::Modules => d.modules.push(line.to_string()),
                _ if line.starts_with("Fatal error: ") || line.starts_with("Timeout (") => {
                    d.event = Some(line.to_string())
                }
                _ if line.starts_with("Cause: ") => d.cause = Some(line.to_string()),
                _ => {}
            },
        }
    }
    if let Some(d) = cur.take() {
        dumps.push(d);
    }
    dumps
}

/// gdb's backtrace of the same run, the reference the dumps are compared
/// with: the function names of `bt`, innermost first (`<signal handler
/// called>` kept), without arguments or parameter lists, past `main` (as the
/// dumps show it: `__libc_start_call_main`, `__libc_start_main_impl`,
/// `_start`), after `commands` (e.g. `handle SIGSEGV nostop noprint pass`,
/// `break raise`), which run before `run`.
pub fn gdb_backtrace_past_main(
    program: &Path,
    args: &[&str],
    env: &[(&str, &str)],
    commands: &[&str],
) -> Vec<String> {
    assert!(
        have_gdb(),
        "gdb is missing: scripts/install-test-deps.sh installs it"
    );
    let mut cmd = Command::new("gdb");
    cmd.args(["-nx", "-batch", "-ex", "set debuginfod enabled off"]);
    cmd.args(["-ex", "set backtrace past-main on"]);
    for c in commands {
        cmd.args(["-ex", c]);
    }
    cmd.args(["-ex", "run", "-ex", "bt"]);
    cmd.arg("--args").arg(program).args(args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.env_remove("LD_PRELOAD");
    cmd.stdin(Stdio::null());
    let out = cmd.output().expect("gdb");
    gdb_bt_names(&String::from_utf8_lossy(&out.stdout))
}

/// The function names of gdb's `bt` output, innermost first, as
/// [`gdb_backtrace_past_main`] gives them.
pub fn gdb_bt_names(text: &str) -> Vec<String> {
    let re =
        Regex::new(r"^#\d+\s+(?:0x[0-9a-f]+ in )?(.+?)(?: \(.*\)(?: at .*| from .*)?)?$").unwrap();
    text.lines()
        .filter(|l| l.starts_with('#'))
        .filter_map(|l| {
            if l.contains("<signal handler called>") {
                return Some("<signal handler called>".to_string());
            }
            re.captures(l).map(|c| strip_params(&c[1]).to_string())
        })
        .collect()
}

/// Asserts that gdb's frames from `from` to `to` (inclusive; `None`: to the
/// last) appear in `thread` consecutively and in the same order, and, when
/// `to` is `None`, that they are also the dump's last frames.
pub fn assert_matches_gdb(thread: &Thread, gdb: &[String], from: &str, to: Option<&str>) {
    let start = gdb
        .iter()
        .position(|n| n == from)
        .unwrap_or_else(|| panic!("{from:?} not in gdb's backtrace {gdb:?}"));
    let end = match to {
        Some(to) => {
            start
                + gdb[start..]
                    .iter()
                    .position(|n| n == to)
                    .unwrap_or_else(|| panic!("{to:?} not in gdb's backtrace {gdb:?}"))
        }
        None => gdb.len() - 1,
    };
    let want: Vec<&str> = gdb[start..=end].iter().map(String::as_str).collect();
    assert!(
        want.len() >= 2,
        "too short a gdb chain to compare: {want:?} (gdb: {gdb:?})"
    );
    let names = thread.names();
    let at = names.windows(want.len()).position(|w| w == want.as_slice());
    assert!(
        at.is_some(),
        "gdb's frames {want:?} are not consecutive in the dump's {names:?} (gdb: {gdb:?})"
    );
    if to.is_none() {
        assert_eq!(
            &names[names.len() - want.len()..],
            want.as_slice(),
            "the dump goes on past gdb's outermost frame"
        );
    }
}

pub fn have_gdb() -> bool {
    Command::new("gdb")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// One frame of gdb's `bt`: the function as gdb names it, and the source
/// position it shows (`None` for frames without line information).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GdbFrame {
    pub function: String,
    pub file: Option<String>,
    pub line: Option<u32>,
}

/// gdb's backtrace of the same run with files and lines: the reference the
/// DWARF output is compared with. `env` is set for the program.
pub fn gdb_frames(program: &Path, args: &[&str], env: &[(&str, &str)]) -> Vec<GdbFrame> {
    let mut cmd = Command::new("gdb");
    cmd.args(["-nx", "-batch", "-ex", "set debuginfod enabled off"]);
    for (k, v) in env {
        cmd.args(["-ex", &format!("set environment {k}={v}")]);
    }
    cmd.args([
        "-ex",
        "run",
        "-ex",
        "set print frame-arguments none",
        "-ex",
        "bt",
    ]);
    cmd.arg("--args").arg(program).args(args);
    cmd.env_remove("LD_PRELOAD");
    let out = cmd.output().expect("gdb");
    let text = String::from_utf8_lossy(&out.stdout);
    let frame = Regex::new(r"^#\d+\s+(?:0x[0-9a-f]+ in )?(.*)$").unwrap();
    let position = Regex::new(r"^(.*) at (.+):(\d+)$").unwrap();
    text.lines()
        .filter_map(|l| frame.captures(l))
        .map(|c| {
            let rest = c[1].to_string();
            if rest.contains("<signal handler called>") {
                return GdbFrame {
                    function: "<signal handler called>".into(),
                    file: None,
                    line: None,
                };
            }
            let (head, file, line) = match position.captures(&rest) {
                Some(p) => (p[1].to_string(), Some(p[2].to_string()), p[3].parse().ok()),
                None => (rest.split(" from ").next().unwrap().to_string(), None, None),
            };
            // `NAME (ARGS)`: with frame-arguments none, ARGS holds no " (".
            let function = head.rsplit_once(" (").map_or(head.as_str(), |(n, _)| n);
            GdbFrame {
                function: function.to_string(),
                file,
                line,
            }
        })
        .collect()
}

/// What a dump, like gdb, calls a C library function: the name its debug
/// information gives when libc6-dbg is installed (scripts/install-test-deps.sh
/// installs it), else the exported symbol.
pub fn libc_function(exported: &'static str) -> &'static str {
    static DEBUG_INFO: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    let debug_info = *DEBUG_INFO.get_or_init(|| {
        let notes = Command::new("readelf")
            .args(["-n", "/usr/lib/x86_64-linux-gnu/libc.so.6"])
            .output()
            .unwrap();
        let notes = String::from_utf8_lossy(&notes.stdout);
        let id = notes
            .lines()
            .find_map(|l| l.trim().strip_prefix("Build ID: "))
            .unwrap()
            .to_string();
        Path::new(&format!(
            "/usr/lib/debug/.build-id/{}/{}.debug",
            &id[..2],
            &id[2..]
        ))
        .exists()
    });
    match exported {
        "abort" if debug_info => "__GI_abort",
        "free" if debug_info => "__GI___libc_free",
        "sigwait" if debug_info => "__GI___sigwait",
        other => other,
    }
}
