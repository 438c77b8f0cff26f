//! The portable build, dist/libfaultdump.so: glibc 2.17 and later, only libc
//! and the loader needed, only the C API and the interposed functions
//! exported, reproducible; it dumps a real crash, also under glibc 2.31.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use crate::common::*;

/// dist/libfaultdump.so (glibc 2.17 and later), built (or brought up to date)
/// once per test run by scripts/build-release.sh: the first run installs its
/// tools into target/.
pub fn dist_lib() -> &'static Path {
    static DIST: OnceLock<PathBuf> = OnceLock::new();
    DIST.get_or_init(|| {
        // The x86_64 glibc build only: tests/ports.rs builds the others.
        build_release(&["x86_64-glibc"]);
        let lib = root().join("dist/libfaultdump.so");
        assert!(lib.exists());
        lib
    })
}

/// The oldest glibc dist/libfaultdump.so must load on.
const OLDEST_GLIBC: (u32, u32) = (2, 17);

/// What dist/libfaultdump.so may need: the C library and the loader, which
/// every dynamically linked program has already. Not libpthread.so.0,
/// libdl.so.2, librt.so.1 or libm.so.6, though every glibc system has them
/// too: the loader would open and map each in every process (empty stubs
/// from glibc 2.34 on, but still opened: about +4% on the start-up of
/// /bin/true). See scripts/build-release.sh.
const DIST_LIBRARIES: &[&str] = &["libc.so.6", "ld-linux-x86-64.so.2"];

#[test]
fn portable_build_requires_no_glibc_newer_than_2_17() {
    let too_new = glibc_versions_too_new(dist_lib(), OLDEST_GLIBC);
    assert!(
        too_new.is_empty(),
        "dist/libfaultdump.so requires {too_new:?}"
    );
    // The check can fail: a library linked against this machine's glibc
    // the ordinary way requires newer versions than 2.17.
    assert!(!glibc_versions_too_new(&new_glibc_library(), OLDEST_GLIBC).is_empty());
}

/// A library built here that needs glibc 2.33 (tests/programs/new_glibc.c).
/// (The development build itself, with no std, may need nothing newer than
/// 2.17 either: not a control.)
fn new_glibc_library() -> PathBuf {
    build_c("new_glibc.c", "libnew-glibc.so", &["-shared", "-fPIC"])
}

#[test]
fn portable_build_needs_only_libc_and_the_loader() {
    let outside = needed_beyond(dist_lib(), DIST_LIBRARIES);
    assert!(outside.is_empty(), "dist/libfaultdump.so needs {outside:?}");
    assert!(needed(dist_lib()).contains(&"libc.so.6".to_string()));
    // The check can fail: a library that also needs libpthread.so.0 (as a
    // library linked for glibc 2.17 the ordinary way does) is rejected.
    // (Named by file: from glibc 2.34 on, -lpthread is an empty archive.)
    let extra = build_c(
        "faults.c",
        "needs-libpthread.so",
        &[
            "-shared",
            "-fPIC",
            "-Wl,--no-as-needed",
            "-l:libpthread.so.0",
        ],
    );
    assert_eq!(needed_beyond(&extra, DIST_LIBRARIES), ["libpthread.so.0"]);
}

#[test]
fn exports_only_the_c_api_and_the_interposed_functions() {
    for lib in [dist_lib(), lib_path().as_path()] {
        let extra = unexpected_exports(lib);
        assert!(extra.is_empty(), "{} exports {extra:?}", lib.display());
    }
    // The check can fail: libstdc++ exports thousands of symbols.
    let out = Command::new("g++")
        .arg("-print-file-name=libstdc++.so.6")
        .output()
        .unwrap();
    let libstdcxx = PathBuf::from(String::from_utf8(out.stdout).unwrap().trim());
    assert!(unexpected_exports(&libstdcxx).len() > 100);
}

#[test]
fn exports_every_interposed_function() {
    let dev = lib_path();
    for lib in [dev.as_path(), dist_lib()] {
        let exported = exports(lib);
        for (name, _) in EXPORT_ALLOWLIST {
            if !name.ends_with('*') {
                assert!(
                    exported.iter().any(|e| e == name),
                    "{} does not export {name}",
                    lib.display()
                );
            }
        }
    }
}

#[test]
fn portable_build_keeps_the_link_settings_and_is_stripped() {
    let lib = dist_lib();
    let dynamic = readelf(&["-d", "-W"], lib);
    // -z now: no lazy binding ever runs in a handler.
    assert!(
        dynamic.contains("BIND_NOW") || dynamic.contains("Flags: NOW"),
        "{dynamic}"
    );
    let notes = readelf(&["-n", "-W"], lib);
    assert!(notes.contains("Build ID: "), "{notes}");
    let sections = readelf(&["-S", "-W"], lib);
    assert!(!sections.contains(".symtab"), "not stripped:\n{sections}");
    assert!(!sections.contains(".debug_"), "not stripped:\n{sections}");
    let size = std::fs::metadata(lib).unwrap().len();
    eprintln!("{}: {size} bytes", lib.display());
}

