//! The start-up snapshot: what a dump needs to know about the objects
//! loaded at start, which a process in trouble may no longer be able to
//! tell it (a wild write that cut the loader's list, no /proc, open()
//! denied).
//!
//! Taken by the constructor into the start-up area of
//! [`crate::sys::reserve`], then sealed read-only: per object, its load
//! bias, address range, where its program headers are (in its read-only
//! image: the executable ranges and `.eh_frame_hdr` are read from them as
//! they were), its build-id and path; the executable's absolute path and,
//! only where a dump could not remap it (`needs_exe_file`), its file,
//! mapped read-only. [`crate::symbolize::modules`] builds the unwinder's
//! module table from it at dump time.
//!
//! Nothing per symbol is done at start-up; no page of `.eh_frame_hdr` or of
//! the executable's file is touched until a dump.

use alloc::boxed::Box;
use alloc::vec::Vec;
use core::ops::Range;
use core::sync::atomic::{AtomicPtr, Ordering};

use crate::elf as elfparse;
use crate::symbolize::exefile;
use crate::symbolize::modules::{self, ModuleKind};
use crate::sys;

static SNAPSHOT: AtomicPtr<Snapshot> = AtomicPtr::new(core::ptr::null_mut());

/// One object loaded at start.
#[derive(Debug)]
pub struct Record {
    pub kind: ModuleKind,
    pub bias: u64,
    /// The ELF header in memory.
    pub ehdr: u64,
    /// The program headers in memory, and their count: in the image's
    /// first segment, which is read-only, so a dump reads the executable
    /// ranges and the `.eh_frame_hdr` location from them as they were.
    pub phdr: u64,
    pub phnum: u16,
    /// Lowest to highest `PT_LOAD` address.
    pub avma: Range<u64>,
    pub path: &'static [u8],
}

#[derive(Debug)]
pub struct Snapshot {
    /// Sorted by address.
    pub modules: &'static [Record],
    /// The executable's absolute path as resolved at start (`AT_EXECFN`
    /// and the working directory); empty if unknown.
    pub exe_path: &'static [u8],
    /// The executable's file, mapped read-only at start and untouched
    /// until a dump reads its symbol tables (no descriptor stays open);
    /// `None` where a dump can remap it instead (`needs_exe_file`).
    pub exe_file: Option<&'static [u8]>,
}

/// The snapshot taken at start-up; `None` before it (and in unit tests).
pub fn get() -> Option<&'static Snapshot> {
    // SAFETY: null or a leaked, sealed (never written again) value.
    unsafe { SNAPSHOT.load(Ordering::Acquire).as_ref() }
}

/// Publishes the snapshot and makes the snapshot area read-only.
pub fn seal(snapshot: &'static Snapshot) {
    sys::reserve::seal();
    SNAPSHOT.store(core::ptr::from_ref(snapshot).cast_mut(), Ordering::Release);
}

/// Takes the snapshot. Runs in the constructor: the loader's
/// `dl_iterate_phdr` is allowed there, and allocations go to the area.
pub fn take() -> &'static Snapshot {
    // Counted first, so the records are allocated once: grown by doubling,
    // the start-up area's bump allocator would keep every smaller copy (with
    // 200 libraries, 20 KiB more of the area's pages touched).
    let mut count = 0usize;
    // SAFETY: the callback only counts.
    unsafe { libc::dl_iterate_phdr(Some(count_one), (&raw mut count).cast()) };
    let mut modules: Vec<Record> = Vec::with_capacity(count);
    let vdso = modules::auxv(libc::AT_SYSINFO_EHDR);
    let mut state = (&mut modules, vdso);
    // SAFETY: the callback only reads the headers the loader passes it.
    unsafe { libc::dl_iterate_phdr(Some(visit), (&raw mut state).cast()) };
    modules.reverse();
    let exe = modules.iter().find(|m| m.kind == ModuleKind::Executable);
    let exe_file = needs_exe_file(exe).then(map_executable).flatten();
    Box::leak(Box::new(Snapshot {
        modules: modules.leak(),
        exe_path: exe_path().leak(),
        exe_file,
    }))
}

