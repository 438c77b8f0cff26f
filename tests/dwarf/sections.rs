//! The debug sections themselves: compressed (zlib, zstd), corrupted, and
//! more than the DWARF budget allows.

use std::path::{Path, PathBuf};

use crate::common::*;
use crate::support::*;

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
