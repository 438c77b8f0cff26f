//! The ports: the release libraries for arm64 glibc, x86_64 musl and arm64
//! musl (scripts/build-release.sh), each preloaded into programs built for
//! its own C library; arm64 programs run under qemu-user
//! (`qemu-aarch64 -E LD_PRELOAD=...`, the harness stays native). A subset
//! of the fatal suite per port: a null write through a named chain,
//! `abort()`, a crash in a thread with the other threads shown, a thread's
//! stack overflow, a timeout dump, a program whose return addresses are
//! signed (arm64 pointer authentication); frames compared with gdb's where
//! gdb can (gdb-multiarch through qemu's gdb stub; native gdb for x86_64
//! musl); death by the same signal. The signal-safety spy of
//! tests/safety.rs runs on none of them: it calls glibc's own allocator
//! entry points (not in musl), and under qemu-user the library cannot
//! check a wrapping handler's signal frame (qemu has no process_vm_readv),
//! so it declines the spy's calls.
//!
//! musl's libc.so has no unwind tables (musl builds it without them), so on
//! musl a stack stops at the first libc function, as gdb's does: those
//! tests assert only the frames outside libc.
//!
//! The tools come from scripts/install-port-deps.sh; the Rust targets from
//! rustup. Without a target, its tests print `SKIPPED: <target>: <why>`
//! and pass. The three libraries are built once per run.

mod common;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use common::*;

struct Port {
    /// build-release.sh's name for it.
    name: &'static str,
    rust_target: &'static str,
    /// arm64: run under qemu-aarch64.
    qemu: bool,
    musl: bool,
    /// The C compiler for its programs, and its extra flags. Debian's
    /// musl-gcc specs drop `--eh-frame-hdr`, without which a program's
    /// unwind tables cannot be found from its program headers.
    cc: &'static str,
    cflags: &'static [&'static str],
}

const AARCH64_GLIBC: Port = Port {
    name: "aarch64-glibc",
    rust_target: "aarch64-unknown-linux-gnu",
    qemu: true,
    musl: false,
    cc: "aarch64-linux-gnu-gcc",
    cflags: &[],
};

const X86_64_MUSL: Port = Port {
    name: "x86_64-musl",
    rust_target: "x86_64-unknown-linux-musl",
    qemu: false,
    musl: true,
    cc: "musl-gcc",
    cflags: &["-Wl,--eh-frame-hdr"],
};

const AARCH64_MUSL: Port = Port {
    name: "aarch64-musl",
    rust_target: "aarch64-unknown-linux-musl",
    qemu: true,
    musl: true,
    cc: "aarch64-linux-gnu-gcc",
    cflags: &[
        "-specs=/usr/lib/aarch64-linux-musl/musl-gcc.specs",
        "-Wl,--eh-frame-hdr",
    ],
};

const PORTS: [&Port; 3] = [&AARCH64_GLIBC, &X86_64_MUSL, &AARCH64_MUSL];

/// Each port's library, or why there is none: the tools are installed and
/// the libraries built once per run.
fn libraries() -> &'static HashMap<&'static str, Result<PathBuf, String>> {
    static LIBS: OnceLock<HashMap<&'static str, Result<PathBuf, String>>> = OnceLock::new();
    LIBS.get_or_init(|| {
        let deps = Command::new(root().join("scripts/install-port-deps.sh"))
            .output()
            .expect("scripts/install-port-deps.sh");
        let stderr = String::from_utf8_lossy(&deps.stderr);
        if !deps.status.success() {
            let why = stderr
                .lines()
                .last()
                .unwrap_or("install-port-deps.sh failed");
            return PORTS
                .iter()
                .map(|p| (p.name, Err(why.to_string())))
                .collect();
        }
        let missing = |p: &Port| {
            let prefix = format!("install-port-deps: no Rust target {}: ", p.rust_target);
            stderr
                .lines()
                .find_map(|l| l.strip_prefix(&prefix).map(str::to_string))
        };
        let buildable: Vec<&str> = PORTS
            .iter()
            .filter(|p| missing(p).is_none())
            .map(|p| p.name)
            .collect();
        if !buildable.is_empty() {
            let start = Instant::now();
            build_release(&buildable);
            eprintln!(
                "ports: built {buildable:?} in {:.1} s",
                start.elapsed().as_secs_f64()
            );
        }
        PORTS
            .iter()
            .map(|p| {
                let lib = match missing(p) {
                    Some(why) => Err(why),
                    None => Ok(root().join(format!("dist/libfaultdump-{}.so", p.name))),
                };
                (p.name, lib)
            })
            .collect()
    })
}