#[unsafe(link_section = ".text.faultdump.startup")]
unsafe extern "C" fn count_one(
    _info: *mut libc::dl_phdr_info,
    _size: libc::size_t,
    data: *mut libc::c_void,
) -> libc::c_int {
    // SAFETY: data is the counter `take` passed.
    unsafe { *data.cast::<usize>() += 1 };
    0
}

type VisitState<'a> = (&'a mut Vec<Record>, u64);

#[unsafe(link_section = ".text.faultdump.startup")]
unsafe extern "C" fn visit(
    info: *mut libc::dl_phdr_info,
    _size: libc::size_t,
    data: *mut libc::c_void,
) -> libc::c_int {
    // SAFETY: the loader passes a valid info; data is the state `take` passed.
    let (info, (modules, vdso)) = unsafe { (&*info, &mut *data.cast::<VisitState>()) };
    if info.dlpi_phdr.is_null() || info.dlpi_phnum == 0 {
        return 0;
    }
    let bias = info.dlpi_addr;
    let phnum = info.dlpi_phnum;
    // SAFETY: the loader's program headers of a loaded object, in its image.
    let raw = unsafe {
        core::slice::from_raw_parts(
            info.dlpi_phdr.cast::<u8>(),
            usize::from(phnum) * elfparse::PHDR_SIZE,
        )
    };
    let phdrs = elfparse::parse_program_headers(raw);
    let (mut low, mut high) = (u64::MAX, 0);
    let mut first_load = None;
    for p in phdrs.filter(|p| p.kind == elfparse::PT_LOAD) {
        let start = bias.wrapping_add(p.vaddr);
        if p.offset == 0 {
            first_load.get_or_insert(start);
        }
        low = low.min(start);
        high = high.max(start.wrapping_add(p.memsz));
    }
    if low >= high {
        return 0;
    }
    let avma = low..high;
    let name = if info.dlpi_name.is_null() {
        &[][..]
    } else {
        // SAFETY: dlpi_name is a NUL-terminated string (maybe empty).
        unsafe { core::ffi::CStr::from_ptr(info.dlpi_name) }.to_bytes()
    };
    let ehdr = first_load.unwrap_or(low);
    let kind = if modules.is_empty() && modules::is_executable_name(name) {
        ModuleKind::Executable
    } else if ehdr == *vdso {
        ModuleKind::Vdso
    } else {
        ModuleKind::Library
    };
    // The vdso's and the executable's names are literals, kept as they are
    // (copying one would read a page of `.rodata` at start); a library's
    // name is copied, as the loader may free it when it is unloaded.
    let path: &'static [u8] = match kind {
        ModuleKind::Vdso => b"[vdso]",
        ModuleKind::Executable => b"",
        _ => name.to_vec().leak(),
    };
    // Kept sorted by address, highest first, as it is filled (`take`
    // reverses it): the loader maps each library below the one before and
    // all above the executable, so each insertion moves one record at most,
    // and no sort routine is called (its code would be one more page of
    // text touched at start).
    let at = modules.partition_point(|m| m.avma.start > avma.start);
    modules.insert(
        at,
        Record {
            kind,
            bias,
            ehdr,
            phdr: info.dlpi_phdr as u64,
            phnum,
            avma,
            path,
        },
    );
    0
}

/// `AT_EXECFN`, made absolute with the working directory if it is relative.
fn exe_path() -> Vec<u8> {
    let execfn = modules::auxv(libc::AT_EXECFN);
    if execfn == 0 {
        return Vec::new();
    }
    // SAFETY: AT_EXECFN points to the NUL-terminated path on the initial stack.
    let name = unsafe { core::ffi::CStr::from_ptr(execfn as *const libc::c_char) }.to_bytes();
    if name.first() == Some(&b'/') {
        return name.to_vec();
    }
    let mut cwd = [0u8; 4096];
    // The length with the NUL; an unreachable directory does not start
    // with '/' (the C library's getcwd fails then).
    let n = crate::sys::raw::getcwd(&mut cwd);
    if n <= 1 || cwd[0] != b'/' {
        return Vec::new();
    }
    join(&cwd[..n as usize - 1], name)
}

