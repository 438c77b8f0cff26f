//! Source files, lines and inlined frames from DWARF, compared frame by frame
//! with gdb's `bt` of the same crash: C at -O2 with inlined helpers, C++
//! templates, Rust (no .debug_aranges), CPython's own crash functions, libc
//! through Debian's compressed separate debug file, a library whose debug
//! information is only in a separate file, compressed sections, a stripped
//! program symbolized afterwards, and broken debug information.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;

/// The name gdb gives the function our frame names: without parameters,
/// clone and LTO suffixes (`foo.lto_priv.0`, `[clone .isra.0]`).
fn base_name(name: &str) -> String {
    let name = match name.find(" [clone ") {
        Some(i) => &name[..i],
        None => name,
    };
    let name = strip_params(name);
    let mut out = name;
    for suffix in [".lto_priv.", ".constprop.", ".isra.", ".part.", ".cold"] {
        if let Some(i) = out.find(suffix) {
            out = &out[..i];
        }
    }
    out.to_string()
}

fn show(ours: &[Frame], gdb: &[GdbFrame]) -> String {
    let mut s = String::from("ours:\n");
    for f in ours {
        s += &format!(
            "  {} {}{} {:?}:{:?}\n",
            f.index,
            f.function,
            if f.inlined { " (inlined)" } else { "" },
            f.file,
            f.line
        );
    }
    s += "gdb:\n";
    for g in gdb {
        s += &format!("  {} {:?}:{:?}\n", g.function, g.file, g.line);
    }
    s
}

/// Our frames must be gdb's, in order, with the same files and lines, up to
/// gdb's last frame (gdb stops at `main`). gdb may show frames of tail calls
/// no unwinder sees: those are named in `tail_calls`.
fn assert_same_as_gdb(ours: &[Frame], gdb: &[GdbFrame], tail_calls: &[&str]) {
    assert!(!gdb.is_empty(), "gdb gave no backtrace");
    let mut j = 0;
    for (i, f) in ours.iter().enumerate() {
        if j == gdb.len() {
            break;
        }
        // Names as gdb shows them, exactly: from the debug information.
        let name = strip_params(&f.function).to_string();
        while j < gdb.len() && gdb[j].function != name {
            assert!(
                tail_calls.contains(&gdb[j].function.as_str()),
                "frame {i} ({name}) is not gdb's next frame {:?}\n{}",
                gdb[j],
                show(ours, gdb)
            );
            j += 1;
        }
        assert!(
            j < gdb.len(),
            "frame {i} ({name}) not in gdb's\n{}",
            show(ours, gdb)
        );
        assert_eq!(
            (f.file.as_deref(), f.line),
            (gdb[j].file.as_deref(), gdb[j].line),
            "frame {i} ({name}): file and line differ from gdb's\n{}",
            show(ours, gdb)
        );
        j += 1;
    }
    assert_eq!(j, gdb.len(), "gdb has more frames\n{}", show(ours, gdb));
}

/// Runs `prog` preloaded and compares its crash with gdb's.
fn crash_matches_gdb(prog: &Path, args: &[&str], tail_calls: &[&str], signal: i32) -> Vec<Frame> {
    let run = Runner::new(prog).args(args).run();
    run.assert_killed_by(signal);
    let dump = run.dump();
    assert!(dump.complete, "{}", run.stderr);
    let ours = dump.current().frames.clone();
    let gdb = gdb_frames(prog, args, &[]);
    assert_same_as_gdb(&ours, &gdb, tail_calls);
    ours
}

fn frame<'a>(frames: &'a [Frame], name: &str) -> &'a Frame {
    frames
        .iter()
        .find(|f| base_name(&f.function) == name)
        .unwrap_or_else(|| panic!("no frame {name} in {frames:#?}"))
}

