//! The loaded modules (executable, shared libraries, vDSO) of a dump.
//!
//! The base is the start-up snapshot ([`crate::symbolize::snapshot`]): the objects
//! loaded at start, recorded in read-only memory of our own, so that a
//! wild write into the loader's list cannot hide libc from a dump. Objects
//! loaded later are read from the loader's own `_r_debug.r_map` list
//! ([`loader_list`]), which takes no lock (unlike `dl_iterate_phdr`),
//! through [`Memory`] reads checked against the memory map (the other
//! threads stopped, none in the middle of `dlopen` or `dlclose` unless it
//! blocks the signal that stops it); each entry is validated before
//! use and one that fails is left out (the dump says how many). Libraries
//! loaded with `dlopen` after start are therefore included, and unloaded
//! ones never are. For each module the program headers give the
//! address ranges, the unwind tables (`.eh_frame_hdr`/`.eh_frame`, borrowed
//! from the loaded image, no copy and no file I/O) and the build-id note.

use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;
use core::ops::Range;

use framehop::{ExplicitModuleSectionInfo, MustNotAllocateDuringUnwind, Unwinder, UnwinderNative};

use crate::elf::dynamic::DynamicTables;
use crate::elf::{self as elfparse, PT_DYNAMIC, ProgramHeader};
use crate::sys;
use crate::sys::memory::Memory;

/// Bounds on what a corrupted loader list can make a dump read.
const MAX_MODULES: usize = 8192;
const MAX_PATH: usize = 4096;
const MAX_PHDRS: u16 = 256;

/// The public head of glibc's `struct link_map` (`<link.h>`).
const LINK_MAP_L_ADDR: u64 = 0;
const LINK_MAP_L_NAME: u64 = 8;
const LINK_MAP_L_LD: u64 = 16;
const LINK_MAP_L_NEXT: u64 = 24;
/// `struct r_debug`: `r_version` at 0, `r_map` at 8; version 2 adds `r_next`
/// (other namespaces, from `dlmopen`) at 40.
const R_DEBUG_R_MAP: u64 = 8;
const R_DEBUG_R_NEXT: u64 = 40;

unsafe extern "C" {
    /// The loader's debugger interface (`<link.h>`), defined by ld.so.
    #[cfg(target_env = "gnu")]
    static _r_debug: u8;
    /// musl has no `_r_debug`: it exports a pointer to its `struct debug`
    /// (also in the executable's `DT_DEBUG`), whose head is laid out as
    /// glibc's `r_debug` version 1 (`r_map` at 8, no `r_next`).
    #[cfg(target_env = "musl")]
    static _dl_debug_addr: u8;
}

