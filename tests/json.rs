//! FAULTHANDLER_FORMAT=json: real dumps parsed by a JSON parser and checked
//! key by key.

mod common;

use common::*;
use serde_json::Value;

/// The one JSON dump in stderr: exactly one line that is an object.
fn json_dump(run: &Run) -> Value {
    assert!(run.stderr.is_ascii(), "{}", run.stderr);
    let lines: Vec<&str> = run
        .stderr
        .lines()
        .filter(|l| l.starts_with("{\"faultdump\":"))
        .collect();
    assert_eq!(lines.len(), 1, "stderr:\n{}", run.stderr);
    let value: Value =
        serde_json::from_str(lines[0]).unwrap_or_else(|e| panic!("{e}: not JSON:\n{}", lines[0]));
    assert!(value.is_object());
    value
}

fn function_names(thread: &Value) -> Vec<String> {
    thread["frames"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["function"].as_str().unwrap_or("??").to_string())
        .collect()
}

fn assert_chain(thread: &Value, chain: &[&str]) {
    let names = function_names(thread);
    assert!(
        names.windows(chain.len()).any(|w| w == chain),
        "expected consecutive {chain:?} in {names:?}"
    );
}

fn is_hex(v: &Value) -> bool {
    v.as_str().is_some_and(|s| {
        s.strip_prefix("0x")
            .is_some_and(|h| !h.is_empty() && h.chars().all(|c| c.is_ascii_hexdigit()))
    })
}

fn hex(v: &Value) -> u64 {
    assert!(is_hex(v), "{v}");
    u64::from_str_radix(&v.as_str().unwrap()[2..], 16).unwrap()
}

/// Checks the keys every frame has, and their types.
fn check_frames(thread: &Value) {
    for (i, f) in thread["frames"].as_array().unwrap().iter().enumerate() {
        assert!(f["index"].as_u64().is_some(), "{f}");
        if i > 0 {
            assert!(f["index"].as_u64() > thread["frames"][i - 1]["index"].as_u64());
        }
        assert!(is_hex(&f["ip"]), "{f}");
        assert!(f["function"].is_string() || f["function"].is_null(), "{f}");
        assert!(is_hex(&f["offset"]) || f["offset"].is_null(), "{f}");
        assert!(f["module"].is_string() || f["module"].is_null(), "{f}");
        assert!(is_hex(&f["module_offset"]), "{f}");
        assert!(f["file"].is_string() || f["file"].is_null(), "{f}");
        assert!(f["line"].is_u64() || f["line"].is_null(), "{f}");
        assert!(f["inlined"].is_boolean(), "{f}");
    }
}

/// Keys every dump has, whatever the event.
fn check_common(d: &Value, exe_suffix: &str) {
    assert_eq!(d["faultdump"], 1);
    assert!(d["pid"].as_u64().unwrap() > 0);
    assert!(
        d["exe"].as_str().unwrap().ends_with(exe_suffix),
        "{}",
        d["exe"]
    );
    let time = d["time"].as_str().unwrap();
    assert_eq!(time.len(), 20, "{time}");
    assert!(time.ends_with('Z') && time.as_bytes()[10] == b'T', "{time}");
    for key in ["event", "signal", "title", "cause", "timeout_seconds"] {
        assert!(d.get(key).is_some(), "no {key} in {d}");
    }
    for t in d["threads"].as_array().unwrap() {
        assert!(t["tid"].as_u64().unwrap() > 0);
        assert!(t["name"].is_string());
        assert!(t["current"].is_boolean());
        assert!(t["answered"].is_boolean());
        assert!(t["frames_not_shown"].is_u64());
        check_frames(t);
    }
}

