//! Dumps of a process in trouble (tests/programs/trouble.c): out of address
//! space, without /proc, with open() denied (and the executable replaced or
//! deleted), with the loader's list cut,
//! after a vfork child's crash, and with a library loaded after start. Each
//! runs under the signal-safety spy (tests/common/spy.rs); its frames are
//! compared with gdb's backtrace of the same program, and the process dies
//! of the signal it would have died of.

mod common;

use std::path::PathBuf;

use common::spy::{assert_safe, run_checked};
use common::*;

fn trouble() -> PathBuf {
    build_c("trouble.c", "trouble", &["-O0", "-g"])
}

fn plugin() -> PathBuf {
    build_c(
        "plugin.c",
        "libplugin.so",
        &["-O0", "-g", "-shared", "-fPIC"],
    )
}

/// Runs `trouble ARGS` under the spy; asserts a complete, safe dump and the
/// death by SIGSEGV.
fn run_safe(what: &str, args: &[&str]) -> Run {
    let (run, log) = run_checked(&lib_path(), &trouble(), args, &[]);
    assert_safe(what, &run, &log, libc::SIGSEGV);
    run
}

fn gdb(args: &[&str]) -> Vec<String> {
    gdb_backtrace_past_main(&trouble(), args, &[], &[])
}

#[test]
fn address_space_exhausted_then_null_write() {
    let run = run_safe("RLIMIT_AS exhausted", &["oom"]);
    let dump = run.dump();
    let current = dump.current();
    // Named from the executable's symbol table (read through a fixed
    // buffer: its file cannot be mapped, nor remapped); the
    // dump runs in the memory reserved at start-up, without DWARF.
    assert_matches_gdb(current, &gdb(&["oom"]), "oom_write", Some("main"));
    assert!(
        dump.note("faultdump: DWARF skipped: no memory could be mapped")
            .is_some(),
        "{}",
        run.stderr
    );
    assert!(
        !run.stderr
            .contains("no memory could be mapped for the dump"),
        "{}",
        run.stderr
    );
}

#[test]
fn no_proc_in_a_private_mount_namespace() {
    let (run, log) = run_checked(&lib_path(), &trouble(), &["noproc"], &[]);
    if run.code() == Some(77) {
        let why = run.stdout.lines().find_map(|l| l.strip_prefix("SKIP "));
        println!(
            "SKIPPED: crash without /proc: no private mount namespace without /proc ({})",
            why.unwrap_or("unshare or umount refused")
        );
        return;
    }
    assert_safe("no /proc", &run, &log, libc::SIGSEGV);
    let dump = run.dump();
    assert_eq!(dump.exe, trouble().to_string_lossy(), "{}", run.stderr);
    assert_matches_gdb(dump.current(), &gdb(&["nested"]), "nested_inner", None);
    assert!(
        dump.note("faultdump: /proc/self/maps could not be read (No such file")
            .is_some(),
        "{}",
        run.stderr
    );
}

#[test]
fn open_denied_by_seccomp() {
    let run = run_safe("seccomp denies open", &["seccomp"]);
    let dump = run.dump();
    assert_executable_named_without_open(&dump, &run.stderr);
    assert!(
        dump.note("faultdump: /proc/self/maps could not be read (Operation not permitted)")
            .is_some(),
        "{}",
        run.stderr
    );
    // No descriptor of the library's stays open in the process.
    let fds = |run: &Run| run.stdout.lines().next().unwrap_or_default().to_string();
    let with = Runner::new(trouble()).arg("seccomp").run();
    let without = Runner::new(trouble())
        .arg("seccomp")
        .without_library()
        .run();
    assert_eq!(fds(&with), fds(&without));
    assert!(fds(&with).starts_with("fds: "), "{}", with.stdout);
}

/// The executable's file replaced by another build (or deleted) after
/// start, and open() denied: only its own mapping, remapped by the dump,
/// still holds its `.symtab` (start-up maps the file only on kernels before
/// 5.13 or for executables that cannot be remapped).
#[test]
fn executable_replaced_or_deleted_with_open_denied() {
    let dir = out_dir();
    for replaced in [true, false] {
        let what = if replaced { "replaced" } else { "deleted" };
        let exe = dir.join(format!("trouble-{what}-{}", std::process::id()));
        let other = dir.join(format!("trouble-{what}-other-{}", std::process::id()));
        std::fs::copy(trouble(), &exe).unwrap();
        let mut args = vec!["replaced"];
        if replaced {
            // Another ELF file, with another build-id.
            std::fs::copy(plugin(), &other).unwrap();
            args.push(other.to_str().unwrap());
        }
        let (run, log) = run_checked(&lib_path(), &exe, &args, &[]);
        let _ = std::fs::remove_file(&exe);
        let _ = std::fs::remove_file(&other);
        assert_safe(what, &run, &log, libc::SIGSEGV);
        assert_executable_named_without_open(&run.dump(), &run.stderr);
    }
}

/// The dump of `trouble seccomp` (or `replaced`, which crashes the same
/// way) with open() denied: the frames gdb shows, the executable's named
/// from its file all the same. The executable's frames come first: had its
/// file not been read, the "could not read" note would name it, not libc.
fn assert_executable_named_without_open(dump: &Dump, stderr: &str) {
    assert_matches_gdb(
        dump.current(),
        &gdb(&["seccomp"]),
        "nested_inner",
        Some("main"),
    );
    assert!(
        dump.note("faultdump: could not read ")
            .is_some_and(|n| n.contains("libc.so.6")),
        "{stderr}"
    );
}