/// The port's library, or `None` after printing why its tests are skipped.
fn library(port: &Port) -> Option<&'static Path> {
    match &libraries()[port.name] {
        Ok(lib) => Some(lib),
        Err(why) => {
            eprintln!("SKIPPED: {}: {why}", port.rust_target);
            None
        }
    }
}

/// A test program built for the port's C library.
fn program(port: &Port, source: &str, extra: &[&str]) -> PathBuf {
    let suffix = if extra.is_empty() { "" } else { "-pac" };
    let stem = source.trim_end_matches(".c");
    let mut flags = vec!["-g", "-O1", "-pthread", "-rdynamic"];
    flags.extend_from_slice(port.cflags);
    flags.extend_from_slice(extra);
    build(
        port.cc,
        source,
        &format!("{stem}-{}{suffix}", port.name),
        &flags,
    )
}

/// Runs `prog args` with `preload` (the library, or more) in LD_PRELOAD:
/// under qemu for arm64, which passes the environment on to the program
/// (LD_PRELOAD only through `-E`: the host's loader would try to preload
/// an arm64 library into qemu itself).
fn run(port: &Port, preload: &str, prog: &Path, args: &[&str], env: &[(&str, &str)]) -> Run {
    let mut runner = if port.qemu {
        Runner::new("qemu-aarch64")
            .arg("-E")
            .arg(format!("LD_PRELOAD={preload}"))
            .arg(prog)
            .without_library()
    } else {
        Runner::new(prog).preload(preload)
    };
    runner = runner.args(args).timeout(Duration::from_secs(60));
    for (k, v) in env {
        runner = runner.env(k, v);
    }
    runner.run()
}

/// gdb's backtrace of `prog args` at its fatal signal, function names only
/// (see common::gdb_backtrace_past_main). arm64: qemu's gdb stub on a unix
/// socket, read by gdb-multiarch.
fn gdb_reference(port: &Port, prog: &Path, args: &[&str]) -> Vec<String> {
    if !port.qemu {
        return gdb_backtrace_past_main(prog, args, &[], &[]);
    }
    static SEQ: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = SEQ.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let sock = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("gdbstub-{}-{n}.sock", std::process::id()));
    let _ = std::fs::remove_file(&sock);
    let mut qemu = Command::new("qemu-aarch64")
        .arg("-g")
        .arg(&sock)
        .arg(prog)
        .args(args)
        .env_remove("LD_PRELOAD")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("qemu-aarch64");
    let start = Instant::now();
    while !sock.exists() && start.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(10));
    }
    let out = Command::new("gdb-multiarch")
        .args(["-nx", "-batch", "-ex", "set debuginfod enabled off"])
        .args(["-ex", "set sysroot /", "-ex", "set backtrace past-main on"])
        .arg("-ex")
        .arg(format!("target remote {}", sock.display()))
        .args(["-ex", "continue", "-ex", "bt", "-ex", "kill"])
        .arg(prog)
        .stdin(Stdio::null())
        .output()
        .expect("gdb-multiarch");
    let _ = qemu.kill();
    let _ = qemu.wait();
    let _ = std::fs::remove_file(&sock);
    gdb_bt_names(&String::from_utf8_lossy(&out.stdout))
}

/// The frames of `thread` that lie outside the C library (on musl the
/// walk ends inside it).
fn outside_libc(thread: &Thread) -> Vec<&str> {
    thread
        .frames
        .iter()
        .filter(|f| !f.module.contains("libc.so") && !f.module.contains("ld-musl"))
        .map(|f| f.name())
        .collect()
}

fn null_write_through_a_named_chain(port: &Port) {
    let Some(lib) = library(port) else { return };
    let prog = program(port, "ports.c", &[]);
    let run = run(port, &lib.to_string_lossy(), &prog, &["segv"], &[]);
    run.assert_killed_by(libc::SIGSEGV);
    let dump = run.dump();
    assert!(dump.complete, "{}", run.stderr);
    dump.assert_cause("null pointer dereference");
    let chain = [
        "do_segv",
        "crash_inner",
        "crash_middle",
        "crash_outer",
        "main",
    ];
    let current = dump.current();
    current.assert_chain(&chain);
    assert_eq!(current.names()[0], "do_segv", "{}", run.stderr);
    let gdb = gdb_reference(port, &prog, &["segv"]);
    assert_matches_gdb(current, &gdb, "do_segv", Some("main"));
    // The registers have the architecture's names.
    let regs = dump.registers.join(" ");
    let names: &[&str] = if port.qemu {
        &[
            "x0 ", "x29 ", "x30 ", "sp ", "pc ", "pstate ", "far ", "esr ",
        ]
    } else {
        &["rax ", "rsp ", "rip ", "err "]
    };
    for name in names {
        assert!(regs.contains(name), "no {name:?} in {regs}");
    }
}

