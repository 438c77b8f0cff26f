//! Crash storms: many processes crash at the same instant onto one stderr
//! pipe or one `FAULTHANDLER` file, and every dump must arrive whole (see
//! README "Crash storms"). Each storm is 32 processes of four threads that
//! wait on one barrier (the end of their shared stdin) and then fault.

mod common;

use std::collections::HashSet;
use std::io::{PipeReader, Read};
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::fs::MetadataExt;
use std::os::unix::net::UnixStream;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::Mutex;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use common::{build_c, lib_path};
use regex::Regex;
use serde_json::Value;

const PROCESSES: usize = 32;
const THREADS: usize = 4;
/// Processes of the storm that finds the output's lock held.
const HELD: usize = 16;
const HELD_NOTE: &str = "another process's dump held this output for";

fn storm_program() -> PathBuf {
    build_c("storm.c", "storm", &["-g", "-O0", "-pthread"])
}

fn command(prog: &Path, args: &[&str], env: &[(&str, &str)]) -> Command {
    let mut cmd = Command::new(prog);
    for (k, _) in std::env::vars_os() {
        if k.to_string_lossy().starts_with("FAULTHANDLER") {
            cmd.env_remove(&k);
        }
    }
    cmd.env("LD_PRELOAD", lib_path())
        .args(args)
        .envs(env.iter().copied());
    cmd
}

/// One pipe that every process of a test writes its stderr to, read to its
/// end by a thread.
struct SharedStderr {
    writer: OwnedFd,
    reader: JoinHandle<String>,
}

impl SharedStderr {
    fn new() -> SharedStderr {
        let (r, w) = std::io::pipe().unwrap();
        SharedStderr::reading(r, w.into())
    }

    /// A stream socket, as journald gives services.
    fn socket() -> SharedStderr {
        let (r, w) = UnixStream::pair().unwrap();
        SharedStderr::reading(r, w.into())
    }

    fn reading(mut r: impl Read + Send + 'static, writer: OwnedFd) -> SharedStderr {
        let reader = std::thread::spawn(move || {
            let mut out = Vec::new();
            r.read_to_end(&mut out).unwrap();
            String::from_utf8_lossy(&out).into_owned()
        });
        SharedStderr { writer, reader }
    }

    /// The lock file dumps to this output take when they cannot open it
    /// again through /proc.
    fn lock_file(&self) -> PathBuf {
        let meta = std::fs::metadata(format!("/proc/self/fd/{}", self.writer.as_raw_fd())).unwrap();
        PathBuf::from(format!(
            "/dev/shm/faultdump-{:x}.lock",
            (meta.dev() ^ meta.ino()) % 64
        ))
    }

    fn stdio(&self) -> Stdio {
        self.writer.try_clone().unwrap().into()
    }

    /// Everything written, once every process that shares the pipe is gone.
    fn finish(self) -> String {
        drop(self.writer);
        self.reader.join().unwrap()
    }
}

/// Spawns `cmd` with `stderr`, its stdout on `ready`; waits for its byte.
fn spawn_ready(mut cmd: Command, stderr: Stdio, stdin: Stdio) -> (Child, PipeReader) {
    let (ready_r, ready_w) = std::io::pipe().unwrap();
    let child = cmd
        .stdin(stdin)
        .stdout(ready_w)
        .stderr(stderr)
        .spawn()
        .unwrap();
    (child, ready_r)
}

struct Storm {
    pids: Vec<u32>,
    statuses: Vec<ExitStatus>,
    /// From the barrier's release to the process's end (seen within ~2 ms).
    exits: Vec<Duration>,
}

impl Storm {
    fn assert_all_segv(&self) {
        for (pid, s) in self.pids.iter().zip(&self.statuses) {
            assert_eq!(s.signal(), Some(libc::SIGSEGV), "process {pid}: {s:?}");
        }
    }

    fn assert_ended_within(&self, limit: Duration) {
        for (pid, t) in self.pids.iter().zip(&self.exits) {
            assert!(*t <= limit, "process {pid} ended {t:?} after the barrier");
        }
    }
}

/// One storm at a time (the tests run in parallel): on 2 cores, two storms
/// at once would only measure each other.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

/// `n` processes of [`THREADS`] threads with `env`, stderr on `stderr`,
/// released together; returns when all have ended.
fn storm(n: usize, env: &[(&str, &str)], stderr: &SharedStderr) -> Storm {
    storm_as(n, env, stderr, None)
}

