//! The situations of a container (tests/programs/container.c), with the
//! library preloaded into every process as `/etc/ld.so.preload` would:
//! - PID 1 of a private PID namespace: the signals the kernel drops for it
//!   (sent to it with `SIG_DFL`, from inside or from the parent namespace)
//!   are dropped, and its real fault is dumped, once, and kills it; its
//!   `abort()` is dumped once and it dies as without the library;
//! - wrappers that pass their child's death on (`timeout`, `unshare
//!   --fork`): one dump, the child's, and the wrapper's status unchanged;
//!   a program's own `raise(SIGSEGV)` after a child that exited still
//!   dumped; a thread cancelled in the interposed `waitpid` still cancelled;
//! - two copies of the library: one dump, whichever comes first;
//! - frame-pointer walks through the interposed `pthread_create` (ASan's
//!   "created by" stack, `perf record --call-graph fp`, a walk of our own)
//!   reach the program's caller and `main`.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use common::*;

fn container() -> PathBuf {
    build_c("container.c", "container", &["-O0", "-g", "-pthread"])
}

/// The chain of the program's null write.
const CRASH_CHAIN: [&str; 4] = ["null_write", "crash_inner", "crash_outer", "main"];

/// Why a private PID namespace cannot be made here, if it cannot.
fn no_pid_namespace() -> Option<String> {
    match Command::new("unshare")
        .args(["--pid", "--fork", "--mount-proc", "true"])
        .output()
    {
        Ok(out) if out.status.success() => None,
        Ok(out) => Some(format!(
            "unshare --pid --fork --mount-proc: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        )),
        Err(e) => Some(format!("unshare: {e}")),
    }
}

fn lines_with<'a>(text: &'a str, what: &str) -> Vec<&'a str> {
    text.lines().filter(|l| l.contains(what)).collect()
}

/// The one dump of a run whose dumping process is not the one run: the
/// fault of `container crash` (or `pid1`), complete.
fn assert_one_crash_dump(run: &Run) -> Dump {
    let dumps = run.dumps();
    assert_eq!(dumps.len(), 1, "one dump:\n{}", run.stderr);
    let dump = dumps.into_iter().next().unwrap();
    assert!(dump.complete, "{}", run.stderr);
    assert_eq!(
        dump.event.as_deref(),
        Some("Fatal error: Segmentation fault (SIGSEGV, SEGV_MAPERR, address 0x0)"),
        "{}",
        run.stderr
    );
    dump.current().assert_chain(&CRASH_CHAIN);
    dump
}

#[test]
fn pid1_drops_the_signals_sent_to_it_and_dumps_its_fault() {
    if let Some(why) = no_pid_namespace() {
        println!("SKIPPED: pid1_drops_the_signals_sent_to_it_and_dumps_its_fault: {why}");
        return;
    }
    let prog = container();
    let args = ["--pid", "--fork", "--mount-proc"];
    // Without the library: both sent SIGSEGVs dropped, the fault kills.
    let plain = Runner::new("unshare")
        .args(args)
        .arg(&prog)
        .arg("pid1")
        .without_library()
        .run();
    plain.assert_killed_by(libc::SIGSEGV);
    assert_eq!(plain.stdout, "alive\n", "{}", plain.stderr);
    // With it in every process (unshare too, which passes PID 1's death on).
    let run = Runner::new("unshare")
        .args(args)
        .arg(&prog)
        .arg("pid1")
        .run();
    run.assert_killed_by(libc::SIGSEGV);
    assert_eq!(run.stdout, "alive\n", "{}", run.stderr);
    let dump = assert_one_crash_dump(&run);
    assert_eq!(dump.pid, 1, "{}", run.stderr);
}

#[test]
fn pid1_abort_is_dumped_once_and_dies_as_without_the_library() {
    if let Some(why) = no_pid_namespace() {
        println!("SKIPPED: pid1_abort_is_dumped_once: {why}");
        return;
    }
    let prog = container();
    let args = ["--pid", "--fork", "--mount-proc"];
    // Without the library PID 1's raise(SIGABRT) is dropped, and abort()
    // goes on to its own end (on x86_64 glibc a faulting instruction).
    let runner = || Runner::new("unshare").args(args).arg(&prog).arg("abort");
    let plain = runner().without_library().run();
    let run = runner().run();
    assert_eq!(
        run.status.into_raw(),
        plain.status.into_raw(),
        "{}",
        run.stderr
    );
    let dumps = run.dumps();
    assert_eq!(dumps.len(), 1, "{}", run.stderr);
    assert_eq!(
        dumps[0].event.as_deref(),
        Some(&*format!(
            "Fatal error: Aborted (SIGABRT, SI_TKILL, sent by pid 1, uid {})",
            uid()
        ))
    );
}

