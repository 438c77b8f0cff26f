//! Shipping: the portable build (dist/libfaultdump.so, for glibc 2.17 and
//! later), scripts/install.sh and scripts/faultdump-run.

mod common;

use std::collections::BTreeMap;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use common::release::*;
use common::*;

// ---- The portable build ------------------------------------------------------

/// dist/libfaultdump.so (glibc 2.17 and later), built (or brought up to date)
/// once per test run by scripts/build-release.sh: the first run installs its
/// tools into target/.
fn dist_lib() -> &'static Path {
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
    // The check can fail: the development build, linked against this
    // machine's glibc, requires newer versions than 2.17.
    assert!(!glibc_versions_too_new(&lib_path(), OLDEST_GLIBC).is_empty());
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
    let prog = build_c("faults.c", "faults-O0", &["-O0", "-g"]);
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
    // library finds it by name at run time (src/libpthread.rs) to give each
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
    // The check can fail: the development build does not load there.
    let refused = old(&lib_path());
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

// ---- install.sh --------------------------------------------------------------

/// A fresh empty directory for one test.
fn temp_dir(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join("ship")
        .join(format!("{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Everything under `dir`: path -> (kind, mode, content, mtime, inode).
type Listing = BTreeMap<PathBuf, (char, u32, Vec<u8>, i64, u64)>;

fn listing(dir: &Path) -> Listing {
    fn walk(base: &Path, dir: &Path, out: &mut Listing) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            let meta = std::fs::symlink_metadata(&path).unwrap();
            let rel = path.strip_prefix(base).unwrap().to_path_buf();
            let mode = meta.permissions().mode() & 0o7777;
            let when = meta.mtime() * 1_000_000_000 + meta.mtime_nsec();
            if meta.is_dir() {
                out.insert(rel, ('d', mode, Vec::new(), when, meta.ino()));
                walk(base, &path, out);
            } else {
                let content = std::fs::read(&path).unwrap();
                out.insert(rel, ('f', mode, content, when, meta.ino()));
            }
        }
    }
    let mut out = Listing::new();
    walk(dir, dir, &mut out);
    out
}

/// The listing without times and inodes: what an uninstall must restore
/// (editing a file or a directory changes its time even when the content
/// ends as it was).
fn shape(listing: &Listing) -> BTreeMap<PathBuf, (char, u32, Vec<u8>)> {
    listing
        .iter()
        .map(|(p, (k, m, c, _, _))| (p.clone(), (*k, *m, c.clone())))
        .collect()
}

fn install(args: &[&str]) -> std::process::Output {
    let out = Command::new(root().join("scripts/install.sh"))
        .args(args)
        .arg("--library")
        .arg(lib_path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "install.sh {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn uninstall(args: &[&str]) {
    let out = Command::new(root().join("scripts/install.sh"))
        .args(args)
        .arg("--uninstall")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "install.sh --uninstall {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn install_into_a_prefix_twice_then_uninstall() {
    let dir = temp_dir("prefix");
    // Something of the image's own in the prefix, which must stay.
    std::fs::create_dir_all(dir.join("usr/local/lib")).unwrap();
    std::fs::write(dir.join("usr/local/lib/libother.so"), b"other").unwrap();
    let before = listing(&dir);
    let root_arg = dir.to_str().unwrap();

    install(&["--root", root_arg]);
    let installed = dir.join("usr/local/lib/libfaultdump.so");
    assert_eq!(
        std::fs::read(&installed).unwrap(),
        std::fs::read(lib_path()).unwrap()
    );
    let mode = std::fs::metadata(&installed).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o755);
    assert!(!dir.join("etc/ld.so.preload").exists());
    let once = listing(&dir);

    install(&["--root", root_arg]);
    assert_eq!(listing(&dir), once, "a second install changed something");

    // The installed library works from there.
    let prog = build_c("faults.c", "faults-O0", &["-O0", "-g"]);
    let run = Runner::new(&prog)
        .arg("segv")
        .preload(&installed.to_string_lossy())
        .run();
    run.assert_killed_by(libc::SIGSEGV);
    assert!(run.dump().complete);

    uninstall(&["--root", root_arg]);
    assert_eq!(shape(&listing(&dir)), shape(&before));
    // Uninstalling again finds nothing to do and changes nothing.
    uninstall(&["--root", root_arg]);
    assert_eq!(shape(&listing(&dir)), shape(&before));
}

#[test]
fn global_install_keeps_other_preload_entries() {
    let dir = temp_dir("global");
    std::fs::create_dir_all(dir.join("etc")).unwrap();
    let others = "/opt/other/libother.so\n# a comment\n";
    std::fs::write(dir.join("etc/ld.so.preload"), others).unwrap();
    let before = listing(&dir);
    let args = ["--root", dir.to_str().unwrap(), "--prefix", "/opt/fd/lib"];

    install(&[&args[..], &["--global"]].concat());
    assert!(dir.join("opt/fd/lib/libfaultdump.so").is_file());
    assert_eq!(
        std::fs::read_to_string(dir.join("etc/ld.so.preload")).unwrap(),
        format!("{others}/opt/fd/lib/libfaultdump.so\n")
    );
    let once = listing(&dir);
    install(&[&args[..], &["--global"]].concat());
    assert_eq!(listing(&dir), once, "a second install changed something");

    uninstall(&args);
    assert_eq!(shape(&listing(&dir)), shape(&before));
}

#[test]
fn global_install_creates_ld_so_preload_and_uninstall_removes_it() {
    let dir = temp_dir("fresh-root");
    let before = listing(&dir);
    let args = ["--root", dir.to_str().unwrap()];
    install(&[&args[..], &["--global"]].concat());
    assert_eq!(
        std::fs::read_to_string(dir.join("etc/ld.so.preload")).unwrap(),
        "/usr/local/lib/libfaultdump.so\n"
    );
    let mode = std::fs::metadata(dir.join("etc/ld.so.preload"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o644);
    let once = listing(&dir);
    install(&[&args[..], &["--global"]].concat());
    assert_eq!(listing(&dir), once);
    uninstall(&args);
    assert_eq!(shape(&listing(&dir)), shape(&before));
    assert!(listing(&dir).is_empty());
}

#[test]
fn uninstall_keeps_what_others_added_since() {
    let dir = temp_dir("added-since");
    let args = ["--root", dir.to_str().unwrap()];
    install(&[&args[..], &["--global"]].concat());
    let preload = dir.join("etc/ld.so.preload");
    let mut text = std::fs::read_to_string(&preload).unwrap();
    text.push_str("/opt/later/liblater.so\n");
    std::fs::write(&preload, text).unwrap();
    std::fs::write(dir.join("usr/local/lib/libmine.so"), b"mine").unwrap();
    uninstall(&args);
    // The file install created stays, since it is not empty, with the line
    // added since; the directory install created stays with its new file.
    assert_eq!(
        std::fs::read_to_string(&preload).unwrap(),
        "/opt/later/liblater.so\n"
    );
    assert!(dir.join("usr/local/lib/libmine.so").exists());
    assert!(!dir.join("usr/local/lib/libfaultdump.so").exists());
    assert!(!dir.join("usr/local/lib/libfaultdump.so.manifest").exists());
}

#[test]
fn install_defaults_to_the_portable_build() {
    // Without --library: dist/libfaultdump.so beside the script, before the
    // development build in target/release/.
    let dist = dist_lib();
    let dir = temp_dir("default-library");
    let out = Command::new(root().join("scripts/install.sh"))
        .args(["--root", dir.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        std::fs::read(dir.join("usr/local/lib/libfaultdump.so")).unwrap(),
        std::fs::read(dist).unwrap()
    );
}

#[test]
fn install_refuses_to_replace_a_library_it_did_not_install() {
    let dir = temp_dir("foreign");
    std::fs::create_dir_all(dir.join("usr/local/lib")).unwrap();
    std::fs::write(dir.join("usr/local/lib/libfaultdump.so"), b"someone's").unwrap();
    let out = Command::new(root().join("scripts/install.sh"))
        .args(["--root", dir.to_str().unwrap(), "--library"])
        .arg(lib_path())
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert_eq!(
        std::fs::read(dir.join("usr/local/lib/libfaultdump.so")).unwrap(),
        b"someone's"
    );
}

// ---- faultdump-run ----------------------------------------------------------

fn runner() -> PathBuf {
    root().join("scripts/faultdump-run")
}

/// `faultdump-run --library <the library under test> ARGS...`, with the
/// runner itself setting LD_PRELOAD.
fn run_runner(args: &[&str]) -> Runner {
    Runner::new(runner())
        .without_library()
        .arg("--library")
        .arg(lib_path())
        .args(args)
}

#[test]
fn runner_dies_by_the_signal_of_the_crash() {
    let prog = build_c("faults.c", "faults-O0", &["-O0", "-g"]);
    let run = run_runner(&["--", prog.to_str().unwrap(), "segv"]).run();
    run.assert_killed_by(libc::SIGSEGV);
    let dump = run.dump();
    assert!(dump.complete, "{}", run.stderr);
    assert!(dump.exe.ends_with("faults-O0"), "{}", dump.exe);
    dump.current()
        .assert_chain(&["do_segv", "crash_inner", "crash_middle", "crash_outer"]);
}

#[test]
fn runner_exits_with_the_status_of_the_command() {
    let run = run_runner(&["--", "sh", "-c", "exit 3"]).run();
    assert_eq!(run.code(), Some(3), "{}", run.stderr);
    assert_eq!(run.stderr, "");
}

#[test]
fn runner_makes_a_relative_output_path_absolute() {
    let dir = temp_dir("runner-output");
    let prog = build_c("faults.c", "faults-O0", &["-O0", "-g"]);
    // The command changes directory before it crashes: the dump must still
    // land where the runner was started.
    let script = format!("cd / && exec {} segv", prog.display());
    let run = run_runner(&["--output", "crash-%p.log", "--", "sh", "-c", &script])
        .current_dir(&dir)
        .run();
    run.assert_killed_by(libc::SIGSEGV);
    assert!(
        run.dumps().is_empty(),
        "dump went to stderr:\n{}",
        run.stderr
    );
    let files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");
    let name = files[0].file_name().unwrap().to_string_lossy().into_owned();
    assert!(
        name.starts_with("crash-") && name.ends_with(".log"),
        "{name}"
    );
    let text = std::fs::read_to_string(&files[0]).unwrap();
    let dumps = parse_dumps(&text);
    assert_eq!(dumps.len(), 1, "{text}");
    assert_eq!(name, format!("crash-{}.log", dumps[0].pid));
}

#[test]
fn runner_sets_the_environment_and_keeps_ld_preload() {
    let mut r = run_runner(&[
        "--json",
        "--timeout",
        "2.5:exit",
        "--signal",
        "USR1",
        "--signal",
        "SIGUSR2:chain",
        "--output",
        "out/dump-%p.json",
        "--",
        "env",
    ])
    .current_dir(env!("CARGO_TARGET_TMPDIR"));
    let other = "/usr/lib/x86_64-linux-gnu/libm.so.6";
    r.command().env("LD_PRELOAD", other);
    let run = r.run();
    assert_eq!(run.code(), Some(0), "{}", run.stderr);
    let vars: BTreeMap<&str, &str> = run
        .stdout
        .lines()
        .filter_map(|l| l.split_once('='))
        .collect();
    assert_eq!(
        vars.get("LD_PRELOAD").copied(),
        Some(format!("{}:{other}", lib_path().display()).as_str())
    );
    assert_eq!(vars.get("FAULTHANDLER_FORMAT").copied(), Some("json"));
    assert_eq!(vars.get("FAULTHANDLER_TIMEOUT").copied(), Some("2.5:exit"));
    assert_eq!(
        vars.get("FAULTHANDLER_SIGNAL").copied(),
        Some("USR1,SIGUSR2:chain")
    );
    assert_eq!(
        vars.get("FAULTHANDLER").copied(),
        Some(format!("{}/out/dump-%p.json", env!("CARGO_TARGET_TMPDIR")).as_str())
    );
}

#[test]
fn runner_finds_the_library_beside_it() {
    // A source tree with only the development build (scripts/ and
    // target/release/), one with the portable build too (which goes first),
    // and an installed prefix (bin/ and lib/), each with a copy of the runner
    // and links to the library: (script directory, library directories, the
    // one expected).
    let dir = temp_dir("runner-layouts");
    let layouts: [(&str, &[&str], &str); 3] = [
        (
            "tree/scripts",
            &["tree/target/release"],
            "tree/target/release",
        ),
        (
            "tree2/scripts",
            &["tree2/target/release", "tree2/dist"],
            "tree2/dist",
        ),
        ("usr/bin", &["usr/lib"], "usr/lib"),
    ];
    for (script_dir, lib_dirs, expected_dir) in layouts {
        std::fs::create_dir_all(dir.join(script_dir)).unwrap();
        let script = dir.join(script_dir).join("faultdump-run");
        std::fs::copy(runner(), &script).unwrap();
        for lib_dir in lib_dirs {
            std::fs::create_dir_all(dir.join(lib_dir)).unwrap();
            let lib = dir.join(lib_dir).join("libfaultdump.so");
            std::os::unix::fs::symlink(lib_path(), &lib).unwrap();
        }
        let run = Runner::new(&script).without_library().arg("env").run();
        assert_eq!(run.code(), Some(0), "{}", run.stderr);
        let expected = format!(
            "LD_PRELOAD={}",
            dir.join(expected_dir).join("libfaultdump.so").display()
        );
        assert!(
            run.stdout.lines().any(|l| l == expected),
            "{expected} not in:\n{}",
            run.stdout
        );
    }
}

#[test]
fn runner_rejects_what_it_does_not_know() {
    let run = run_runner(&["--bogus", "true"]).run();
    assert_eq!(run.code(), Some(2));
    assert!(
        run.stderr.contains("unknown option '--bogus'"),
        "{}",
        run.stderr
    );
    let run = Runner::new(runner())
        .without_library()
        .args(["--library", "/nonexistent/libfaultdump.so", "true"])
        .run();
    assert_eq!(run.code(), Some(2));
}

/// A complete dump of `faults segv`, dying by SIGSEGV, with its named chain.
fn assert_segv_through_the_chain(run: &Run) -> Dump {
    run.assert_killed_by(libc::SIGSEGV);
    let dump = run.dump();
    assert!(dump.complete, "{}", run.stderr);
    dump.current().assert_chain(&[
        "do_segv",
        "crash_inner",
        "crash_middle",
        "crash_outer",
        "main",
    ]);
    dump
}