fn abort_through_a_named_chain(port: &Port) {
    let Some(lib) = library(port) else { return };
    let prog = program(port, "ports.c", &[]);
    let run = run(port, &lib.to_string_lossy(), &prog, &["abort"], &[]);
    run.assert_killed_by(libc::SIGABRT);
    let dump = run.dump();
    assert!(dump.complete, "{}", run.stderr);
    assert!(
        dump.event.as_deref().unwrap_or("").contains("SIGABRT"),
        "{}",
        run.stderr
    );
    let current = dump.current();
    let chain = [
        "do_abort",
        "crash_inner",
        "crash_middle",
        "crash_outer",
        "main",
    ];
    if port.musl {
        // No unwind tables in musl's libc: the walk, like gdb's, ends in
        // or soon after abort's own frames (arm64's frame records reach a
        // little further). What it shows outside libc is the chain's start.
        assert!(current.names().contains(&"raise"), "{}", run.stderr);
        let outside = outside_libc(current);
        assert!(chain.starts_with(&outside), "{:?}", current.names());
        return;
    }
    current.assert_chain(&chain);
    let gdb = gdb_reference(port, &prog, &["abort"]);
    assert_matches_gdb(current, &gdb, "do_abort", Some("main"));
}

fn crash_in_a_thread_shows_the_others(port: &Port) {
    let Some(lib) = library(port) else { return };
    let prog = program(port, "ports.c", &[]);
    let run = run(port, &lib.to_string_lossy(), &prog, &["thread"], &[]);
    run.assert_killed_by(libc::SIGSEGV);
    let dump = run.dump();
    assert!(dump.complete, "{}", run.stderr);
    let current = dump.current();
    current.assert_chain(&["do_segv", "worker_inner", "worker_outer", "crash_worker"]);
    // main and three idle workers (qemu adds threads of its own, which
    // run no program code).
    let others: Vec<&Thread> = dump.threads.iter().filter(|t| !t.current).collect();
    assert!(others.len() >= 4, "{}", run.stderr);
    if port.musl {
        // Each sleeps in libc, where the walk ends.
        let in_libc = others
            .iter()
            .filter(|t| {
                t.frames
                    .first()
                    .is_some_and(|f| f.module.contains("libc.so") || f.module.contains("ld-musl"))
            })
            .count();
        assert!(in_libc >= 4, "{}", run.stderr);
    } else {
        let idle = others
            .iter()
            .filter(|t| t.names().contains(&"idle_worker"))
            .count();
        assert_eq!(idle, 3, "{}", run.stderr);
        assert!(
            others.iter().any(|t| t.names().contains(&"main")),
            "{}",
            run.stderr
        );
    }
}

fn stack_overflow_in_a_thread(port: &Port) {
    let Some(lib) = library(port) else { return };
    let prog = program(port, "thread_overflow.c", &[]);
    let run = run(port, &lib.to_string_lossy(), &prog, &[], &[]);
    run.assert_killed_by(libc::SIGSEGV);
    let dump = run.dump();
    assert!(dump.complete, "{}", run.stderr);
    dump.assert_cause("stack overflow");
    let names = dump.current().names();
    assert!(
        names.iter().take(8).all(|n| *n == "recurse"),
        "{}",
        run.stderr
    );
    assert!(names.contains(&"overflow_main"), "{}", run.stderr);
}

fn timeout_dump(port: &Port) {
    let Some(lib) = library(port) else { return };
    let prog = program(port, "ports.c", &[]);
    let run = run(
        port,
        &lib.to_string_lossy(),
        &prog,
        &["timeout"],
        &[("FAULTHANDLER_TIMEOUT", "0.5:exit")],
    );
    assert_eq!(run.code(), Some(1), "{}", run.stderr);
    let dump = run.dump();
    assert!(dump.complete, "{}", run.stderr);
    assert!(
        dump.event.as_deref().unwrap_or("").starts_with("Timeout ("),
        "{}",
        run.stderr
    );
    let main = dump
        .threads
        .iter()
        .find(|t| t.tid == dump.pid)
        .unwrap_or_else(|| panic!("no main thread:\n{}", run.stderr));
    main.assert_chain(&["wait_inner", "wait_outer", "main"]);
}

