//! What binutils says of a file, and the names the C library's debug
//! information gives.

use std::path::Path;
use std::process::Command;

use super::parse::Frame;

/// `readelf ARGS FILE`'s output; readelf must succeed.
pub fn readelf(args: &[&str], file: &Path) -> String {
    let out = Command::new("readelf")
        .args(args)
        .arg(file)
        .output()
        .expect("readelf (binutils)");
    assert!(out.status.success(), "readelf {args:?} {}", file.display());
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The build-id of `file` in hex, if it has one.
pub fn build_id(file: &Path) -> Option<String> {
    readelf(&["-n"], file)
        .lines()
        .find_map(|l| l.trim().strip_prefix("Build ID: ").map(str::to_string))
}

/// The fields of `section`'s line in `readelf -SW`, after `[Nr]`: name,
/// type, address, offset, size, entry size, flags (when it has any), link,
/// info, alignment.
pub fn section_header(file: &Path, section: &str) -> Option<Vec<String>> {
    readelf(&["-SW"], file)
        .lines()
        .find(|l| l.split_whitespace().any(|w| w == section))
        .map(|l| {
            let after = l.split_once(']').unwrap().1;
            after.split_whitespace().map(str::to_string).collect()
        })
}

/// The symbol `name` of `file` as `nm` gives it: (value, size).
pub fn nm_symbol(file: &Path, name: &str) -> (u64, u64) {
    let out = Command::new("nm").arg("-S").arg(file).output().expect("nm");
    let text = String::from_utf8_lossy(&out.stdout);
    text.lines()
        .find_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (f.len() == 4 && f[3] == name).then(|| {
                (
                    u64::from_str_radix(f[0], 16).unwrap(),
                    u64::from_str_radix(f[1], 16).unwrap(),
                )
            })
        })
        .unwrap_or_else(|| panic!("{name} not in nm output of {}", file.display()))
}

/// The module offset of a frame is what `addr2line -e MODULE` takes: inside
/// the function's symbol in the file (for a return address, the call before
/// it is).
pub fn assert_offset_in_symbol(frame: &Frame, file: &Path) {
    let (start, size) = nm_symbol(file, frame.name());
    let lookup = frame.module_offset - u64::from(frame.index > 0);
    assert!(
        (start..start + size).contains(&lookup),
        "{}+0x{:x} is not inside {} [0x{start:x}, +0x{size:x})",
        frame.module,
        frame.module_offset,
        frame.name()
    );
}

/// What a dump, like gdb, calls a C library function: the name its debug
/// information gives when libc6-dbg is installed (scripts/install-test-deps.sh
/// installs it), else the exported symbol.
pub fn libc_function(exported: &'static str) -> &'static str {
    static DEBUG_INFO: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    let debug_info = *DEBUG_INFO.get_or_init(|| {
        let id = build_id(Path::new("/usr/lib/x86_64-linux-gnu/libc.so.6")).unwrap();
        Path::new(&format!(
            "/usr/lib/debug/.build-id/{}/{}.debug",
            &id[..2],
            &id[2..]
        ))
        .exists()
    });
    match exported {
        "abort" if debug_info => "__GI_abort",
        "free" if debug_info => "__GI___libc_free",
        "sigwait" if debug_info => "__GI___sigwait",
        other => other,
    }
}