#[test]
fn pid1_drops_a_signal_from_the_parent_namespace() {
    if let Some(why) = no_pid_namespace() {
        println!("SKIPPED: pid1_drops_a_signal_from_the_parent_namespace: {why}");
        return;
    }
    let mut child = Command::new("unshare")
        .args(["--pid", "--fork", "--mount-proc"])
        .arg(container())
        .arg("pid1-wait")
        .env("LD_PRELOAD", lib_path())
        .env_remove("FAULTHANDLER")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    stdout.read_line(&mut line).unwrap();
    assert_eq!(line, "ready\n");
    // PID 1 of the namespace is unshare's one child, seen from here.
    let children = match std::fs::read_to_string(format!("/proc/{0}/task/{0}/children", child.id()))
    {
        Ok(children) => children,
        Err(e) => {
            let _ = child.kill();
            let _ = child.wait();
            println!(
                "SKIPPED: pid1_drops_a_signal_from_the_parent_namespace: /proc/PID/task/TID/children: {e}"
            );
            return;
        }
    };
    let init: i32 = children.split_whitespace().next().unwrap().parse().unwrap();
    // SAFETY: kill with a pid and a signal.
    assert_eq!(unsafe { libc::kill(init, libc::SIGSEGV) }, 0);
    child.stdin.take().unwrap().write_all(b"go\n").unwrap();
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut stdout, &mut rest).unwrap();
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
    let status = child.wait().unwrap();
    assert_eq!(rest, "alive\n", "{stderr}");
    assert_eq!(status.signal(), Some(libc::SIGSEGV), "{stderr}");
    let dumps = parse_dumps(&stderr);
    assert_eq!(dumps.len(), 1, "one dump, of the fault:\n{stderr}");
    assert_eq!(dumps[0].pid, 1);
    dumps[0].current().assert_chain(&CRASH_CHAIN);
}

/// `wrapper... container crash` with the library in every process: one
/// dump, the crasher's; the wrapper says in one line that it passes the
/// signal on; its status is what it is without the library.
fn assert_wrapper_passes_on(wrapper: &[&str]) {
    let prog = container();
    let (program, args) = wrapper.split_first().unwrap();
    let plain = Runner::new(program)
        .args(args)
        .arg(&prog)
        .arg("crash")
        .without_library()
        .run();
    let run = Runner::new(program)
        .args(args)
        .arg(&prog)
        .arg("crash")
        .run();
    assert_eq!(
        run.status.into_raw(),
        plain.status.into_raw(),
        "{}",
        run.stderr
    );
    run.assert_killed_by(libc::SIGSEGV);
    let dump = assert_one_crash_dump(&run);
    assert_ne!(
        dump.pid as u32, run.pid,
        "the crasher's dump, not the wrapper's"
    );
    let said = lines_with(&run.stderr, "passes on");
    assert_eq!(
        said,
        [format!(
            "faultdump: pid {} passes on SIGSEGV, which its child pid {} died of (dumped there): no dump",
            run.pid, dump.pid
        )],
        "{}",
        run.stderr
    );
}

#[test]
fn timeout_passes_its_childs_crash_on_without_a_dump_of_its_own() {
    assert_wrapper_passes_on(&["timeout", "20"]);
}

#[test]
fn unshare_fork_passes_its_childs_crash_on_without_a_dump_of_its_own() {
    let usable = Command::new("unshare")
        .args(["--fork", "true"])
        .status()
        .is_ok_and(|s| s.success());
    if !usable {
        println!("SKIPPED: unshare_fork_passes_its_childs_crash_on: unshare --fork fails here");
        return;
    }
    assert_wrapper_passes_on(&["unshare", "--fork"]);
}

