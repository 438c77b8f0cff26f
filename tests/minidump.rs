//! `FAULTHANDLER_MINIDUMP`: the minidump written beside the text dump, read
//! by a reader we did not write, rust-minidump's `minidump-stackwalk`
//! (what Sentry's symbolicator is built on), with the programs' own debug
//! information (`--use-local-debuginfo`) and, where `dump_syms` is
//! installed, through Breakpad symbol files (`--symbols-path`). For each
//! crash: the crashing thread, signal, code and address the text dump
//! gives; every thread, with the text dump's function names in the same
//! order; the crashing thread's chain found by registers and call-frame
//! information, not by scanning; each module's code id the build id and
//! its debug id derived from it. And the limits: each costs one line.

mod common;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use common::*;
use serde_json::Value;

/// Runs `runner` with `FAULTHANDLER_MINIDUMP` set to a fresh directory;
/// returns the run, its text dump and its one minidump.
fn crash(name: &str, runner: Runner, signal: i32) -> (Run, Dump, PathBuf) {
    let dir = scratch_dir(&format!("minidump-{name}"));
    let run = runner.env("FAULTHANDLER_MINIDUMP", &dir).run();
    run.assert_killed_by(signal);
    let dump = assert_complete(&run);
    let files = minidumps(&dir);
    assert_eq!(files.len(), 1, "one minidump: {files:?}\n{}", run.stderr);
    let shown = format!("faultdump: minidump written to {}", files[0].display());
    assert!(
        dump.notes.iter().any(|n| n.starts_with(&shown)),
        "the dump says where: {:?}",
        dump.notes
    );
    let meta = std::fs::metadata(&files[0]).unwrap();
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(meta.permissions().mode() & 0o777, 0o600);
    let file_name = files[0].file_name().unwrap().to_string_lossy().to_string();
    let exe = Path::new(&dump.exe)
        .file_name()
        .unwrap()
        .to_string_lossy()
        .to_string();
    assert!(
        file_name.starts_with(&format!("{exe}.{}.", dump.pid)),
        "{file_name}: executable and pid"
    );
    (run, dump, files[0].clone())
}

/// What every read minidump must agree on with its text dump. `own`: the
/// file names of the modules whose frames are compared by name.
fn assert_agrees(dump: &Dump, md: &Value, own: &[&str], signal: &str) {
    assert_agrees_but(dump, md, own, signal, None);
}

/// [`assert_agrees`], with the crashing thread compared only up to the
/// frame named `stop` (excluded) when given.
fn assert_agrees_but(dump: &Dump, md: &Value, own: &[&str], signal: &str, stop: Option<&str>) {
    let text = dump.text();
    // The crash: signal and code, address, thread.
    let event = dump.event.as_deref().unwrap_or("");
    let crash = &md["crash_info"];
    let code = regex::Regex::new(r"\((SIG[A-Z]+), ([A-Z_]+)")
        .unwrap()
        .captures(event)
        .unwrap_or_else(|| panic!("event {event:?}"));
    assert_eq!(&code[1], signal);
    assert_eq!(
        jstr(crash, "type"),
        format!("{} / {}", &code[1], &code[2]),
        "{event}"
    );
    let address = regex::Regex::new(r"address (0x[0-9a-f]+)")
        .unwrap()
        .captures(event)
        .map_or(0, |c| u64::from_str_radix(&c[1][2..], 16).unwrap());
    assert_eq!(
        u64::from_str_radix(&jstr(crash, "address")[2..], 16).unwrap(),
        address
    );
    let current = dump.current();
    let crashed = &md["crashing_thread"];
    assert_eq!(crashed["thread_id"].as_i64(), Some(i64::from(current.tid)));

    // Every thread the text dump shows a stack of, in the same order.
    let threads = md["threads"].as_array().unwrap();
    let shown: Vec<&Thread> = dump
        .threads
        .iter()
        .filter(|t| !t.frames.is_empty())
        .collect();
    assert_eq!(threads.len(), shown.len(), "{text}");
    for (t, j) in shown.iter().zip(threads) {
        assert_eq!(j["thread_id"].as_i64(), Some(i64::from(t.tid)));
        assert_eq!(jstr(j, "thread_name"), t.name);
        let mut want = text_names(t, own);
        if let Some(stop) = stop.filter(|_| t.current) {
            want.truncate(want.iter().position(|n| n == stop).unwrap());
            let got = json_names(j, own);
            assert_eq!(got[..want.len()], want, "thread {} ({})", t.tid, t.name);
            continue;
        }
        assert_eq!(json_names(j, own), want, "thread {} ({})", t.tid, t.name);
    }

    // The crashing thread's chain: registers and call-frame information.
    let frames = crashed["frames"].as_array().unwrap();
    let last_own = frames
        .iter()
        .rposition(|f| own.contains(&jstr(f, "module")))
        .expect("frames of the program in the crashing thread");
    for f in &frames[..=last_own] {
        assert!(
            matches!(jstr(f, "trust"), "context" | "cfi"),
            "found by {}: {f}",
            jstr(f, "trust")
        );
    }

    // Modules: the code id is the build id, the debug id derived from it.
    let mut ids: HashMap<String, String> = HashMap::new();
    for m in &dump.modules {
        if let Some((path, id)) = m
            .trim()
            .split_once(' ')
            .and_then(|(_, rest)| rest.rsplit_once(" (build-id "))
        {
            let path = if path == "[vdso]" {
                "linux-gate.so"
            } else {
                base(path)
            };
            ids.insert(path.to_string(), id.trim_end_matches(')').to_string());
        }
    }
    let modules = md["modules"].as_array().unwrap();
    assert_eq!(modules.len(), dump.modules.len(), "{:?}", dump.modules);
    for m in modules {
        let name = jstr(m, "filename");
        let id = ids
            .get(name)
            .unwrap_or_else(|| panic!("module {name} not in the text dump"));
        assert_eq!(jstr(m, "code_id"), id, "{name}");
        assert_eq!(jstr(m, "debug_id"), debug_id(id), "{name}");
    }
}