#[test]
fn portable_build_dumps_a_real_crash() {
    let lib = dist_lib();
    let prog = faults_o0();
    let run = Runner::new(&prog)
        .arg("segv")
        .preload(&lib.to_string_lossy())
        .run();
    assert_segv_through_the_chain(&run);
    // Nothing said in a process that does not crash.
    let quiet = Runner::new("/bin/true")
        .preload(&lib.to_string_lossy())
        .run();
    assert_eq!(quiet.code(), Some(0));
    assert_eq!(quiet.stderr, "");
}

/// The portable build under a real older glibc (Debian 11's 2.31, whose
/// libpthread and libdl are still libraries of their own), fetched by
/// scripts/fetch-old-glibc.sh: it loads and dumps a crash and a thread's
/// stack overflow, where the development build is refused by the loader.
#[test]
fn portable_build_runs_under_an_older_glibc() {
    let lib = dist_lib();
    let out = Command::new(root().join("scripts/fetch-old-glibc.sh"))
        .output()
        .unwrap();
    if out.status.code() == Some(77) {
        // Debian stopped serving that release, or there is no network: the
        // symbol-version test above still holds the line.
        eprintln!(
            "SKIPPED: no older glibc to test with: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        return;
    }
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let libdir = PathBuf::from(String::from_utf8(out.stdout).unwrap().trim());
    // Programs linked for glibc 2.17 (by the zig that build-release.sh
    // installed), whose interpreter is the old loader.
    let build_old = |source: &str| {
        let prog = out_dir().join(format!("{}-old-glibc", source.trim_end_matches(".c")));
        let zig = Command::new(root().join("target/release-tools/venv/bin/python3"))
            .args([
                "-m",
                "ziglang",
                "cc",
                "-target",
                "x86_64-linux-gnu.2.17",
                "-O0",
                "-g",
                "-pthread",
            ])
            .arg(programs_dir().join(source))
            .arg("-o")
            .arg(&prog)
            .arg(format!(
                "-Wl,--dynamic-linker={}",
                libdir.join("ld-linux-x86-64.so.2").display()
            ))
            .output()
            .unwrap();
        assert!(
            zig.status.success(),
            "{}",
            String::from_utf8_lossy(&zig.stderr)
        );
        prog
    };
    let prog = build_old("faults.c");
    let old = |lib: &Path| {
        Runner::new(&prog)
            .arg("segv")
            .env("LD_LIBRARY_PATH", &libdir)
            .preload(&lib.to_string_lossy())
            .run()
    };
    let run = old(lib);
    let dump = assert_segv_through_the_chain(&run);
    assert!(
        dump.modules.iter().any(|m| m.contains("libc-2.31.so")),
        "{:?}",
        dump.modules
    );
    // Threads there: pthread_create is in libpthread-2.31.so, where the
    // library finds it by name at run time (src/sys/libpthread.rs) to give each
    // new thread its alternate signal stack, without which a thread's stack
    // overflow is not dumped.
    let overflow = Runner::new(build_old("thread_overflow.c"))
        .env("LD_LIBRARY_PATH", &libdir)
        .preload(&lib.to_string_lossy())
        .run();
    overflow.assert_killed_by(libc::SIGSEGV);
    let dump = overflow.dump();
    assert!(dump.complete, "{}", overflow.stderr);
    dump.assert_cause("stack overflow");
    assert_eq!(dump.current().name, "deep");
    assert_eq!(dump.current().frames[0].name(), "recurse");
    assert!(
        dump.modules
            .iter()
            .any(|m| m.contains("libpthread-2.31.so")),
        "{:?}",
        dump.modules
    );
    // The check can fail: a library that needs a newer glibc does not load
    // there.
    let refused = old(&new_glibc_library());
    assert!(
        refused.stderr.contains("version `GLIBC_2.3"),
        "{}",
        refused.stderr
    );
    assert!(refused.dumps().is_empty());
}

#[test]
fn a_second_build_changes_nothing() {
    let before = std::fs::metadata(dist_lib()).unwrap();
    build_release(&["x86_64-glibc"]);
    let after = std::fs::metadata(dist_lib()).unwrap();
    assert_eq!(before.ino(), after.ino());
    assert_eq!(before.mtime_nsec(), after.mtime_nsec());
}

/// A complete dump of `faults segv`, dying by SIGSEGV, with its named chain.
fn assert_segv_through_the_chain(run: &Run) -> Dump {
    run.assert_killed_by(libc::SIGSEGV);
    let dump = run.dump();
    assert!(dump.complete, "{}", run.stderr);
    dump.current().assert_chain(&chain_of("do_segv"));
    dump
}
