//! gdb's backtrace of the same run: the reference dumps are compared with.

use std::path::Path;
use std::process::{Command, Stdio};

use regex::Regex;

use super::parse::{Thread, strip_params};

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
