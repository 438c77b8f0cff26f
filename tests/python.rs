//! Python frames among the native ones, on every CPython interpreter this
//! machine has from 3.8 to 3.13 (pyenv's, Debian's `/usr/bin/python3`, a
//! debug build where present): a crash in a C call three Python functions
//! deep while a worker sleeps in Python, and a timeout dump of a deadlock.
//! Python's own faulthandler reports the same run first (`-X faulthandler`
//! writes its report, then hands the signal on; `dump_traceback_later`
//! fires before our timeout): its functions, files and lines must be ours.

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use common::*;
use regex::Regex;

/// The interpreters to test: `FAULTDUMP_TEST_PYTHONS` (colon-separated
/// paths) if set, else every one present.
fn interpreters() -> Vec<PathBuf> {
    if let Ok(list) = std::env::var("FAULTDUMP_TEST_PYTHONS") {
        return list
            .split(':')
            .filter(|p| !p.is_empty())
            .map(PathBuf::from)
            .collect();
    }
    let mut found = Vec::new();
    // Debian's, and its debug build (python3-dbg).
    for debian in ["/usr/bin/python3", "/usr/bin/python3d"] {
        match std::fs::canonicalize(debian) {
            Ok(path) => found.push(path),
            Err(_) => println!("SKIPPED: {debian}: not installed"),
        }
    }
    let pyenv = std::env::var("PYENV_ROOT").unwrap_or_else(|_| "/root/.pyenv".to_string());
    let mut versions: Vec<_> = std::fs::read_dir(Path::new(&pyenv).join("versions"))
        .map(|d| d.filter_map(|e| e.ok()).map(|e| e.path()).collect())
        .unwrap_or_default();
    versions.sort();
    for minor in 8..=13 {
        let binary = versions.iter().find_map(|v| {
            let name = v.file_name()?.to_str()?;
            name.starts_with(&format!("3.{minor}."))
                .then(|| v.join(format!("bin/python3.{minor}")))
                .filter(|p| p.exists())
        });
        match binary {
            Some(b) => found.push(b),
            None => println!("SKIPPED: Python 3.{minor}: no pyenv interpreter under {pyenv}"),
        }
    }
    found
}

fn script(name: &str) -> PathBuf {
    programs_dir().join("python").join(name)
}

/// One thread of Python's faulthandler report: frames innermost first.
#[derive(Debug)]
struct OracleThread {
    current: bool,
    frames: Vec<(String, String, u32)>,
}