/// `dir/name`, without a leading `./` in `name`.
fn join(dir: &[u8], mut name: &[u8]) -> Vec<u8> {
    while let Some(rest) = name.strip_prefix(b"./") {
        name = rest;
    }
    let mut path = Vec::with_capacity(dir.len() + 1 + name.len());
    path.extend_from_slice(dir);
    if !dir.ends_with(b"/") {
        path.push(b'/');
    }
    path.extend_from_slice(name);
    path
}

/// Whether the constructor must map the executable's file: only where a
/// dump could not get it by remapping the executable's own offset-0
/// segment ([`exefile::remappable`]: read-only, no text relocations) with
/// `MREMAP_DONTUNMAP`, which Linux allows on file mappings from 5.13. The
/// mapping it saves (`open`, `fstat`, `mmap`, `close`) is about 12 µs of
/// every process's start-up on the development VM.
fn needs_exe_file(exe: Option<&Record>) -> bool {
    let Some(exe) = exe else {
        return true;
    };
    // SAFETY: the loader's program headers of the executable, in its
    // read-only image, as `visit` read them.
    let raw = unsafe {
        core::slice::from_raw_parts(
            exe.phdr as *const u8,
            usize::from(exe.phnum) * elfparse::PHDR_SIZE,
        )
    };
    // Reads the executable's dynamic section, at the address its
    // PT_DYNAMIC gives (the only reads `remappable` makes): loaded, mapped.
    let read_u64 = |addr: u64| {
        // SAFETY: an address inside the executable's loaded dynamic section.
        Some(unsafe { (addr as *const u64).read_unaligned() })
    };
    let phdrs = elfparse::parse_program_headers(raw);
    exefile::remappable(phdrs, exe.bias, &read_u64).is_none() || !sys::kernel_at_least(5, 13)
}

/// Maps the executable's file read-only (by `AT_EXECFN`, which costs less
/// than `/proc/self/exe`, else the latter), and closes the descriptor at
/// once. A dump checks its build-id against the loaded image before using
/// it (`AT_EXECFN` names the script, not the interpreter, of a `#!` file).
fn map_executable() -> Option<&'static [u8]> {
    let execfn = modules::auxv(libc::AT_EXECFN);
    let fd = (execfn != 0)
        // SAFETY: AT_EXECFN points to a NUL-terminated path.
        .then(|| sys::open_read(unsafe { core::ffi::CStr::from_ptr(execfn as _) }))
        .flatten()
        .or_else(|| sys::open_read(c"/proc/self/exe"))?;
    let map = sys::Mapping::file(&fd)?;
    // SAFETY: the mapping is never unmapped (forgotten below).
    let bytes = unsafe { core::slice::from_raw_parts(map.ptr, map.len) };
    core::mem::forget(map);
    Some(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snapshot_of_this_process() {
        let s = take();
        let exe = s
            .modules
            .iter()
            .find(|m| m.kind == ModuleKind::Executable)
            .expect("executable");
        let here = snapshot_of_this_process as *const () as u64;
        assert!(exe.avma.contains(&here));
        assert!(s.exe_path.starts_with(b"/"));
        assert_eq!(s.exe_file.is_some(), needs_exe_file(Some(exe)));
        assert!(s.exe_file.is_none_or(|f| f.starts_with(b"\x7fELF")));
        let libc_module = s
            .modules
            .iter()
            .find(|m| m.path.ends_with(b"/libc.so.6"))
            .expect("libc");
        assert!(libc_module.phnum > 0);
        assert!(s.modules.iter().any(|m| m.kind == ModuleKind::Vdso));
    }

    #[test]
    fn joins_relative_paths() {
        assert_eq!(join(b"/srv", b"./app"), b"/srv/app");
        assert_eq!(join(b"/", b"app"), b"/app");
        assert_eq!(join(b"/a/b", b"c/d"), b"/a/b/c/d");
    }
}