fn minidump_program(name: &str, flags: &[&str]) -> PathBuf {
    let mut all = vec!["-g", "-pthread"];
    all.extend_from_slice(flags);
    build_c("minidump.c", name, &all)
}

#[test]
fn c_at_o0_with_waiting_threads() {
    let Some(walker) = stackwalk_or_skip("c_at_o0_with_waiting_threads") else {
        return;
    };
    let prog = minidump_program("minidump-O0", &["-O0"]);
    let (_, dump, dmp) = crash("o0", Runner::new(&prog).arg("crash"), libc::SIGSEGV);
    dump.current()
        .assert_chain(&["crash_inner", "crash_middle", "crash_outer", "main"]);
    let md = local(&walker, &dmp);
    assert_agrees(&dump, &md, &["minidump-O0"], "SIGSEGV");
    let names: Vec<&str> = md["threads"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| jstr(t, "thread_name"))
        .collect();
    assert_eq!(names, ["minidump-O0", "sleeper", "condvar", "reader"]);
    assert!(
        !jstr(&md["crash_info"], "instruction").is_empty(),
        "the code around the pc is in the file"
    );

    // The symbol-file route (Socorro, Tecken): dump_syms' .sym files.
    let Some(dump_syms) = tool("dump_syms") else {
        println!("SKIPPED: the dump_syms route: dump_syms not installed");
        return;
    };
    let store = scratch_dir("minidump-symstore");
    let status = Command::new(dump_syms)
        .arg("-s")
        .arg(&store)
        .arg(&prog)
        .status()
        .unwrap();
    assert!(status.success());
    let md = stackwalk(&walker, &dmp, &["--symbols-path", store.to_str().unwrap()]);
    // Without the C library's symbol file, what is past main is scanned:
    // the chain up to main is not.
    let frames = md["crashing_thread"]["frames"].as_array().unwrap();
    let main = frames
        .iter()
        .position(|f| jstr(f, "function") == "main")
        .unwrap_or_else(|| panic!("no main: {frames:?}"));
    let names: Vec<&str> = frames[..=main]
        .iter()
        .map(|f| jstr(f, "function"))
        .collect();
    assert_eq!(
        names,
        ["crash_inner", "crash_middle", "crash_outer", "main"]
    );
    assert!(
        frames[..=main].iter().all(|f| jstr(f, "trust") != "scan"),
        "{frames:?}"
    );
}

#[test]
fn c_at_o2_without_frame_pointers() {
    let Some(walker) = stackwalk_or_skip("c_at_o2_without_frame_pointers") else {
        return;
    };
    let prog = minidump_program("minidump-O2", &["-O2", "-fomit-frame-pointer"]);
    let (_, dump, dmp) = crash("o2", Runner::new(&prog).arg("crash"), libc::SIGSEGV);
    dump.current()
        .assert_chain(&["crash_inner", "crash_middle", "crash_outer", "main"]);
    assert_agrees(&dump, &local(&walker, &dmp), &["minidump-O2"], "SIGSEGV");
}