#[test]
fn raise_after_a_child_that_exited_is_dumped() {
    let run = Runner::new(container()).arg("raise-after-child").run();
    run.assert_killed_by(libc::SIGSEGV);
    let dump = assert_complete(&run);
    assert_segv_sent_by_itself(&dump, &run);
    assert!(
        dump.current().has_chain(&["raise_segv", "main"]),
        "{}",
        run.stderr
    );
    assert!(lines_with(&run.stderr, "passes on").is_empty());
}

#[test]
fn an_assert_on_a_childs_abort_is_dumped_with_the_child() {
    let run = Runner::new(container()).arg("abort-after-child").run();
    run.assert_killed_by(libc::SIGABRT);
    let dumps = run.dumps();
    assert_eq!(
        dumps.len(),
        2,
        "the child's and the program's:\n{}",
        run.stderr
    );
    let parent = dumps
        .iter()
        .find(|d| d.pid as u32 == run.pid)
        .unwrap_or_else(|| panic!("no dump of the program:\n{}", run.stderr));
    assert!(parent.complete);
    assert!(
        parent.current().position("main").is_some(),
        "{}",
        run.stderr
    );
    assert!(lines_with(&run.stderr, "passes on").is_empty());
}

#[test]
fn a_thread_cancelled_in_waitpid_is_cancelled() {
    let run = Runner::new(container()).arg("cancel-wait").run();
    assert_eq!(run.code(), Some(0), "{}", run.stderr);
    assert_eq!(run.stdout, "canceled\n");
}

