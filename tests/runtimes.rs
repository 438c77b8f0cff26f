//! Language runtimes keep their own crash reports: each case runs the same
//! program with and without the library and compares how it ends (exit
//! status or death signal) and the runtime's own report; where the runtime
//! ends in a default action (an `abort()`), the library's dump of it must
//! be there too. Plus what a C program sees of the signals faultdump
//! handles (tests/programs/handler_view.c).
//!
//! A runtime that is not installed (scripts/install-test-deps.sh installs
//! them) skips its case with one `SKIPPED:` line.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

use common::*;

/// Runs `program args` with and without the library, in `dir` if given.
fn both(program: &Path, args: &[&str], dir: Option<&Path>) -> (Run, Run) {
    let make = |with: bool| {
        let mut r = Runner::new(program)
            .args(args)
            .timeout(Duration::from_secs(120));
        if let Some(d) = dir {
            r = r.current_dir(d);
        }
        if !with {
            r = r.without_library();
        }
        r.run()
    };
    let (with, without) = (make(true), make(false));
    assert!(!with.timed_out && !without.timed_out, "timed out");
    (with, without)
}

/// The same end: the same exit status or the same death signal.
fn assert_same_end(with: &Run, without: &Run) {
    assert_eq!(
        (with.code(), with.signal()),
        (without.code(), without.signal()),
        "with the library:\n{}\nwithout:\n{}",
        with.stderr,
        without.stderr
    );
}

fn assert_no_dump(run: &Run) {
    assert!(
        !run.stderr.contains("faultdump: pid"),
        "an unexpected dump:\n{}",
        run.stderr
    );
}

/// The library's one dump, complete, of a fatal signal whose line
/// contains `what`.
fn assert_dump_of(run: &Run, what: &str) {
    let dumps = run.dumps();
    assert_eq!(dumps.len(), 1, "{}", run.stderr);
    assert!(dumps[0].complete, "{}", run.stderr);
    assert!(
        run.stderr
            .lines()
            .any(|l| l.starts_with("Fatal error: ") && l.contains(what)),
        "no dump of {what}:\n{}",
        run.stderr
    );
}

