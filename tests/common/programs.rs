//! The builds of `tests/programs/` that several test files share (one name
//! per set of flags: a build is cached by its output name).

use std::path::PathBuf;

use super::build::{build_c, build_cpp, build_rust};

/// `faults.c` at -O0: one mode per way to crash, each through the chain
/// [`chain_of`] names.
pub fn faults_o0() -> PathBuf {
    build_c("faults.c", "faults-O0", &["-O0", "-g"])
}

/// The chain every `faults` mode crashes through, innermost first.
pub fn chain_of(mode_fn: &str) -> Vec<&str> {
    vec![
        mode_fn,
        "crash_inner",
        "crash_middle",
        "crash_outer",
        "main",
    ]
}

/// `threads.c`: crashes in threads, with locks held, in forked children.
pub fn threads() -> PathBuf {
    build_c("threads.c", "threads", &["-O0", "-g", "-pthread"])
}

/// `plugin.c`, the library `threads plugin` loads with dlopen.
pub fn plugin() -> PathBuf {
    build_c(
        "plugin.c",
        "libplugin.so",
        &["-O0", "-g", "-shared", "-fPIC"],
    )
}

/// An uncaught C++ exception in namespaced template code.
pub fn exception() -> PathBuf {
    build_cpp("exception.cpp", "exception", &["-O0", "-g"])
}

/// A Rust panic with `panic=abort`.
pub fn rust_panic() -> PathBuf {
    build_rust("rust_panic.rs", "rust_panic", &["-C", "panic=abort", "-g"])
}