#[test]
fn cpp_exception() {
    let Some(walker) = stackwalk_or_skip("cpp_exception") else {
        return;
    };
    let (_, dump, dmp) = crash("cpp", Runner::new(exception()), libc::SIGABRT);
    dump.current()
        .assert_chain(&["ns::Thing<int>::method", "ns::run<int>", "main"]);
    assert_agrees(&dump, &local(&walker, &dmp), &["exception"], "SIGABRT");
}

#[test]
fn rust_panic_abort() {
    let Some(walker) = stackwalk_or_skip("rust_panic_abort") else {
        return;
    };
    let (_, dump, dmp) = crash("rust", Runner::new(rust_panic()), libc::SIGABRT);
    assert!(dump.current().position("rust_panic::outer").is_some());
    assert_agrees(&dump, &local(&walker, &dmp), &["rust_panic"], "SIGABRT");
}

#[test]
fn dlopened_plugin() {
    let Some(walker) = stackwalk_or_skip("dlopened_plugin") else {
        return;
    };
    let runner = Runner::new(threads()).arg("plugin").arg(plugin());
    let (_, dump, dmp) = crash("plugin", runner, libc::SIGSEGV);
    dump.current()
        .assert_chain(&["plugin_inner", "plugin_crash", "load_plugin"]);
    assert_agrees(
        &dump,
        &local(&walker, &dmp),
        &["threads", "libplugin.so"],
        "SIGSEGV",
    );
}

#[test]
fn crash_in_a_signal_handler() {
    let Some(walker) = stackwalk_or_skip("crash_in_a_signal_handler") else {
        return;
    };
    let prog = minidump_program("minidump-O0", &["-O0"]);
    let (_, dump, dmp) = crash(
        "handler",
        Runner::new(&prog).arg("in-handler"),
        libc::SIGSEGV,
    );
    dump.current().assert_chain(&["crash_inner", "on_usr1"]);
    let md = local(&walker, &dmp);
    // minidump-stackwalk 0.27 (framehop) does not follow the signal
    // trampoline's call-frame information (`__restore_rt`): past it, it
    // loses `raise` and `main` and resumes at `__libc_start_call_main`.
    // The reader's limit, not the file's: the text dump, walking the same
    // registers and stack, shows them. Compared up to the handler.
    assert_agrees_but(&dump, &md, &["minidump-O0"], "SIGSEGV", Some("main"));
}

#[test]
fn stack_overflow() {
    let Some(walker) = stackwalk_or_skip("stack_overflow") else {
        return;
    };
    let prog = minidump_program("minidump-O0", &["-O0"]);
    let (_, dump, dmp) = crash(
        "overflow",
        Runner::new(&prog).arg("overflow"),
        libc::SIGSEGV,
    );
    assert_eq!(dump.current().frames[0].name(), "recurse");
    let md = local(&walker, &dmp);
    assert_eq!(jstr(&md["crash_info"], "type"), "SIGSEGV / SEGV_MAPERR");
    let frames = md["crashing_thread"]["frames"].as_array().unwrap();
    assert!(frames.len() >= 20, "{} frames", frames.len());
    for f in &frames[..20] {
        assert_eq!(jstr(f, "function"), "recurse");
        assert!(matches!(jstr(f, "trust"), "context" | "cfi"), "{f}");
    }
}

#[test]
fn a_hundred_threads() {
    let Some(walker) = stackwalk_or_skip("a_hundred_threads") else {
        return;
    };
    let prog = minidump_program("minidump-O0", &["-O0"]);
    let (_, dump, dmp) = crash("hundred", Runner::new(&prog).arg("hundred"), libc::SIGSEGV);
    assert_eq!(dump.threads.len(), 100, "{}", dump.text());
    let md = local(&walker, &dmp);
    assert_eq!(md["thread_count"].as_u64(), Some(100));
    assert_agrees(&dump, &md, &["minidump-O0"], "SIGSEGV");
}

