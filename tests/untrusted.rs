//! Reads the maps cannot vouch for (issue 17, finding 3;
//! tests/programs/untrusted.c): a frame pointer into a guard region
//! (`MADV_GUARD_INSTALL`, Linux 6.13+) or into a file page past the end of
//! its file, read by the unwinder inside the dump, and a thread overflowing
//! its stack into a guard region. Each dump is whole (header to end line,
//! registers and modules), the process dies of its own signal.

mod common;

use std::path::PathBuf;

use common::*;

fn untrusted() -> PathBuf {
    build_c("untrusted.c", "untrusted", &["-O0", "-g", "-pthread"])
}

/// Runs a mode; `None` (after one SKIPPED line) where the kernel has no
/// guard regions.
fn run(test: &str, mode: &str, sig: i32) -> Option<Dump> {
    let run = Runner::new(untrusted()).arg(mode).run();
    if run.code() == Some(77) {
        println!("SKIPPED: {test}: {}", run.stdout.trim());
        return None;
    }
    run.assert_killed_by(sig);
    let dump = assert_complete(&run);
    assert!(!dump.registers.is_empty(), "{}", run.stderr);
    assert!(!dump.modules.is_empty(), "{}", run.stderr);
    Some(dump)
}

#[test]
fn frame_pointer_into_a_guard_region() {
    let Some(dump) = run(
        "frame_pointer_into_a_guard_region",
        "guard-fp",
        libc::SIGSEGV,
    ) else {
        return;
    };
    assert_eq!(dump.current().names()[0], "bad_frame");
}

#[test]
fn frame_pointer_past_the_end_of_a_file() {
    let dump = run(
        "frame_pointer_past_the_end_of_a_file",
        "trunc-fp",
        libc::SIGSEGV,
    )
    .unwrap();
    assert_eq!(dump.current().names()[0], "bad_frame");
}

#[test]
fn bus_error_whose_dump_reads_past_the_end_of_a_file() {
    // The dump's own fault is a SIGBUS inside a SIGBUS dump.
    let dump = run("bus_error", "trunc-bus", libc::SIGBUS).unwrap();
    assert_eq!(dump.current().names()[0], "bad_frame");
}

#[test]
fn overflow_into_a_guard_region_is_a_stack_overflow() {
    let Some(dump) = run(
        "overflow_into_a_guard_region_is_a_stack_overflow",
        "overflow",
        libc::SIGSEGV,
    ) else {
        return;
    };
    dump.assert_cause("stack overflow;");
    assert!(
        dump.current()
            .names()
            .iter()
            .take(10)
            .all(|n| *n == "recurse")
    );
}

/// A library cut short under the running program (its pages past the new
/// end fault when read): the dump is whole, the frames through the library
/// are there, and nothing about it is invented.
#[test]
fn library_cut_short_under_the_running_program() {
    let built = build_c(
        "libcallback.c",
        "libcallback.so",
        &["-O0", "-g", "-shared", "-fPIC"],
    );
    let dir = scratch_dir("untrusted-trunc-lib");
    let lib = dir.join("libcallback.so");
    std::fs::copy(&built, &lib).unwrap();
    let run = Runner::new(untrusted()).arg("trunc-lib").arg(&lib).run();
    run.assert_killed_by(libc::SIGSEGV);
    let dump = assert_complete(&run);
    let current = dump.current();
    assert_eq!(current.names()[0], "cut_and_crash", "{}", run.stderr);
    assert!(
        current.frames[1].module.ends_with("/libcallback.so"),
        "{}",
        run.stderr
    );
    current.assert_chain(&["trunc_lib", "main"]);
    let module = dump
        .modules
        .iter()
        .find(|m| m.contains("/libcallback.so"))
        .expect("the library among the modules");
    let id = build_id(&built).unwrap();
    assert!(
        module.contains(&format!("(build-id {id})")) || module.contains("(build-id not readable)"),
        "{module}"
    );
}
