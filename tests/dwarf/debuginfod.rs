//! Production crashes named afterwards through a real `debuginfod` server:
//! stripped programs (C, C++, Rust, a stripped shared library) and the C
//! library without its debug file on the machine crash; their dumps go
//! through faultdump-symbolize with `DEBUGINFOD_URLS` pointing at a server
//! (Debian's `debuginfod`, on a loopback port) that indexes the separate
//! debug files, and must then say what the dumps of the same crashes say
//! with the debug files installed. A server that is down, slow or without
//! the files costs its frames with one line each; the cache is the one gdb
//! and elfutils share.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use crate::common::*;
use crate::support::*;

/// A `debuginfod` server indexing one folder, stopped on drop.
struct Server {
    child: Child,
    url: String,
}

impl Server {
    /// Starts the server on a free loopback port and waits until it has
    /// scanned the `files` files of `dir`. `None` (after one SKIPPED line)
    /// where it cannot run here.
    fn start(test: &str, dir: &Path, files: usize, scratch: &Path) -> Option<Server> {
        let Ok(path) = which("debuginfod") else {
            println!("SKIPPED: {test}: no debuginfod (Debian package debuginfod)");
            return None;
        };
        let mut why = String::new();
        // The port is free when read; another process may take it before
        // the server binds it: then another port.
        for attempt in 0..3 {
            let port = free_port();
            let log = scratch.join(format!("debuginfod-{attempt}.log"));
            let child = Command::new(&path)
                .args(["-p", &port.to_string(), "-d"])
                .arg(scratch.join(format!("debuginfod-{attempt}.sqlite")))
                .arg("-F")
                .arg(dir)
                .stdin(Stdio::null())
                .stdout(std::fs::File::create(&log).unwrap())
                .stderr(std::fs::File::create(&log).unwrap())
                .spawn();
            let Ok(child) = child else {
                println!("SKIPPED: {test}: debuginfod does not start");
                return None;
            };
            let mut server = Server {
                child,
                url: format!("http://127.0.0.1:{port}"),
            };
            if server.wait_ready(port, files) {
                return Some(server);
            }
            why = std::fs::read_to_string(&log).unwrap_or_default();
        }
        let last = why.lines().last().unwrap_or("no output");
        println!("SKIPPED: {test}: debuginfod did not come up ({last})");
        None
    }