/// [`storm`], with every second process run as `other_uid` if given.
fn storm_as(
    n: usize,
    env: &[(&str, &str)],
    stderr: &SharedStderr,
    other_uid: Option<u32>,
) -> Storm {
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let prog = storm_program();
    let (barrier_r, barrier_w) = std::io::pipe().unwrap();
    let mut children = Vec::new();
    let mut readies = Vec::new();
    for i in 0..n {
        let mut cmd = command(&prog, &["crash", &THREADS.to_string()], env);
        if let Some(uid) = other_uid.filter(|_| i % 2 == 1) {
            cmd.uid(uid).gid(uid);
        }
        let (child, ready) =
            spawn_ready(cmd, stderr.stdio(), barrier_r.try_clone().unwrap().into());
        children.push(child);
        readies.push(ready);
    }
    drop(barrier_r);
    for (r, c) in readies.iter_mut().zip(&children) {
        let mut b = [0u8; 1];
        r.read_exact(&mut b)
            .unwrap_or_else(|e| panic!("process {} did not get ready: {e}", c.id()));
    }
    let released = Instant::now();
    drop(barrier_w);
    let pids: Vec<u32> = children.iter().map(Child::id).collect();
    let mut statuses = vec![None; n];
    let mut exits = vec![Duration::ZERO; n];
    while statuses.iter().any(Option::is_none) {
        for (i, c) in children.iter_mut().enumerate() {
            if statuses[i].is_none()
                && let Some(s) = c.try_wait().unwrap()
            {
                statuses[i] = Some(s);
                exits[i] = released.elapsed();
            }
        }
        if released.elapsed() > Duration::from_secs(60) {
            for c in &mut children {
                let _ = c.kill();
            }
            panic!("the storm did not end in 60 s");
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    Storm {
        pids,
        statuses: statuses.into_iter().map(Option::unwrap).collect(),
        exits,
    }
}

/// The text dumps in `out`, checked to be whole: each from its header to its
/// end line with only its own lines between (every thread is one of its
/// process's, named `s<pid>-<i>`), nothing outside them. Returns the lines
/// of each dump by pid.
fn text_dumps(out: &str) -> Vec<(u32, Vec<String>)> {
    let header = Regex::new(r"^faultdump: pid (\d+) \(").unwrap();
    let thread = Regex::new(r#"^(?:Current thread|Thread) \d+ "s(\d+)-\d+""#).unwrap();
    let end = Regex::new(r"^faultdump: end of dump, pid (\d+)$").unwrap();
    let mut dumps = Vec::new();
    let mut cur: Option<(u32, Vec<String>)> = None;
    for line in out.lines() {
        let pid_in = |re: &Regex| re.captures(line).map(|c| c[1].parse::<u32>().unwrap());
        if let Some(p) = pid_in(&header) {
            if let Some((q, _)) = &cur {
                panic!("dump of {p} starts inside the dump of {q}:\n{out}");
            }
            cur = Some((p, vec![line.to_string()]));
            continue;
        }
        let Some((p, lines)) = cur.as_mut() else {
            assert!(line.is_empty(), "line outside every dump: {line:?}\n{out}");
            continue;
        };
        lines.push(line.to_string());
        if let Some(q) = pid_in(&thread) {
            assert_eq!(q, *p, "a thread of {q} inside the dump of {p}:\n{out}");
        }
        if let Some(q) = pid_in(&end) {
            assert_eq!(q, *p, "the end of {q} inside the dump of {p}:\n{out}");
            let threads = lines.iter().filter(|l| thread.is_match(l)).count();
            assert_eq!(threads, THREADS, "dump of {p}:\n{}", lines.join("\n"));
            dumps.push(cur.take().unwrap());
        }
    }
    assert!(cur.is_none(), "a dump without its end:\n{out}");
    dumps
}

/// The JSON dumps in `out`: every line one object that parses, each of
/// [`THREADS`] threads of its own process.
fn json_dumps(out: &str) -> Vec<Value> {
    out.lines()
        .filter(|l| !l.is_empty())
        .map(|l| {
            let d: Value = serde_json::from_str(l)
                .unwrap_or_else(|e| panic!("a line that does not parse ({e}): {l}"));
            let pid = d["pid"].as_u64().unwrap();
            let threads = d["threads"].as_array().unwrap();
            assert_eq!(threads.len(), THREADS, "{d}");
            for t in threads {
                let name = t["name"].as_str().unwrap();
                assert!(name.starts_with(&format!("s{pid}-")), "{name} in {pid}");
            }
            d
        })
        .collect()
}

fn assert_pids(found: impl IntoIterator<Item = u32>, storm: &Storm) {
    let found: Vec<u32> = found.into_iter().collect();
    let unique: HashSet<u32> = found.iter().copied().collect();
    assert_eq!(
        found.len(),
        unique.len(),
        "a process dumped twice: {found:?}"
    );
    assert_eq!(unique, storm.pids.iter().copied().collect::<HashSet<u32>>());
}

/// The stats note's "dump written in X ms", for each dump's notes.
fn written_ms(note: &str) -> Option<f64> {
    let re = Regex::new(r"^faultdump: dump written in (\d+\.\d+) ms").unwrap();
    re.captures(note).map(|c| c[1].parse().unwrap())
}

const DEADLINE_S: u64 = 5;

fn assert_within_deadline(notes: &[String], pid: u32, deadline_ms: f64) {
    let ms = notes
        .iter()
        .find_map(|n| written_ms(n))
        .unwrap_or_else(|| panic!("no stats note in the dump of {pid}: {notes:?}"));
    assert!(ms <= deadline_ms, "dump of {pid} took {ms} ms");
}

#[test]
fn text_storm_on_one_pipe_arrives_whole() {
    let stderr = SharedStderr::new();
    let s = storm(PROCESSES, &[("FAULTHANDLER_STATS", "1")], &stderr);
    let out = stderr.finish();
    s.assert_all_segv();
    let dumps = text_dumps(&out);
    assert_pids(dumps.iter().map(|d| d.0), &s);
    for (pid, lines) in &dumps {
        assert!(!lines.iter().any(|l| l.contains(HELD_NOTE)), "{lines:?}");
        assert_within_deadline(lines, *pid, (DEADLINE_S * 1000) as f64);
    }
    s.assert_ended_within(Duration::from_secs(DEADLINE_S + 2));
}

#[test]
fn json_storm_on_one_pipe_makes_one_object_each() {
    json_storm(SharedStderr::new());
}

/// A stream socket cannot be opened again: the dumps take turns on a lock
/// file and are sent with MSG_DONTWAIT.
#[test]
fn json_storm_on_one_stream_socket_makes_one_object_each() {
    let stderr = SharedStderr::socket();
    let lock = stderr.lock_file();
    let _ = std::fs::remove_file(&lock);
    json_storm(stderr);
    assert!(lock.exists(), "{} was not made", lock.display());
}

fn json_storm(stderr: SharedStderr) {
    let s = storm(
        PROCESSES,
        &[("FAULTHANDLER_FORMAT", "json"), ("FAULTHANDLER_STATS", "1")],
        &stderr,
    );
    let out = stderr.finish();
    s.assert_all_segv();
    let dumps = json_dumps(&out);
    assert_pids(dumps.iter().map(|d| d["pid"].as_u64().unwrap() as u32), &s);
    for d in &dumps {
        let notes: Vec<String> = serde_json::from_value(d["notes"].clone()).unwrap();
        assert_within_deadline(&notes, d["pid"].as_u64().unwrap() as u32, 5000.0);
    }
    s.assert_ended_within(Duration::from_secs(DEADLINE_S + 2));
}

fn shared_file(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir.join("crash.log")
}

#[test]
fn storms_into_one_faulthandler_file_arrive_whole() {
    for format in ["text", "json"] {
        let file = shared_file(&format!("storm-file-{format}"));
        let stderr = SharedStderr::new();
        let s = storm(
            PROCESSES,
            &[
                ("FAULTHANDLER", file.to_str().unwrap()),
                ("FAULTHANDLER_FORMAT", format),
            ],
            &stderr,
        );
        let out = stderr.finish();
        s.assert_all_segv();
        assert!(out.is_empty(), "stderr: {out}");
        let written = std::fs::read_to_string(&file).unwrap();
        if format == "text" {
            assert_pids(text_dumps(&written).iter().map(|d| d.0), &s);
        } else {
            let dumps = json_dumps(&written);
            assert_pids(dumps.iter().map(|d| d["pid"].as_u64().unwrap() as u32), &s);
        }
        s.assert_ended_within(Duration::from_secs(DEADLINE_S + 2));
    }
}

/// A process holds the lock of the output and is stopped, as a dump stopped
/// mid-write would be: the storm's dumps wait at most until well before
/// their deadline, then are written anyway, whole, with a note. Once the
/// holder is SIGKILLed its lock is gone: the next dumps wait for nothing.
#[test]
fn a_stopped_then_killed_holder_delays_no_dump_past_its_deadline() {
    let stderr = SharedStderr::new();
    let prog = storm_program();
    let (mut holder, mut ready) = spawn_ready(
        command(&prog, &["hold"], &[]),
        stderr.stdio(),
        Stdio::null(),
    );
    let mut b = [0u8; 1];
    ready.read_exact(&mut b).expect("the holder took the lock");
    // SAFETY: signalling our own child.
    unsafe { libc::kill(holder.id() as i32, libc::SIGSTOP) };

    let env = [("FAULTHANDLER_DEADLINE", "3"), ("FAULTHANDLER_STATS", "1")];
    let held = storm(HELD, &env, &stderr);
    holder.kill().unwrap();
    assert_eq!(holder.wait().unwrap().signal(), Some(libc::SIGKILL));
    let free = storm(8, &env, &stderr);
    let out = stderr.finish();

    if std::env::var_os("STORM_DEBUG").is_some() {
        eprintln!("{:?}\n{out}", held.exits);
    }
    held.assert_all_segv();
    free.assert_all_segv();
    held.assert_ended_within(Duration::from_millis(3000 + 1500));
    let dumps = text_dumps(&out);
    let waited = Regex::new(r"^faultdump: waited (\d+\.\d+) ms for its turn").unwrap();
    for (pid, lines) in &dumps {
        let was_held = held.pids.contains(pid);
        assert_eq!(
            lines.iter().any(|l| l.contains(HELD_NOTE)),
            was_held,
            "dump of {pid}:\n{}",
            lines.join("\n")
        );
        let ms: f64 = lines
            .iter()
            .find_map(|l| waited.captures(l).map(|c| c[1].parse().unwrap()))
            .unwrap_or_else(|| panic!("no wait note in {lines:?}"));
        assert!(ms <= 3000.0, "{pid} waited {ms} ms");
        assert_within_deadline(lines, *pid, 3000.0);
    }
    assert_eq!(dumps.len(), HELD + 8);
}

/// Processes of two users on one pipe that root created (mode 0600: the
/// other user cannot open it again through /proc): that user's processes
/// take the lock file, created with O_EXCL and readable by everyone, and
/// root's take it too (whoever comes first makes it). Every dump arrives
/// whole.
#[test]
fn processes_of_two_users_share_one_pipe() {
    // SAFETY: geteuid cannot fail.
    if unsafe { libc::geteuid() } != 0 {
        println!("SKIPPED: a storm of two users: needs root to run processes as nobody");
        return;
    }
    let nobody = 65534;
    let stderr = SharedStderr::new();
    let lock = stderr.lock_file();
    let _ = std::fs::remove_file(&lock);
    let s = storm_as(16, &[], &stderr, Some(nobody));
    let out = stderr.finish();
    s.assert_all_segv();
    assert_pids(text_dumps(&out).iter().map(|d| d.0), &s);
    let file = std::fs::symlink_metadata(&lock)
        .unwrap_or_else(|e| panic!("no lock file {}: {e}", lock.display()));
    assert!(file.file_type().is_file());
    assert_eq!(file.mode() & 0o777, 0o444);
    assert!(
        file.uid() == nobody || file.uid() == 0,
        "made by one of the two users"
    );
    std::fs::remove_file(&lock).unwrap();
}

/// Issue 17, item 7: every pipe is a new inode, and a lock file per inode
/// filled /dev/shm under a crash-looping service. 1,000 crashes, each
/// onto a pipe of its own, leave at most 64 lock files. (Files of the
/// former one-per-inode names made meanwhile for pipes not ours are other
/// tests', running at the same time with another build.)
#[test]
fn a_thousand_crashes_through_pipes_leave_a_bounded_set_of_lock_files() {
    let prog = common::faults_o0();
    let started = std::time::SystemTime::now() - Duration::from_secs(1);
    let mut children: Vec<Child> = Vec::new();
    let mut ours = HashSet::new();
    let mut crashed = 0;
    for _ in 0..1000 {
        if children.len() == 32 {
            for child in children.drain(..) {
                crashed += usize::from(dies_of_segv(child));
            }
        }
        let mut cmd = command(&prog, &["segv"], &[]);
        cmd.stdout(Stdio::null()).stderr(Stdio::piped());
        let child = cmd.spawn().unwrap();
        let pipe = child.stderr.as_ref().unwrap().as_raw_fd();
        let meta = std::fs::metadata(format!("/proc/self/fd/{pipe}")).unwrap();
        ours.insert(format!("faultdump-{:x}-{:x}.lock", meta.dev(), meta.ino()));
        children.push(child);
    }
    for child in children {
        crashed += usize::from(dies_of_segv(child));
    }
    assert_eq!(crashed, 1000);
    let made: Vec<String> = ["/dev/shm", "/tmp"]
        .iter()
        .flat_map(|dir| std::fs::read_dir(dir).unwrap())
        .filter_map(|e| {
            let e = e.ok()?;
            let name = e.file_name().to_string_lossy().into_owned();
            let new = e.metadata().ok()?.created().ok()? >= started;
            let per_inode = name.matches('-').count() == 2;
            (new && name.starts_with("faultdump-")
                && name.ends_with(".lock")
                && (!per_inode || ours.contains(&name)))
            .then_some(name)
        })
        .collect();
    assert!(made.len() <= 64, "{} lock files made", made.len());
}

/// Whether the child died of SIGSEGV after writing a dump to its pipe.
fn dies_of_segv(child: Child) -> bool {
    let out = child.wait_with_output().unwrap();
    out.status.signal() == Some(libc::SIGSEGV) && out.stderr.starts_with(b"faultdump: pid ")
}
