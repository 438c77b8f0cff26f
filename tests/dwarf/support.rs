//! What the themes share: comparing our frames with gdb's, running tools.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::common::*;

/// The name gdb gives the function our frame names: without parameters,
/// clone and LTO suffixes (`foo.lto_priv.0`, `[clone .isra.0]`).
pub fn base_name(name: &str) -> String {
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

pub fn show(ours: &[Frame], gdb: &[GdbFrame]) -> String {
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
pub fn assert_same_as_gdb(ours: &[Frame], gdb: &[GdbFrame], tail_calls: &[&str]) {
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
pub fn crash_matches_gdb(
    prog: &Path,
    args: &[&str],
    tail_calls: &[&str],
    signal: i32,
) -> Vec<Frame> {
    let run = Runner::new(prog).args(args).run();
    run.assert_killed_by(signal);
    let dump = run.dump();
    assert!(dump.complete, "{}", run.stderr);
    // gdb shows native frames only.
    let ours: Vec<Frame> = dump
        .current()
        .frames
        .iter()
        .filter(|f| !f.python)
        .cloned()
        .collect();
    let gdb = gdb_frames(prog, args, &[]);
    assert_same_as_gdb(&ours, &gdb, tail_calls);
    ours
}

pub fn frame<'a>(frames: &'a [Frame], name: &str) -> &'a Frame {
    frames
        .iter()
        .find(|f| base_name(&f.function) == name)
        .unwrap_or_else(|| panic!("no frame {name} in {frames:#?}"))
}

pub fn section_flags(file: &Path, section: &str) -> Option<String> {
    section_header(file, section).map(|fields| {
        // Name Type Address Off Size ES Flg Lk Inf Al
        if fields.len() >= 10 {
            fields[6].clone()
        } else {
            String::new()
        }
    })
}

/// Builds `split_main` in `dir`, linked to the `libsplit.so` there
/// (`-lsplit`), which it finds at run time through `rpath`.
pub fn build_split_main(dir: &Path, rpath: &str) -> PathBuf {
    let prog = dir.join("split_main");
    let src = programs_dir().join("split_main.c");
    sh(
        "gcc",
        &[
            "-O2",
            "-g",
            s(&src),
            "-o",
            s(&prog),
            &format!("-L{}", s(dir)),
            "-lsplit",
            &format!("-Wl,-rpath,{rpath}"),
        ],
    );
    prog
}

pub fn sh(cmd: &str, args: &[&str]) {
    let out = Command::new(cmd).args(args).output().unwrap();
    assert!(
        out.status.success(),
        "{cmd} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

pub fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}
