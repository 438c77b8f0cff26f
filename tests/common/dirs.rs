//! Where things are: the repository, built programs, scratch folders.

use std::path::PathBuf;

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
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

/// `dir`, empty: whatever an earlier run left there is removed.
pub fn fresh_dir(dir: impl Into<PathBuf>) -> PathBuf {
    let dir = dir.into();
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A fresh directory `<name>-<pid>` under the tests' temporary directory.
pub fn scratch_dir(name: &str) -> PathBuf {
    fresh_dir(
        PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("{name}-{}", std::process::id())),
    )
}
