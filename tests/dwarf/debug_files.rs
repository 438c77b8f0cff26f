//! Debug information in other files: a separate file named by
//! `.gnu_debuglink`, a dwz supplementary file named by `.gnu_debugaltlink`.

use crate::common::*;
use crate::support::*;

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
        let prog = build_split_main(&dir, s(&dir));
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

/// Issue 17, item 9: a FIFO planted where `.gnu_debuglink` sends the dump
/// (beside the program) is no debug file: opening it must not wait for a
/// writer that never comes. The dump ends whole, named from `.symtab`.
#[test]
fn a_fifo_at_the_debuglink_path_does_not_block_the_dump() {
    let dir = scratch_dir("debuglink-fifo");
    let prog = dir.join("faults");
    std::fs::copy(faults_o0(), &prog).unwrap();
    let debug = dir.join("faults.dbg");
    sh("objcopy", &["--only-keep-debug", s(&prog), s(&debug)]);
    sh("strip", &["--strip-debug", s(&prog)]);
    sh(
        "objcopy",
        &[&format!("--add-gnu-debuglink={}", s(&debug)), s(&prog)],
    );
    std::fs::remove_file(&debug).unwrap();
    sh("mkfifo", &[s(&debug)]);
    let run = Runner::new(&prog)
        .arg("segv")
        .timeout(std::time::Duration::from_secs(30))
        .run();
    assert!(!run.timed_out, "the dump blocked:\n{}", run.stderr);
    run.assert_killed_by(libc::SIGSEGV);
    assert_complete(&run)
        .current()
        .assert_chain(&chain_of("do_segv"));
}
