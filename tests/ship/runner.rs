//! scripts/faultdump-run: runs a command with the library preloaded and the
//! configuration given as options, and dies or exits as the command did.

use std::collections::BTreeMap;
use std::path::PathBuf;

use crate::common::*;

fn runner() -> PathBuf {
    root().join("scripts/faultdump-run")
}

/// `faultdump-run --library <the library under test> ARGS...`, with the
/// runner itself setting LD_PRELOAD.
fn run_runner(args: &[&str]) -> Runner {
    Runner::new(runner())
        .without_library()
        .arg("--library")
        .arg(lib_path())
        .args(args)
}

#[test]
fn runner_dies_by_the_signal_of_the_crash() {
    let prog = faults_o0();
    let run = run_runner(&["--", prog.to_str().unwrap(), "segv"]).run();
    run.assert_killed_by(libc::SIGSEGV);
    let dump = run.dump();
    assert!(dump.complete, "{}", run.stderr);
    assert!(dump.exe.ends_with("faults-O0"), "{}", dump.exe);
    dump.current()
        .assert_chain(&["do_segv", "crash_inner", "crash_middle", "crash_outer"]);
}

#[test]
fn runner_exits_with_the_status_of_the_command() {
    let run = run_runner(&["--", "sh", "-c", "exit 3"]).run();
    assert_eq!(run.code(), Some(3), "{}", run.stderr);
    assert_eq!(run.stderr, "");
}

#[test]
fn runner_makes_a_relative_output_path_absolute() {
    let dir = scratch_dir("ship/runner-output");
    let prog = faults_o0();
    // The command changes directory before it crashes: the dump must still
    // land where the runner was started.
    let script = format!("cd / && exec {} segv", prog.display());
    let run = run_runner(&["--output", "crash-%p.log", "--", "sh", "-c", &script])
        .current_dir(&dir)
        .run();
    run.assert_killed_by(libc::SIGSEGV);
    assert!(
        run.dumps().is_empty(),
        "dump went to stderr:\n{}",
        run.stderr
    );
    let files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");
    let name = files[0].file_name().unwrap().to_string_lossy().into_owned();
    assert!(
        name.starts_with("crash-") && name.ends_with(".log"),
        "{name}"
    );
    let text = std::fs::read_to_string(&files[0]).unwrap();
    let dumps = parse_dumps(&text);
    assert_eq!(dumps.len(), 1, "{text}");
    assert_eq!(name, format!("crash-{}.log", dumps[0].pid));
}

#[test]
fn runner_sets_the_environment_and_keeps_ld_preload() {
    let mut r = run_runner(&[
        "--json",
        "--timeout",
        "2.5:exit",
        "--signal",
        "USR1",
        "--signal",
        "SIGUSR2:chain",
        "--output",
        "out/dump-%p.json",
        "--",
        "env",
    ])
    .current_dir(env!("CARGO_TARGET_TMPDIR"));
    let other = "/usr/lib/x86_64-linux-gnu/libm.so.6";
    r.command().env("LD_PRELOAD", other);
    let run = r.run();
    assert_eq!(run.code(), Some(0), "{}", run.stderr);
    let vars: BTreeMap<&str, &str> = run
        .stdout
        .lines()
        .filter_map(|l| l.split_once('='))
        .collect();
    assert_eq!(
        vars.get("LD_PRELOAD").copied(),
        Some(format!("{}:{other}", lib_path().display()).as_str())
    );
    assert_eq!(vars.get("FAULTHANDLER_FORMAT").copied(), Some("json"));
    assert_eq!(vars.get("FAULTHANDLER_TIMEOUT").copied(), Some("2.5:exit"));
    assert_eq!(
        vars.get("FAULTHANDLER_SIGNAL").copied(),
        Some("USR1,SIGUSR2:chain")
    );
    assert_eq!(
        vars.get("FAULTHANDLER").copied(),
        Some(format!("{}/out/dump-%p.json", env!("CARGO_TARGET_TMPDIR")).as_str())
    );
}

#[test]
fn runner_finds_the_library_beside_it() {
    // A source tree with only the development build (scripts/ and
    // target/release/), one with the portable build too (which goes first),
    // and an installed prefix (bin/ and lib/), each with a copy of the runner
    // and links to the library: (script directory, library directories, the
    // one expected).
    let dir = scratch_dir("ship/runner-layouts");
    let layouts: [(&str, &[&str], &str); 3] = [
        (
            "tree/scripts",
            &["tree/target/release"],
            "tree/target/release",
        ),
        (
            "tree2/scripts",
            &["tree2/target/release", "tree2/dist"],
            "tree2/dist",
        ),
        ("usr/bin", &["usr/lib"], "usr/lib"),
    ];
    for (script_dir, lib_dirs, expected_dir) in layouts {
        std::fs::create_dir_all(dir.join(script_dir)).unwrap();
        let script = dir.join(script_dir).join("faultdump-run");
        std::fs::copy(runner(), &script).unwrap();
        for lib_dir in lib_dirs {
            std::fs::create_dir_all(dir.join(lib_dir)).unwrap();
            let lib = dir.join(lib_dir).join("libfaultdump.so");
            std::os::unix::fs::symlink(lib_path(), &lib).unwrap();
        }
        let run = Runner::new(&script).without_library().arg("env").run();
        assert_eq!(run.code(), Some(0), "{}", run.stderr);
        let expected = format!(
            "LD_PRELOAD={}",
            dir.join(expected_dir).join("libfaultdump.so").display()
        );
        assert!(
            run.stdout.lines().any(|l| l == expected),
            "{expected} not in:\n{}",
            run.stdout
        );
    }
}

#[test]
fn runner_rejects_what_it_does_not_know() {
    let run = run_runner(&["--bogus", "true"]).run();
    assert_eq!(run.code(), Some(2));
    assert!(
        run.stderr.contains("unknown option '--bogus'"),
        "{}",
        run.stderr
    );
    let run = Runner::new(runner())
        .without_library()
        .args(["--library", "/nonexistent/libfaultdump.so", "true"])
        .run();
    assert_eq!(run.code(), Some(2));
}
