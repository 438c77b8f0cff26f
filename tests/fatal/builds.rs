//! Build variants of the same program against gdb: PIE at -O0, non-PIE at
//! -O2 without frame pointers, stripped (named from `.dynsym`).

use std::path::PathBuf;
use std::process::Command;

use crate::common::*;

/// Optimised, no frame pointers, not position-independent.
fn faults_o2() -> PathBuf {
    build_c(
        "faults.c",
        "faults-O2-nofp-nopie",
        &["-O2", "-fomit-frame-pointer", "-no-pie", "-g"],
    )
}

/// No `.symtab`: the chain is named from `.dynsym` (exported with -rdynamic).
fn faults_stripped() -> PathBuf {
    build_c("faults.c", "faults-stripped", &["-O0", "-rdynamic", "-s"])
}

#[test]
fn pie_at_o0_matches_gdb() {
    let prog = faults_o0();
    let run = Runner::new(&prog).arg("segv").run();
    run.assert_killed_by(libc::SIGSEGV);
    let dump = assert_complete(&run);
    let current = dump.current();
    current.assert_chain(&chain_of("do_segv"));
    for f in &current.frames[..5] {
        assert_eq!(f.module, prog.to_string_lossy());
        assert!(
            f.module_offset < f.addr,
            "PIE: loaded above its link address"
        );
        assert_offset_in_symbol(f, &prog);
    }
    let gdb = gdb_backtrace_past_main(&prog, &["segv"], &[], &[]);
    assert_matches_gdb(current, &gdb, "do_segv", None);
    assert_eq!(current.names()[0], gdb[0]);
}

#[test]
fn non_pie_at_o2_without_frame_pointers_matches_gdb() {
    let prog = faults_o2();
    for mode in ["segv", "abrt"] {
        let run = Runner::new(&prog).arg(mode).run();
        run.assert_killed_by(if mode == "segv" {
            libc::SIGSEGV
        } else {
            libc::SIGABRT
        });
        let dump = assert_complete(&run);
        let current = dump.current();
        let first = format!("do_{mode}");
        current.assert_chain(&chain_of(&first));
        let f = &current.frames[current.position(&first).unwrap()];
        assert_eq!(f.module_offset, f.addr, "non-PIE: load bias 0");
        assert_offset_in_symbol(f, &prog);
        let gdb = gdb_backtrace_past_main(&prog, &[mode], &[], &[]);
        assert_matches_gdb(current, &gdb, &first, None);
    }
}

#[test]
fn stripped_binary_is_named_from_exported_symbols() {
    let prog = faults_stripped();
    let nm = Command::new("nm").arg(&prog).output().unwrap();
    assert!(
        String::from_utf8_lossy(&nm.stderr).contains("no symbols"),
        "the program must have no .symtab"
    );
    let run = Runner::new(&prog).arg("segv").run();
    run.assert_killed_by(libc::SIGSEGV);
    let dump = assert_complete(&run);
    let current = dump.current();
    current.assert_chain(&chain_of("do_segv"));
    assert_eq!(current.names()[0], "do_segv");
    let gdb = gdb_backtrace_past_main(&prog, &["segv"], &[], &[]);
    assert_matches_gdb(current, &gdb, "do_segv", Some("main"));
}