#[test]
fn fatal_signal_key_by_key() {
    let prog = faults_o0();
    let run = Runner::new(&prog)
        .arg("segv")
        .env("FAULTHANDLER_FORMAT", "json")
        .run();
    run.assert_killed_by(libc::SIGSEGV);
    let d = json_dump(&run);
    check_common(&d, "/faults-O0");
    assert_eq!(d["event"], "fatal_signal");
    let sig = &d["signal"];
    assert_eq!(sig["number"], libc::SIGSEGV);
    assert_eq!(sig["name"], "SIGSEGV");
    assert_eq!(sig["code"], 1);
    assert_eq!(sig["code_name"], "SEGV_MAPERR");
    assert_eq!(sig["address"], "0x0");
    assert_eq!(sig["sender_pid"], Value::Null);
    assert_eq!(d["title"], "Segmentation fault");
    let cause = d["cause"].as_str().unwrap();
    assert!(
        cause.starts_with("null pointer dereference; no mapping at 0x0 (nearest: "),
        "{cause}"
    );
    assert_eq!(d["timeout_seconds"], Value::Null);

    let threads = d["threads"].as_array().unwrap();
    let current: Vec<&Value> = threads.iter().filter(|t| t["current"] == true).collect();
    assert_eq!(current.len(), 1);
    let t = current[0];
    assert_eq!(t["tid"], d["pid"]);
    assert_eq!(t["answered"], true);
    assert_chain(
        t,
        &[
            "do_segv",
            "crash_inner",
            "crash_middle",
            "crash_outer",
            "main",
        ],
    );
    assert_eq!(t["frames"][0]["function"], "do_segv");
    assert_eq!(t["frames"][0]["index"], 0);
    assert!(
        t["frames"][0]["module"]
            .as_str()
            .unwrap()
            .ends_with("/faults-O0")
    );

    let regs = d["registers"].as_object().unwrap();
    for name in ["rax", "rbx", "rsp", "rbp", "rip", "eflags", "trapno"] {
        assert!(is_hex(&regs[name]), "{name}: {}", regs[name]);
    }
    assert_eq!(hex(&regs["rip"]), hex(&t["frames"][0]["ip"]));

    let modules = d["modules"].as_array().unwrap();
    let exe = modules
        .iter()
        .find(|m| m["path"] == d["exe"])
        .expect("the executable among the modules");
    assert!(is_hex(&exe["base"]));
    let id = exe["build_id"].as_str().unwrap();
    assert_eq!(id.len(), 40, "{id}");
    // The frame's module offset is its address minus the module's base.
    assert_eq!(
        hex(&t["frames"][0]["ip"]) - hex(&exe["base"]),
        hex(&t["frames"][0]["module_offset"])
    );
    assert_eq!(d["notes"], serde_json::json!([]));
}

#[test]
fn json_and_text_show_the_same_frames() {
    let prog = faults_o0();
    let text = Runner::new(&prog).arg("segv").run();
    let json = Runner::new(&prog)
        .arg("segv")
        .env("FAULTHANDLER_FORMAT", "json")
        .run();
    let text_frames: Vec<(String, u64)> = text
        .dump()
        .current()
        .frames
        .iter()
        .map(|f| (f.function.clone(), f.module_offset))
        .collect();
    let d = json_dump(&json);
    let json_frames: Vec<(String, u64)> = d["threads"][0]["frames"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["function"].as_str().unwrap_or("??").to_string(),
                hex(&f["module_offset"]),
            )
        })
        .collect();
    assert_eq!(text_frames, json_frames);
}

#[test]
fn unknown_format_warns_and_writes_text() {
    let prog = faults_o0();
    let run = Runner::new(&prog)
        .arg("segv")
        .env("FAULTHANDLER_FORMAT", "xml")
        .run();
    run.assert_killed_by(libc::SIGSEGV);
    let warnings: Vec<&str> = run
        .stderr
        .lines()
        .filter(|l| l.starts_with("faultdump: ignoring FAULTHANDLER_FORMAT="))
        .collect();
    assert_eq!(warnings.len(), 1, "{}", run.stderr);
    assert!(run.dump().complete);
    assert!(!run.stderr.contains("{\"faultdump\""));
}

