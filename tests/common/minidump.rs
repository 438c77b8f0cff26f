//! Reading minidumps with rust-minidump's `minidump-stackwalk` and
//! Mozilla's `dump_syms` (scripts/install-test-deps.sh installs both into
//! ~/.cargo/bin), and comparing what they read with a text dump.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use super::parse::{Thread, strip_params};

/// A tool on PATH or in ~/.cargo/bin.
pub fn tool(name: &str) -> Option<PathBuf> {
    let home = std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo/bin").join(name));
    std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .map(|d| d.join(name))
        .chain(home)
        .find(|p| p.is_file())
}

/// `minidump-stackwalk`, or `None` after saying that `test` is skipped.
pub fn stackwalk_or_skip(test: &str) -> Option<PathBuf> {
    let found = tool("minidump-stackwalk");
    if found.is_none() {
        println!(
            "SKIPPED: {test}: minidump-stackwalk not installed (scripts/install-test-deps.sh)"
        );
    }
    found
}

/// The `.dmp` files in `dir`.
pub fn minidumps(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "dmp"))
        .collect();
    files.sort();
    files
}

/// minidump-stackwalk's JSON for `dmp`.
pub fn stackwalk(walker: &Path, dmp: &Path, args: &[&str]) -> Value {
    let out = Command::new(walker)
        .arg("--json")
        .args(args)
        .arg(dmp)
        .output()
        .expect("minidump-stackwalk");
    assert!(
        out.status.success(),
        "minidump-stackwalk failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("minidump-stackwalk --json")
}

/// With the programs' own debug information.
pub fn local(walker: &Path, dmp: &Path) -> Value {
    stackwalk(walker, dmp, &["--use-local-debuginfo"])
}

/// A string member of a JSON object, "" when absent.
pub fn jstr<'v>(v: &'v Value, key: &str) -> &'v str {
    v[key].as_str().unwrap_or("")
}

/// A path's file name.
pub fn base(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

/// Names of a text thread's frames in the given modules (by file name),
/// physical frames only (the reader shows inlined calls apart).
pub fn text_names(thread: &Thread, own: &[&str]) -> Vec<String> {
    thread
        .frames
        .iter()
        .filter(|f| !f.inlined && own.contains(&base(&f.module)))
        .map(|f| unprefixed(f.name()))
        .collect()
}

/// A name without its leading underscores: the reader names `_start`
/// `start` and `__sleep` `_sleep`.
pub fn unprefixed(name: &str) -> String {
    name.trim_start_matches('_').to_string()
}

/// Names of a read thread's frames in the given modules (by file name).
pub fn json_names(thread: &Value, own: &[&str]) -> Vec<String> {
    thread["frames"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| own.contains(&jstr(f, "module")))
        .map(|f| unprefixed(strip_params(jstr(f, "function"))))
        .collect()
}

/// The derived debug id of a build id: its first 16 bytes as a
/// little-endian GUID, upper case, age 0.
pub fn debug_id(build_id: &str) -> String {
    let mut b: Vec<u8> = (0..build_id.len() / 2)
        .map(|i| u8::from_str_radix(&build_id[i * 2..i * 2 + 2], 16).unwrap())
        .collect();
    b.resize(16, 0);
    b[0..4].reverse();
    b[4..6].reverse();
    b[6..8].reverse();
    let hex: String = b[..16].iter().map(|x| format!("{x:02X}")).collect();
    format!("{hex}0")
}
