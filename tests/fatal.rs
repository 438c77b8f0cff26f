//! Fatal-signal dumps of real programs: frames, death signal, format.

mod common;

use common::*;

#[test]
fn null_write_through_a_named_chain() {
    let prog = build_c("chain.c", "chain-O0", &["-O0", "-g"]);
    let run = Runner::new(&prog).run();
    run.assert_killed_by(libc::SIGSEGV);
    let dump = run.dump();
    assert!(dump.complete, "{}", run.stderr);
    assert_eq!(
        dump.event.as_deref(),
        Some("Fatal error: Segmentation fault (SIGSEGV, SEGV_MAPERR, address 0x0)")
    );
    assert!(
        dump.cause
            .as_deref()
            .unwrap()
            .starts_with("Cause: null pointer dereference")
    );
    dump.current().assert_chain(&[
        "level3_write_null",
        "level2_prepare",
        "level1_start",
        "main",
    ]);
    assert_eq!(dump.current().frames[0].name(), "level3_write_null");
}