#[test]
fn timeout_that_exits() {
    let Some(walker) = stackwalk_or_skip("timeout_that_exits") else {
        return;
    };
    let prog = minidump_program("minidump-O0", &["-O0"]);
    let dir = scratch_dir("minidump-timeout");
    let run = Runner::new(&prog)
        .arg("hang")
        .env("FAULTHANDLER_TIMEOUT", "0.5:exit")
        .env("FAULTHANDLER_MINIDUMP", &dir)
        .timeout(Duration::from_secs(30))
        .run();
    assert_eq!(run.code(), Some(1), "{}", run.stderr);
    let dump = run.dump();
    let files = minidumps(&dir);
    assert_eq!(files.len(), 1, "{}", run.stderr);
    let md = local(&walker, &files[0]);
    // A dump requested, on the main thread; every thread in it.
    assert_eq!(
        md["crashing_thread"]["thread_id"].as_i64(),
        Some(i64::from(dump.pid))
    );
    let names: Vec<Vec<String>> = md["threads"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| json_names(t, &["minidump-O0"]))
        .collect();
    for chain in [
        ["sleeper_wait", "sleeper_main"],
        ["condvar_wait", "condvar_main"],
        ["reader_wait", "reader_main"],
    ] {
        assert!(names.iter().any(|n| n == &chain), "{chain:?} in {names:?}");
    }
    assert!(names.iter().any(|n| n[0] == "main"), "{names:?}");
}

/// One line of the text dump for each limit and failure, and the text dump
/// and the death as without a minidump.
#[test]
fn limits_and_failures_cost_one_line() {
    let prog = minidump_program("minidump-O0", &["-O0"]);
    let note = |env: &[(&str, &str)]| {
        let mut runner = Runner::new(&prog).arg("crash");
        for (k, v) in env {
            runner = runner.env(k, v);
        }
        let run = runner.run();
        run.assert_killed_by(libc::SIGSEGV);
        let dump = assert_complete(&run);
        dump.current()
            .assert_chain(&["crash_inner", "crash_middle", "crash_outer"]);
        assert_eq!(dump.threads.len(), 4);
        let lines: Vec<String> = dump
            .notes
            .iter()
            .filter(|n| n.starts_with("faultdump: minidump"))
            .cloned()
            .collect();
        lines
    };
    let gone = "/nonexistent/faultdump-minidumps";
    assert_eq!(
        note(&[("FAULTHANDLER_MINIDUMP", gone)]),
        [format!(
            "faultdump: minidump not written to {gone}: No such file or directory"
        )]
    );
    // Not writable even by root.
    let lines = note(&[("FAULTHANDLER_MINIDUMP", "/proc/sys")]);
    assert_eq!(lines.len(), 1);
    assert!(
        lines[0].starts_with("faultdump: minidump not written to /proc/sys: "),
        "{lines:?}"
    );
    // A symlink in the directory's place is not followed.
    let link = scratch_dir("minidump-link").join("link");
    std::os::unix::fs::symlink(scratch_dir("minidump-target"), &link).unwrap();
    let l = link.to_str().unwrap();
    assert_eq!(
        note(&[("FAULTHANDLER_MINIDUMP", l)]),
        [format!(
            "faultdump: minidump not written to {l}: Not a directory"
        )]
    );

    let dir = scratch_dir("minidump-limits");
    let d = dir.to_str().unwrap();
    let lines = note(&[
        ("FAULTHANDLER_MINIDUMP", d),
        ("FAULTHANDLER_MINIDUMP_MIN_FREE", "1000000G"),
    ]);
    assert_eq!(lines.len(), 1);
    assert!(
        lines[0].contains("below FAULTHANDLER_MINIDUMP_MIN_FREE"),
        "{lines:?}"
    );
    assert!(minidumps(&dir).is_empty());

    for _ in 0..2 {
        let lines = note(&[
            ("FAULTHANDLER_MINIDUMP", d),
            ("FAULTHANDLER_MINIDUMP_MAX_FILES", "2"),
        ]);
        assert!(lines[0].starts_with("faultdump: minidump written to"));
    }
    let lines = note(&[
        ("FAULTHANDLER_MINIDUMP", d),
        ("FAULTHANDLER_MINIDUMP_MAX_FILES", "2"),
    ]);
    assert_eq!(
        lines,
        [format!(
            "faultdump: minidump not written to {d}: it holds 2 minidumps, \
             FAULTHANDLER_MINIDUMP_MAX_FILES is 2"
        )]
    );
    assert_eq!(minidumps(&dir).len(), 2);
    let names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .filter(|n| !n.ends_with(".dmp"))
        .collect();
    assert_eq!(
        names,
        [".faultdump-crashloop"],
        "the crash-loop state, and no temporary file left"
    );

    // The size cap: 100 threads in 128 KiB: stacks cut, threads left out,
    // the file still whole and readable, the crashing thread in it.
    let dir = scratch_dir("minidump-small");
    let run = Runner::new(&prog)
        .arg("hundred")
        .env("FAULTHANDLER_MINIDUMP", &dir)
        .env("FAULTHANDLER_MINIDUMP_MAX_SIZE", "128K")
        .run();
    run.assert_killed_by(libc::SIGSEGV);
    let dump = assert_complete(&run);
    let lines: Vec<&String> = dump
        .notes
        .iter()
        .filter(|n| n.starts_with("faultdump: minidump"))
        .collect();
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert!(
        lines[1].ends_with("to fit FAULTHANDLER_MINIDUMP_MAX_SIZE (128 KiB)"),
        "{lines:?}"
    );
    let files = minidumps(&dir);
    assert!(std::fs::metadata(&files[0]).unwrap().len() <= 128 * 1024);
    if let Some(walker) = stackwalk_or_skip("the size cap's file") {
        let md = local(&walker, &files[0]);
        let count = md["thread_count"].as_u64().unwrap();
        assert!((2..100).contains(&count), "{count} threads");
        assert_eq!(jstr(&md["crash_info"], "type"), "SIGSEGV / SEGV_MAPERR");
        let names = json_names(&md["crashing_thread"], &["minidump-O0"]);
        assert_eq!(
            names,
            [
                "crash_inner",
                "crash_middle",
                "crash_outer",
                "main",
                "start"
            ]
        );
    }
}