    /// Until `/metrics` says the first scan (of `files` files) is done; false if
    /// the server exits or takes more than a minute.
    fn wait_ready(&mut self, port: u16, files: usize) -> bool {
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(60) {
            if self.child.try_wait().unwrap().is_some() {
                return false;
            }
            if let Some((200, metrics)) = http_get(port, "/metrics") {
                let value = |key: &str| {
                    metrics.lines().find_map(|l| {
                        l.strip_prefix(key)
                            .and_then(|v| v.trim().parse::<f64>().ok())
                    })
                };
                // One traversal done, its files scanned, none waiting.
                let traversed = value("thread_work_total{role=\"traverse\"}").unwrap_or(0.0);
                let traversing = value("thread_busy{role=\"traverse\"}").unwrap_or(1.0);
                let scanned = value("scanned_files_total{source=\"file\"}").unwrap_or(0.0);
                let pending = value("thread_work_pending{role=\"scan\"}").unwrap_or(0.0);
                if traversed >= 1.0
                    && traversing == 0.0
                    && scanned >= files as f64
                    && pending == 0.0
                {
                    return true;
                }
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        false
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn which(name: &str) -> Result<PathBuf, ()> {
    std::env::var_os("PATH")
        .iter()
        .flat_map(std::env::split_paths)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
        .ok_or(())
}

/// A loopback port nothing listens on (at the time of asking).
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The status and body of `GET path` on the loopback port.
fn http_get(port: u16, path: &str) -> Option<(u32, String)> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(stream, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").ok()?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response).ok()?;
    let text = String::from_utf8_lossy(&response).into_owned();
    let status = text.split_whitespace().nth(1)?.parse().ok()?;
    let body = text.split_once("\r\n\r\n")?.1.to_string();
    Some((status, body))
}

/// Runs `cmd` in a mount namespace of its own where /usr/lib/debug is an
/// empty folder: the C library's debug file (libc6-dbg) is not there, as on
/// a production machine (and on a reader's, for that build of it).
fn without_system_debug_files(cmd: &mut Command) {
    // SAFETY: between fork and exec, only system calls on constant strings.
    unsafe {
        cmd.pre_exec(|| {
            let none = std::ptr::null();
            if libc::unshare(libc::CLONE_NEWNS) != 0
                || libc::mount(
                    none,
                    c"/".as_ptr(),
                    none,
                    libc::MS_REC | libc::MS_PRIVATE,
                    none.cast(),
                ) != 0
                || libc::mount(
                    c"none".as_ptr(),
                    c"/usr/lib/debug".as_ptr(),
                    c"tmpfs".as_ptr(),
                    0,
                    none.cast(),
                ) != 0
            {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

/// Whether this process may hide /usr/lib/debug from its children (root,
/// or user namespaces), and why not.
fn can_hide_system_debug_files() -> Result<(), String> {
    static CAN: OnceLock<Result<(), String>> = OnceLock::new();
    CAN.get_or_init(|| {
        let mut cmd = Command::new("test");
        cmd.args(["!", "-e", "/usr/lib/debug/.build-id"]);
        without_system_debug_files(&mut cmd);
        match cmd.status() {
            Ok(s) if s.success() => Ok(()),
            Ok(_) => Err("/usr/lib/debug still there in a mount namespace".into()),
            Err(e) => Err(format!("no private mount namespace ({e})")),
        }
    })
    .clone()
}

/// faultdump-symbolize on `input` with `DEBUGINFOD_URLS=urls` and the
/// cache in `cache`: its standard output and standard error.
fn symbolize(
    input: &str,
    urls: &str,
    cache: &Path,
    hide: bool,
    env: &[(&str, &str)],
) -> (String, String) {
    let mut cmd = symbolize_command();
    // The servers are on loopback: never through a proxy of the machine.
    cmd.env("DEBUGINFOD_URLS", urls)
        .env("DEBUGINFOD_CACHE_PATH", cache)
        .env("no_proxy", "127.0.0.1")
        .env("NO_PROXY", "127.0.0.1")
        .envs(env.iter().copied());
    if hide {
        without_system_debug_files(&mut cmd);
    }
    symbolize_output(&mut cmd, input)
}

/// The lines faultdump-symbolize said about itself.
fn said(stderr: &str) -> Vec<&str> {
    stderr
        .lines()
        .filter(|l| l.starts_with("faultdump-symbolize: "))
        .collect()
}

/// A program as built (with its debug information: the reference) and as
/// shipped (stripped, in `shipped/`), its debug file served from `served/`.
struct Program {
    built: PathBuf,
    shipped: PathBuf,
    build_id: String,
}

/// Copies the built `files` (a program, its libraries) into `built/` and
/// `shipped/` under `dir`; the shipped ones are stripped, their debug files
/// put in `served/`. The first file is the program.
fn ship(dir: &Path, files: &[(&Path, &str)]) -> Program {
    let mut first = None;
    for (file, name) in files {
        for place in ["built", "shipped"] {
            std::fs::create_dir_all(dir.join(place)).unwrap();
            std::fs::copy(file, dir.join(place).join(name)).unwrap();
        }
        let shipped = dir.join("shipped").join(name);
        let served = dir.join("served");
        std::fs::create_dir_all(&served).unwrap();
        let debug = served.join(format!("{name}.debug"));
        sh("objcopy", &["--only-keep-debug", s(&shipped), s(&debug)]);
        sh("strip", &[s(&shipped)]);
        assert_eq!(section_flags(&shipped, ".symtab"), None);
        first.get_or_insert(Program {
            built: dir.join("built").join(name),
            shipped,
            build_id: build_id(file).unwrap(),
        });
    }
    first.unwrap()
}

/// `split_main` linked to `libsplit.so` beside it (rpath `$ORIGIN`).
fn split_program(dir: &Path) -> (PathBuf, PathBuf) {
    let lib = build_c(
        "libsplit.c",
        "libsplit-full.so",
        &["-O2", "-g", "-shared", "-fPIC"],
    );
    let build = fresh_dir(dir.join("split-build"));
    std::fs::copy(&lib, build.join("libsplit.so")).unwrap();
    let prog = build_split_main(&build, "$ORIGIN");
    (prog, build.join("libsplit.so"))
}

fn production() -> PathBuf {
    build_c("production.c", "production-O2", &["-O2", "-g"])
}

/// The frames of two dumps of the same crash are the same: names with
/// offsets, inlined calls, files, lines, module offsets; modules compared
/// by file name (the built and shipped copies live in different folders).
fn assert_same_frames(ours: &Thread, reference: &Thread, text: &str) {
    let show = |t: &Thread| {
        t.frames
            .iter()
            .map(|f| {
                format!(
                    "#{} {}{}{} at {:?}:{:?} ({}+0x{:x})",
                    f.index,
                    f.function,
                    f.offset.map(|o| format!("+0x{o:x}")).unwrap_or_default(),
                    if f.inlined { " (inlined)" } else { "" },
                    f.file,
                    f.line,
                    Path::new(&f.module).file_name().unwrap().to_string_lossy(),
                    f.module_offset
                )
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(show(ours), show(reference), "symbolized:\n{text}");
}

/// Stripped programs in C, C++ and Rust and a stripped shared library, on
/// a machine without the C library's debug file: their dumps, symbolized
/// through a debuginfod server, say what the same crashes' dumps say with
/// every debug file installed, frame by frame, in text and in JSON; the
/// text dump's last line before the end said how, and is gone once every
/// frame has a name.
#[test]
fn stripped_crashes_named_through_debuginfod() {
    let test = "stripped_crashes_named_through_debuginfod";
    let dir = scratch_dir("debuginfod-names");
    let hide = match can_hide_system_debug_files() {
        Ok(()) => true,
        Err(why) => {
            println!("SKIPPED: {test}: the C library's own frames: {why}");
            false
        }
    };
    let (split_main, libsplit) = split_program(&dir);
    let cpp = build_cpp("templates.cpp", "templates-O2", &["-O2", "-g"]);
    let rust = build_rust("crash.rs", "crash-rs", &["-g", "-C", "opt-level=1"]);
    let programs = [
        ship(&dir.join("c"), &[(&production(), "production")]),
        ship(&dir.join("cpp"), &[(&cpp, "templates")]),
        ship(&dir.join("rust"), &[(&rust, "crash-rs")]),
        ship(
            &dir.join("lib"),
            &[(&split_main, "split_main"), (&libsplit, "libsplit.so")],
        ),
    ];
    // One served folder: every debug file, and the C library's.
    let served = fresh_dir(dir.join("served"));
    let mut files = 0;
    for sub in ["c", "cpp", "rust", "lib"] {
        for entry in std::fs::read_dir(dir.join(sub).join("served")).unwrap() {
            let entry = entry.unwrap();
            std::fs::rename(entry.path(), served.join(entry.file_name())).unwrap();
            files += 1;
        }
    }
    let libc_id = build_id(Path::new("/usr/lib/x86_64-linux-gnu/libc.so.6")).unwrap();
    let libc_debug = format!(
        "/usr/lib/debug/.build-id/{}/{}.debug",
        &libc_id[..2],
        &libc_id[2..]
    );
    if hide {
        std::fs::copy(&libc_debug, served.join("libc.so.6.debug")).unwrap();
        files += 1;
    }
    let Some(server) = Server::start(test, &served, files, &dir) else {
        return;
    };
    let cache = dir.join("cache");

    for (n, program) in programs.iter().enumerate() {
        let mut shipped = Runner::new(&program.shipped);
        if hide {
            without_system_debug_files(shipped.command());
        }
        let shipped = shipped.run();
        shipped.assert_killed_by(libc::SIGSEGV);
        let dump = assert_complete(&shipped);
        let unnamed = dump
            .current()
            .frames
            .iter()
            .filter(|f| f.function == "??")
            .count();
        assert!(unnamed > 0, "{}", shipped.stderr);
        let hint = &dump.lines[dump.lines.len() - 2];
        assert!(
            hint.starts_with(&format!("faultdump: {unnamed} frames have no name ")),
            "{}",
            shipped.stderr
        );
        if hide {
            // The C library's static functions have no name without its
            // debug file.
            assert!(
                dump.current()
                    .frames
                    .iter()
                    .any(|f| f.module.ends_with("libc.so.6") && f.function == "??"),
                "{}",
                shipped.stderr
            );
        }

        let (text, stderr) = symbolize(&shipped.stderr, &server.url, &cache, hide, &[]);
        assert!(said(&stderr).is_empty(), "{stderr}");
        let named = parse_dumps(&text).into_iter().next().expect("a dump");
        assert!(named.complete, "{text}");
        let reference = Runner::new(&program.built).run();
        reference.assert_killed_by(libc::SIGSEGV);
        assert_same_frames(named.current(), reference.dump().current(), &text);
        assert!(!text.contains("frames have no name"), "{text}");
        // Module offsets and build-ids kept.
        assert_eq!(named.modules, dump.modules);
        assert!(
            cache.join(&program.build_id).join("debuginfo").exists(),
            "{}",
            program.build_id
        );

        // The C program's crash as JSON, the same way.
        if n == 0 {
            let mut shipped = Runner::new(&program.shipped).env("FAULTHANDLER_FORMAT", "json");
            if hide {
                without_system_debug_files(shipped.command());
            }
            let shipped = shipped.run();
            let (out, stderr) = symbolize(&shipped.stderr, &server.url, &cache, hide, &[]);
            assert!(said(&stderr).is_empty(), "{stderr}");
            let reference = Runner::new(&program.built)
                .env("FAULTHANDLER_FORMAT", "json")
                .run();
            let frames = |text: &str| -> Vec<String> {
                let line = json_dump_line(text).unwrap_or_else(|| panic!("no JSON in {text}"));
                let doc: serde_json::Value = serde_json::from_str(line).unwrap();
                doc["threads"][0]["frames"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|f| {
                        let module = f["module"].as_str().unwrap_or("");
                        format!(
                            "{} {} {} {} {} {} {} {}",
                            f["index"],
                            f["function"],
                            f["offset"],
                            f["inlined"],
                            f["file"],
                            f["line"],
                            module.rsplit('/').next().unwrap(),
                            f["module_offset"]
                        )
                    })
                    .collect()
            };
            assert_eq!(frames(&out), frames(&reference.stderr), "{out}");
        }
    }
    if hide {
        assert!(cache.join(&libc_id).join("debuginfo").exists());
    }
}

/// The shipped C program's dump, and the folder its debug file is served
/// from.
fn shipped_crash(dir: &Path) -> (Program, String) {
    let program = ship(dir, &[(&production(), "production")]);
    let run = Runner::new(&program.shipped).run();
    run.assert_killed_by(libc::SIGSEGV);
    assert!(
        run.dump()
            .current()
            .frames
            .iter()
            .any(|f| f.function == "??"),
        "{}",
        run.stderr
    );
    (program, run.stderr)
}

/// What was fetched once is in the cache gdb and elfutils share: a second
/// run with the server stopped names the frames the same, without a word;
/// elfutils' own client finds the file there too.
#[test]
fn debuginfod_cache_reused_with_the_server_stopped() {
    let test = "debuginfod_cache_reused_with_the_server_stopped";
    let dir = scratch_dir("debuginfod-cache");
    let (program, dump) = shipped_crash(&dir);
    let Some(server) = Server::start(test, &dir.join("served"), 1, &dir) else {
        return;
    };
    let cache = dir.join("cache");
    let (first, stderr) = symbolize(&dump, &server.url, &cache, false, &[]);
    assert!(said(&stderr).is_empty(), "{stderr}");
    assert!(first.contains(" in compare_records+0x"), "{first}");
    let url = server.url.clone();
    drop(server);
    let (second, stderr) = symbolize(&dump, &url, &cache, false, &[]);
    assert!(said(&stderr).is_empty(), "{stderr}");
    assert_eq!(second, first);
    let cached = cache.join(&program.build_id).join("debuginfo");
    let find = Command::new("debuginfod-find")
        .args(["debuginfo", &program.build_id])
        .env("DEBUGINFOD_URLS", &url)
        .env("DEBUGINFOD_CACHE_PATH", &cache)
        .output();
    match find {
        Ok(out) => assert_eq!(
            String::from_utf8_lossy(&out.stdout).trim(),
            cached.to_str().unwrap(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        ),
        Err(e) => println!("SKIPPED: {test}: elfutils' debuginfod-find: {e}"),
    }
}

/// The frames a server leaves unnamed are the dump's own, unchanged; the
/// one line said about it is returned.
fn frames_left_as_they_were(dump: &str, urls: &str, env: &[(&str, &str)], cache: &Path) -> String {
    let (out, stderr) = symbolize(dump, urls, cache, false, env);
    assert_eq!(out, dump);
    let lines = said(&stderr);
    assert_eq!(lines.len(), 1, "one line:\n{stderr}");
    lines[0].to_string()
}

/// Nothing listens at the server's address: the frames stay as they were,
/// one line says which server did not answer.
#[test]
fn unreachable_debuginfod_server_costs_its_frames_with_one_line() {
    let dir = scratch_dir("debuginfod-down");
    let (_, dump) = shipped_crash(&dir);
    let url = format!("http://127.0.0.1:{}", free_port());
    let line = frames_left_as_they_were(&dump, &url, &[], &dir.join("cache"));
    assert!(
        line.contains(&url) && line.contains("did not answer"),
        "{line}"
    );
}

/// A server that takes the connection and never answers: after
/// `DEBUGINFOD_TIMEOUT` seconds, the same.
#[test]
fn slow_debuginfod_server_costs_its_frames_with_one_line() {
    let dir = scratch_dir("debuginfod-slow");
    let (_, dump) = shipped_crash(&dir);
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let env = [("DEBUGINFOD_TIMEOUT", "1")];
    let line = frames_left_as_they_were(&dump, &url, &env, &dir.join("cache"));
    assert!(line.contains(&url) && line.contains("timed out"), "{line}");
    drop(listener);
}

/// A real server without the files answers 404: the frames stay as they
/// were, one line names the module nobody had; the miss is remembered in
/// the cache as elfutils remembers it (an empty file).
#[test]
fn debuginfod_server_without_the_files_costs_them_with_one_line() {
    let test = "debuginfod_server_without_the_files_costs_them_with_one_line";
    let dir = scratch_dir("debuginfod-404");
    let (program, dump) = shipped_crash(&dir);
    let empty = fresh_dir(dir.join("nothing"));
    let Some(server) = Server::start(test, &empty, 0, &dir) else {
        return;
    };
    let cache = dir.join("cache");
    let line = frames_left_as_they_were(&dump, &server.url, &[], &cache);
    assert!(
        line.contains("no debuginfod server has") && line.contains(&program.build_id),
        "{line}"
    );
    let miss = cache.join(&program.build_id).join("debuginfo");
    assert_eq!(std::fs::metadata(&miss).map(|m| m.len()).ok(), Some(0));
    // Asked again: the remembered miss, the same line.
    assert_eq!(
        frames_left_as_they_were(&dump, &server.url, &[], &cache),
        line
    );
}

/// On our side: a slim image (busybox as its shell, the C library and the
/// loader, the program stripped, faultdump installed for every process by
/// `scripts/install.sh --global`), a crash inside it, the dump read on this
/// machine (where `/srv/app` does not exist and the C library's debug file
/// is not installed) and named through a server holding the image's debug
/// files, as the dump of the same crash with them installed.
#[test]
fn slim_image_crash_named_through_debuginfod() {
    let test = "slim_image_crash_named_through_debuginfod";
    if let Err(why) = can_hide_system_debug_files() {
        println!("SKIPPED: {test}: {why}");
        return;
    }
    let dir = scratch_dir("debuginfod-image");
    let program = ship(&dir, &[(&production(), "app")]);
    let image = dir.join("root");
    for folder in ["bin", "lib/x86_64-linux-gnu", "lib64", "srv"] {
        std::fs::create_dir_all(image.join(folder)).unwrap();
    }
    let busybox = Path::new("/usr/bin/busybox");
    if !busybox.exists() {
        println!("SKIPPED: {test}: no /usr/bin/busybox");
        return;
    }
    std::fs::copy(busybox, image.join("bin/busybox")).unwrap();
    std::os::unix::fs::symlink("busybox", image.join("bin/sh")).unwrap();
    for lib in ["libc.so.6", "libresolv.so.2"] {
        let from = Path::new("/lib/x86_64-linux-gnu").join(lib);
        std::fs::copy(from, image.join("lib/x86_64-linux-gnu").join(lib)).unwrap();
    }
    std::fs::copy(
        "/lib64/ld-linux-x86-64.so.2",
        image.join("lib64/ld-linux-x86-64.so.2"),
    )
    .unwrap();
    std::fs::copy(&program.shipped, image.join("srv/app")).unwrap();
    let install = Command::new(root().join("scripts/install.sh"))
        .args(["--root", s(&image), "--global", "--library", s(&lib_path())])
        .output()
        .unwrap();
    assert!(
        install.status.success(),
        "{}",
        String::from_utf8_lossy(&install.stderr)
    );

    let croot = std::ffi::CString::new(s(&image)).unwrap();
    let mut cmd = Command::new("/bin/sh");
    cmd.args(["-c", "/srv/app"])
        .env_clear()
        .stdin(Stdio::null());
    // SAFETY: between fork and exec, only system calls on strings made
    // before the fork.
    unsafe {
        cmd.pre_exec(move || {
            if libc::chroot(croot.as_ptr()) != 0 || libc::chdir(c"/".as_ptr()) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let out = match cmd.output() {
        Ok(out) => out,
        Err(e) => {
            println!("SKIPPED: {test}: no chroot here ({e})");
            return;
        }
    };
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let dumps = parse_dumps(&stderr);
    assert_eq!(dumps.len(), 1, "{stderr}");
    let dump = &dumps[0];
    assert!(dump.complete && dump.exe == "/srv/app", "{stderr}");
    assert!(
        dump.modules
            .iter()
            .any(|m| m.contains(" /usr/local/lib/libfaultdump.so ")),
        "{stderr}"
    );
    assert!(
        dump.notes.iter().any(|n| n.contains("frames have no name")),
        "{stderr}"
    );

    // The image's debug files: the program's and the C library's.
    let served = dir.join("served");
    let libc_id = build_id(Path::new("/usr/lib/x86_64-linux-gnu/libc.so.6")).unwrap();
    std::fs::copy(
        format!(
            "/usr/lib/debug/.build-id/{}/{}.debug",
            &libc_id[..2],
            &libc_id[2..]
        ),
        served.join("libc.so.6.debug"),
    )
    .unwrap();
    let Some(server) = Server::start(test, &served, 2, &dir) else {
        return;
    };
    let (text, said_lines) = symbolize(&stderr, &server.url, &dir.join("cache"), true, &[]);
    assert!(said(&said_lines).is_empty(), "{said_lines}");
    let named = parse_dumps(&text).into_iter().next().expect("a dump");
    let reference = Runner::new(&program.built).run();
    reference.assert_killed_by(libc::SIGSEGV);
    assert_same_frames(named.current(), reference.dump().current(), &text);
}
