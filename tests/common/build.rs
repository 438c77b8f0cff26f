//! Compiling the test programs of `tests/programs/` at test time.

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::Command;
use std::sync::{Arc, Mutex, OnceLock};

use super::dirs::{out_dir, programs_dir};

fn build_lock(key: &str) -> Arc<Mutex<()>> {
    static LOCKS: OnceLock<Mutex<HashMap<String, Arc<Mutex<()>>>>> = OnceLock::new();
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