fn tool(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

fn skip(what: &str, why: &str) {
    println!("SKIPPED: {what}: {why}");
}

// ---- OpenJDK -----------------------------------------------------------------

/// tests/programs/JvmCrash.java compiled into its own folder, once.
fn jvm_classes() -> Option<&'static Path> {
    static DIR: OnceLock<Option<PathBuf>> = OnceLock::new();
    DIR.get_or_init(|| {
        let javac = tool("javac")?;
        tool("java")?;
        let dir = out_dir().join("java");
        std::fs::create_dir_all(&dir).unwrap();
        let out = Command::new(javac)
            .args(["-nowarn", "-d"])
            .arg(&dir)
            .arg(programs_dir().join("JvmCrash.java"))
            .output()
            .expect("javac");
        assert!(
            out.status.success(),
            "javac: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Some(dir)
    })
    .as_deref()
}

fn java_runs(args: &[&str]) -> Option<(Run, Run, PathBuf, PathBuf)> {
    let Some(classes) = jvm_classes() else {
        skip("OpenJDK", "java or javac not found");
        return None;
    };
    let java = tool("java").unwrap();
    let mut dirs = Vec::new();
    for side in ["with", "without"] {
        let dir = out_dir().join(format!("jvm-{}-{side}-{}", args[0], std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dirs.push(dir);
    }
    let mut full = vec!["-XX:-CreateCoredumpOnCrash", "-cp"];
    let classes = classes.to_str().unwrap();
    full.push(classes);
    full.push("JvmCrash");
    full.extend_from_slice(args);
    let run = |with: bool, dir: &Path| {
        let mut r = Runner::new(&java)
            .args(&full)
            .current_dir(dir)
            .timeout(Duration::from_secs(120));
        if !with {
            r = r.without_library();
        }
        r.run()
    };
    let with = run(true, &dirs[0]);
    let without = run(false, &dirs[1]);
    Some((with, without, dirs.remove(0), dirs.remove(0)))
}

/// The hs_err file the VM wrote in `dir`.
fn hs_err(dir: &Path) -> Option<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .find(|e| e.file_name().to_string_lossy().starts_with("hs_err_pid"))
        .map(|e| std::fs::read_to_string(e.path()).unwrap())
}

#[test]
fn jvm_writes_its_hs_err_report() {
    let Some((with, without, dir_with, dir_without)) = java_runs(&["unsafe"]) else {
        return;
    };
    assert_same_end(&with, &without);
    assert_eq!(with.code(), Some(1), "{}", with.stderr);
    for (run, dir) in [(&with, &dir_with), (&without, &dir_without)] {
        assert!(
            run.stdout
                .contains("A fatal error has been detected by the Java Runtime Environment"),
            "{}",
            run.stdout
        );
        let report = hs_err(dir).expect("an hs_err_pid*.log");
        assert!(report.contains("Problematic frame:"), "{report}");
        assert!(report.contains("SIGSEGV"), "{report}");
    }
    assert_no_dump(&with);
}

#[test]
fn jvm_implicit_null_checks_are_unchanged() {
    let Some((with, without, _, _)) = java_runs(&["npe"]) else {
        return;
    };
    assert_same_end(&with, &without);
    assert_eq!(with.code(), Some(0), "{}", with.stderr);
    assert_eq!(with.stdout.trim(), "caught 100000");
    assert_eq!(with.stdout, without.stdout);
    assert_no_dump(&with);
}

// ---- Ruby --------------------------------------------------------------------

#[test]
fn ruby_bug_report_then_the_dump_of_its_abort() {
    let Some(ruby) = tool("ruby") else {
        return skip("Ruby", "ruby not found");
    };
    let (with, without) = both(&ruby, &["-e", "Process.kill(:SEGV, Process.pid)"], None);
    assert_same_end(&with, &without);
    with.assert_killed_by(libc::SIGABRT);
    for run in [&with, &without] {
        assert!(
            run.stderr.contains("[BUG] Segmentation fault"),
            "{}",
            run.stderr
        );
        assert!(
            run.stderr.contains("-- Control frame information ---")
                && run.stderr.contains("c:0001 "),
            "{}",
            run.stderr
        );
    }
    // Ruby's report first, then our dump of the abort() that ends it.
    let bug = with.stderr.find("[BUG]").unwrap();
    let dump = with.stderr.find("faultdump: pid").expect("a dump");
    assert!(bug < dump);
    assert_dump_of(&with, "(SIGABRT");
    assert!(
        with.dump()
            .current()
            .position(libc_function("abort"))
            .is_some(),
        "{}",
        with.stderr
    );
}

// ---- Go with cgo -------------------------------------------------------------

/// tests/programs/cgo_crash.go built with cgo (dynamically linked), once.
fn cgo_program() -> Option<&'static Path> {
    static BUILT: OnceLock<Option<PathBuf>> = OnceLock::new();
    BUILT
        .get_or_init(|| {
            let go = tool("go")?;
            let out = out_dir().join("cgo_crash");
            let tmp = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
            let status = Command::new(go)
                .args(["build", "-o"])
                .arg(&out)
                .arg(programs_dir().join("cgo_crash.go"))
                .env("CGO_ENABLED", "1")
                .env("GOCACHE", tmp.join("gocache"))
                .env("GOPATH", tmp.join("gopath"))
                .env("GO111MODULE", "off")
                .status()
                .expect("go build");
            assert!(status.success(), "go build cgo_crash.go");
            Some(out)
        })
        .as_deref()
}

fn go_runs(mode: &str) -> Option<(Run, Run)> {
    let Some(prog) = cgo_program() else {
        skip("Go", "go not found");
        return None;
    };
    Some(both(prog, &[mode], None))
}

#[test]
fn go_reports_a_fault_in_cgo_code_itself() {
    let Some((with, without)) = go_runs("cgo") else {
        return;
    };
    assert_same_end(&with, &without);
    assert_eq!(with.code(), Some(2), "{}", with.stderr);
    for run in [&with, &without] {
        assert!(
            run.stderr
                .starts_with("fatal error: unexpected signal during runtime execution"),
            "{}",
            run.stderr
        );
        assert!(run.stderr.contains("goroutine 1 ["), "{}", run.stderr);
        assert!(run.stderr.contains("main.main()"), "{}", run.stderr);
    }
    assert_no_dump(&with);
}

#[test]
fn go_nil_pointer_panic_is_unchanged() {
    let Some((with, without)) = go_runs("nil") else {
        return;
    };
    assert_same_end(&with, &without);
    assert_eq!(with.code(), Some(2));
    for run in [&with, &without] {
        assert!(
            run.stderr.starts_with(
                "panic: runtime error: invalid memory address or nil pointer dereference"
            ),
            "{}",
            run.stderr
        );
    }
    assert_no_dump(&with);
}

#[test]
fn go_preemption_of_busy_goroutines_is_unchanged() {
    let Some((with, without)) = go_runs("busy") else {
        return;
    };
    assert_same_end(&with, &without);
    assert_eq!(with.code(), Some(0), "{}", with.stderr);
    assert_eq!(with.stdout.trim(), "preempted");
    assert_no_dump(&with);
}

// ---- Python, node, Rust ------------------------------------------------------

#[test]
fn python_faulthandler_then_the_native_dump() {
    let python = Path::new("/usr/bin/python3");
    let (with, without) = both(
        python,
        &[
            "-X",
            "faulthandler",
            "-c",
            "import ctypes; ctypes.string_at(0)",
        ],
        None,
    );
    assert_same_end(&with, &without);
    with.assert_killed_by(libc::SIGSEGV);
    for run in [&with, &without] {
        assert!(
            run.stderr
                .starts_with("Fatal Python error: Segmentation fault"),
            "{}",
            run.stderr
        );
        assert!(run.stderr.contains("File \"<string>\", line 1 in <module>"));
    }
    // Python restores SIG_DFL and raises the signal again: our dump follows
    // its traceback and reaches the frames of the fault.
    let python_end = with.stderr.find("File \"<string>\"").unwrap();
    assert!(with.stderr.find("faultdump: pid").expect("a dump") > python_end);
    assert_dump_of(&with, "(SIGSEGV");
    assert!(
        with.dump().current().position("string_at").is_some(),
        "{}",
        with.stderr
    );
}

#[test]
fn node_webassembly_traps_are_unchanged() {
    let Some(node) = tool("node") else {
        return skip("node", "node not found");
    };
    let (with, without) = both(
        &node,
        &[programs_dir().join("wasm_trap.js").to_str().unwrap()],
        None,
    );
    assert_same_end(&with, &without);
    assert_eq!(with.code(), Some(0), "{}", with.stderr);
    assert_eq!(with.stdout.trim(), "traps 1000");
    assert_no_dump(&with);
}

#[test]
fn rust_stack_overflow_message_then_the_dump_of_its_abort() {
    let prog = build_rust("rust_overflow.rs", "rust_overflow", &["-O"]);
    let (with, without) = both(&prog, &[], None);
    assert_same_end(&with, &without);
    with.assert_killed_by(libc::SIGABRT);
    for run in [&with, &without] {
        assert!(
            run.stderr.contains("has overflowed its stack"),
            "{}",
            run.stderr
        );
    }
    assert_dump_of(&with, "(SIGABRT");
}

// ---- What a C program sees ---------------------------------------------------

fn handler_view() -> PathBuf {
    build_c(
        "handler_view.c",
        "handler_view",
        &["-O1", "-g", "-pthread", "-Wall", "-Werror", "-ldl"],
    )
}

#[test]
fn every_disposition_call_returns_what_the_c_library_returns() {
    let (with, without) = both(&handler_view(), &["view"], None);
    assert_same_end(&with, &without);
    assert_eq!(with.code(), Some(0), "{}", with.stderr);
    assert!(
        with.stdout
            .contains("start              sig 11: rc 0 handler SIG_DFL")
    );
    assert_eq!(with.stdout, without.stdout);
    // The same with nothing handled, and with SIGUSR1 registered too.
    for (k, v) in [("FAULTHANDLER", "0"), ("FAULTHANDLER_SIGNAL", "SIGUSR1")] {
        let run = Runner::new(handler_view()).arg("view").env(k, v).run();
        assert_eq!(run.stdout, without.stdout, "{k}={v}: {}", run.stderr);
    }
}

#[test]
fn a_program_installing_a_handler_finds_sig_dfl_and_recovers_with_siglongjmp() {
    let (with, without) = both(&handler_view(), &["recover"], None);
    assert_same_end(&with, &without);
    assert_eq!(with.stdout, "old handler SIG_DFL\nrecovered 1000\n");
    assert_eq!(with.stdout, without.stdout);
    assert_no_dump(&with);
}

#[test]
fn sig_dfl_set_back_is_the_dump() {
    let (with, without) = both(&handler_view(), &["dfl-crash"], None);
    assert_same_end(&with, &without);
    with.assert_killed_by(libc::SIGSEGV);
    assert_dump_of(&with, "(SIGSEGV, SEGV_MAPERR");
}

#[test]
fn installs_from_threads_and_handlers_at_once_end_consistent() {
    let (with, without) = both(&handler_view(), &["concurrent"], None);
    assert_same_end(&with, &without);
    with.assert_killed_by(libc::SIGSEGV);
    assert_eq!(with.stdout, "last installed runs: yes\nrecovered 1\n");
    assert_eq!(with.stdout, without.stdout);
    assert_dump_of(&with, "(SIGSEGV, SEGV_MAPERR");
}

#[test]
fn a_handler_installed_on_a_registered_signal_is_the_programs() {
    let run = Runner::new(handler_view()).arg("api").run();
    assert_eq!(run.code(), Some(0), "{}", run.stderr);
    assert_eq!(
        run.stdout,
        "register -> 0\n\
         registered         sig 10: rc 0 handler SIG_DFL flags 0 mask 0\n\
         own handler ran 1\n\
         survived the registered dump\n"
    );
    // One dump: SIGUSR1 once SIG_DFL was set back, not while it was the
    // program's.
    assert_eq!(run.dumps().len(), 1, "{}", run.stderr);
}

#[test]
fn the_signal_that_parks_threads_stays_invisible() {
    let run = Runner::new(handler_view()).arg("park").run();
    assert_eq!(run.code(), Some(0), "{}", run.stderr);
    assert_eq!(
        run.stdout, "own handler on SIGRTMAX ran 1\nsecond dump done\n",
        "{}",
        run.stderr
    );
    let dumps = run.dumps();
    assert_eq!(dumps.len(), 2, "{}", run.stderr);
    // Both dumps stopped the spinning thread and walked it.
    for dump in &dumps {
        assert!(
            dump.threads.iter().any(|t| t.position("spinner").is_some()),
            "{}",
            run.stderr
        );
    }
}

#[test]
fn a_handler_called_as_a_plain_function_does_nothing() {
    let (with, without) = both(&handler_view(), &["plain-call"], None);
    assert_same_end(&with, &without);
    with.assert_killed_by(libc::SIGABRT);
    assert_eq!(with.stdout, "returned\n");
    // Only the abort is dumped: the three calls without a signal frame
    // were declined.
    assert_dump_of(&with, "(SIGABRT");
}