fn section_flags(file: &Path, section: &str) -> Option<String> {
    section_header(file, section).map(|fields| {
        // Name Type Address Off Size ES Flg Lk Inf Al
        if fields.len() >= 10 {
            fields[6].clone()
        } else {
            String::new()
        }
    })
}

fn sh(cmd: &str, args: &[&str]) {
    let out = Command::new(cmd).args(args).output().unwrap();
    assert!(
        out.status.success(),
        "{cmd} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn c_inlined_helpers_at_o2_match_gdb() {
    let prog = build_c("inline.c", "inline-O2", &["-O2", "-g"]);
    let frames = crash_matches_gdb(&prog, &[], &[], libc::SIGSEGV);
    let names: Vec<(String, bool)> = frames
        .iter()
        .take(6)
        .map(|f| (base_name(&f.function), f.inlined))
        .collect();
    let expected = [
        ("store", true),
        ("prepare", true),
        ("crash_here", false),
        ("forward", true),
        ("entry_point", false),
        ("main", false),
    ];
    assert_eq!(
        names,
        expected.map(|(n, i)| (n.to_string(), i)).to_vec(),
        "{frames:#?}"
    );
    // Inlined frames share their physical frame's address and print no
    // offset; numbers count every printed frame.
    assert_eq!(frames[0].addr, frames[2].addr);
    assert_eq!(frames[0].offset, None);
    assert!(frames[2].offset.is_some());
    assert!(frames.iter().enumerate().all(|(i, f)| f.index == i));
    let file = frames[0].file.as_deref().unwrap();
    assert!(file.ends_with("tests/programs/inline.c"), "{file}");
}

#[test]
fn cpp_templates_match_gdb() {
    let prog = build_cpp("templates.cpp", "templates-O2", &["-O2", "-g"]);
    let frames = crash_matches_gdb(&prog, &[], &[], libc::SIGSEGV);
    assert!(frames[0].inlined);
    assert_eq!(
        base_name(&frames[0].function),
        "shapes::Box<long>::fill<int>"
    );
    assert_eq!(frame(&frames, "shapes::apply<long>").line, Some(20));
}

/// Rust, as rustc builds it (`.debug_aranges` for some units only), and
/// with no `.debug_aranges` at all (as clang and older rustc leave it): the
/// units are then found by scanning their root entries.
#[test]
fn rust_with_and_without_aranges_matches_gdb() {
    let built = build_rust("crash.rs", "crash-rs", &["-g", "-C", "opt-level=1"]);
    let dir = fresh_dir(out_dir().join("rust-no-aranges"));
    let bare = dir.join("crash-rs");
    sh(
        "objcopy",
        &["--remove-section", ".debug_aranges", s(&built), s(&bare)],
    );
    assert_eq!(section_flags(&bare, ".debug_aranges"), None);
    for prog in [&built, &bare] {
        let frames = crash_matches_gdb(prog, &[], &[], libc::SIGSEGV);
        assert_eq!(base_name(&frames[0].function), "crash::level3");
        assert!(frame(&frames, "crash::level2").inlined);
        // std's frames resolve too (their units come later in the file).
        let std = frame(&frames, "std::rt::lang_start_internal");
        assert!(
            std.file.as_deref().unwrap().ends_with("rt.rs"),
            "{frames:#?}"
        );
    }
}

#[test]
fn libc_abort_through_its_compressed_debug_file() {
    let libc = Path::new("/usr/lib/x86_64-linux-gnu/libc.so.6");
    let build_id = build_id(libc).expect("libc has a build-id");
    let debug = format!(
        "/usr/lib/debug/.build-id/{}/{}.debug",
        &build_id[..2],
        &build_id[2..]
    );
    assert!(
        Path::new(&debug).exists(),
        "{debug} missing: install libc6-dbg (scripts/install-test-deps.sh)"
    );
    let flags = section_flags(Path::new(&debug), ".debug_info").unwrap();
    assert!(
        flags.contains('C'),
        "libc's .debug_info is not compressed: {flags}"
    );
    let prog = build_c("abort.c", "abort-O1", &["-O1", "-g"]);
    let frames = crash_matches_gdb(&prog, &[], &["__pthread_kill_internal"], libc::SIGABRT);
    let top = &frames[0];
    assert_eq!(top.function, "__pthread_kill_implementation");
    assert_eq!(top.file.as_deref(), Some("./nptl/pthread_kill.c"));
    assert!(top.module.ends_with("libc.so.6"));
}

/// Python's own faulthandler is off unless asked (-X faulthandler), so the
/// library's handler gets the signal.
#[test]
fn cpython_crash_functions_match_gdb() {
    let python = Path::new("/usr/bin/python3");
    let real = std::fs::canonicalize(python).unwrap();
    let id = build_id(&real).unwrap();
    let debug = format!("/usr/lib/debug/.build-id/{}/{}.debug", &id[..2], &id[2..]);
    assert!(
        Path::new(&debug).exists(),
        "{debug} missing: install python3-dbg (scripts/install-test-deps.sh)"
    );
    for (function, signal) in [
        ("_sigsegv", libc::SIGSEGV),
        ("_read_null", libc::SIGSEGV),
        ("_sigabrt", libc::SIGABRT),
    ] {
        let code = format!("import faulthandler; faulthandler.{function}()");
        let frames = crash_matches_gdb(
            python,
            &["-c", &code],
            &["__pthread_kill_internal", "_PyObject_VectorcallTstate"],
            signal,
        );
        let crash = frames
            .iter()
            .find(|f| f.file.as_deref() == Some("../Modules/faulthandler.c"))
            .unwrap_or_else(|| panic!("{function}: no faulthandler.c frame: {frames:#?}"));
        assert!(crash.line.is_some());
        assert!(
            frames.iter().any(|f| f.inlined),
            "{function}: no inlined frame: {frames:#?}"
        );
    }
}

/// The library's debug information only in a separate file named by
/// `.gnu_debuglink`: beside the library, then in its `.debug/` folder.
#[test]
fn separate_debug_file_by_debuglink() {
    let built = build_c(
        "libsplit.c",
        "libsplit-full.so",
        &["-O2", "-g", "-shared", "-fPIC"],
    );
    for place in ["beside", ".debug"] {
        let dir = fresh_dir(out_dir().join(format!("split-{}", place.trim_start_matches('.'))));
        let lib = dir.join("libsplit.so");
        std::fs::copy(&built, &lib).unwrap();
        let debug_dir = if place == "beside" {
            dir.clone()
        } else {
            dir.join(".debug")
        };
        std::fs::create_dir_all(&debug_dir).unwrap();
        let debug = debug_dir.join("libsplit.so.dbg");
        sh("objcopy", &["--only-keep-debug", s(&lib), s(&debug)]);
        sh("strip", &["--strip-debug", s(&lib)]);
        sh(
            "objcopy",
            &[&format!("--add-gnu-debuglink={}", s(&debug)), s(&lib)],
        );
        assert_eq!(section_flags(&lib, ".debug_info"), None);
        let prog = dir.join("split_main");
        let src = programs_dir().join("split_main.c");
        let rpath = format!("-Wl,-rpath,{}", s(&dir));
        let libdir = format!("-L{}", s(&dir));
        sh(
            "gcc",
            &[
                "-O2",
                "-g",
                s(&src),
                "-o",
                s(&prog),
                &libdir,
                "-lsplit",
                &rpath,
            ],
        );
        let frames = crash_matches_gdb(&prog, &[], &[], libc::SIGSEGV);
        assert_eq!(base_name(&frames[0].function), "split_store", "{place}");
        assert!(frames[0].inlined);
        assert!(frames[1].module.ends_with("libsplit.so"));
        assert!(frames[1].file.as_deref().unwrap().ends_with("libsplit.c"));

        // A debug file of another build (its build-id differs) in its
        // place is not used.
        let other = build_c(
            "libsplit.c",
            "libsplit-other.so",
            &["-O1", "-g", "-shared", "-fPIC"],
        );
        assert_ne!(build_id(&other), build_id(&lib));
        sh("objcopy", &["--only-keep-debug", s(&other), s(&debug)]);
        let run = Runner::new(&prog).run();
        run.assert_killed_by(libc::SIGSEGV);
        let dump = run.dump();
        let in_lib: Vec<&Frame> = dump
            .current()
            .frames
            .iter()
            .filter(|f| f.module.ends_with("libsplit.so"))
            .collect();
        assert!(!in_lib.is_empty());
        assert!(
            in_lib.iter().all(|f| f.file.is_none() && !f.inlined),
            "{place}: used a debug file of another build:\n{}",
            run.stderr
        );
    }
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// `dwz` moved the shared entries (the inlined functions' abstract
/// instances) into a supplementary file named by `.gnu_debugaltlink`: the
/// references into it are followed. Without the file, inlined frames keep
/// their files and lines but have no names.
#[test]
fn dwz_supplementary_file_followed() {
    let built = build_c("inline.c", "inline-O2", &["-O2", "-g"]);
    let dir = fresh_dir(out_dir().join("dwz"));
    let (a, b) = (dir.join("a"), dir.join("b"));
    std::fs::copy(&built, &a).unwrap();
    std::fs::copy(&built, &b).unwrap();
    let common = dir.join("common.debug");
    sh("dwz", &["-m", s(&common), "-M", s(&common), s(&a), s(&b)]);
    assert!(section_flags(&a, ".gnu_debugaltlink").is_some());
    let frames = crash_matches_gdb(&a, &[], &[], libc::SIGSEGV);
    assert_eq!(base_name(&frames[0].function), "store");
    std::fs::remove_file(&common).unwrap();
    let run = Runner::new(&a).run();
    run.assert_killed_by(libc::SIGSEGV);
    let frames = run.dump().current().frames.clone();
    assert!(
        frames[0].inlined && frames[0].function == "??",
        "{frames:#?}"
    );
    assert_eq!(frames[0].line, Some(10));
    assert_eq!(base_name(&frames[2].function), "crash_here");
}

/// The program with its debug sections compressed with zstd (objcopy can,
/// Debian 12's gcc cannot).
fn zstd_build() -> PathBuf {
    static BUILT: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    BUILT
        .get_or_init(|| {
            let plain = build_c("inline.c", "inline-O2", &["-O2", "-g"]);
            let zstd = fresh_dir(out_dir().join("zstd")).join("inline-O2-zstd");
            sh(
                "objcopy",
                &["--compress-debug-sections=zstd", s(&plain), s(&zstd)],
            );
            let flags = section_flags(&zstd, ".debug_info").unwrap();
            assert!(flags.contains('C'), "not compressed: {flags}");
            zstd
        })
        .clone()
}

/// `-gz` (zlib `SHF_COMPRESSED`) and zstd give the same frames as plain
/// sections.
#[test]
fn compressed_sections_read_like_plain_ones() {
    let plain = build_c("inline.c", "inline-O2", &["-O2", "-g"]);
    let packed = build_c("inline.c", "inline-O2-gz", &["-O2", "-g", "-gz"]);
    let flags = section_flags(&packed, ".debug_info").unwrap();
    assert!(flags.contains('C'), "-gz did not compress: {flags}");
    let frames = |p: &Path| {
        let run = Runner::new(p).run();
        run.assert_killed_by(libc::SIGSEGV);
        run.dump()
            .current()
            .frames
            .iter()
            .map(|f| (base_name(&f.function), f.inlined, f.file.clone(), f.line))
            .collect::<Vec<_>>()
    };
    let a = frames(&plain);
    assert!(a[0].2.is_some(), "{a:?}");
    assert_eq!(a, frames(&packed));
    assert_eq!(a, frames(&zstd_build()));
}

/// A binary with its debug information flipped in many places: the dump
/// still completes, and quickly.
#[test]
fn corrupted_debug_info_never_breaks_a_dump() {
    let original = build_c("inline.c", "inline-O2", &["-O2", "-g"]);
    let packed = build_c("inline.c", "inline-O2-gz", &["-O2", "-g", "-gz"]);
    let zstd = zstd_build();
    let dir = fresh_dir(out_dir().join("corrupt"));
    let mut cases = 0;
    for (source, section) in [
        (&original, ".debug_info"),
        (&original, ".debug_line"),
        (&original, ".debug_abbrev"),
        (&packed, ".debug_info"),
        (&packed, ".debug_line"),
        (&zstd, ".debug_info"),
        (&zstd, ".debug_line"),
    ] {
        let (offset, size) = section_range(source, section);
        let bytes = std::fs::read(source).unwrap();
        for seed in 0..6u64 {
            let mut copy = bytes.clone();
            // Flip a spread of bytes, differently per seed.
            let mut x = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
            let flips = if seed < 3 { 8 } else { size / 16 + 1 };
            for _ in 0..flips {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                let at = offset + (x as usize % size);
                copy[at] ^= (x >> 32) as u8 | 1;
            }
            let prog = dir.join(format!("c{cases}"));
            std::fs::write(&prog, &copy).unwrap();
            std::fs::set_permissions(&prog, std::os::unix::fs::PermissionsExt::from_mode(0o755))
                .unwrap();
            let run = Runner::new(&prog)
                .timeout(std::time::Duration::from_secs(20))
                .run();
            run.assert_killed_by(libc::SIGSEGV);
            let dump = run.dump();
            assert!(dump.complete, "{section} seed {seed}:\n{}", run.stderr);
            assert!(
                dump.current()
                    .frames
                    .iter()
                    .any(|f| f.function.starts_with("main")),
                "{section} seed {seed}:\n{}",
                run.stderr
            );
            cases += 1;
        }
    }
}

/// (file offset, size) of a section.
fn section_range(file: &Path, section: &str) -> (usize, usize) {
    let fields = section_header(file, section)
        .unwrap_or_else(|| panic!("no {section} in {}", file.display()));
    (
        usize::from_str_radix(&fields[3], 16).unwrap(),
        usize::from_str_radix(&fields[4], 16).unwrap(),
    )
}

/// Past `FAULTHANDLER_DWARF_BUDGET` the dump goes on with symbol names only,
/// and says so once.
#[test]
fn spent_budget_falls_back_to_symbols_with_one_note() {
    let prog = build_c("inline.c", "inline-O2", &["-O2", "-g"]);
    let run = Runner::new(&prog)
        .env("FAULTHANDLER_DWARF_BUDGET", "0.000001")
        .run();
    run.assert_killed_by(libc::SIGSEGV);
    let dump = run.dump();
    assert!(dump.complete);
    let notes: Vec<&String> = dump.notes.iter().filter(|n| n.contains("DWARF")).collect();
    assert_eq!(notes.len(), 1, "{}", run.stderr);
    // The clock starts with the first frame: the note comes before the
    // first frame the budget left without a position, and none after it
    // has one.
    let note = dump.lines.iter().position(|l| l.contains("DWARF")).unwrap();
    let after: Vec<&String> = dump.lines[note + 1..]
        .iter()
        .take_while(|l| l.starts_with("  #"))
        .collect();
    assert!(!after.is_empty(), "{}", run.stderr);
    assert!(
        after
            .iter()
            .all(|l| !l.contains(" at ") && !l.contains("(inlined)")),
        "{}",
        run.stderr
    );
    assert!(dump.current().frames.iter().any(|f| f.name() == "main"));
}

/// A stripped program's dump has no lines; faultdump-symbolize adds them
/// from the debug file found by the build-id in the dump's module list.
#[test]
fn stripped_program_symbolized_afterwards() {
    let built = build_c("inline.c", "inline-O2", &["-O2", "-g"]);
    let dir = fresh_dir(out_dir().join("stripped"));
    let prog = dir.join("inline");
    std::fs::copy(&built, &prog).unwrap();
    let id = build_id(&prog).unwrap();
    let debug_root = dir.join("debug");
    let by_id = debug_root.join(".build-id").join(&id[..2]);
    std::fs::create_dir_all(&by_id).unwrap();
    let debug = by_id.join(format!("{}.debug", &id[2..]));
    sh("objcopy", &["--only-keep-debug", s(&prog), s(&debug)]);
    sh("strip", &[s(&prog)]);
    let run = Runner::new(&prog).run();
    run.assert_killed_by(libc::SIGSEGV);
    let dump = run.dump();
    let own: Vec<&Frame> = dump
        .current()
        .frames
        .iter()
        .filter(|f| f.module == s(&prog))
        .collect();
    assert!(
        !own.is_empty() && own.iter().all(|f| f.file.is_none()),
        "{}",
        run.stderr
    );

    let text = run_symbolize(&["--debug-dir", s(&debug_root)], &run.stderr);
    let enriched = parse_dumps(&text).into_iter().next().expect("a dump");
    assert!(enriched.complete);
    let frames = &enriched.current().frames;
    let names: Vec<(String, bool)> = frames
        .iter()
        .take(6)
        .map(|f| (base_name(&f.function), f.inlined))
        .collect();
    assert_eq!(
        names,
        [
            ("store", true),
            ("prepare", true),
            ("crash_here", false),
            ("forward", true),
            ("entry_point", false),
            ("main", false)
        ]
        .map(|(n, i)| (n.to_string(), i))
        .to_vec(),
        "{text}"
    );
    // The same files and lines the unstripped program's own dump shows.
    let reference = Runner::new(&built).run().dump();
    for (a, b) in frames.iter().zip(&reference.current().frames).take(6) {
        assert_eq!((&a.file, a.line), (&b.file, b.line), "{text}");
    }
    assert!(
        frames.iter().enumerate().all(|(i, f)| f.index == i),
        "{text}"
    );

    // The same crash dumped as JSON (FAULTHANDLER_FORMAT=json), among
    // other output, enriched the same way, one object per line.
    let run = Runner::new(&prog).env("FAULTHANDLER_FORMAT", "json").run();
    run.assert_killed_by(libc::SIGSEGV);
    let input = format!("unrelated output\n{}", run.stderr);
    let out = run_symbolize(&["--debug-dir", s(&debug_root)], &input);
    assert!(out.starts_with("unrelated output\n"), "{out}");
    let line = out
        .lines()
        .find(|l| l.starts_with("{\"faultdump\":"))
        .unwrap_or_else(|| panic!("no JSON dump in:\n{out}"));
    let doc: serde_json::Value = serde_json::from_str(line).unwrap();
    let frames = doc["threads"][0]["frames"].as_array().unwrap();
    let functions: Vec<(&str, bool)> = frames
        .iter()
        .take(3)
        .map(|f| {
            (
                f["function"].as_str().unwrap(),
                f["inlined"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        functions,
        [("store", true), ("prepare", true), ("crash_here", false)],
        "{line}"
    );
    assert!(
        frames[0]["file"].as_str().unwrap().ends_with("inline.c"),
        "{line}"
    );
    assert!(
        frames.iter().enumerate().all(|(i, f)| f["index"] == i),
        "{line}"
    );
}

fn run_symbolize(args: &[&str], input: &str) -> String {
    use std::io::Write;
    let mut child = Command::new(root().join("scripts/faultdump-symbolize"))
        .args(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    String::from_utf8(out.stdout).unwrap()
}
