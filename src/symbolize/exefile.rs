//! The executable's file without `open()` and without /proc, for naming
//! its frames from its `.symtab` (which no loaded segment holds) when the
//! file cannot be opened: /proc absent, `open()` denied (seccomp), or the
//! path replaced by another build since start.
//!
//! The executable's first `PT_LOAD`, the one at file offset 0, is a private
//! mapping of the very file that runs. A dump asks the kernel for a second
//! mapping of it ([`crate::sys::Mapping::remap_file`]: `mremap` with
//! `MREMAP_DONTUNMAP`, Linux 5.13+, then grown over the whole file), which
//! needs no descriptor and no path. Where that cannot work (an older
//! kernel, a segment that is not read-only, text relocations), the
//! constructor maps the file instead ([`crate::symbolize::snapshot`]
//! decides, with [`remappable`]).

use core::ops::Range;

use crate::elf::dynamic::has_text_relocations;
use crate::elf::{self as elfparse, ElfImage, ProgramHeader};
use crate::symbolize::modules::Module;
use crate::sys;
use crate::sys::memory::Memory;

/// The page-aligned range of the executable's offset-0 segment, if a dump
/// may remap it: `MREMAP_DONTUNMAP` leaves that range to refault from the
/// file, so every page of it must hold the file's bytes. Checked here:
/// - the segment is read-only (`p_flags == PF_R`): an executable one may
///   hold a debugger's breakpoints, a writable one the program's data, both
///   in copy-on-write pages that the refault would replace by the file's;
/// - its file and memory sizes agree (otherwise the loader zeroed the end of
///   its last page, a copy-on-write page too);
/// - the executable has no text relocations (`DT_TEXTREL`, `DF_TEXTREL`):
///   the loader would have written relocated pages into read-only segments.
///
/// `read_u64` reads the executable's memory (its dynamic section).
pub fn remappable(
    phdrs: impl Iterator<Item = ProgramHeader> + Clone,
    bias: u64,
    read_u64: &impl Fn(u64) -> Option<u64>,
) -> Option<Range<u64>> {
    let mut loads = phdrs.clone().filter(|p| p.kind == elfparse::PT_LOAD);
    let first = loads.find(|p| p.offset == 0)?;
    if first.flags != elfparse::PF_R || first.filesz != first.memsz {
        return None;
    }
    if let Some(d) = phdrs.clone().find(|p| p.kind == elfparse::PT_DYNAMIC)
        && has_text_relocations(read_u64, bias.wrapping_add(d.vaddr), d.memsz) != Some(false)
    {
        return None;
    }
    // File offset 0 is page-aligned in memory too (p_vaddr ≡ p_offset
    // modulo the alignment): the start is the ELF header.
    let page = sys::page_size() as u64;
    let start = bias.checked_add(first.vaddr)?;
    let end = start
        .checked_add(first.filesz)?
        .checked_next_multiple_of(page)?;
    (start.is_multiple_of(page) && start < end).then_some(start..end)
}

