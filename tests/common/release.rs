//! The release libraries (scripts/build-release.sh) and what their ELF
//! headers must say: the glibc versions they require, the libraries they
//! need, what they export (tests/ship, tests/ports.rs).

use std::path::Path;
use std::process::Command;

use super::dirs::root;
use super::elf::readelf;

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

/// What the library may export, each with its reason (the README's list of
/// exported symbols says the same). Anything else in the dynamic symbol table
/// would be looked up by every symbol lookup of every process that preloads
/// the library, and could interpose on the host's own symbols.
pub const EXPORT_ALLOWLIST: &[(&str, &str)] = &[
    // Prefix: the C API of include/faultdump.h (faultdump_enable,
    // faultdump_dump_traceback, ...), for programs that call it.
    ("faultdump_*", "the C API"),
    // Interposed on purpose: every new thread gets an alternate signal stack,
    // so that a stack overflow in any thread is dumped.
    (
        "pthread_create",
        "gives each thread an alternate signal stack",
    ),
    // Interposed on purpose: the program sees its own view of the signals
    // the library handles, and its handlers go to the kernel, so that
    // language runtimes never find the library's handler to chain to. Each
    // is a glibc function that sets a disposition without going through
    // the exported `sigaction`.
    ("sigaction", "the program's view of the handled signals"),
    ("signal", "BSD signal(), as glibc's, on that view"),
    ("bsd_signal", "the same function under its BSD name"),
    ("ssignal", "the same function under its SVID name"),
    ("sysv_signal", "System V signal(), as glibc's"),
    (
        "__sysv_signal",
        "what signal() compiles to under strict ISO C or X/Open",
    ),
    ("sigset", "System V sigset(), as glibc's"),
    ("sigignore", "System V sigignore(), as glibc's"),
    ("siginterrupt", "changes the flags signal() uses later"),
    // Interposed on purpose: how the last reaped child died, so that a
    // wrapper passing its child's signal on is not dumped as a crash.
    ("wait", "notes how the reaped child died"),
    ("waitpid", "the same"),
    ("wait3", "the same"),
    ("wait4", "the same"),
    ("waitid", "the same"),
];

/// `GLIBC_x.y` versions the library requires that are newer than `oldest`.
pub fn glibc_versions_too_new(lib: &Path, oldest: (u32, u32)) -> Vec<String> {
    let text = readelf(&["-V", "-W"], lib);
    let mut too_new = Vec::new();
    for word in text.split_whitespace() {
        let Some(version) = word.strip_prefix("GLIBC_") else {
            continue;
        };
        let mut parts = version.split('.').map(|p| p.parse::<u32>());
        let (Some(Ok(major)), Some(Ok(minor))) = (parts.next(), parts.next()) else {
            // GLIBC_PRIVATE, GLIBC_ABI_DT_RELR: no old glibc has them.
            too_new.push(word.to_string());
            continue;
        };
        if (major, minor) > oldest && !too_new.iter().any(|v| v == word) {
            too_new.push(word.to_string());
        }
    }
    too_new
}

pub fn needed(lib: &Path) -> Vec<String> {
    readelf(&["-d", "-W"], lib)
        .lines()
        .filter(|l| l.contains("(NEEDED)"))
        .filter_map(|l| Some(l.split_once('[')?.1.split_once(']')?.0.to_string()))
        .collect()
}

pub fn needed_beyond(lib: &Path, allowed: &[&str]) -> Vec<String> {
    needed(lib)
        .into_iter()
        .filter(|n| !allowed.contains(&n.as_str()))
        .collect()
}

/// Symbols the library defines in its dynamic symbol table.
pub fn exports(lib: &Path) -> Vec<String> {
    readelf(&["--dyn-syms", "-W"], lib)
        .lines()
        .filter_map(|l| {
            // Num: Value Size Type Bind Vis Ndx Name
            let f: Vec<&str> = l.split_whitespace().collect();
            let numbered = f
                .first()
                .and_then(|n| n.strip_suffix(':'))
                .is_some_and(|n| n.parse::<u32>().is_ok());
            if f.len() < 8 || !numbered || f[6] == "UND" {
                return None;
            }
            if matches!(f[3], "SECTION" | "FILE") {
                return None;
            }
            Some(f[7].split('@').next().unwrap().to_string())
        })
        .collect()
}

pub fn unexpected_exports(lib: &Path) -> Vec<String> {
    exports(lib)
        .into_iter()
        .filter(|name| {
            !EXPORT_ALLOWLIST
                .iter()
                .any(|(allowed, _)| match allowed.strip_suffix('*') {
                    Some(prefix) => name.starts_with(prefix),
                    None => name == allowed,
                })
        })
        .collect()
}

/// The library built with a test-only `feature`, in its own target
/// directory, cheaply (no LTO, little optimisation): built once per test
/// process and feature.
pub fn selftest_library(feature: &str) -> std::path::PathBuf {
    static BUILT: std::sync::Mutex<Vec<(String, std::path::PathBuf)>> =
        std::sync::Mutex::new(Vec::new());
    let mut built = BUILT.lock().unwrap();
    if let Some((_, path)) = built.iter().find(|(f, _)| f == feature) {
        return path.clone();
    }
    let target = root().join("target").join(feature);
    let status = std::process::Command::new(env!("CARGO"))
        .args(["build", "--release", "--features", feature])
        .current_dir(super::root())
        .env("CARGO_TARGET_DIR", &target)
        .env("CARGO_PROFILE_RELEASE_LTO", "false")
        .env("CARGO_PROFILE_RELEASE_CODEGEN_UNITS", "16")
        .env("CARGO_PROFILE_RELEASE_OPT_LEVEL", "1")
        .status()
        .expect("cargo");
    assert!(status.success(), "building the library with {feature}");
    let path = target.join("release/libfaultdump.so");
    built.push((feature.to_string(), path.clone()));
    path
}
