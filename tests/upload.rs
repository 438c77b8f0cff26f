//! scripts/faultdump-upload and faultdump-run's upload, against
//! tests/upload_server.py: a local server speaking the documented contracts
//! of Sentry's minidump and envelope endpoints and of a Breakpad collector.
//! The uploader runs under Debian's dash and under `busybox sh` with only
//! BusyBox's tools on PATH (as in Alpine), through each of its HTTP
//! clients: curl, BusyBox nc, perl.

mod common;

use common::*;
use serde_json::Value;
use std::os::unix::fs::symlink;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

fn script(name: &str) -> PathBuf {
    root().join("scripts").join(name)
}

/// The test server, stopped on drop.
struct Server {
    child: Child,
    port: u16,
    record: PathBuf,
}

impl Server {
    fn start(dir: &Path, args: &[&str]) -> Server {
        std::fs::create_dir_all(dir).unwrap();
        let record = dir.join("record");
        let port_file = dir.join("port");
        let child = Command::new("python3")
            .arg(root().join("tests/upload_server.py"))
            .arg("--port-file")
            .arg(&port_file)
            .arg("--record")
            .arg(&record)
            .args(args)
            .stdout(Stdio::null())
            .spawn()
            .expect("python3");
        let start = Instant::now();
        let port = loop {
            if let Ok(p) = std::fs::read_to_string(&port_file) {
                break p.trim().parse().unwrap();
            }
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "server did not start"
            );
            std::thread::sleep(Duration::from_millis(20));
        };
        Server {
            child,
            port,
            record,
        }
    }

    fn dsn(&self) -> String {
        format!("http://public0key@127.0.0.1:{}/42", self.port)
    }

    fn requests(&self) -> Vec<Value> {
        std::fs::read_to_string(self.record.join("requests.jsonl"))
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    /// The minidumps the server accepted, as received.
    fn accepted(&self) -> Vec<Vec<u8>> {
        self.requests()
            .iter()
            .filter_map(|r| r["saved"].as_str())
            .map(|p| std::fs::read(p).unwrap())
            .collect()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A file that starts as a minidump does (what the servers check), with
/// `size` bytes of content that differs per `seed`.
fn fake_minidump(size: usize, seed: u8) -> Vec<u8> {
    let mut v = b"MDMP\x93\xa7\x00\x00".to_vec();
    v.extend((0..size).map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed)));
    v
}

fn spool_with(dir: &Path, dumps: &[(&str, Vec<u8>)]) -> PathBuf {
    let spool = dir.join("spool");
    std::fs::create_dir_all(&spool).unwrap();
    for (name, bytes) in dumps {
        std::fs::write(spool.join(name), bytes).unwrap();
    }
    spool
}

fn dumps_in(spool: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(spool)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".dmp"))
        .collect();
    v.sort();
    v
}

/// How the uploader is run: which shell, which tools on PATH.
#[derive(Clone, Copy, Debug)]
enum Shell {
    /// dash, the system's PATH (curl).
    DashCurl,
    /// dash, coreutils and perl only (Debian slim: no curl, no wget).
    DashPerl,
    /// `busybox sh`, BusyBox's applets only (Alpine): nc.
    Busybox,
}

fn tool_dir(name: &str, tools: impl Fn(&Path)) -> PathBuf {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _guard = LOCK.lock().unwrap();
    let dir = out_dir().join(name);
    if !dir.join(".done").exists() {
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        tools(&dir);
        std::fs::write(dir.join(".done"), "").unwrap();
    }
    dir
}

fn which(tool: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|p| p.join(tool))
            .find(|p| p.is_file())
    })
}