/// The minidump of a crash in a thread (`FAULTHANDLER_MINIDUMP`), read by
/// minidump-stackwalk with the programs' own debug information: the
/// crash and its thread as the text dump says them, the crashing chain
/// found by registers and call-frame information, the build ids.
fn minidump_read_by_stackwalk(port: &Port) {
    let Some(lib) = library(port) else { return };
    let Some(walker) = stackwalk_or_skip(&format!("{}: minidump", port.rust_target)) else {
        return;
    };
    let prog = program(port, "ports.c", &[]);
    let dir = scratch_dir(&format!("ports-minidump-{}", port.name));
    let d = dir.to_string_lossy();
    let run = run(
        port,
        &lib.to_string_lossy(),
        &prog,
        &["thread"],
        &[("FAULTHANDLER_MINIDUMP", &d)],
    );
    run.assert_killed_by(libc::SIGSEGV);
    let dump = run.dump();
    assert!(dump.complete, "{}", run.stderr);
    let files = minidumps(&dir);
    assert_eq!(files.len(), 1, "{}", run.stderr);
    let md = local(&walker, &files[0]);
    assert_eq!(jstr(&md["crash_info"], "type"), "SIGSEGV / SEGV_MAPERR");
    assert_eq!(jstr(&md["crash_info"], "address"), "0x0000000000000000");
    let arch = if port.qemu { "arm64" } else { "amd64" };
    assert_eq!(jstr(&md["system_info"], "cpu_arch"), arch);
    let current = dump.current();
    let crashed = &md["crashing_thread"];
    assert_eq!(crashed["thread_id"].as_i64(), Some(i64::from(current.tid)));
    let own = [base(&prog.to_string_lossy()).to_string()];
    let own: Vec<&str> = own.iter().map(String::as_str).collect();
    let chain = ["do_segv", "worker_inner", "worker_outer", "crash_worker"];
    assert_eq!(json_names(crashed, &own), chain, "{crashed}");
    let frames = crashed["frames"].as_array().unwrap();
    for f in frames.iter().filter(|f| own.contains(&jstr(f, "module"))) {
        assert!(matches!(jstr(f, "trust"), "context" | "cfi"), "{f}");
    }
    // Every thread with a stack in the text dump is in the file.
    let tids: Vec<i64> = md["threads"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|t| t["thread_id"].as_i64())
        .collect();
    for t in dump.threads.iter().filter(|t| !t.frames.is_empty()) {
        assert!(tids.contains(&i64::from(t.tid)), "{} in {tids:?}", t.tid);
    }
    // The ids come from the build id (Debian's musl-gcc links without
    // one: then there is nothing to compare).
    let Some(id) = build_id(&prog) else { return };
    let module = md["modules"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| own.contains(&jstr(m, "filename")))
        .expect("the program's module");
    assert_eq!(jstr(module, "code_id"), id);
    assert_eq!(jstr(module, "debug_id"), debug_id(&id));
}

/// Return addresses signed by `-mbranch-protection=standard` (qemu's
/// default CPU implements pointer authentication) are stripped before
/// lookup.
fn pointer_authentication(port: &Port) {
    let Some(lib) = library(port) else { return };
    let prog = program(port, "ports.c", &["-mbranch-protection=standard"]);
    let run = run(port, &lib.to_string_lossy(), &prog, &["segv"], &[]);
    run.assert_killed_by(libc::SIGSEGV);
    let current = run.dump().current().clone();
    current.assert_chain(&[
        "do_segv",
        "crash_inner",
        "crash_middle",
        "crash_outer",
        "main",
    ]);
    // gdb 13 does not strip the codes: its walk goes wrong after the first
    // signed return address. What it has before that must match.
    let gdb = gdb_reference(port, &prog, &["segv"]);
    let good = gdb.iter().position(|n| n == "??").unwrap_or(gdb.len());
    assert!(good >= 2, "gdb: {gdb:?}");
    assert_matches_gdb(&current, &gdb[..good], "do_segv", Some(&gdb[good - 1]));
}

