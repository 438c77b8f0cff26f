//! A stripped program's dump symbolized afterwards by faultdump-symbolize,
//! from the debug file its build-id names.

use crate::common::*;
use crate::support::*;

/// A stripped program's dump has no lines; faultdump-symbolize adds them
/// from the debug file found by the build-id in the dump's module list.
#[test]
fn stripped_program_symbolized_afterwards() {
    let built = build_c("inline.c", "inline-O2", &["-O2", "-g"]);
    let dir = fresh_dir(out_dir().join("stripped"));
    let prog = dir.join("inline");
    std::fs::copy(&built, &prog).unwrap();
    let id = build_id(&prog).unwrap();
    let debug_root = dir.join("debug");
    let by_id = debug_root.join(".build-id").join(&id[..2]);
    std::fs::create_dir_all(&by_id).unwrap();
    let debug = by_id.join(format!("{}.debug", &id[2..]));
    sh("objcopy", &["--only-keep-debug", s(&prog), s(&debug)]);
    sh("strip", &[s(&prog)]);
    let run = Runner::new(&prog).run();
    run.assert_killed_by(libc::SIGSEGV);
    let dump = run.dump();
    let own: Vec<&Frame> = dump
        .current()
        .frames
        .iter()
        .filter(|f| f.module == s(&prog))
        .collect();
    assert!(
        !own.is_empty() && own.iter().all(|f| f.file.is_none()),
        "{}",
        run.stderr
    );

    let text = run_symbolize(&["--debug-dir", s(&debug_root)], &run.stderr);
    let enriched = parse_dumps(&text).into_iter().next().expect("a dump");
    assert!(enriched.complete);
    let frames = &enriched.current().frames;
    let names: Vec<(String, bool)> = frames
        .iter()
        .take(6)
        .map(|f| (base_name(&f.function), f.inlined))
        .collect();
    assert_eq!(
        names,
        [
            ("store", true),
            ("prepare", true),
            ("crash_here", false),
            ("forward", true),
            ("entry_point", false),
            ("main", false)
        ]
        .map(|(n, i)| (n.to_string(), i))
        .to_vec(),
        "{text}"
    );
    // The same files and lines the unstripped program's own dump shows.
    let reference = Runner::new(&built).run().dump();
    for (a, b) in frames.iter().zip(&reference.current().frames).take(6) {
        assert_eq!((&a.file, a.line), (&b.file, b.line), "{text}");
    }
    assert!(
        frames.iter().enumerate().all(|(i, f)| f.index == i),
        "{text}"
    );

    // The same crash dumped as JSON (FAULTHANDLER_FORMAT=json), among
    // other output, enriched the same way, one object per line.
    let run = Runner::new(&prog).env("FAULTHANDLER_FORMAT", "json").run();
    run.assert_killed_by(libc::SIGSEGV);
    let input = format!("unrelated output\n{}", run.stderr);
    let out = run_symbolize(&["--debug-dir", s(&debug_root)], &input);
    assert!(out.starts_with("unrelated output\n"), "{out}");
    let line = json_dump_line(&out).unwrap_or_else(|| panic!("no JSON dump in:\n{out}"));
    let doc: serde_json::Value = serde_json::from_str(line).unwrap();
    let frames = doc["threads"][0]["frames"].as_array().unwrap();
    let functions: Vec<(&str, bool)> = frames
        .iter()
        .take(3)
        .map(|f| {
            (
                f["function"].as_str().unwrap(),
                f["inlined"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        functions,
        [("store", true), ("prepare", true), ("crash_here", false)],
        "{line}"
    );
    assert!(
        frames[0]["file"].as_str().unwrap().ends_with("inline.c"),
        "{line}"
    );
    assert!(
        frames.iter().enumerate().all(|(i, f)| f["index"] == i),
        "{line}"
    );
}