/// The same crash again and again: a few minidumps per window, one line
/// for each of the others, their count in the state file and then in the
/// next minidump written for that crash.
#[test]
fn a_crash_loop_writes_a_few_and_counts_the_rest() {
    let prog = minidump_program("minidump-O0", &["-O0"]);
    let dir = scratch_dir("minidump-loop");
    let crash = || {
        let run = Runner::new(&prog)
            .arg("crash")
            .env("FAULTHANDLER_MINIDUMP", &dir)
            .run();
        run.assert_killed_by(libc::SIGSEGV);
        let dump = assert_complete(&run);
        dump.notes
            .iter()
            .filter(|n| n.starts_with("faultdump: minidump"))
            .cloned()
            .collect::<Vec<String>>()
    };
    for _ in 0..3 {
        let lines = crash();
        assert!(
            lines[0].starts_with("faultdump: minidump written to"),
            "{lines:?}"
        );
    }
    for nth in [4, 5] {
        let lines = crash();
        assert_eq!(
            lines,
            [format!(
                "faultdump: minidump not written to {}: the same crash again, {nth} times in \
                 600 s (at most 3 minidumps of it per window; counted in .faultdump-crashloop)",
                dir.display()
            )]
        );
    }
    assert_eq!(minidumps(&dir).len(), 3);
    // The window over (its start moved back): written, with the count.
    let state_path = dir.join(".faultdump-crashloop");
    let state = std::fs::read_to_string(&state_path).unwrap();
    let fields: Vec<&str> = state.split_whitespace().collect();
    assert_eq!(fields[2..], ["3", "2"], "{state}");
    let start: u64 = fields[1].parse().unwrap();
    std::fs::write(&state_path, format!("{} {} 3 2\n", fields[0], start - 600)).unwrap();
    for f in minidumps(&dir) {
        std::fs::remove_file(f).unwrap();
    }
    let lines = crash();
    assert!(
        lines[0].starts_with("faultdump: minidump written to"),
        "{lines:?}"
    );
    let Some(walker) = stackwalk_or_skip("a crash loop's annotation") else {
        return;
    };
    let out = Command::new(walker)
        .arg("--dump")
        .arg(&minidumps(&dir)[0])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains(r#"simple_annotations["faultdump.same_crash_skipped"] = 2"#),
        "{text}"
    );
}

/// Unmounts on drop, also when the test fails.
struct Mounted(PathBuf);