/// musl: a library preloaded before faultdump, whose constructor therefore
/// runs before faultdump's start-up, ignores SIGPIPE through faultdump's
/// interposed `signal()`. musl's libc.so exports no other name for
/// `sigaction`, so until start-up has found the C library's, the stand-in
/// searches for it then (src/sys/realsig.rs): the disposition takes effect
/// and the program survives its SIGPIPE (before that fix, `signal()`
/// failed with EINVAL and the program died of SIGPIPE).
fn constructor_before_ours_ignores_sigpipe(port: &Port) {
    let Some(lib) = library(port) else { return };
    let mut flags = vec!["-shared", "-fPIC"];
    flags.extend_from_slice(port.cflags);
    let pre = build(
        port.cc,
        "sigpipe_pre.c",
        &format!("libsigpipe-pre-{}.so", port.name),
        &flags,
    );
    let prog = program(port, "sigpipe_raise.c", &[]);
    let preload = format!("{} {}", pre.display(), lib.display());
    let with_pre = run(port, &preload, &prog, &[], &[]);
    assert_eq!(
        with_pre.stdout, "pre: signal() worked\nSIGPIPE ignored\n",
        "{}",
        with_pre.stderr
    );
    assert_eq!(with_pre.code(), Some(0), "{}", with_pre.stderr);
    // The check can fail: without the preloaded constructor the program
    // dies of its SIGPIPE.
    run(port, &lib.to_string_lossy(), &prog, &[], &[]).assert_killed_by(libc::SIGPIPE);
}

macro_rules! port_tests {
    ($module:ident, $port:expr, [$($extra:ident),*]) => {
        mod $module {
            use super::*;
            #[test]
            fn null_write_through_a_named_chain() {
                super::null_write_through_a_named_chain(&$port);
            }
            #[test]
            fn abort_through_a_named_chain() {
                super::abort_through_a_named_chain(&$port);
            }
            #[test]
            fn crash_in_a_thread_shows_the_others() {
                super::crash_in_a_thread_shows_the_others(&$port);
            }
            #[test]
            fn stack_overflow_in_a_thread() {
                super::stack_overflow_in_a_thread(&$port);
            }
            #[test]
            fn timeout_dump() {
                super::timeout_dump(&$port);
            }
            #[test]
            fn minidump_read_by_stackwalk() {
                super::minidump_read_by_stackwalk(&$port);
            }
            $(
                #[test]
                fn $extra() {
                    super::$extra(&$port);
                }
            )*
        }
    };
}

port_tests!(aarch64_glibc, AARCH64_GLIBC, [pointer_authentication]);
port_tests!(
    x86_64_musl,
    X86_64_MUSL,
    [constructor_before_ours_ignores_sigpipe]
);
port_tests!(
    aarch64_musl,
    AARCH64_MUSL,
    [
        pointer_authentication,
        constructor_before_ours_ignores_sigpipe
    ]
);

/// Each port's library needs its C library only (glibc: libc.so.6 and the
/// loader, at most GLIBC_2.17's symbol versions; musl: libc.so, which is its
/// loader), and exports the C API and pthread_create, as the x86_64 glibc
/// one does (tests/ship/portable.rs).
#[test]
fn release_libraries_need_only_their_c_library() {
    for port in PORTS {
        let Some(lib) = library(port) else { continue };
        let allowed: &[&str] = match (port.musl, port.qemu) {
            (true, _) => &["libc.so"],
            (false, true) => &["libc.so.6", "ld-linux-aarch64.so.1"],
            (false, false) => unreachable!("x86_64 glibc is tests/ship/portable.rs's"),
        };
        let outside = needed_beyond(lib, allowed);
        assert!(outside.is_empty(), "{} needs {outside:?}", port.name);
        assert!(
            needed(lib).contains(&allowed[0].to_string()),
            "{}",
            port.name
        );
        let too_new = glibc_versions_too_new(lib, (2, 17));
        assert!(too_new.is_empty(), "{} requires {too_new:?}", port.name);
        let extra = unexpected_exports(lib);
        assert!(extra.is_empty(), "{} exports {extra:?}", port.name);
        assert!(exports(lib).contains(&"pthread_create".to_string()));
    }
}

