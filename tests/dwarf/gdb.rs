//! Files, lines and inlined frames compared frame by frame with gdb's `bt`:
//! C at -O2 with inlined helpers, C++ templates, Rust with and without
//! `.debug_aranges`, libc through Debian's compressed separate debug file,
//! CPython's own crash functions.

use std::path::Path;

use crate::common::*;
use crate::support::*;

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