impl Drop for Mounted {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

/// A file system that fills up while the minidump is written: one line,
/// no file left (the temporary one removed).
/// Crashes at the same moment in many processes share the directory's
/// limits: its lock makes the file cap and the crash-loop count hold when
/// every process checks them at once.
#[test]
fn crashes_at_once_keep_the_directory_limits() {
    let prog = minidump_program("minidump-O0", &["-O0"]);
    let storm = |dir: &Path, max_files: &str| {
        let runs: Vec<Run> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..12)
                .map(|_| {
                    s.spawn(|| {
                        Runner::new(&prog)
                            .arg("crash")
                            .env("FAULTHANDLER_MINIDUMP", dir)
                            .env("FAULTHANDLER_MINIDUMP_MAX_FILES", max_files)
                            .run()
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        for run in &runs {
            run.assert_killed_by(libc::SIGSEGV);
            assert_complete(run);
        }
    };
    // The same crash twelve times at once: three minidumps, nine counted.
    let dir = scratch_dir("minidump-at-once");
    storm(&dir, "32");
    assert_eq!(minidumps(&dir).len(), 3);
    let state = std::fs::read_to_string(dir.join(".faultdump-crashloop")).unwrap();
    let fields: Vec<&str> = state.split_whitespace().collect();
    assert_eq!(fields[2..], ["3", "9"], "{state}");
    // A cap of two: never more, however many check it together.
    let dir = scratch_dir("minidump-at-once-capped");
    storm(&dir, "2");
    assert_eq!(minidumps(&dir).len(), 2);
}

/// A thread parked while it computes keeps its vector registers in the
/// minidump (from its own signal context, as the crashing thread's): xmm7
/// holds what the program put there. Read from the file's ThreadList
/// (FXSAVE image at 256 of CONTEXT_AMD64, xmm7 at 160 + 7 * 16 of it).
#[cfg(target_arch = "x86_64")]
#[test]
fn a_computing_threads_vector_registers_are_in_its_context() {
    let prog = minidump_program("minidump-O0", &["-O0"]);
    let (run, dump, file) = crash("simd", Runner::new(&prog).arg("simd"), libc::SIGSEGV);
    let tid = dump
        .threads
        .iter()
        .find(|t| t.name == "simd")
        .unwrap_or_else(|| panic!("no simd thread:\n{}", run.stderr))
        .tid as u32;
    let bytes = std::fs::read(&file).unwrap();
    let u32_at = |at: usize| u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap());
    let (count, directory) = (u32_at(8) as usize, u32_at(12) as usize);
    let list = (0..count)
        .map(|i| directory + i * 12)
        .find(|&entry| u32_at(entry) == 3)
        .map(|entry| u32_at(entry + 8) as usize)
        .expect("a ThreadList stream");
    let context = (0..u32_at(list) as usize)
        .map(|i| list + 4 + i * 48)
        .find(|&thread| u32_at(thread) == tid)
        .map(|thread| u32_at(thread + 44) as usize)
        .expect("the simd thread in the ThreadList");
    let xmm7 = context + 256 + 160 + 7 * 16;
    assert_eq!(
        u64::from_le_bytes(bytes[xmm7..xmm7 + 8].try_into().unwrap()),
        0x4d41_5243_4b45_5237,
        "xmm7 of the parked thread"
    );
}

#[test]
fn a_full_file_system_costs_one_line() {
    let dir = scratch_dir("minidump-full");
    let mounted = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=16k", "tmpfs"])
        .arg(&dir)
        .output();
    if !mounted.as_ref().is_ok_and(|o| o.status.success()) {
        println!(
            "SKIPPED: a_full_file_system_costs_one_line: cannot mount a small tmpfs (needs root)"
        );
        return;
    }
    let _mounted = Mounted(dir.clone());
    let prog = minidump_program("minidump-O0", &["-O0"]);
    let run = Runner::new(&prog)
        .arg("crash")
        .env("FAULTHANDLER_MINIDUMP", &dir)
        .env("FAULTHANDLER_MINIDUMP_MIN_FREE", "0")
        .run();
    run.assert_killed_by(libc::SIGSEGV);
    let dump = assert_complete(&run);
    assert_eq!(dump.threads.len(), 4);
    let lines: Vec<&String> = dump
        .notes
        .iter()
        .filter(|n| n.starts_with("faultdump: minidump"))
        .collect();
    assert_eq!(
        lines,
        [&format!(
            "faultdump: minidump not written to {}: No space left on device",
            dir.display()
        )]
    );
    let left: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .collect();
    assert_eq!(
        left,
        [".faultdump-crashloop"],
        "no minidump, no temporary file"
    );
}
