//! Where the dump goes and what bounds it: a file named with the pid, the
//! fallback to stderr, fd 2 reused for data, a pipe without a reader (no
//! SIGPIPE death) or never read (the deadline), the stats note.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::common::*;

#[test]
fn file_output_named_with_the_pid() {
    let prog = faults_o0();
    let dir = scratch_dir("fatal-file");
    let template = dir.join("crash-%p.log");

    // Nothing crashes: no file.
    let run = Runner::new(&prog)
        .arg("nothing")
        .env("FAULTHANDLER", &template)
        .run();
    assert_eq!(run.code(), Some(0));
    assert_eq!(
        std::fs::read_dir(&dir).unwrap().count(),
        0,
        "no empty file left behind"
    );

    let run = Runner::new(&prog)
        .arg("segv")
        .env("FAULTHANDLER", &template)
        .run();
    run.assert_killed_by(libc::SIGSEGV);
    assert!(
        !run.stderr.contains("faultdump"),
        "nothing on stderr: {}",
        run.stderr
    );
    let file = dir.join(format!("crash-{}.log", run.pid));
    let meta = std::fs::metadata(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
    assert_eq!(meta.permissions().mode() & 0o777, 0o600);
    let text = std::fs::read_to_string(&file).unwrap();
    let dumps = parse_dumps(&text);
    assert_eq!(dumps.len(), 1);
    assert!(dumps[0].complete);
    assert_eq!(dumps[0].pid as u32, run.pid);
    dumps[0].current().assert_chain(&chain_of("do_segv"));

    // Appended, not truncated; %e is the executable's name.
    let named = dir.join("faults-O0.log");
    std::fs::write(&named, "earlier line\n").unwrap();
    let run = Runner::new(&prog)
        .arg("abrt")
        .env("FAULTHANDLER", dir.join("%e.log"))
        .run();
    run.assert_killed_by(libc::SIGABRT);
    let text = std::fs::read_to_string(&named).unwrap();
    assert!(text.starts_with("earlier line\nfaultdump: pid "), "{text}");
    assert!(parse_dumps(&text)[0].complete);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn unopenable_file_falls_back_to_stderr_saying_why() {
    let prog = faults_o0();
    let path = "/nonexistent-faultdump-dir/crash-%p.log";
    let run = Runner::new(&prog)
        .arg("segv")
        .env("FAULTHANDLER", path)
        .run();
    run.assert_killed_by(libc::SIGSEGV);
    let dump = assert_complete(&run);
    let expanded = format!("/nonexistent-faultdump-dir/crash-{}.log", run.pid);
    let why: Vec<&String> = dump
        .notes
        .iter()
        .filter(|n| n.contains(&expanded))
        .collect();
    assert_eq!(why.len(), 1, "one line saying why: {:?}", dump.notes);
    assert!(why[0].contains("No such file or directory"), "{}", why[0]);
    dump.current().assert_chain(&chain_of("do_segv"));
}

/// The program closed stderr and fd 2 is now its data file (regular, not
/// O_APPEND): the dump must not be written into it.
#[test]
fn stderr_reused_for_a_data_file_gets_no_dump() {
    let prog = faults_o0();
    let dir = scratch_dir("fatal-data");
    let data = dir.join("data.txt");
    let run = Runner::new(&prog)
        .arg("stderr-data")
        .env("FAULTS_DATA", &data)
        .run();
    run.assert_killed_by(libc::SIGSEGV);
    assert_eq!(
        std::fs::read_to_string(&data).unwrap(),
        "data line 1\ndata line 2\n",
        "the data file is untouched"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// Runs `prog args` with stderr the write end of a pipe, `reader` deciding
/// what happens to the read end; returns the exit status and the time taken.
fn run_with_stderr_pipe(
    prog: &Path,
    args: &[&str],
    env: &[(&str, &str)],
    keep_reader: bool,
) -> (std::process::ExitStatus, Duration) {
    let mut fds = [0; 2];
    // SAFETY: fds has room for two descriptors.
    assert_eq!(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) }, 0);
    // SAFETY: both descriptors were just created and are owned here.
    let (read, write) = unsafe {
        use std::os::fd::FromRawFd;
        (
            std::os::fd::OwnedFd::from_raw_fd(fds[0]),
            std::os::fd::OwnedFd::from_raw_fd(fds[1]),
        )
    };
    if keep_reader {
        // A reader that never reads: fill the pipe so that writes block.
        // SAFETY: setting O_NONBLOCK on our own descriptor.
        unsafe { libc::fcntl(fds[1], libc::F_SETFL, libc::O_NONBLOCK) };
        let junk = [b'x'; 4096];
        // SAFETY: writing our own buffer to our own pipe.
        while unsafe { libc::write(fds[1], junk.as_ptr().cast(), junk.len()) } > 0 {}
        // SAFETY: back to blocking, as a program's stderr normally is.
        unsafe { libc::fcntl(fds[1], libc::F_SETFL, 0) };
    } else {
        drop(read);
    }
    let mut cmd = Command::new(prog);
    cmd.args(args)
        .env("LD_PRELOAD", lib_path())
        .env_remove("FAULTHANDLER")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::from(write));
    for (k, v) in env {
        cmd.env(k, v);
    }
    let start = std::time::Instant::now();
    let mut child = cmd.spawn().unwrap();
    drop(cmd); // the parent's copy of the write end
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if start.elapsed() > Duration::from_secs(30) {
            let _ = child.kill();
            panic!("{} {args:?} hung with stderr a stuck pipe", prog.display());
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    (status, start.elapsed())
}

#[test]
fn stderr_pipe_without_reader_still_dies_by_the_signal() {
    use std::os::unix::process::ExitStatusExt;
    let prog = faults_o0();
    let (status, _) = run_with_stderr_pipe(&prog, &["segv"], &[], false);
    assert_eq!(
        status.signal(),
        Some(libc::SIGSEGV),
        "not SIGPIPE: {status:?}"
    );
    let (status, _) = run_with_stderr_pipe(&prog, &["abrt"], &[], false);
    assert_eq!(
        status.signal(),
        Some(libc::SIGABRT),
        "not SIGPIPE: {status:?}"
    );
}

#[test]
fn stderr_pipe_that_is_never_read_is_bounded_by_the_deadline() {
    use std::os::unix::process::ExitStatusExt;
    let prog = faults_o0();
    let (status, took) =
        run_with_stderr_pipe(&prog, &["segv"], &[("FAULTHANDLER_DEADLINE", "0.3")], true);
    assert_eq!(status.signal(), Some(libc::SIGSEGV), "{status:?}");
    assert!(took < Duration::from_secs(10), "took {took:?}");
}

/// FAULTHANDLER_STATS=1 ends the dump with the time and dump memory it took,
/// as a note line (what the benchmarks report); without it, no such line.
#[test]
fn stats_note_reports_time_and_memory() {
    let prog = faults_o0();
    let run = Runner::new(&prog)
        .arg("segv")
        .env("FAULTHANDLER_STATS", "1")
        .run();
    run.assert_killed_by(libc::SIGSEGV);
    let dump = assert_complete(&run);
    let re = regex::Regex::new(
        r"^faultdump: dump written in \d+\.\d{3} ms with (\d+) KiB of dump memory at most$",
    )
    .unwrap();
    let kib: u64 = dump
        .notes
        .iter()
        .find_map(|n| re.captures(n).map(|c| c[1].parse().unwrap()))
        .unwrap_or_else(|| panic!("no stats note in:\n{}", run.stderr));
    assert!(kib > 0, "{}", run.stderr);
    let plain = Runner::new(&prog).arg("segv").run();
    assert!(
        plain
            .dump()
            .notes
            .iter()
            .all(|n| !n.contains("dump written in"))
    );
}
