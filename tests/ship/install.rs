//! scripts/install.sh: into a prefix or globally (/etc/ld.so.preload),
//! idempotent, and an uninstall that restores what was there.

use std::collections::BTreeMap;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::common::*;
use crate::portable::dist_lib;

/// Everything under `dir`: path -> (kind, mode, content, mtime, inode).
type Listing = BTreeMap<PathBuf, (char, u32, Vec<u8>, i64, u64)>;

fn listing(dir: &Path) -> Listing {
    fn walk(base: &Path, dir: &Path, out: &mut Listing) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            let meta = std::fs::symlink_metadata(&path).unwrap();
            let rel = path.strip_prefix(base).unwrap().to_path_buf();
            let mode = meta.permissions().mode() & 0o7777;
            let when = meta.mtime() * 1_000_000_000 + meta.mtime_nsec();
            if meta.is_dir() {
                out.insert(rel, ('d', mode, Vec::new(), when, meta.ino()));
                walk(base, &path, out);
            } else {
                let content = std::fs::read(&path).unwrap();
                out.insert(rel, ('f', mode, content, when, meta.ino()));
            }
        }
    }
    let mut out = Listing::new();
    walk(dir, dir, &mut out);
    out
}

/// The listing without times and inodes: what an uninstall must restore
/// (editing a file or a directory changes its time even when the content
/// ends as it was).
fn shape(listing: &Listing) -> BTreeMap<PathBuf, (char, u32, Vec<u8>)> {
    listing
        .iter()
        .map(|(p, (k, m, c, _, _))| (p.clone(), (*k, *m, c.clone())))
        .collect()
}

fn install(args: &[&str]) -> std::process::Output {
    let out = Command::new(root().join("scripts/install.sh"))
        .args(args)
        .arg("--library")
        .arg(lib_path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "install.sh {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn uninstall(args: &[&str]) {
    let out = Command::new(root().join("scripts/install.sh"))
        .args(args)
        .arg("--uninstall")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "install.sh --uninstall {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn install_into_a_prefix_twice_then_uninstall() {
    let dir = scratch_dir("ship/prefix");
    // Something of the image's own in the prefix, which must stay.
    std::fs::create_dir_all(dir.join("usr/local/lib")).unwrap();
    std::fs::write(dir.join("usr/local/lib/libother.so"), b"other").unwrap();
    let before = listing(&dir);
    let root_arg = dir.to_str().unwrap();

    install(&["--root", root_arg]);
    let installed = dir.join("usr/local/lib/libfaultdump.so");
    assert_eq!(
        std::fs::read(&installed).unwrap(),
        std::fs::read(lib_path()).unwrap()
    );
    let mode = std::fs::metadata(&installed).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o755);
    assert!(!dir.join("etc/ld.so.preload").exists());
    let once = listing(&dir);

    install(&["--root", root_arg]);
    assert_eq!(listing(&dir), once, "a second install changed something");

    // The installed library works from there.
    let prog = faults_o0();
    let run = Runner::new(&prog)
        .arg("segv")
        .preload(&installed.to_string_lossy())
        .run();
    run.assert_killed_by(libc::SIGSEGV);
    assert!(run.dump().complete);

    uninstall(&["--root", root_arg]);
    assert_eq!(shape(&listing(&dir)), shape(&before));
    // Uninstalling again finds nothing to do and changes nothing.
    uninstall(&["--root", root_arg]);
    assert_eq!(shape(&listing(&dir)), shape(&before));
}

#[test]
fn global_install_keeps_other_preload_entries() {
    let dir = scratch_dir("ship/global");
    std::fs::create_dir_all(dir.join("etc")).unwrap();
    let others = "/opt/other/libother.so\n# a comment\n";
    std::fs::write(dir.join("etc/ld.so.preload"), others).unwrap();
    let before = listing(&dir);
    let args = ["--root", dir.to_str().unwrap(), "--prefix", "/opt/fd/lib"];

    install(&[&args[..], &["--global"]].concat());
    assert!(dir.join("opt/fd/lib/libfaultdump.so").is_file());
    assert_eq!(
        std::fs::read_to_string(dir.join("etc/ld.so.preload")).unwrap(),
        format!("{others}/opt/fd/lib/libfaultdump.so\n")
    );
    let once = listing(&dir);
    install(&[&args[..], &["--global"]].concat());
    assert_eq!(listing(&dir), once, "a second install changed something");

    uninstall(&args);
    assert_eq!(shape(&listing(&dir)), shape(&before));
}

#[test]
fn global_install_creates_ld_so_preload_and_uninstall_removes_it() {
    let dir = scratch_dir("ship/fresh-root");
    let before = listing(&dir);
    let args = ["--root", dir.to_str().unwrap()];
    install(&[&args[..], &["--global"]].concat());
    assert_eq!(
        std::fs::read_to_string(dir.join("etc/ld.so.preload")).unwrap(),
        "/usr/local/lib/libfaultdump.so\n"
    );
    let mode = std::fs::metadata(dir.join("etc/ld.so.preload"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o644);
    let once = listing(&dir);
    install(&[&args[..], &["--global"]].concat());
    assert_eq!(listing(&dir), once);
    uninstall(&args);
    assert_eq!(shape(&listing(&dir)), shape(&before));
    assert!(listing(&dir).is_empty());
}

#[test]
fn uninstall_keeps_what_others_added_since() {
    let dir = scratch_dir("ship/added-since");
    let args = ["--root", dir.to_str().unwrap()];
    install(&[&args[..], &["--global"]].concat());
    let preload = dir.join("etc/ld.so.preload");
    let mut text = std::fs::read_to_string(&preload).unwrap();
    text.push_str("/opt/later/liblater.so\n");
    std::fs::write(&preload, text).unwrap();
    std::fs::write(dir.join("usr/local/lib/libmine.so"), b"mine").unwrap();
    uninstall(&args);
    // The file install created stays, since it is not empty, with the line
    // added since; the directory install created stays with its new file.
    assert_eq!(
        std::fs::read_to_string(&preload).unwrap(),
        "/opt/later/liblater.so\n"
    );
    assert!(dir.join("usr/local/lib/libmine.so").exists());
    assert!(!dir.join("usr/local/lib/libfaultdump.so").exists());
    assert!(!dir.join("usr/local/lib/libfaultdump.so.manifest").exists());
}

#[test]
fn install_defaults_to_the_portable_build() {
    // Without --library: dist/libfaultdump.so beside the script, before the
    // development build in target/release/.
    let dist = dist_lib();
    let dir = scratch_dir("ship/default-library");
    let out = Command::new(root().join("scripts/install.sh"))
        .args(["--root", dir.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        std::fs::read(dir.join("usr/local/lib/libfaultdump.so")).unwrap(),
        std::fs::read(dist).unwrap()
    );
}

#[test]
fn install_refuses_to_replace_a_library_it_did_not_install() {
    let dir = scratch_dir("ship/foreign");
    std::fs::create_dir_all(dir.join("usr/local/lib")).unwrap();
    std::fs::write(dir.join("usr/local/lib/libfaultdump.so"), b"someone's").unwrap();
    let out = Command::new(root().join("scripts/install.sh"))
        .args(["--root", dir.to_str().unwrap(), "--library"])
        .arg(lib_path())
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert_eq!(
        std::fs::read(dir.join("usr/local/lib/libfaultdump.so")).unwrap(),
        b"someone's"
    );
}