/// The address of the loader's `r_debug`, 0 if unknown. Only addresses are
/// taken here; contents are read through [`Memory`].
fn r_debug_address(memory: &Memory) -> u64 {
    #[cfg(target_env = "gnu")]
    {
        let _ = memory;
        core::ptr::addr_of!(_r_debug) as u64
    }
    #[cfg(target_env = "musl")]
    {
        memory
            .read_u64(core::ptr::addr_of!(_dl_debug_addr) as u64)
            .unwrap_or(0)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModuleKind {
    Executable,
    Vdso,
    Library,
    /// libfaultdump itself: its frames never appear in a dump.
    Ourselves,
}

pub struct Module {
    pub kind: ModuleKind,
    /// Load bias: runtime address minus the address in the file.
    pub bias: u64,
    /// Lowest to highest `PT_LOAD` address, at run time.
    pub avma: Range<u64>,
    /// The path to show (`[vdso]` for the vDSO).
    pub path: Vec<u8>,
    /// The address of the ELF header in memory.
    pub ehdr: u64,
    /// Copied out of the image's notes (which a file cut short under the
    /// running program can no longer give).
    pub build_id: Option<Vec<u8>>,
    /// The image has a note segment, but no build-id could be read from
    /// it (the read faulted, or it reads as zeros): shown as such, never
    /// invented.
    pub build_id_unreadable: bool,
    pub phdrs: Vec<ProgramHeader>,
    eh_frame_hdr: Option<(Range<u64>, &'static [u8])>,
    eh_frame: Option<(Range<u64>, &'static [u8])>,
}

impl Module {
    /// The module's dynamic symbol and hash tables, read from its loaded
    /// `PT_DYNAMIC`.
    pub fn dynamic_tables(&self, memory: &Memory) -> Option<DynamicTables> {
        let dynamic = self.phdrs.iter().find(|p| p.kind == PT_DYNAMIC)?;
        DynamicTables::read(
            &|a| memory.read_u64(a),
            self.bias.wrapping_add(dynamic.vaddr),
            dynamic.memsz,
            self.bias,
            &self.avma,
        )
    }

    /// Whether `addr` lies in an executable segment.
    pub fn is_code(&self, addr: u64) -> bool {
        self.phdrs.iter().any(|p| {
            p.kind == elfparse::PT_LOAD
                && p.flags & elfparse::PF_X != 0
                && addr.wrapping_sub(self.bias).wrapping_sub(p.vaddr) < p.memsz
        })
    }

    /// The path to open for this module's file: the executable through
    /// /proc/self/exe (which works even when the file was replaced or
    /// deleted), the others by path. The vDSO has none.
    pub fn file_path(&self) -> Option<&[u8]> {
        match self.kind {
            ModuleKind::Executable => Some(b"/proc/self/exe"),
            ModuleKind::Vdso => None,
            _ => (!self.path.is_empty()).then_some(&self.path[..]),
        }
    }
}

pub struct Modules {
    /// Sorted by start address.
    list: Vec<Module>,
    rejected: usize,
}

/// One entry of the loader's list, as read (not yet validated).
pub struct LinkEntry {
    /// The address of the `link_map`.
    pub link: u64,
    /// The first entry (the executable's).
    pub first: bool,
    /// `l_addr` and `l_ld`.
    pub bias: u64,
    pub ld: u64,
}

/// Whether the first loaded object's name says it is the executable: glibc
/// names it "", musl by the path it was run as.
pub fn is_executable_name(name: &[u8]) -> bool {
    name.is_empty() || cfg!(target_env = "musl")
}

/// Walks the loader's list of loaded objects, read defensively through
/// `memory`: glibc's `_r_debug.r_map` and, from `r_version` 2 (glibc
/// 2.35+), the namespaces `dlmopen` made. The one place the list is found
/// (a port to another libc reads its own here). Takes no lock, unlike
/// `dl_iterate_phdr`.
fn loader_list(memory: &Memory, mut visit: impl FnMut(LinkEntry)) {
    let mut namespace = Some(r_debug_address(memory));
    let mut first = true;
    let mut count = 0;
    while let Some(ns) = namespace.filter(|&a| a != 0) {
        let mut link = memory.read_u64(ns + R_DEBUG_R_MAP).unwrap_or(0);
        while link != 0 && count < MAX_MODULES {
            visit(LinkEntry {
                link,
                first,
                bias: memory.read_u64(link + LINK_MAP_L_ADDR).unwrap_or(0),
                ld: memory.read_u64(link + LINK_MAP_L_LD).unwrap_or(0),
            });
            first = false;
            count += 1;
            link = memory.read_u64(link + LINK_MAP_L_NEXT).unwrap_or(0);
        }
        let version = memory.read_u64(ns).unwrap_or(0) as u32;
        namespace = (version >= 2)
            .then(|| memory.read_u64(ns + R_DEBUG_R_NEXT))
            .flatten();
    }
}

fn overlaps(a: &Range<u64>, b: &Range<u64>) -> bool {
    a.start < b.end && b.start < a.end
}

/// A module of the start-up snapshot. Its program headers are read again
/// from the image, which is read-only (a wild write cannot have changed
/// them), and checked against what the snapshot recorded.
fn from_record(
    memory: &Memory,
    r: &crate::symbolize::snapshot::Record,
    exe_path: &[u8],
) -> Option<Module> {
    let phdrs = read_phdrs(memory, r.phdr, r.phnum)?;
    let (eh_frame_hdr, eh_frame) = unwind_tables(memory, r.bias, &phdrs);
    let (build_id, build_id_unreadable) = build_id(memory, r.bias, &phdrs);
    let path = match r.kind {
        ModuleKind::Executable => exe_path.to_vec(),
        ModuleKind::Library => canonical_path(memory, r.ehdr).unwrap_or_else(|| r.path.to_vec()),
        _ => r.path.to_vec(),
    };
    Some(Module {
        kind: r.kind,
        bias: r.bias,
        avma: r.avma.clone(),
        path,
        ehdr: r.ehdr,
        build_id,
        build_id_unreadable,
        phdrs,
        eh_frame_hdr,
        eh_frame,
    })
}

fn read_phdrs(memory: &Memory, at: u64, phnum: u16) -> Option<Vec<ProgramHeader>> {
    if phnum == 0 || phnum > MAX_PHDRS {
        return None;
    }
    let mut raw = vec![0u8; phnum as usize * elfparse::PHDR_SIZE];
    memory
        .read(at, &mut raw)
        .then(|| elfparse::parse_program_headers(&raw).collect())
}

impl Modules {
    /// The modules of the start-up snapshot (see [`crate::symbolize::snapshot`]), and
    /// those the loader's list adds (loaded later with `dlopen`), each
    /// validated; see the module documentation.
    pub fn discover(memory: &Memory, exe_path: &[u8]) -> Modules {
        let snapshot = crate::symbolize::snapshot::get();
        let mut list: Vec<Module> = snapshot
            .map(|s| s.modules)
            .unwrap_or_default()
            .iter()
            .filter_map(|r| from_record(memory, r, exe_path))
            .collect();
        let from_snapshot = list.len();
        let vdso = auxv(libc::AT_SYSINFO_EHDR);
        let mut rejected = 0;
        loader_list(memory, |entry| {
            if list.len() >= MAX_MODULES {
                return;
            }
            let known = snapshot.is_some()
                && (entry.first
                    || list[..from_snapshot]
                        .iter()
                        .any(|m| m.bias == entry.bias && m.avma.contains(&entry.ld)));
            if known {
                return;
            }
            match read_module(memory, &entry, vdso, exe_path) {
                Some(m) if !list.iter().any(|k| overlaps(&k.avma, &m.avma)) => list.push(m),
                _ => rejected += 1,
            }
        });
        list.sort_by_key(|m| m.avma.start);
        list.dedup_by_key(|m| m.avma.start);
        let ourselves = Modules::discover as *const () as u64;
        for m in &mut list {
            if m.kind == ModuleKind::Library && m.avma.contains(&ourselves) {
                m.kind = ModuleKind::Ourselves;
            }
        }
        Modules { list, rejected }
    }

    /// How many entries of the loader's list failed validation and were
    /// left out.
    pub fn rejected(&self) -> usize {
        self.rejected
    }

    pub fn list(&self) -> &[Module] {
        &self.list
    }

    pub fn find(&self, addr: u64) -> Option<(usize, &Module)> {
        let i = self.list.partition_point(|m| m.avma.start <= addr);
        let m = self.list.get(i.checked_sub(1)?)?;
        m.avma.contains(&addr).then_some((i - 1, m))
    }

    pub fn get(&self, index: usize) -> &Module {
        &self.list[index]
    }

    /// A framehop unwinder over every module's unwind tables.
    pub fn unwinder(&self) -> UnwinderNative<&'static [u8], MustNotAllocateDuringUnwind> {
        let mut unwinder = UnwinderNative::new();
        for m in &self.list {
            let info = ExplicitModuleSectionInfo {
                base_svma: 0,
                eh_frame_hdr_svma: m.eh_frame_hdr.as_ref().map(|(r, _)| r.clone()),
                eh_frame_hdr: m.eh_frame_hdr.as_ref().map(|&(_, d)| d),
                eh_frame_svma: m.eh_frame.as_ref().map(|(r, _)| r.clone()),
                eh_frame: m.eh_frame.as_ref().map(|&(_, d)| d),
                ..Default::default()
            };
            // framehop reads the tables' headers here: a fault leaves the
            // module without unwind tables (its frames are walked by frame
            // pointer).
            let module = sys::recover::guarded(|| {
                framehop::Module::new(String::new(), m.avma.clone(), m.bias, info)
            })
            .unwrap_or_else(|_| {
                let none = ExplicitModuleSectionInfo::<&'static [u8]>::default();
                framehop::Module::new(String::new(), m.avma.clone(), m.bias, none)
            });
            unwinder.add_module(module);
        }
        unwinder
    }
}

/// The address of the data object `name` (`STT_OBJECT`, default version)
/// in a library loaded at start, found through the libraries' dynamic
/// symbol and hash tables as the loader finds it, but with fault-safe
/// reads and no loader call: usable in a dump. The libraries' program
/// headers are read from their read-only images, as the snapshot located
/// them.
pub fn find_object(memory: &Memory, name: &[u8]) -> Option<u64> {
    let snapshot = crate::symbolize::snapshot::get()?;
    snapshot
        .modules
        .iter()
        .filter(|r| r.kind == ModuleKind::Library)
        .find_map(|r| {
            let phdrs = read_phdrs(memory, r.phdr, r.phnum)?;
            let dynamic = phdrs.iter().find(|p| p.kind == PT_DYNAMIC)?;
            let tables = DynamicTables::read(
                &|a| memory.read_u64(a),
                r.bias.wrapping_add(dynamic.vaddr),
                dynamic.memsz,
                r.bias,
                &r.avma,
            )?;
            tables.lookup(name, object::elf::STT_OBJECT, r.bias, &|a, buf| {
                memory.read(a, buf)
            })
        })
}

pub fn auxv(kind: libc::c_ulong) -> u64 {
    // SAFETY: getauxval reads the saved auxiliary vector; no lock, no allocation.
    unsafe { libc::getauxval(kind) }
}

/// One `link_map` entry, validated: an ELF header where it says, program
/// headers that parse, its dynamic section inside its range, executable
/// code in it, and a build-id note that parses if it has one.
fn read_module(
    memory: &Memory,
    entry: &LinkEntry,
    vdso_ehdr: u64,
    exe_path: &[u8],
) -> Option<Module> {
    let (link, is_first, bias) = (entry.link, entry.first, entry.bias);
    let name_ptr = memory.read_u64(link + LINK_MAP_L_NAME)?;
    let name = if name_ptr == 0 {
        Vec::new()
    } else {
        memory.c_string(name_ptr, MAX_PATH)?
    };
    let (kind, ehdr, phdr_addr, phnum) = if is_first && is_executable_name(&name) {
        // The executable: its program headers are in the auxiliary vector.
        let phdr = auxv(libc::AT_PHDR);
        (ModuleKind::Executable, 0, phdr, auxv(libc::AT_PHNUM) as u16)
    } else {
        let ehdr = if bias != 0 && vdso_ehdr == bias {
            vdso_ehdr
        } else {
            find_elf_header(memory, bias, entry.ld)?
        };
        let mut header = [0u8; 64];
        if !memory.read(ehdr, &mut header) {
            return None;
        }
        let (phoff, phnum) = elfparse::program_header_location(&header)?;
        let kind = if ehdr == vdso_ehdr {
            ModuleKind::Vdso
        } else {
            ModuleKind::Library
        };
        (kind, ehdr, ehdr + phoff, phnum)
    };
    let phdrs = read_phdrs(memory, phdr_addr, phnum)?;
    let loads = phdrs.iter().filter(|p| p.kind == elfparse::PT_LOAD);
    let low = loads.clone().map(|p| p.vaddr).min()?;
    let high = loads.map(|p| p.vaddr + p.memsz).max()?;
    let avma = bias.wrapping_add(low)..bias.wrapping_add(high);
    let has_code = phdrs
        .iter()
        .any(|p| p.kind == elfparse::PT_LOAD && p.flags & elfparse::PF_X != 0);
    let notes_readable = phdrs
        .iter()
        .filter(|p| p.kind == elfparse::PT_NOTE)
        .all(|p| memory.readable(bias.wrapping_add(p.vaddr), p.memsz));
    if !has_code || !notes_readable || (kind == ModuleKind::Library && !avma.contains(&entry.ld)) {
        return None;
    }
    let (build_id, build_id_unreadable) = build_id(memory, bias, &phdrs);
    let ehdr = if kind == ModuleKind::Executable {
        bias.wrapping_add(low)
    } else {
        ehdr
    };
    let path = match kind {
        ModuleKind::Executable => exe_path.to_vec(),
        ModuleKind::Vdso => b"[vdso]".to_vec(),
        _ => canonical_path(memory, ehdr).unwrap_or(name),
    };
    let (eh_frame_hdr, eh_frame) = unwind_tables(memory, bias, &phdrs);
    Some(Module {
        kind,
        bias,
        avma,
        path,
        ehdr,
        build_id,
        build_id_unreadable,
        phdrs,
        eh_frame_hdr,
        eh_frame,
    })
}

/// The ELF header of a library: at its load bias for every library linked
/// at address 0 (all of them, in practice), else at the start of the file
/// mapping that holds its dynamic section.
fn find_elf_header(memory: &Memory, bias: u64, ld: u64) -> Option<u64> {
    let is_elf = |addr: u64| {
        let mut magic = [0u8; 4];
        memory.read(addr, &mut magic) && magic == *b"\x7fELF"
    };
    if bias != 0 && is_elf(bias) {
        return Some(bias);
    }
    let maps = memory.maps()?;
    let holder = maps.find(ld)?;
    let start = maps
        .entries()
        .iter()
        .filter(|e| e.inode == holder.inode && e.offset == 0 && e.start <= ld)
        .map(|e| e.start)
        .max()?;
    is_elf(start).then_some(start)
}

/// The path of the file mapped at `ehdr`, as the kernel names it (absolute,
/// symbolic links resolved), which is what `addr2line -e` wants.
fn canonical_path(memory: &Memory, ehdr: u64) -> Option<Vec<u8>> {
    let maps = memory.maps()?;
    let path = maps.path(maps.find(ehdr)?);
    (path.first() == Some(&b'/')).then(|| path.to_vec())
}

type Table = Option<(Range<u64>, &'static [u8])>;

/// `.eh_frame_hdr` from `PT_GNU_EH_FRAME`, and `.eh_frame` from the pointer
/// in it, up to the end of the `PT_LOAD` segment that holds it (its size is
/// in no program header).
/// Read under a recovery point: a fault leaves the module without them.
fn unwind_tables(memory: &Memory, bias: u64, phdrs: &[ProgramHeader]) -> (Table, Table) {
    sys::recover::guarded(|| unwind_tables_unguarded(memory, bias, phdrs)).unwrap_or((None, None))
}

fn unwind_tables_unguarded(memory: &Memory, bias: u64, phdrs: &[ProgramHeader]) -> (Table, Table) {
    let Some(hdr_ph) = phdrs.iter().find(|p| p.kind == elfparse::PT_GNU_EH_FRAME) else {
        return (None, None);
    };
    let hdr_addr = bias.wrapping_add(hdr_ph.vaddr);
    let Some(hdr) = memory.slice(hdr_addr, hdr_ph.memsz) else {
        return (None, None);
    };
    let hdr_table = Some((hdr_ph.vaddr..hdr_ph.vaddr + hdr_ph.memsz, hdr));
    let frame = elfparse::eh_frame_address(hdr, hdr_addr).and_then(|addr| {
        let svma = addr.wrapping_sub(bias);
        let seg = phdrs.iter().find(|p| {
            p.kind == elfparse::PT_LOAD && svma >= p.vaddr && svma < p.vaddr + p.filesz
        })?;
        let len = seg.vaddr + seg.filesz - svma;
        Some((svma..svma + len, memory.slice(addr, len)?))
    });
    (hdr_table, frame)
}

/// The build-id from the image's notes, copied (under a recovery point:
/// the notes' page may be past the end of a file cut short), and whether
/// the image has notes from which none could be read. An id of zeros is a
/// page the file lost (truncated, then extended), not an id.
fn build_id(memory: &Memory, bias: u64, phdrs: &[ProgramHeader]) -> (Option<Vec<u8>>, bool) {
    let mut unreadable = false;
    for p in phdrs.iter().filter(|p| p.kind == elfparse::PT_NOTE) {
        let read = memory
            .slice(bias.wrapping_add(p.vaddr), p.memsz)
            .and_then(|notes| {
                sys::recover::guarded(|| elfparse::build_id_in_notes(notes).map(<[u8]>::to_vec))
                    .ok()
            });
        match read {
            Some(Some(id)) if id.iter().any(|&b| b != 0) => return (Some(id), false),
            Some(None) => {}
            _ => unreadable = true,
        }
    }
    (None, unreadable)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sys::memory::Maps;

    /// A build-id that reads as zeros, or whose notes cannot be read, is
    /// said to be unreadable, never given; notes without one are no
    /// build-id.
    #[test]
    fn build_ids_read_zeroed_or_unreadable() {
        let memory = Memory::new(Maps::read());
        let note = |desc: [u8; 4], kind: u32| {
            let mut n = Vec::new();
            for word in [4u32, 4, kind] {
                n.extend_from_slice(&word.to_le_bytes());
            }
            n.extend_from_slice(b"GNU\0");
            n.extend_from_slice(&desc);
            n
        };
        let phdr = |addr: u64, len: usize| ProgramHeader {
            kind: elfparse::PT_NOTE,
            flags: elfparse::PF_R,
            offset: 0,
            vaddr: addr,
            filesz: len as u64,
            memsz: len as u64,
        };
        let id = |n: &Vec<u8>| build_id(&memory, 0, &[phdr(n.as_ptr() as u64, n.len())]);
        assert_eq!(id(&note([1, 2, 3, 4], 3)), (Some(vec![1, 2, 3, 4]), false));
        assert_eq!(id(&note([0; 4], 3)), (None, true));
        assert_eq!(
            id(&note([1, 2, 3, 4], 1)),
            (None, false),
            "no build-id note"
        );
        assert_eq!(build_id(&memory, 0, &[phdr(8, 20)]), (None, true));
        assert_eq!(build_id(&memory, 0, &[]), (None, false));
    }

    #[test]
    fn discovers_this_process() {
        let memory = Memory::new(Maps::read());
        let modules = Modules::discover(&memory, b"/test/exe");
        let list = modules.list();
        assert!(list.len() >= 3, "exe, libc, ld.so at least");
        let exe = list
            .iter()
            .find(|m| m.kind == ModuleKind::Executable)
            .unwrap();
        assert_eq!(exe.path, b"/test/exe");
        assert!(exe.build_id.is_some());
        let here = discovers_this_process as *const () as u64;
        assert!(modules.find(here).is_some());
        assert!(list.iter().any(|m| m.kind == ModuleKind::Vdso));
        let libc_module = list
            .iter()
            .find(|m| m.path.ends_with(b"/libc.so.6"))
            .expect("libc");
        assert!(libc_module.path.starts_with(b"/"));
        assert!(libc_module.eh_frame.is_some() && libc_module.eh_frame_hdr.is_some());
        let abort = libc::abort as *const () as u64;
        assert!(libc_module.is_code(abort));
        assert!(!libc_module.is_code(libc_module.ehdr));
    }
}