#[test]
fn names_with_quotes_backslashes_and_bad_bytes_are_escaped() {
    let prog = build_c("weird_names.c", "weird_names", &["-O0"]);
    let run = Runner::new(&prog).env("FAULTHANDLER_FORMAT", "json").run();
    run.assert_killed_by(libc::SIGSEGV);
    let d = json_dump(&run);
    // The symbol is the bytes `weird"na\me`, 0xff, 0x01, then UTF-8 "é".
    assert_eq!(
        d["threads"][0]["frames"][0]["function"],
        "weird\"na\\me\\xff\u{1}\u{e9}"
    );
    // In the JSON text: the quote and the backslash escaped, the byte that
    // is not UTF-8 as the text \xff (its backslash escaped), the control
    // character as \u0001, the valid UTF-8 "é" as \u00e9: all ASCII.
    let line = json_dump_line(&run.stderr).unwrap();
    assert!(
        line.contains(r#""function":"weird\"na\\me\\xff\u0001\u00e9""#),
        "{line}"
    );
}

fn json_events() -> std::path::PathBuf {
    build_c("json_events.c", "json_events", &["-O0", "-g", "-pthread"])
}

/// Needs all-thread dumps (the threads work): 101 threads at a fault, of
/// which 100 are shown by default.
#[test]
fn a_hundred_threads_still_make_one_object() {
    let prog = json_events();
    let run = Runner::new(&prog)
        .args(["threads", "100"])
        .env("FAULTHANDLER_FORMAT", "json")
        .run();
    run.assert_killed_by(libc::SIGSEGV);
    let d = json_dump(&run);
    check_common(&d, "/json_events");
    let threads = d["threads"].as_array().unwrap();
    let not_shown = d["threads_not_shown"].as_u64().unwrap_or(0);
    assert_eq!(threads.len() as u64 + not_shown, 101, "{d}");
    assert_eq!(threads.len(), 100);
    assert_eq!(threads[0]["current"], true);
    assert_chain(&threads[0], &["crash_with_threads", "main"]);
    let parked = threads
        .iter()
        .filter(|t| function_names(t).iter().any(|f| f == "park_thread"))
        .count();
    assert_eq!(parked, 99, "{d}");
    assert!(run.stderr.len() > 4096, "one object across several chunks");
}

/// Needs the timeout watchdog (the threads work).
#[test]
fn timeout_key_by_key() {
    let prog = json_events();
    let run = Runner::new(&prog)
        .arg("timeout")
        .env("FAULTHANDLER_FORMAT", "json")
        .env("FAULTHANDLER_TIMEOUT", "0.5:exit")
        .run();
    assert_eq!(run.code(), Some(1), "{}", run.stderr);
    let d = json_dump(&run);
    check_common(&d, "/json_events");
    assert_eq!(d["event"], "timeout");
    assert_eq!(d["signal"], Value::Null);
    assert_eq!(d["cause"], Value::Null);
    assert_eq!(d["timeout_seconds"], 0.5);
    let threads = d["threads"].as_array().unwrap();
    assert!(threads.iter().all(|t| t["current"] == false), "{d}");
    let main = threads
        .iter()
        .find(|t| t["tid"] == d["pid"])
        .expect("the main thread");
    assert_eq!(main["answered"], true);
    assert_chain(main, &["wait_for_watchdog", "main"]);
}

/// Needs FAULTHANDLER_SIGNAL (the threads work).
#[test]
fn user_signal_key_by_key() {
    let prog = json_events();
    let run = Runner::new(&prog)
        .arg("signal")
        .env("FAULTHANDLER_FORMAT", "json")
        .env("FAULTHANDLER_SIGNAL", "SIGUSR1")
        .run();
    assert_eq!(run.code(), Some(0), "{}", run.stderr);
    assert_eq!(run.stdout, "carried on\n");
    let d = json_dump(&run);
    check_common(&d, "/json_events");
    assert_eq!(d["event"], "user_signal");
    assert_eq!(d["signal"]["number"], libc::SIGUSR1);
    assert_eq!(d["signal"]["name"], "SIGUSR1");
    assert_eq!(d["cause"], Value::Null);
    let current = &d["threads"][0];
    assert_eq!(current["current"], true);
    assert_eq!(current["tid"], d["pid"]);
    assert_chain(current, &["raise_user_signal", "main"]);
}

/// Needs the C API (the threads work).
#[test]
fn api_call_key_by_key() {
    let prog = json_events();
    let run = Runner::new(&prog)
        .arg("api")
        .env("FAULTHANDLER_FORMAT", "json")
        .run();
    assert_eq!(run.code(), Some(0), "{}", run.stderr);
    assert_eq!(run.stdout, "api returned 0\n");
    let d = json_dump(&run);
    check_common(&d, "/json_events");
    assert_eq!(d["event"], "api");
    assert_eq!(d["signal"], Value::Null);
    let current = &d["threads"][0];
    assert_eq!(current["current"], true);
    // The caller's frames, not the library's.
    assert_eq!(current["frames"][0]["function"], "call_api");
    assert_chain(current, &["call_api", "main"]);
}
