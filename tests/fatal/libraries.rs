//! Crashes in a library loaded with dlopen, and in its constructor (the
//! loader's lock held).

use std::time::Duration;

use crate::common::*;

#[test]
fn crash_in_a_library_loaded_with_dlopen() {
    let prog = threads();
    let lib = plugin();
    let lib_arg = lib.to_string_lossy().into_owned();
    let run = Runner::new(&prog).args(["plugin", &lib_arg]).run();
    run.assert_killed_by(libc::SIGSEGV);
    let dump = assert_complete(&run);
    let current = dump.current();
    current.assert_chain(&[
        "plugin_inner",
        "plugin_crash",
        "load_plugin",
        "run_plugin",
        "main",
    ]);
    assert_eq!(current.frames[0].module, lib_arg);
    assert_offset_in_symbol(&current.frames[0], &lib);
    assert!(
        dump.modules.iter().any(|m| m.contains(&lib_arg)),
        "the dlopen'ed library is listed in Modules"
    );
    let gdb = gdb_backtrace_past_main(&prog, &["plugin", &lib_arg], &[], &[]);
    assert_matches_gdb(current, &gdb, "plugin_inner", None);
}

/// The constructor of a dlopen'ed library faults while the loader holds
/// its lock: the dump must not need that lock.
#[test]
fn crash_in_the_constructor_of_a_dlopened_library() {
    let prog = threads();
    let lib = plugin();
    let lib_arg = lib.to_string_lossy().into_owned();
    let run = Runner::new(&prog)
        .args(["plugin", &lib_arg])
        .env("PLUGIN_CRASH_IN_CTOR", "1")
        .timeout(Duration::from_secs(20))
        .run();
    run.assert_killed_by(libc::SIGSEGV);
    let dump = assert_complete(&run);
    let current = dump.current();
    current.assert_chain(&["plugin_inner", "plugin_ctor_inner", "plugin_ctor"]);
    current.assert_chain(&["load_plugin", "run_plugin", "main"]);
    assert!(current.position("plugin_ctor") < current.position("load_plugin"));
    assert_eq!(current.frames[0].module, lib_arg);
}