fn oracle(stderr: &str) -> Vec<OracleThread> {
    let header =
        Regex::new(r"^(Current thread|Thread) 0x[0-9a-f]+ .*\(most recent call first\):$").unwrap();
    let frame = Regex::new(r#"^  File "(.+)", line (\d+) in (.+)$"#).unwrap();
    let mut threads: Vec<OracleThread> = Vec::new();
    for line in stderr.lines() {
        if line.starts_with("faultdump: pid ") {
            break;
        }
        if let Some(c) = header.captures(line) {
            threads.push(OracleThread {
                current: &c[1] == "Current thread",
                frames: Vec::new(),
            });
        } else if let Some(c) = frame.captures(line) {
            let t = threads.last_mut().expect("frame before a thread header");
            t.frames
                .push((c[3].to_string(), c[1].to_string(), c[2].parse().unwrap()));
        }
    }
    threads
}

/// A thread's Python frames as (name, file, line), the name as faulthandler
/// prints it (`co_name`: the qualified name's last part).
fn python_frames(t: &Thread) -> Vec<(String, String, u32)> {
    t.frames
        .iter()
        .filter(|f| f.python)
        .map(|f| {
            let name = f.function.rsplit('.').next().unwrap().to_string();
            (name, f.file.clone().unwrap(), f.line.unwrap())
        })
        .collect()
}

/// Each Python frame follows a native evaluation frame or another Python
/// frame (they are placed, not appended).
fn assert_placed(what: &str, t: &Thread, dump: &Dump) {
    for (i, f) in t.frames.iter().enumerate().filter(|(_, f)| f.python) {
        let before = &t.frames[i - 1];
        assert!(
            before.python || before.function == "_PyEval_EvalFrameDefault",
            "{what}: [python] {} after {}:\n{}",
            f.function,
            before.function,
            dump.text()
        );
    }
    let numbers: Vec<usize> = t.frames.iter().map(|f| f.index).collect();
    let expected: Vec<usize> = (0..t.frames.len()).collect();
    assert_eq!(
        numbers,
        expected,
        "{what}: numbering runs on:\n{}",
        dump.text()
    );
}

fn run_crash(python: &Path, json: bool) -> Run {
    let mut runner = Runner::new(python)
        .args(["-X", "faulthandler"])
        .arg(script("crash.py"))
        .timeout(Duration::from_secs(30));
    if json {
        runner = runner.env("FAULTHANDLER_FORMAT", "json");
    }
    runner.run()
}

fn check_crash(python: &Path) {
    let what = python.display().to_string();
    let run = run_crash(python, false);
    run.assert_killed_by(libc::SIGSEGV);
    let dump = run.dump();
    assert!(dump.complete, "{what}: {}", run.stderr);
    assert!(
        !dump.notes.iter().any(|n| n.contains("Python")),
        "{what}: {:?}",
        dump.notes
    );
    let expected = oracle(&run.stderr);
    let main = dump.current();
    let ours = python_frames(main);
    let theirs = &expected
        .iter()
        .find(|t| t.current)
        .expect("faulthandler's current thread")
        .frames;
    assert_eq!(
        &ours, theirs,
        "{what}: the crashing thread:\n{}",
        run.stderr
    );
    let names: Vec<&str> = ours.iter().map(|f| f.0.as_str()).collect();
    assert_eq!(
        names,
        [
            "string_at",
            "level3_read_null",
            "level2_prepare",
            "level1_start",
            "<module>"
        ],
        "{what}"
    );
    assert_placed(&what, main, &dump);
    // The innermost Python frame below the C call it made, the module-level
    // frame above the interpreter's native main.
    let innermost = main.frames.iter().position(|f| f.python).unwrap();
    let ffi = main
        .position("ffi_call")
        .unwrap_or_else(|| panic!("{what}: ffi_call:\n{}", dump.text()));
    assert!(ffi < innermost, "{what}:\n{}", dump.text());
    let module = main
        .frames
        .iter()
        .position(|f| f.python && f.function == "<module>")
        .unwrap();
    let native_main = main
        .frames
        .iter()
        .position(|f| f.function == "Py_BytesMain" || f.function == "main")
        .unwrap_or_else(|| panic!("{what}: no native main:\n{}", dump.text()));
    assert!(module < native_main, "{what}:\n{}", dump.text());
    // The worker, asleep in Python.
    let worker = dump
        .threads
        .iter()
        .find(|t| {
            python_frames(t)
                .first()
                .is_some_and(|f| f.0 == "worker_sleeps")
        })
        .unwrap_or_else(|| panic!("{what}: no worker in Python:\n{}", dump.text()));
    let theirs = &expected
        .iter()
        .find(|t| !t.current)
        .expect("faulthandler's worker")
        .frames;
    assert_eq!(&python_frames(worker), theirs, "{what}: the worker");
    assert_placed(&what, worker, &dump);
    let sleep = worker.position("time_sleep").unwrap_or(0);
    assert!(
        sleep < worker.frames.iter().position(|f| f.python).unwrap(),
        "{what}: the worker's sleep is above its Python frame:\n{}",
        dump.text()
    );

    // The same crash as JSON: every frame has a kind; Python frames have no
    // address, module or offsets.
    let run = run_crash(python, true);
    run.assert_killed_by(libc::SIGSEGV);
    let line = json_dump_line(&run.stderr)
        .unwrap_or_else(|| panic!("{what}: no JSON dump:\n{}", run.stderr));
    let doc: serde_json::Value = serde_json::from_str(line).unwrap();
    let current = doc["threads"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["current"] == true)
        .unwrap();
    let frames = current["frames"].as_array().unwrap();
    let mut python = Vec::new();
    for (i, f) in frames.iter().enumerate() {
        assert_eq!(f["index"], i, "{what}: {f}");
        match f["kind"].as_str() {
            Some("native") => assert!(f["ip"].is_string() && f["module"].is_string(), "{f}"),
            Some("python") => {
                for key in ["ip", "module", "offset", "module_offset"] {
                    assert!(f[key].is_null(), "{what}: {key} in {f}");
                }
                python.push((
                    f["function"]
                        .as_str()
                        .unwrap()
                        .rsplit('.')
                        .next()
                        .unwrap()
                        .to_string(),
                    f["file"].as_str().unwrap().to_string(),
                    f["line"].as_u64().unwrap() as u32,
                ));
            }
            _ => panic!("{what}: frame without a kind: {f}"),
        }
    }
    assert_eq!(python, ours, "{what}: JSON and text agree");
}

fn check_timeout(python: &Path) {
    let what = python.display().to_string();
    let run = Runner::new(python)
        .arg(script("deadlock.py"))
        .env("ORACLE_TIMEOUT", "1.0")
        .env("FAULTHANDLER_TIMEOUT", "1.6:exit")
        .timeout(Duration::from_secs(30))
        .run();
    assert!(!run.timed_out, "{what}: {}", run.stderr);
    let dump = run.dump();
    assert!(dump.complete, "{what}: {}", run.stderr);
    let expected = oracle(&run.stderr);
    assert_eq!(
        expected.len(),
        3,
        "{what}: faulthandler's threads:\n{}",
        run.stderr
    );
    for theirs in &expected {
        let ours = dump
            .threads
            .iter()
            .find(|t| python_frames(t) == theirs.frames)
            .unwrap_or_else(|| {
                panic!(
                    "{what}: no thread with {:?}:\n{}",
                    theirs.frames, run.stderr
                )
            });
        assert_placed(&what, ours, &dump);
    }
    for worker in ["take_first_then_second", "take_second_then_first"] {
        assert!(
            expected.iter().any(|t| t.frames[0].0 == worker),
            "{what}: {worker}:\n{}",
            run.stderr
        );
    }
}

/// Runs `check` on every interpreter, a few at a time.
fn on_every_interpreter(check: fn(&Path)) {
    let all = interpreters();
    assert!(!all.is_empty(), "no Python interpreter at all");
    for chunk in all.chunks(3) {
        std::thread::scope(|s| {
            for python in chunk {
                s.spawn(move || check(python));
            }
        });
    }
}

#[test]
fn crash_in_a_c_call_shows_python_frames_in_place() {
    on_every_interpreter(check_crash);
}

#[test]
fn timeout_dump_of_a_python_deadlock() {
    on_every_interpreter(check_timeout);
}

/// faultdump-symbolize passes Python frames through, renumbered among the
/// native frames it adds, in text and JSON.
#[test]
fn symbolize_script_passes_python_frames_through() {
    let python = interpreters()
        .into_iter()
        .next()
        .expect("a Python interpreter");
    let run = run_crash(&python, false);
    let before = run.dump();
    let text = run_symbolize(&[], &run.stderr);
    let after = parse_dumps(&text).into_iter().next().expect("a dump");
    assert!(after.complete);
    for (a, b) in before.threads.iter().zip(&after.threads) {
        assert_eq!(python_frames(a), python_frames(b), "{text}");
        assert_placed("symbolized", b, &after);
    }
    let run = run_crash(&python, true);
    let out = run_symbolize(&[], &run.stderr);
    let line = json_dump_line(&out).unwrap_or_else(|| panic!("no JSON dump in:\n{out}"));
    let doc: serde_json::Value = serde_json::from_str(line).unwrap();
    let frames = doc["threads"][0]["frames"].as_array().unwrap();
    assert!(
        frames
            .iter()
            .any(|f| f["kind"] == "python" && f["function"] == "level3_read_null"),
        "{line}"
    );
    assert!(
        frames.iter().enumerate().all(|(i, f)| f["index"] == i),
        "{line}"
    );
}

/// With the native stack cut (FAULTHANDLER_MAX_FRAMES), the evaluation
/// frames cannot be counted: the Python frames follow the native ones as a
/// block, after a note, numbered on.
#[test]
fn python_frames_after_a_cut_native_stack_form_a_block() {
    let python = interpreters()
        .into_iter()
        .next()
        .expect("a Python interpreter");
    let run = Runner::new(&python)
        .args(["-X", "faulthandler"])
        .arg(script("crash.py"))
        .env("FAULTHANDLER_MAX_FRAMES", "8")
        .timeout(Duration::from_secs(30))
        .run();
    run.assert_killed_by(libc::SIGSEGV);
    let dump = run.dump();
    let main = dump.current();
    let expected = oracle(&run.stderr);
    let theirs = &expected.iter().find(|t| t.current).unwrap().frames;
    assert_eq!(&python_frames(main), theirs, "{}", run.stderr);
    let first_python = main.frames.iter().position(|f| f.python).unwrap();
    assert!(
        main.frames[first_python..].iter().all(|f| f.python),
        "{}",
        dump.text()
    );
    assert!(
        dump.notes
            .iter()
            .any(|n| n.contains("Python frames below are not placed")
                && n.contains("native frames not shown")),
        "{:?}",
        dump.notes
    );
    let (omitted, at) = main.omitted.expect("native frames cut");
    assert_eq!(
        main.frames[at].index,
        main.frames[at - 1].index + 1 + omitted as usize,
        "{}",
        dump.text()
    );
    assert!(main.frames.windows(2).all(|w| w[0].index < w[1].index));
}

/// A CPython older than 3.8 (pyenv's 3.7, 3.6 where present): one note, no
/// Python frame, the native dump as ever.
#[test]
fn an_unsupported_python_gets_one_note() {
    let pyenv = std::env::var("PYENV_ROOT").unwrap_or_else(|_| "/root/.pyenv".to_string());
    let old = std::fs::read_dir(Path::new(&pyenv).join("versions"))
        .into_iter()
        .flatten()
        .filter_map(|e| e.ok())
        .find_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            let minor = name.strip_prefix("3.")?.split('.').next()?.to_string();
            ["6", "7"]
                .contains(&minor.as_str())
                .then(|| e.path().join(format!("bin/python3.{minor}")))
        });
    let Some(python) = old.filter(|p| p.exists()) else {
        println!("SKIPPED: unsupported Python: no pyenv 3.6 or 3.7");
        return;
    };
    let run = Runner::new(&python)
        .arg(script("crash.py"))
        .timeout(Duration::from_secs(30))
        .run();
    run.assert_killed_by(libc::SIGSEGV);
    let dump = run.dump();
    assert!(dump.complete);
    let notes: Vec<_> = dump.notes.iter().filter(|n| n.contains("Python")).collect();
    assert_eq!(
        notes,
        [
            "faultdump: Python frames not shown: a CPython older than 3.8 is not supported (3.8 to 3.13 are)"
        ],
        "{}",
        dump.text()
    );
    assert!(
        dump.threads
            .iter()
            .all(|t| t.frames.iter().all(|f| !f.python))
    );
    assert!(
        dump.current()
            .position("_PyEval_EvalFrameDefault")
            .is_some()
    );
}