impl Shell {
    /// The shell and PATH; `None` (with a SKIPPED line) where missing.
    fn command(self, test: &str) -> Option<Command> {
        let (shell, path) = match self {
            Shell::DashCurl => {
                let (Some(dash), Some(_)) = (which("dash"), which("curl")) else {
                    println!("SKIPPED: {test} ({self:?}): no dash or no curl");
                    return None;
                };
                (dash, std::env::var("PATH").unwrap())
            }
            Shell::DashPerl => {
                let (Some(dash), Some(_)) = (which("dash"), which("perl")) else {
                    println!("SKIPPED: {test} ({self:?}): no dash or no perl");
                    return None;
                };
                let tools = [
                    "perl", "gzip", "od", "tr", "sed", "head", "tail", "wc", "date", "find",
                    "mktemp", "ls", "grep", "basename", "sleep", "cat", "mv", "rm", "mkdir", "cp",
                    "timeout", "env",
                ];
                let dir = tool_dir("debian-slim-path", |dir| {
                    for t in tools {
                        if let Some(p) = which(t) {
                            symlink(p, dir.join(t)).unwrap();
                        }
                    }
                });
                (dash, dir.to_string_lossy().into_owned())
            }
            Shell::Busybox => {
                let Some(busybox) = which("busybox") else {
                    println!("SKIPPED: {test} ({self:?}): no busybox");
                    return None;
                };
                let dir = tool_dir("busybox-path", |dir| {
                    let list = Command::new(&busybox).arg("--list").output().unwrap();
                    for applet in String::from_utf8_lossy(&list.stdout).lines() {
                        symlink(&busybox, dir.join(applet)).unwrap();
                    }
                });
                let mut cmd = Command::new(&busybox);
                cmd.arg("sh");
                cmd.env_clear().env("PATH", dir);
                return Some(cmd);
            }
        };
        let mut cmd = Command::new(shell);
        cmd.env_clear().env("PATH", path);
        Some(cmd)
    }
}

fn upload(shell: Shell, test: &str, spool: &Path, to: &str, args: &[&str]) -> Option<Output> {
    let mut cmd = shell.command(test)?;
    cmd.arg(script("faultdump-upload"))
        .arg("--spool")
        .arg(spool)
        .arg("--to")
        .arg(to)
        .args(args)
        .env(
            "FAULTHANDLER_TAGS",
            "service=shop-api,version=2.4.1,release=2.4.1",
        )
        .env("TMPDIR", spool.parent().unwrap());
    let out = cmd.output().unwrap();
    Some(out)
}