/// scripts/install.sh, for image-like roots of each port (a `/bin/sh ->
/// /bin/busybox` built for it): picks the port's library, refuses the
/// others with one line, and on musl refuses `--global` (no ld.so.preload)
/// without writing anything.
#[test]
fn install_picks_the_library_that_fits_the_root() {
    let available: Vec<(&Port, &Path)> = PORTS
        .iter()
        .filter_map(|p| library(p).map(|lib| (*p, lib)))
        .collect();
    for (i, &(port, lib)) in available.iter().enumerate() {
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!(
            "ports-root-{}-{}",
            port.name,
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("bin")).unwrap();
        std::fs::copy(program(port, "ports.c", &[]), dir.join("bin/busybox")).unwrap();
        std::os::unix::fs::symlink("/bin/busybox", dir.join("bin/sh")).unwrap();
        let install = |args: &[&str]| {
            Command::new(root().join("scripts/install.sh"))
                .arg("--root")
                .arg(&dir)
                .args(args)
                .output()
                .unwrap()
        };
        let out = install(&[]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(
            std::fs::read(dir.join("usr/local/lib/libfaultdump.so")).unwrap(),
            std::fs::read(lib).unwrap(),
            "{}",
            port.name
        );
        let out = install(&["--global"]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        if port.musl {
            assert!(!out.status.success());
            assert!(stderr.contains("no ld.so.preload"), "{stderr}");
            assert!(!dir.join("etc").exists());
        } else {
            assert!(out.status.success(), "{stderr}");
            assert_eq!(
                std::fs::read_to_string(dir.join("etc/ld.so.preload")).unwrap(),
                "/usr/local/lib/libfaultdump.so\n"
            );
        }
        // Another port's library: refused with one line, nothing changed.
        let (other, other_lib) = available[(i + 1) % available.len()];
        if other.name != port.name {
            let before = std::fs::read(dir.join("usr/local/lib/libfaultdump.so")).unwrap();
            let out = install(&["--library", &other_lib.to_string_lossy()]);
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert!(!out.status.success());
            assert_eq!(stderr.lines().count(), 1, "{stderr}");
            let (arch, libc) = other.name.split_once('-').unwrap();
            assert!(
                stderr.contains(&format!("is for {arch} {libc}, but ")),
                "{stderr}"
            );
            assert_eq!(
                std::fs::read(dir.join("usr/local/lib/libfaultdump.so")).unwrap(),
                before
            );
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
}

/// The arm64 glibc library under Debian 11's arm64 glibc 2.31 (fetched by
/// scripts/fetch-old-glibc.sh arm64; libpthread still a library of its
/// own), preloaded into a program linked for glibc 2.17 by
/// build-release.sh's zig: a crash and a crash in a thread, dumped.
#[test]
fn aarch64_glibc_library_runs_under_glibc_2_31() {
    let Some(lib) = library(&AARCH64_GLIBC) else {
        return;
    };
    let out = Command::new(root().join("scripts/fetch-old-glibc.sh"))
        .arg("arm64")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    if out.status.code() == Some(77) {
        eprintln!("SKIPPED: arm64 glibc 2.31: {stderr}");
        return;
    }
    assert!(out.status.success(), "{stderr}");
    let libdir = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
    let sysroot = libdir.ancestors().nth(2).unwrap();
    // zig (installed by build-release.sh) links against glibc 2.17's
    // symbol versions; it is clang, so `noipa` is ignored and the chain is
    // partly inlined.
    let zig = root().join("target/release-tools/venv/bin/python3");
    let prog = build(
        &zig.to_string_lossy(),
        "ports.c",
        "ports-aarch64-glibc-2.17",
        &[
            "-m",
            "ziglang",
            "cc",
            "-target",
            "aarch64-linux-gnu.2.17",
            "-g",
            "-O1",
            "-pthread",
            "-rdynamic",
            "-Wno-unknown-attributes",
        ],
    );
    for (mode, current) in [("segv", "crash_outer"), ("thread", "crash_worker")] {
        let run = Runner::new("qemu-aarch64")
            .arg("-L")
            .arg(sysroot)
            .arg("-E")
            .arg(format!("LD_PRELOAD={}", lib.display()))
            .arg(&prog)
            .arg(mode)
            .without_library()
            .timeout(Duration::from_secs(60))
            .run();
        run.assert_killed_by(libc::SIGSEGV);
        let dump = run.dump();
        assert!(dump.complete, "{}", run.stderr);
        for module in ["libc-2.31.so", "libpthread-2.31.so"] {
            assert!(
                dump.modules.iter().any(|m| m.contains(module)),
                "{module}: {:?}",
                dump.modules
            );
        }
        assert!(dump.current().names().contains(&current), "{}", run.stderr);
        if mode == "thread" {
            let idle = dump
                .threads
                .iter()
                .filter(|t| t.names().contains(&"idle_worker"))
                .count();
            assert_eq!(idle, 3, "{}", run.stderr);
        }
    }
}