/// A user-signal dump and a dump through the C API (`ctypes` calls
/// `faultdump_dump_traceback`): the dumping thread's own Python frames, and
/// the process carries on.
#[test]
fn user_signal_and_api_dumps_show_the_python_frames() {
    let python = interpreters()
        .into_iter()
        .next()
        .expect("a Python interpreter");
    for (name, env, lines) in [
        (
            "usersignal.py",
            ("FAULTHANDLER_SIGNAL", "SIGUSR1"),
            [8, 12, 15],
        ),
        ("api.py", ("FAULTHANDLER", "1"), [7, 11, 14]),
    ] {
        let run = Runner::new(&python)
            .arg(script(name))
            .env(env.0, env.1)
            .timeout(Duration::from_secs(30))
            .run();
        assert_eq!(run.code(), Some(0), "{name}: {}", run.stderr);
        assert!(run.stdout.contains("alive"));
        let dump = run.dump();
        let current = dump.current();
        let file = script(name).display().to_string();
        let expected: Vec<_> = ["inner", "outer", "<module>"]
            .iter()
            .zip(lines)
            .map(|(f, l)| (f.to_string(), file.clone(), l))
            .collect();
        assert_eq!(python_frames(current), expected, "{}", dump.text());
        assert_placed(name, current, &dump);
    }
}
