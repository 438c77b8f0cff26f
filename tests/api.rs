//! The C API of include/faultdump.h, from a C program: linked with
//! -lfaultdump, and looked up with dlsym in the preloaded library.

mod common;

use common::*;

fn check_api_run(run: &Run, dumps_file: &std::path::Path) {
    assert!(!run.timed_out, "{}", run.stdout);
    for line in run.stdout.lines().filter(|l| l.contains(": ")) {
        assert!(!line.contains("WRONG"), "{line}\n{}", run.stdout);
    }
    let expect = [
        "unregister unregistered: ok (0, errno 0)",
        "own handler calls: 1",
        "own handler calls: 2",
        "watchdog started: 1",
        "timeouts: 1",
        "watchdog ended: 1",
        "timeouts after cancel: 1",
        "is_enabled after disable: ok (0, errno 0)",
        "is_enabled after enable: ok (1, errno 0)",
        "crashing",
    ];
    for line in expect {
        assert!(
            run.stdout.lines().any(|l| l == line),
            "{line}:\n{}",
            run.stdout
        );
    }
    let repeated: usize = run
        .stdout
        .lines()
        .find_map(|l| l.strip_prefix("timeouts with repeat: "))
        .unwrap()
        .parse()
        .unwrap();
    assert!(repeated >= 3, "{}", run.stdout);
    run.assert_killed_by(libc::SIGSEGV);
    assert!(
        !run.stderr.contains("faultdump: pid"),
        "dumps go to the fd given"
    );

    let text = std::fs::read_to_string(dumps_file).unwrap();
    let dumps = parse_dumps(&text);
    assert!(dumps.iter().all(|d| d.complete), "{text}");
    for d in &dumps {
        for t in &d.threads {
            assert!(
                t.frames.iter().all(|f| !f.module.contains("libfaultdump")),
                "no frame of ours:\n{}",
                d.text()
            );
        }
    }
    // 1: dump_traceback(fd, 1) from api_dump_all.
    let d = &dumps[0];
    assert!(d.event.is_none());
    assert_eq!(d.threads.len(), 2, "{}", d.text());
    assert_eq!(d.current().frames[0].name(), "api_dump_all");
    d.current().assert_chain(&["api_dump_all", "main"]);
    let helper = &d.threads[1];
    assert_eq!(helper.name, "helper");
    helper.assert_chain(&["helper_wait", "helper_main"]);
    // 2: dump_traceback(fd, 0): the caller only.
    assert_eq!(dumps[1].threads.len(), 1);
    dumps[1].current().assert_chain(&["api_dump_one", "main"]);
    // 3: the registered SIGUSR1, all threads.
    assert_eq!(dumps[2].threads.len(), 2);
    dumps[2].current().assert_chain(&["raise_usr1", "main"]);
    // 4: SIGUSR2 registered with all_threads 0 and chain.
    assert_eq!(dumps[3].threads.len(), 1);
    assert!(dumps[3].current().position("main").is_some());
    // 5 and the repeats: the watchdog.
    assert_eq!(dumps[4].event.as_deref(), Some("Timeout (0:00:00.200000)!"));
    assert!(dumps[4].threads.iter().all(|t| !t.current));
    assert_eq!(dumps[4].threads.len(), 2, "the watchdog is not shown");
    for d in &dumps[5..5 + repeated - 1] {
        assert_eq!(d.event.as_deref(), Some("Timeout (0:00:00.050000)!"));
    }
    // Last: the fatal dump after enable(fd, 0), one thread only.
    let fatal = dumps.last().unwrap();
    assert_eq!(dumps.len(), 5 + repeated);
    assert_eq!(
        fatal.event.as_deref(),
        Some("Fatal error: Segmentation fault (SIGSEGV, SEGV_MAPERR, address 0x0)")
    );
    assert_eq!(fatal.threads.len(), 1);
    fatal.current().assert_chain(&["crash_now", "main"]);
}

fn dumps_path(name: &str) -> std::path::PathBuf {
    let path = out_dir().join(format!("{name}-{}.txt", std::process::id()));
    let _ = std::fs::remove_file(&path);
    path
}

#[test]
fn every_function_of_the_c_api_linked_with_lfaultdump() {
    let lib = lib_path();
    let lib_dir = lib.parent().unwrap().to_str().unwrap().to_string();
    let include = format!("-I{}", root().join("include").display());
    let rpath = format!("-Wl,-rpath,{lib_dir}");
    let libdir = format!("-L{lib_dir}");
    let prog = build_c(
        "api.c",
        "api-linked",
        &[
            "-O0",
            "-g",
            "-pthread",
            &include,
            &libdir,
            &rpath,
            "-Wl,--no-as-needed",
            "-lfaultdump",
        ],
    );
    let file = dumps_path("api-linked");
    let run = Runner::new(&prog).without_library().arg(&file).run();
    check_api_run(&run, &file);
}

#[test]
fn every_function_of_the_c_api_through_dlsym_when_preloaded() {
    let prog = build_c(
        "api.c",
        "api-dlsym",
        &["-O0", "-g", "-pthread", "-DUSE_DLSYM"],
    );
    let file = dumps_path("api-dlsym");
    let run = Runner::new(&prog).arg(&file).run();
    check_api_run(&run, &file);
    // Without the library the program says what is missing.
    let run = Runner::new(&prog).without_library().arg(&file).run();
    assert_eq!(run.stdout, "missing faultdump_enable\n");
}

/// Issue 17, item 9: a registered signal chains to the handler found at
/// registration; a one-shot (`SA_RESETHAND`) one runs once, and the next
/// delivery meets the default action, as without faultdump.
#[test]
fn a_chained_one_shot_handler_runs_once_then_the_default_action() {
    let prog = build_c("oneshot_chain.c", "oneshot_chain", &["-O0", "-g", "-ldl"]);
    let run = Runner::new(&prog).run();
    let without = Runner::new(&prog).without_library().run();
    for r in [&run, &without] {
        r.assert_killed_by(libc::SIGUSR2);
    }
    assert!(run.stdout.starts_with("registered: 0\n"), "{}", run.stdout);
    assert!(
        run.stdout.ends_with("after raise 1: calls 1\n"),
        "{}\n{}",
        run.stdout,
        run.stderr
    );
    assert_eq!(run.dumps().len(), 2, "{}", run.stderr);
}