#[test]
fn loader_list_cut_then_crash_in_a_libc_callback() {
    let run = run_safe("loader list cut", &["cutlist"]);
    let dump = run.dump();
    let current = dump.current();
    assert_matches_gdb(current, &gdb(&["cutlist"]), "compare_and_fault", None);
    assert!(
        dump.modules.iter().any(|m| m.contains("libc.so.6")),
        "libc is known from the start-up snapshot:\n{}",
        run.stderr
    );
}

#[test]
fn vfork_child_crash_then_parent_crash() {
    let run = run_safe("vfork", &["vfork"]);
    let dumps = run.dumps();
    assert_eq!(dumps.len(), 2, "{}", run.stderr);
    assert!(run.stdout.contains("child: signal 11"), "{}", run.stdout);
    let (child, parent) = (&dumps[0], &dumps[1]);
    assert_ne!(child.pid, parent.pid);
    assert_eq!(parent.pid, run.pid as i32);
    assert!(child.complete && parent.complete, "{}", run.stderr);
    child
        .current()
        .assert_chain(&["child_crash", "vfork_then_crash", "main"]);
    assert_matches_gdb(parent.current(), &gdb(&["vfork"]), "parent_crash", None);
}

#[test]
fn library_loaded_after_start_is_found() {
    let lib = plugin().to_string_lossy().into_owned();
    let run = run_safe("dlopen after start", &["dlopen", &lib]);
    let dump = run.dump();
    let current = dump.current();
    assert_eq!(current.frames[0].module, lib);
    assert!(dump.modules.iter().any(|m| m.contains(&lib)));
    assert_matches_gdb(current, &gdb(&["dlopen", &lib]), "plugin_inner", None);
}

/// Issue 17, item 5: out of address space, the dump has only the 16 MiB
/// arena reserved at start-up, and the executable's symbol table does not
/// fit in it (560,000 functions: 3.9 MiB of names, 13 MiB of index). The
/// dump goes on with fewer names and says so; it used to end in "internal
/// error" with no frame.
#[test]
fn a_symbol_table_bigger_than_the_reserved_arena_gives_fewer_names() {
    let run = run_big_symtab("big_symtab", 560_000, "p");
    let dump = assert_fewer_names(&run);
    // Every frame shown; the program's own functions are global, kept in
    // place of the local ones.
    dump.current()
        .assert_chain(&["big_crash", "big_outer", "main"]);
}

/// The same with names too long to read at all (280,000 functions, 9 MiB
/// of names, past what a dump reads of one string table): the table is
/// left out, the frames are still shown, named or not, and one line says
/// that names were lost.
#[test]
fn symbol_names_too_big_to_read_are_left_out_and_said_so() {
    let run = run_big_symtab(
        "big_symnames",
        280_000,
        "a_function_with_a_rather_long_name_",
    );
    let dump = assert_fewer_names(&run);
    assert!(dump.current().frames.len() >= 3, "{}", run.stderr);
}

/// A program with `count` one-instruction functions named `prefix` and a
/// hex number, assembled (gcc would take minutes to compile as many C
/// functions), crashed in the low-memory mode.
fn run_big_symtab(name: &str, count: usize, prefix: &str) -> Run {
    let asm = out_dir().join(format!("{name}_functions.s"));
    if !asm.exists() {
        let mut text = String::from(".text\n");
        for i in 0..count {
            text.push_str(&format!(
                ".type {prefix}{i:05x},@function\n{prefix}{i:05x}: ret\n.size {prefix}{i:05x},1\n"
            ));
        }
        text.push_str(".section .note.GNU-stack,\"\",@progbits\n");
        let tmp = asm.with_extension(format!("tmp{}", std::process::id()));
        std::fs::write(&tmp, text).unwrap();
        std::fs::rename(&tmp, &asm).unwrap();
    }
    let prog = build_c("big_symtab.c", name, &["-O0", "-g", asm.to_str().unwrap()]);
    let run = Runner::new(&prog).run();
    run.assert_killed_by(libc::SIGSEGV);
    run
}

/// A whole dump, in the reserved arena, with the line that says names were
/// left out for want of dump memory, and no internal error.
fn assert_fewer_names(run: &Run) -> Dump {
    assert!(!run.stderr.contains("internal error"), "{}", run.stderr);
    let dump = assert_complete(run);
    let noted = |what: &str| dump.notes.iter().any(|n| n.contains(what));
    assert!(
        noted("the dump runs in the 16 MiB reserved at start-up"),
        "not the reserved arena:\n{}",
        run.stderr
    );
    assert!(
        noted("not enough dump memory for the symbol tables"),
        "{}",
        run.stderr
    );
    dump
}

/// Issue 17, item 8: a vfork child crashes while a thread of its parent is
/// in the middle of a dump (blocked writing to a full pipe until its
/// deadline). The child shares the parent's memory: it must wait for that
/// dump instead of taking the lock from a thread it cannot see and running
/// its own dump on the same dump stack and arena (which then crashed the
/// parent). The child dies of SIGSEGV after its dump; the parent goes on.
#[test]
fn a_vfork_child_waits_for_its_parents_dump() {
    let prog = build_c(
        "vfork_during_dump.c",
        "vfork_during_dump",
        &["-O0", "-g", "-pthread", "-ldl"],
    );
    let run = Runner::new(&prog)
        .env("FAULTHANDLER_DEADLINE", "3")
        .timeout(std::time::Duration::from_secs(30))
        .run();
    assert_eq!(
        run.stdout, "child signal 11\nparent survived\n",
        "{}",
        run.stderr
    );
    assert_eq!(run.code(), Some(0), "{}", run.stderr);
    let dumps = run.dumps();
    assert_eq!(dumps.len(), 1, "the child's dump only:\n{}", run.stderr);
    assert!(dumps[0].complete, "{}", run.stderr);
    assert_ne!(dumps[0].pid as u32, run.pid);
    dumps[0]
        .current()
        .assert_chain(&["vfork_child_crash", "main"]);
}