/// Runs `runner` (faultdump-run, with any options of its own already given)
/// with `spool` as its minidump spool and an upload to `dsn`, over
/// `sh -c command`; the command sees `$DUMP` (a dump to copy into the spool,
/// as the library would write one) and `$SPOOL`.
fn run_over_shell(
    runner: &mut Command,
    spool: &Path,
    dsn: &str,
    dump: &Path,
    command: &str,
) -> Output {
    runner
        .arg("--minidump")
        .arg(spool)
        .arg("--upload")
        .arg(dsn)
        .args(["--", "sh", "-c", command])
        .env("DUMP", dump)
        .env("SPOOL", spool)
        .output()
        .unwrap()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Each endpoint, from each shell: what arrives is the dump as it was,
/// sent gzipped with the endpoint's fields; accepted dumps leave the spool.
#[test]
fn every_endpoint_from_every_shell() {
    let cases = [
        ("minidump", Shell::DashCurl),
        ("envelope", Shell::Busybox),
        ("breakpad", Shell::DashPerl),
        ("minidump", Shell::Busybox),
        ("envelope", Shell::DashPerl),
        ("breakpad", Shell::DashCurl),
    ];
    std::thread::scope(|s| {
        for (i, (endpoint, shell)) in cases.into_iter().enumerate() {
            s.spawn(move || {
                let dir = scratch_dir(&format!("upload-endpoint-{i}"));
                let server = Server::start(&dir, &[]);
                let dumps = [
                    ("a.dmp", fake_minidump(5000, i as u8)),
                    ("b.dmp", fake_minidump(300, 100 + i as u8)),
                ];
                let spool = spool_with(&dir, &dumps);
                std::fs::write(spool.join("c.dmp.tmp"), b"MDMP half written").unwrap();
                let to = match endpoint {
                    "minidump" => server.dsn(),
                    "envelope" => format!("envelope:{}", server.dsn()),
                    _ => format!("breakpad:http://127.0.0.1:{}/submit", server.port),
                };
                let Some(out) = upload(shell, "every_endpoint_from_every_shell", &spool, &to, &[])
                else {
                    return;
                };
                let what = format!("{endpoint} {shell:?}: {}", stderr(&out));
                assert_eq!(out.status.code(), Some(0), "{what}");
                assert_eq!(dumps_in(&spool), Vec::<String>::new(), "{what}");
                assert!(spool.join("c.dmp.tmp").exists(), "{what}");
                let mut got = server.accepted();
                got.sort();
                let mut want: Vec<Vec<u8>> = dumps.iter().map(|(_, d)| d.clone()).collect();
                want.sort();
                assert!(got == want, "{what}: the dumps arrived changed");
                for r in server.requests() {
                    assert_eq!(r["status"], 200, "{what}: {r}");
                    assert_eq!(r["encoding"], "gzip", "{what}: {r}");
                    match endpoint {
                        "breakpad" => {
                            assert_eq!(r["fields"]["ProductName"], "shop-api", "{r}");
                            assert_eq!(r["fields"]["Version"], "2.4.1", "{r}");
                        }
                        _ => {
                            let sentry: Value =
                                serde_json::from_str(r["fields"]["sentry"].as_str().unwrap())
                                    .unwrap();
                            assert_eq!(sentry["release"], "2.4.1", "{r}");
                            assert_eq!(sentry["tags"]["service"], "shop-api", "{r}");
                        }
                    }
                    if endpoint == "envelope" {
                        let items = r["items"].as_array().unwrap();
                        assert!(
                            items
                                .iter()
                                .any(|i| i["attachment_type"] == "event.minidump"),
                            "{r}"
                        );
                    }
                }
            });
        }
    });
}

/// 400 and 413 are final: the dump is moved aside with the reason and not
/// sent again; the rest of the spool still goes.
#[test]
fn refused_dumps_are_kept_aside_with_the_reason() {
    for shell in [Shell::DashCurl, Shell::Busybox] {
        let dir = scratch_dir(&format!("upload-refused-{shell:?}"));
        let server = Server::start(&dir, &["--max-size", "4000"]);
        let spool = spool_with(
            &dir,
            &[
                ("big.dmp", fake_minidump(9000, 1)),
                ("notmdmp.dmp", b"ELF\x7f not a minidump".to_vec()),
                ("fine.dmp", fake_minidump(100, 2)),
            ],
        );
        let Some(out) = upload(shell, "refused", &spool, &server.dsn(), &[]) else {
            continue;
        };
        let what = format!("{shell:?}: {}", stderr(&out));
        assert_eq!(out.status.code(), Some(0), "{what}");
        assert_eq!(dumps_in(&spool), Vec::<String>::new(), "{what}");
        let refused = spool.join("refused");
        assert_eq!(dumps_in(&refused), ["big.dmp", "notmdmp.dmp"], "{what}");
        let reason = std::fs::read_to_string(refused.join("big.dmp.reason")).unwrap();
        assert!(reason.starts_with("HTTP 413"), "{what}: {reason}");
        let reason = std::fs::read_to_string(refused.join("notmdmp.dmp.reason")).unwrap();
        assert!(reason.starts_with("HTTP 400"), "{what}: {reason}");
        assert_eq!(server.requests().len(), 3, "{what}: one request each");
        assert_eq!(server.accepted(), [fake_minidump(100, 2)], "{what}");
        // A second pass sends nothing again.
        upload(shell, "refused", &spool, &server.dsn(), &[]).unwrap();
        assert_eq!(server.requests().len(), 3, "{what}");
    }
}

/// 429 with Retry-After is waited for, 503 retried; a server that is down
/// gets retries, and nothing is lost: the next pass sends it all.
#[test]
fn rate_limits_and_a_server_that_is_down() {
    let dir = scratch_dir("upload-retries");
    let server = Server::start(&dir, &["--script", "429,503", "--retry-after", "2"]);
    let spool = spool_with(&dir, &[("one.dmp", fake_minidump(100, 7))]);
    let started = Instant::now();
    let out = upload(Shell::DashCurl, "retries", &spool, &server.dsn(), &[]).unwrap();
    let what = stderr(&out);
    assert_eq!(out.status.code(), Some(0), "{what}");
    let statuses: Vec<_> = server
        .requests()
        .iter()
        .map(|r| r["status"].clone())
        .collect();
    assert_eq!(statuses, [429, 503, 200], "{what}");
    assert!(
        what.contains("rate-limited (HTTP 429): waiting 2 s"),
        "{what}"
    );
    assert!(
        started.elapsed() >= Duration::from_secs(2),
        "Retry-After not waited for"
    );
    assert_eq!(server.accepted(), [fake_minidump(100, 7)]);

    // A 429 asking for longer than --max-wait ends the pass, dump kept.
    let dir = scratch_dir("upload-retry-long");
    let server = Server::start(&dir, &["--script", "429", "--retry-after", "3600"]);
    let spool = spool_with(&dir, &[("one.dmp", fake_minidump(100, 8))]);
    let out = upload(Shell::DashCurl, "retries", &spool, &server.dsn(), &[]).unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert_eq!(dumps_in(&spool), ["one.dmp"]);

    // Down: a port nobody listens on (the server's, once stopped).
    for shell in [Shell::DashCurl, Shell::Busybox, Shell::DashPerl] {
        let dir = scratch_dir(&format!("upload-down-{shell:?}"));
        let dumps = [
            ("x.dmp", fake_minidump(200, 9)),
            ("y.dmp", fake_minidump(300, 10)),
        ];
        let spool = spool_with(&dir, &dumps);
        let down = Server::start(&dir.join("down"), &[]);
        let dsn = down.dsn();
        drop(down);
        let Some(out) = upload(shell, "down", &spool, &dsn, &["--attempts", "2"]) else {
            continue;
        };
        let what = format!("{shell:?}: {}", stderr(&out));
        assert_eq!(out.status.code(), Some(1), "{what}");
        assert!(what.contains("retrying in 1 s"), "{what}");
        assert!(what.contains("after 2 attempts; kept"), "{what}");
        assert_eq!(dumps_in(&spool), ["x.dmp", "y.dmp"], "{what}");
        let server = Server::start(&dir, &[]);
        let out = upload(shell, "down", &spool, &server.dsn(), &[]).unwrap();
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        assert_eq!(dumps_in(&spool), Vec::<String>::new());
        assert_eq!(server.accepted().len(), 2);
    }
}

/// Stale dumps are dropped, and a spool filled by a crash loop (1,000
/// dumps) is cut to the caps, the newest kept, even while the server is
/// down.
#[test]
fn stale_dumps_and_the_caps() {
    let dir = scratch_dir("upload-caps");
    let spool = dir.join("spool");
    std::fs::create_dir_all(&spool).unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    for i in 0..1000u64 {
        let path = spool.join(format!("crash-{i:04}.dmp"));
        std::fs::write(&path, fake_minidump(64, i as u8)).unwrap();
        // One a second, the newest last; the first ten from last month.
        let age = if i < 10 { 40 * 86400 } else { 1000 - i };
        let t = std::fs::File::options().write(true).open(&path).unwrap();
        t.set_modified(std::time::UNIX_EPOCH + Duration::from_secs(now - age))
            .unwrap();
    }
    let down = Server::start(&dir.join("down"), &[]);
    let dsn = down.dsn();
    drop(down);
    let out = upload(
        Shell::Busybox,
        "caps",
        &spool,
        &dsn,
        &["--attempts", "1", "--max-files", "20", "--deadline", "30"],
    )
    .unwrap_or_else(|| panic!("busybox needed"));
    let left = dumps_in(&spool);
    let want: Vec<String> = (980..1000).map(|i| format!("crash-{i:04}.dmp")).collect();
    assert_eq!(left, want, "{}", stderr(&out));
    assert!(stderr(&out).contains("crash-0000.dmp dropped: older than"));

    // The byte cap: 3 dumps of 1,000 bytes under a 2,500-byte cap.
    let dir = scratch_dir("upload-bytes");
    let spool = spool_with(&dir, &[]);
    for (i, name) in ["old.dmp", "mid.dmp", "new.dmp"].iter().enumerate() {
        std::fs::write(spool.join(name), fake_minidump(992, i as u8)).unwrap();
        std::thread::sleep(Duration::from_millis(1100));
    }
    let out = upload(
        Shell::DashCurl,
        "bytes",
        &spool,
        &dsn,
        &["--attempts", "1", "--max-bytes", "2500"],
    )
    .unwrap();
    assert_eq!(dumps_in(&spool), ["mid.dmp", "new.dmp"], "{}", stderr(&out));
}

/// faultdump-run with an upload target: the command dies of a signal, the
/// dump is sent before the runner ends, and the runner dies of the same
/// signal. A command that exits normally sends nothing.
#[test]
fn runner_uploads_when_its_command_dies() {
    let dir = scratch_dir("upload-runner");
    let server = Server::start(&dir, &[]);
    let spool = spool_with(&dir, &[]);
    let dump = dir.join("dump.dmp");
    std::fs::write(&dump, fake_minidump(700, 3)).unwrap();
    let run = |command: &str| {
        let mut runner = Command::new(script("faultdump-run"));
        runner
            .args(["--upload-timeout", "20"])
            .env("FAULTDUMP_LIB", lib_path());
        run_over_shell(&mut runner, &spool, &server.dsn(), &dump, command)
    };
    // A crash: the program writes a dump into the spool and dies of SIGSEGV.
    let out = run("cp \"$DUMP\" \"$SPOOL/crash.dmp\"; kill -SEGV $$");
    assert_eq!(
        out.status.signal(),
        Some(libc::SIGSEGV),
        "{:?} {}",
        out.status,
        stderr(&out)
    );
    // The copied dump, and the shell's own minidump (the library writes one).
    let sent = server.requests().len();
    assert!(
        server.accepted().contains(&fake_minidump(700, 3)),
        "{}",
        stderr(&out)
    );
    assert_eq!(dumps_in(&spool), Vec::<String>::new());

    // An exit status passes through, and nothing is sent.
    let out = run("cp \"$DUMP\" \"$SPOOL/left.dmp\"; exit 3");
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert_eq!(server.requests().len(), sent);
    assert_eq!(dumps_in(&spool), ["left.dmp"]);

    // Signals reach the command: SIGTERM to the runner ends it.
    let mut child = Command::new(script("faultdump-run"))
        .arg("--minidump")
        .arg(&spool)
        .arg("--upload")
        .arg(server.dsn())
        .args(["--", "sleep", "30"])
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let started = Instant::now();
    // SAFETY: a signal to our own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let status = child.wait().unwrap();
    assert_eq!(status.signal(), Some(libc::SIGTERM), "{status:?}");
    assert!(started.elapsed() < Duration::from_secs(20));
    // Killed by a signal: the runner sent what the spool held.
    assert_eq!(dumps_in(&spool), Vec::<String>::new());
}

/// `faultdump-run --watch`: a sidecar that sends what arrives.
#[test]
fn watch_sidecar() {
    let dir = scratch_dir("upload-watch");
    let server = Server::start(&dir, &[]);
    let spool = spool_with(&dir, &[]);
    let mut sidecar = Command::new(script("faultdump-run"))
        .arg("--watch")
        .env("FAULTHANDLER_MINIDUMP", &spool)
        .env("FAULTHANDLER_UPLOAD", server.dsn())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(500));
    std::fs::write(spool.join("late.dmp.tmp"), fake_minidump(400, 4)).unwrap();
    std::fs::rename(spool.join("late.dmp.tmp"), spool.join("late.dmp")).unwrap();
    let start = Instant::now();
    // Sent, and removed once the server's answer came back.
    while (server.accepted().is_empty() || !dumps_in(&spool).is_empty())
        && start.elapsed() < Duration::from_secs(30)
    {
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = sidecar.kill();
    let _ = sidecar.wait();
    assert_eq!(server.accepted(), [fake_minidump(400, 4)]);
    assert_eq!(dumps_in(&spool), Vec::<String>::new());
}

#[test]
fn help_and_usage_errors() {
    let out = Command::new(script("faultdump-upload"))
        .arg("--help")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert!(stderr(&out).contains("--max-files N"), "{}", stderr(&out));
    let out = Command::new(script("faultdump-upload"))
        .args(["--spool", "/tmp", "--to", "https://nokey.example/1"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("is not a DSN"), "{}", stderr(&out));
}

/// What arrives is a minidump `minidump-stackwalk` reads: a real one from
/// the library where it writes them (FAULTHANDLER_MINIDUMP).
#[test]
fn arrives_as_a_minidump_stackwalk_reads() {
    let stackwalk = dirs_home().join(".cargo/bin/minidump-stackwalk");
    if !stackwalk.exists() {
        println!("SKIPPED: arrives_as_a_minidump_stackwalk_reads: no minidump-stackwalk");
        return;
    }
    let dir = scratch_dir("upload-stackwalk");
    let spool = spool_with(&dir, &[]);
    let program = build_c("abort_message.c", "abort_message", &["-O1", "-g"]);
    let run = Runner::new(program)
        .arg("segv")
        .env("FAULTHANDLER_MINIDUMP", &spool)
        .run();
    run.assert_killed_by(libc::SIGSEGV);
    if dumps_in(&spool).is_empty() {
        println!(
            "SKIPPED: arrives_as_a_minidump_stackwalk_reads: this build writes no minidump \
             (FAULTHANDLER_MINIDUMP is the minidump branch's)"
        );
        return;
    }
    let original = dir.join("original.dmp");
    std::fs::copy(spool.join(&dumps_in(&spool)[0]), &original).unwrap();
    let server = Server::start(&dir, &[]);
    let out = upload(Shell::Busybox, "stackwalk", &spool, &server.dsn(), &[]).unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let requests = server.requests();
    let saved = requests[0]["saved"].as_str().unwrap();
    assert_eq!(
        std::fs::read(saved).unwrap(),
        std::fs::read(&original).unwrap(),
        "the minidump arrived changed"
    );
    let walk = Command::new(&stackwalk)
        .arg("--json")
        .arg(saved)
        .output()
        .unwrap();
    assert!(
        walk.status.success(),
        "{}",
        String::from_utf8_lossy(&walk.stderr)
    );
    let report: Value = serde_json::from_slice(&walk.stdout).unwrap();
    let crash = report["crash_info"]["type"].as_str().unwrap_or_default();
    assert!(crash.starts_with("SIGSEGV"), "{}", report["crash_info"]);
    let frame0 = &report["crashing_thread"]["frames"][0];
    assert_eq!(frame0["module"], "abort_message", "{frame0}");
}

fn dirs_home() -> PathBuf {
    PathBuf::from(std::env::var_os("HOME").unwrap_or_default())
}

/// A crash loop: 1,000 crashes into one spool, four at a time as restarted
/// replicas crash together, leave at most the handler's cap of files
/// (FAULTHANDLER_MINIDUMP_MAX_FILES; the same crash again is only counted
/// past its first few), which one uploader pass then empties.
#[test]
fn crash_loop_then_one_pass() {
    let dir = scratch_dir("upload-crash-loop");
    let spool = spool_with(&dir, &[]);
    let program = build_c("abort_message.c", "abort_message", &["-O1", "-g"]);
    std::thread::scope(|s| {
        for _ in 0..4 {
            s.spawn(|| {
                for _ in 0..250 {
                    let run = Runner::new(&program)
                        .arg("segv")
                        .env("FAULTHANDLER_MINIDUMP", &spool)
                        .env("FAULTHANDLER_MINIDUMP_MAX_FILES", "8")
                        .run();
                    run.assert_killed_by(libc::SIGSEGV);
                }
            });
        }
    });
    let written = dumps_in(&spool);
    assert!(
        !written.is_empty() && written.len() <= 8,
        "{} files: {written:?}",
        written.len()
    );
    let server = Server::start(&dir, &[]);
    let out = upload(Shell::DashCurl, "crash_loop", &spool, &server.dsn(), &[]).unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(dumps_in(&spool), Vec::<String>::new());
    assert_eq!(server.accepted().len(), written.len());
}

/// `install.sh --bin DIR` puts faultdump-run and faultdump-upload beside
/// each other; the installed runner finds the installed library and
/// uploader; `--uninstall` takes all of it away again.
#[test]
fn installed_with_the_library() {
    let dir = scratch_dir("upload-install");
    let image = dir.join("image");
    std::fs::create_dir_all(&image).unwrap();
    let install = |extra: &[&str]| {
        let out = Command::new("bash")
            .arg(script("install.sh"))
            .arg("--root")
            .arg(&image)
            .arg("--library")
            .arg(lib_path())
            .args(extra)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", stderr(&out));
    };
    install(&["--bin", "/usr/local/bin"]);
    let bin = image.join("usr/local/bin");
    let server = Server::start(&dir, &[]);
    let spool = spool_with(&dir, &[]);
    let dump = dir.join("dump.dmp");
    std::fs::write(&dump, fake_minidump(100, 5)).unwrap();
    let out = run_over_shell(
        &mut Command::new(bin.join("faultdump-run")),
        &spool,
        &server.dsn(),
        &dump,
        "cp \"$DUMP\" \"$SPOOL/x.dmp\"; kill -ABRT $$",
    );
    assert_eq!(out.status.signal(), Some(libc::SIGABRT), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("faultdump: pid"),
        "the installed library was preloaded: {}",
        stderr(&out)
    );
    // The copied dump, and the shell's own (the installed library writes
    // one where it writes minidumps).
    let accepted = server.accepted();
    assert!(
        accepted.contains(&fake_minidump(100, 5)),
        "{} accepted",
        accepted.len()
    );
    assert_eq!(dumps_in(&spool), Vec::<String>::new());
    install(&["--uninstall"]);
    assert!(!bin.exists(), "bin left behind");
    assert_eq!(std::fs::read_dir(&image).unwrap().count(), 0);
}

/// The runner as Alpine's entrypoint: `busybox sh`, BusyBox's applets only.
#[test]
fn runner_under_busybox() {
    let Some(mut cmd) = Shell::Busybox.command("runner_under_busybox") else {
        return;
    };
    let dir = scratch_dir("upload-runner-busybox");
    let server = Server::start(&dir, &[]);
    let spool = spool_with(&dir, &[]);
    let dump = dir.join("dump.dmp");
    std::fs::write(&dump, fake_minidump(300, 6)).unwrap();
    cmd.arg(script("faultdump-run"))
        .arg("--library")
        .arg(lib_path());
    let out = run_over_shell(
        &mut cmd,
        &spool,
        &server.dsn(),
        &dump,
        "cp \"$DUMP\" \"$SPOOL/x.dmp\"; kill -BUS $$",
    );
    assert_eq!(out.status.signal(), Some(libc::SIGBUS), "{}", stderr(&out));
    assert!(
        server.accepted().contains(&fake_minidump(300, 6)),
        "{}",
        stderr(&out)
    );
    assert_eq!(dumps_in(&spool), Vec::<String>::new());
}
