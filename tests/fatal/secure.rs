//! A set-uid program (AT_SECURE): no file from the environment (no
//! minidump either), no absolute addresses, no registers, no load addresses.

use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::process::Command;

use crate::common::*;

/// Removes what the set-uid test installed, also when it fails.
struct Installed(Vec<PathBuf>);

impl Drop for Installed {
    fn drop(&mut self) {
        for p in &self.0 {
            let _ = std::fs::remove_file(p).or_else(|_| std::fs::remove_dir_all(p));
        }
    }
}

/// A user other than root to own the set-uid program: `nobody`, or one made
/// with useradd.
fn other_user() -> (String, u32) {
    for name in ["nobody", "faultdump-suid"] {
        let cname = std::ffi::CString::new(name).unwrap();
        // SAFETY: getpwnam returns a pointer into static storage or null;
        // the test reads it at once.
        let pw = unsafe { libc::getpwnam(cname.as_ptr()) };
        if !pw.is_null() {
            // SAFETY: pw is non-null and valid until the next getpw* call.
            return (name.to_string(), unsafe { (*pw).pw_uid });
        }
    }
    let status = Command::new("useradd")
        .args(["--system", "--no-create-home", "faultdump-suid"])
        .status()
        .expect("useradd");
    assert!(status.success(), "useradd faultdump-suid failed");
    other_user()
}

/// A set-uid program owned by another user, run by root with the library
/// from a trusted directory: AT_SECURE. FAULTHANDLER names a file, which
/// must not be created; the dump shows names and module offsets, no
/// absolute addresses, no registers, no load addresses.
#[test]
fn setuid_program_gets_no_file_and_no_addresses() {
    // SAFETY: geteuid cannot fail.
    assert_eq!(
        unsafe { libc::geteuid() },
        0,
        "this test needs root (CI runs as root): it installs a set-uid program and a library \
         in a trusted directory"
    );
    let (user, owner_uid) = other_user();
    let dir = scratch_dir_in_tmp("suid");
    let mut installed = Installed(vec![dir.clone()]);
    let prog = dir.join("faults-suid");
    std::fs::copy(faults_o0(), &prog).unwrap();
    let lib_name = format!("libfaultdump-suidtest-{}.so", std::process::id());
    let trusted = PathBuf::from("/usr/lib/x86_64-linux-gnu").join(&lib_name);
    installed.0.push(trusted.clone());
    std::fs::copy(lib_path(), &trusted).unwrap();
    std::fs::set_permissions(&trusted, std::fs::Permissions::from_mode(0o4755)).unwrap();
    let c_prog = std::ffi::CString::new(prog.to_string_lossy().as_bytes()).unwrap();
    // SAFETY: chown on a path we created.
    assert_eq!(unsafe { libc::chown(c_prog.as_ptr(), owner_uid, 0) }, 0);
    std::fs::set_permissions(&prog, std::fs::Permissions::from_mode(0o4755)).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    let out_dir = dir.join("out");
    std::fs::create_dir(&out_dir).unwrap();
    std::fs::set_permissions(&out_dir, std::fs::Permissions::from_mode(0o777)).unwrap();

    let run = Runner::new(&prog)
        .arg("segv")
        .preload(&lib_name)
        .env("FAULTHANDLER", out_dir.join("crash-%p.log"))
        .env("FAULTHANDLER_MINIDUMP", &out_dir)
        .run();
    run.assert_killed_by(libc::SIGSEGV);
    assert_eq!(
        std::fs::read_dir(&out_dir).unwrap().count(),
        0,
        "no file from the environment in a set-uid process, no minidump"
    );
    let dump = assert_complete(&run);
    assert_eq!(
        dump.event.as_deref(),
        Some("Fatal error: Segmentation fault (SIGSEGV, SEGV_MAPERR)"),
        "running as {user}: no address in the event"
    );
    assert_eq!(
        dump.cause.as_deref(),
        Some("Cause: null pointer dereference")
    );
    let current = dump.current();
    current.assert_chain(&chain_of("do_segv"));
    for f in &current.frames {
        assert_eq!(f.addr, 0, "absolute addresses are zeroed: {f:?}");
        if f.module == prog.to_string_lossy() {
            assert!(f.module_offset > 0 && f.module_offset < 0x10000, "{f:?}");
        }
    }
    assert!(dump.registers.is_empty() && !dump.text().contains("Registers:"));
    assert!(!dump.modules.is_empty());
    assert!(
        dump.modules.iter().all(|m| !m.contains("0x")),
        "no load addresses: {:?}",
        dump.modules
    );
    let absolute = regex::Regex::new(r"0x([0-9a-f]{9,})").unwrap();
    for line in dump.text().lines() {
        for c in absolute.captures_iter(line) {
            assert!(
                c[1].bytes().all(|b| b == b'0'),
                "absolute address in {line:?}"
            );
        }
    }

    // A frame no file backs: its offset would be the address itself.
    let run = Runner::new(&prog)
        .arg("bad-pointer")
        .preload(&lib_name)
        .run();
    run.assert_killed_by(libc::SIGSEGV);
    let dump = assert_complete(&run);
    let f0 = &dump.current().frames[0];
    assert_eq!(
        (f0.addr, f0.module.as_str(), f0.module_offset),
        (0, "[anonymous]", 0)
    );
    assert_eq!(dump.current().names()[1], "do_bad_pointer");
    assert!(!dump.text().contains("dead"), "{}", dump.text());

    drop(installed);
    assert!(!trusted.exists() && !dir.exists(), "cleaned up");
}

/// A directory under /tmp (world-traversable, so the set-uid program's
/// owner can read its own file).
fn scratch_dir_in_tmp(name: &str) -> PathBuf {
    fresh_dir(format!("/tmp/faultdump-{name}-{}", std::process::id()))
}