/// The executable's file, mapped by remapping its own offset-0 segment (see
/// the module documentation), if [`remappable`] allows it and the kernel
/// does, and its build-id is the loaded image's. The caller unmaps it (the
/// returned mapping's drop) when its dump ends: each dump remaps anew. The
/// old range stays mapped and reads the same, but the kernel clears an
/// `mlock` on it (its pages moved to the new mapping): a program that
/// locked its memory may take a page fault there after a dump.
pub fn remap(module: &Module, memory: &Memory) -> Option<sys::Mapping> {
    let phdrs = module.phdrs.iter().copied();
    let range = remappable(phdrs.clone(), module.bias, &|a| memory.read_u64(a))?;
    let mut ehdr = [0u8; 64];
    if !memory.read(range.start, &mut ehdr) {
        return None;
    }
    // The file's length as its own header says (section headers last); the
    // remap cuts it back to the file's real end, a file cut short after its
    // loaded segments.
    let file_len =
        elfparse::file_length(&ehdr, phdrs)?.checked_next_multiple_of(sys::page_size() as u64)?;
    let len = range.end - range.start;
    // SAFETY: `remappable` checked that every page of the range holds the
    // file's bytes (read-only segment, no zeroed tail, no text
    // relocations), so the program reads the same bytes after the refault.
    let mapping = unsafe {
        sys::Mapping::remap_file(
            usize::try_from(range.start).ok()?,
            usize::try_from(len).ok()?,
            usize::try_from(file_len.max(len)).ok()?,
        )
    }?;
    let build_id = ElfImage::parse(mapping.bytes())?.build_id();
    (build_id == module.build_id.as_deref()).then_some(mapping)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::symbolize::modules;

    fn load(offset: u64, flags: u32, filesz: u64, memsz: u64) -> ProgramHeader {
        ProgramHeader {
            kind: elfparse::PT_LOAD,
            flags,
            offset,
            vaddr: offset,
            filesz,
            memsz,
        }
    }

    #[test]
    fn only_a_clean_read_only_header_segment() {
        let none = |_| None;
        let text = load(0x1000, elfparse::PF_R | elfparse::PF_X, 0x500, 0x500);
        let ok = [load(0, elfparse::PF_R, 0x628, 0x628), text];
        assert_eq!(
            remappable(ok.iter().copied(), 0x5000_0000, &none),
            Some(0x5000_0000..0x5000_1000)
        );
        let rx = [load(0, elfparse::PF_R | elfparse::PF_X, 0x628, 0x628)];
        assert_eq!(remappable(rx.iter().copied(), 0, &none), None);
        let zeroed = [load(0, elfparse::PF_R, 0x628, 0x700)];
        assert_eq!(remappable(zeroed.iter().copied(), 0, &none), None);
        assert_eq!(remappable([text].iter().copied(), 0, &none), None);
    }

    #[test]
    fn text_relocations_forbid_it() {
        let dynamic = ProgramHeader {
            kind: elfparse::PT_DYNAMIC,
            flags: elfparse::PF_R,
            offset: 0x2000,
            vaddr: 0x2000,
            filesz: 48,
            memsz: 48,
        };
        let phdrs = [load(0, elfparse::PF_R, 0x628, 0x628), dynamic];
        // (tag, value) pairs at 0x2000: DT_FLAGS, then DT_NULL.
        let table = |flags: u64| {
            move |a: u64| match a - 0x2000 {
                0 => Some(30),
                8 => Some(flags),
                _ => Some(0),
            }
        };
        let plain = table(0x8); // DF_BIND_NOW
        assert!(remappable(phdrs.iter().copied(), 0, &plain).is_some());
        let textrel = table(0x4 | 0x8); // DF_TEXTREL
        assert!(remappable(phdrs.iter().copied(), 0, &textrel).is_none());
        let unreadable = |_| None;
        assert!(remappable(phdrs.iter().copied(), 0, &unreadable).is_none());
    }

    #[test]
    fn remaps_this_test_executable() {
        let memory = Memory::new(sys::memory::Maps::read());
        let modules = modules::Modules::discover(&memory, b"/proc/self/exe");
        let exe = modules
            .list()
            .iter()
            .find(|m| m.kind == modules::ModuleKind::Executable)
            .expect("executable");
        let Some(range) = remappable(exe.phdrs.iter().copied(), exe.bias, &|a| memory.read_u64(a))
        else {
            return; // linked with an executable offset-0 segment
        };
        if !sys::kernel_at_least(5, 13) {
            return;
        }
        let before = memory.slice(range.start, 64).expect("header").to_vec();
        let file = remap(exe, &memory).expect("remapped");
        let on_disk = std::fs::read("/proc/self/exe").unwrap();
        assert!(file.bytes().len() >= on_disk.len());
        assert_eq!(&file.bytes()[..on_disk.len()], &on_disk[..]);
        assert!(
            ElfImage::parse(file.bytes())
                .and_then(|i| i.symbol_index())
                .is_some()
        );
        // The old range is still mapped and reads the same.
        assert_eq!(memory.slice(range.start, 64).expect("header"), &before[..]);
    }
}
