//! Damaged files (issue 22): a program, its shared library and the
//! library's separate debug file, each damaged a few hundred ways from
//! fixed seeds (`common::mutate`: cut short past the loaded segments,
//! bytes flipped and ranges overwritten in every section the loader does
//! not need, section headers garbled, garbage in zlib-compressed debug
//! sections). Each copy crashes in the library with faultdump preloaded:
//! the same death, one whole dump (header to end line, registers,
//! modules), no internal error, the program's own frames still there.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use common::mutate::{Rng, Role, mutate};
use common::*;

/// Copies per file.
const CASES: u64 = 100;
/// Crashes run at once.
const WORKERS: usize = 4;

/// Runs a tool in `dir`.
fn sh(dir: &Path, cmd: &str, args: &[&str]) {
    let out = Command::new(cmd)
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{cmd} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// The pristine set, in one folder: `split_main` (rpath `$ORIGIN`, its
/// debug sections compressed), `libsplit.so` (stripped of debug
/// information, with a `.gnu_debuglink`) and `libsplit.so.dbg` (its debug
/// sections compressed).
fn pristine() -> PathBuf {
    let dir = fresh_dir(out_dir().join("damage-pristine"));
    let lib = dir.join("libsplit.so");
    let debug = dir.join("libsplit.so.dbg");
    let prog = dir.join("split_main");
    let src = programs_dir();
    sh(
        &dir,
        "gcc",
        &[
            "-O2",
            "-g",
            "-shared",
            "-fPIC",
            s(&src.join("libsplit.c")),
            "-o",
            s(&lib),
        ],
    );
    sh(
        &dir,
        "objcopy",
        &[
            "--only-keep-debug",
            "--compress-debug-sections=zlib",
            s(&lib),
            s(&debug),
        ],
    );
    sh(&dir, "strip", &["--strip-debug", s(&lib)]);
    sh(
        &dir,
        "objcopy",
        &["--add-gnu-debuglink=libsplit.so.dbg", s(&lib)],
    );
    sh(
        &dir,
        "gcc",
        &[
            "-O2",
            "-g",
            s(&src.join("split_main.c")),
            "-o",
            s(&prog),
            &format!("-L{}", s(&dir)),
            "-lsplit",
            "-Wl,-rpath,$ORIGIN",
        ],
    );
    sh(
        &dir,
        "objcopy",
        &["--compress-debug-sections=zlib", s(&prog)],
    );
    dir
}

/// Writes a new file at `path` (executable): never the old one in place,
/// which a child of another test thread may still be running.
fn replace(path: &Path, bytes: &[u8]) {
    use std::os::unix::fs::PermissionsExt;
    let _ = std::fs::remove_file(path);
    std::fs::write(path, bytes).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

const FILES: [(&str, Role); 3] = [
    ("split_main", Role::Loaded),
    ("libsplit.so", Role::Loaded),
    ("libsplit.so.dbg", Role::Debug),
];

/// Runs the set in `dir`; the failures, if any, as one message. Unless
/// the library's unwind tables are damaged (`walk_may_stop`: the walk
/// cannot go past its frame then), the program's frame is there too
/// (named or not: its names may be what the damage took).
fn check(dir: &Path, what: &str, walk_may_stop: bool) -> Result<Dump, String> {
    let run = Runner::new(dir.join("split_main")).run();
    let fail = |why: &str| Err(format!("{what}: {why}\n{}", run.stderr));
    if run.timed_out {
        return fail("timed out");
    }
    if run.signal() != Some(libc::SIGSEGV) {
        return fail(&format!("status {:?}, not SIGSEGV", run.status));
    }
    let dumps = run.dumps();
    if dumps.len() != 1 || !dumps[0].complete {
        return fail("not one whole dump");
    }
    if run.stderr.contains("internal error") || run.stderr.contains("the dump itself failed") {
        return fail("the dump failed");
    }
    let dump = dumps.into_iter().next().unwrap();
    if dump.registers.is_empty() || dump.modules.len() < 3 {
        return fail("registers or modules missing");
    }
    let frames = &dump.current().frames;
    let in_module = |name: &str| frames.iter().any(|f| f.module.ends_with(name));
    if !in_module("/libsplit.so") {
        return fail("no frame in the library");
    }
    if !walk_may_stop && !in_module("/split_main") {
        return fail("no frame in the program");
    }
    Ok(dump)
}

#[test]
fn damaged_program_library_and_debug_file() {
    let base = pristine();
    // The pristine set shows what damage can take away: the library's
    // lines from its debug file.
    let dump = check(&base, "pristine", false).unwrap_or_else(|e| panic!("{e}"));
    let frames = &dump.current().frames;
    assert!(dump.current().position("main").is_some(), "{frames:?}");
    assert!(
        frames
            .iter()
            .any(|f| f.module.ends_with("libsplit.so") && f.file.is_some()),
        "no lines from the debug file: {frames:?}"
    );
    let cases: Vec<(usize, u64)> = (0..FILES.len())
        .flat_map(|f| (0..CASES).map(move |seed| (f, seed)))
        .collect();
    let next = AtomicUsize::new(0);
    let failures = Mutex::new(Vec::new());
    let originals: Vec<Vec<u8>> = FILES
        .iter()
        .map(|(name, _)| std::fs::read(base.join(name)).unwrap())
        .collect();
    std::thread::scope(|scope| {
        for worker in 0..WORKERS {
            let (next, failures, originals, base, cases) =
                (&next, &failures, &originals, &base, &cases);
            scope.spawn(move || {
                let dir = fresh_dir(out_dir().join(format!("damage-{worker}")));
                for (name, _) in FILES {
                    std::fs::copy(base.join(name), dir.join(name)).unwrap();
                }
                while let Some(&(file, seed)) = cases.get(next.fetch_add(1, Ordering::Relaxed)) {
                    let (name, role) = FILES[file];
                    let mut rng = Rng::new(seed * 31 + file as u64);
                    let (damaged, how) = mutate(&originals[file], role, &mut rng);
                    let path = dir.join(name);
                    replace(&path, &damaged);
                    let what = format!("{name} seed {seed}: {how}");
                    let walk_may_stop = name == "libsplit.so" && how.contains(".eh_frame");
                    if let Err(e) = check(&dir, &what, walk_may_stop) {
                        failures.lock().unwrap().push(e);
                    }
                    replace(&path, &originals[file]);
                }
            });
        }
    });
    let failures = failures.into_inner().unwrap();
    assert!(
        failures.is_empty(),
        "{} of {} damaged copies failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n----\n")
    );
}