/// A copy of `lib` at `dir/libfaultdump.so`; with `other_build`, its
/// build-id changed, as another build of the library would have.
fn copy_of(lib: &Path, dir: &Path, other_build: bool) -> PathBuf {
    let mut bytes = std::fs::read(lib).unwrap();
    if other_build {
        let notes = Command::new("readelf").arg("-n").arg(lib).output().unwrap();
        let notes = String::from_utf8_lossy(&notes.stdout);
        let hex = notes
            .lines()
            .find_map(|l| l.trim().strip_prefix("Build ID: "))
            .expect("a build-id");
        let id: Vec<u8> = (0..hex.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
            .collect();
        let at = bytes
            .windows(id.len())
            .position(|w| w == id)
            .expect("the build-id's bytes");
        for b in &mut bytes[at..at + id.len()] {
            *b = !*b;
        }
    }
    let path = dir.join("libfaultdump.so");
    std::fs::write(&path, bytes).unwrap();
    path
}

#[test]
fn two_copies_of_the_library_give_one_dump_whichever_comes_first() {
    let lib = lib_path();
    let base = scratch_dir("two-copies");
    let a = copy_of(&lib, &fresh_dir(base.join("a")), false);
    let b = copy_of(&lib, &fresh_dir(base.join("b")), true);
    for (first, second) in [(&a, &b), (&b, &a), (&lib, &a)] {
        let preload = format!("{}:{}", first.display(), second.display());
        let run = Runner::new(container())
            .arg("crash")
            .preload(&preload)
            .run();
        run.assert_killed_by(libc::SIGSEGV);
        let dump = assert_complete(&run);
        dump.current().assert_chain(&CRASH_CHAIN);
        // One watchdog: one timeout dump.
        let run = Runner::new("sleep")
            .arg("1.5")
            .preload(&preload)
            .env("FAULTHANDLER_TIMEOUT", "1")
            .timeout(Duration::from_secs(20))
            .run();
        assert_eq!(run.code(), Some(0), "{}", run.stderr);
        assert_eq!(run.dumps().len(), 1, "{preload}:\n{}", run.stderr);
    }
}

#[test]
fn a_frame_pointer_walk_through_pthread_create_reaches_the_caller() {
    let walker = build_c(
        "fpwalk.c",
        "libfpwalk.so",
        &["-O1", "-fno-omit-frame-pointer", "-shared", "-fPIC"],
    );
    let prog = build_c(
        "container.c",
        "container-rdynamic",
        &["-O0", "-g", "-pthread", "-rdynamic"],
    );
    let preload = format!("{}:{}", lib_path().display(), walker.display());
    let run = Runner::new(&prog).arg("thread").preload(&preload).run();
    assert_eq!(run.code(), Some(0), "{}", run.stderr);
    let chain = lines_with(&run.stderr, "fp chain:");
    assert_eq!(chain.len(), 1, "{}", run.stderr);
    assert!(
        chain[0].starts_with("fp chain: pthread_create create_caller main"),
        "through faultdump's pthread_create to the caller and main: {}",
        chain[0]
    );
}

#[test]
fn asan_names_where_a_thread_was_created_through_pthread_create() {
    let out = out_dir().join("container-asan");
    let built = Command::new("gcc")
        .args(["-O0", "-g", "-fsanitize=address", "-pthread"])
        .arg(programs_dir().join("container.c"))
        .arg("-o")
        .arg(&out)
        .output()
        .unwrap();
    if !built.status.success() {
        println!(
            "SKIPPED: asan_names_where_a_thread_was_created: gcc -fsanitize=address: {}",
            String::from_utf8_lossy(&built.stderr).trim()
        );
        return;
    }
    let run = Runner::new(&out)
        .arg("asan-thread")
        .env("ASAN_OPTIONS", "verify_asan_link_order=0")
        .run();
    let created = run
        .stderr
        .split("created by T0 here:")
        .nth(1)
        .unwrap_or_else(|| panic!("no thread-creation stack:\n{}", run.stderr));
    let frames: Vec<&str> = created
        .lines()
        .skip(1)
        .take_while(|l| l.trim_start().starts_with('#'))
        .collect();
    let at = |what: &str| frames.iter().position(|f| f.contains(what));
    let (ours, caller, main) = (
        at("in pthread_create (").filter(|&i| frames[i].contains("libfaultdump.so")),
        at("in create_caller "),
        at("in main "),
    );
    assert!(
        ours.is_some() && ours < caller && caller < main,
        "through faultdump's pthread_create to create_caller and main:\n{}",
        frames.join("\n")
    );
}

#[test]
fn perf_call_graphs_by_frame_pointers_go_through_pthread_create() {
    let scratch = scratch_dir("perf-fp");
    let data = scratch.join("perf.data");
    let usable = Command::new("perf")
        .args(["record", "-q", "-e", "cpu-clock", "-o"])
        .arg(&data)
        .arg("true")
        .output();
    match usable {
        Ok(out) if out.status.success() => {}
        Ok(out) => {
            println!(
                "SKIPPED: perf_call_graphs_by_frame_pointers: perf record -e cpu-clock: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            );
            return;
        }
        Err(e) => {
            println!("SKIPPED: perf_call_graphs_by_frame_pointers: perf: {e}");
            return;
        }
    }
    let walker = build_c(
        "fpwalk.c",
        "libfpwalk.so",
        &["-O1", "-fno-omit-frame-pointer", "-shared", "-fPIC"],
    );
    // perf itself runs without the library; the program with it, and with
    // a pthread_create after it that spins (where the samples land).
    let preload = format!("LD_PRELOAD={}:{}", lib_path().display(), walker.display());
    let recorded = Command::new("perf")
        .args([
            "record",
            "-q",
            "-e",
            "cpu-clock",
            "-F",
            "999",
            "--call-graph",
            "fp",
            "-o",
        ])
        .arg(&data)
        .args(["--", "env", &preload, "FPWALK_SPIN=1"])
        .arg(container())
        .arg("thread")
        .env_remove("LD_PRELOAD")
        .output()
        .unwrap();
    assert!(recorded.status.success(), "{recorded:?}");
    let script = Command::new("perf")
        .args(["script", "-F", "ip,sym,dso", "-i"])
        .arg(&data)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&script.stdout);
    // One block per sample, innermost frame first.
    let in_spin: Vec<Vec<&str>> = text
        .split("\n\n")
        .map(|b| {
            b.lines()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .collect::<Vec<_>>()
        })
        .filter(|b| b.first().is_some_and(|l| l.contains(" spin_in_create ")))
        .collect();
    assert!(!in_spin.is_empty(), "no sample in spin_in_create:\n{text}");
    for sample in &in_spin {
        let at = |what: &str, module: &str| {
            sample
                .iter()
                .position(|l| l.contains(what) && l.contains(module))
        };
        let ours = at(" pthread_create (", "libfaultdump.so");
        let (caller, main) = (at(" create_caller (", ""), at(" main (", ""));
        assert!(
            ours.is_some() && ours < caller && caller < main,
            "through faultdump's pthread_create to create_caller and main:\n{}",
            sample.join("\n")
        );
    }
}
