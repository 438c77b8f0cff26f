//! Other languages: an uncaught C++ exception in namespaced templates, a Rust
//! panic with `panic=abort`; names demangled, compared with gdb.

use crate::common::*;

#[test]
fn uncaught_cpp_exception_in_namespaced_template_code() {
    let prog = exception();
    let run = Runner::new(&prog).run();
    run.assert_killed_by(libc::SIGABRT);
    let dump = assert_complete(&run);
    let current = dump.current();
    current.assert_chain(&[
        "__cxa_throw",
        "ns::Thing<int>::method",
        "ns::run<int>",
        "main",
    ]);
    let method = &current.frames[current.position("ns::Thing<int>::method").unwrap()];
    assert_eq!(method.function, "ns::Thing<int>::method()");
    let run_fn = &current.frames[current.position("ns::run<int>").unwrap()];
    assert_eq!(run_fn.function, "ns::run<int>(ns::Thing<int>&)");
    assert!(current.position("std::terminate").is_some());
    assert!(
        current.frames.iter().all(|f| !f.function.starts_with("_Z")),
        "every C++ name demangled: {:?}",
        current.names()
    );
    let gdb = gdb_backtrace_past_main(&prog, &[], &[], &[]);
    assert_matches_gdb(current, &gdb, "std::terminate", None);
}

#[test]
fn rust_panic_with_panic_abort() {
    let prog = rust_panic();
    let run = Runner::new(&prog).run();
    run.assert_killed_by(libc::SIGABRT);
    let dump = assert_complete(&run);
    let current = dump.current();
    current.assert_chain(&[
        "core::panicking::panic_fmt",
        "rust_panic::Parser::parse",
        "rust_panic::outer",
        "rust_panic::main",
    ]);
    let hash = regex::Regex::new(r"::h[0-9a-f]{16}|^_R|^_ZN").unwrap();
    assert!(
        current.frames.iter().all(|f| !hash.is_match(&f.function)),
        "Rust names demangled, without hash: {:?}",
        current.names()
    );
    let gdb = gdb_backtrace_past_main(&prog, &[], &[], &[]);
    // gdb names std's internals from DWARF (`std::rt::__rust_abort` where the
    // symbol says `__rustc::__rust_abort`): compare from the panic down.
    assert_matches_gdb(
        current,
        &gdb,
        "core::panicking::panic_fmt",
        Some("rust_panic::main"),
    );
}
