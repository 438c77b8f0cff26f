//! Symbol tables read through a fixed buffer, for a file that cannot be
//! mapped (a process out of address space: `RLIMIT_AS` exhausted).
//!
//! The ELF and section headers, the build-id note and the string table are
//! read into the dump's arena (they are small; a string table over
//! [`MAX_STRINGS`] is not read at all); the symbols themselves go through a
//! fixed buffer of [`CHUNK`] bytes, and only the functions are kept, in the
//! [`SymbolIndex`]. Signal-safe: `pread` on a descriptor the caller owns.

use alloc::vec;
use alloc::vec::Vec;
use object::elf::{self, FileHeader64, SectionHeader64, Sym64};
use object::{LittleEndian as LE, pod};

use crate::elf::{SymbolIndex, TableKind, build_id_in_notes};
use crate::sys::Fd;

/// Symbols are read this many bytes at a time (170 symbols).
const CHUNK: usize = 4080;
/// A string table larger than this is not read.
pub const MAX_STRINGS: u64 = 8 << 20;
const MAX_SECTIONS: u16 = 4096;
const MAX_NOTE: u64 = 4096;
const SYM_SIZE: usize = core::mem::size_of::<Sym64<LE>>();

/// A symbol index and the string table it borrows from.
pub struct ReadTable {
    /// Declared first: dropped before the strings it borrows.
    pub index: SymbolIndex<'static>,
    _strings: Vec<u8>,
}

/// The best symbol table of the file open on `fd` (`.symtab`, else
/// `.dynsym`), if its build-id is `build_id` (when both are known).
/// `too_big` is set when the table is there but its names were not read:
/// larger than [`MAX_STRINGS`], or than the dump memory left.
pub fn read_table(fd: &Fd, build_id: Option<&[u8]>, too_big: &mut bool) -> Option<ReadTable> {
    let mut raw = [0u8; 64];
    if !fd.pread_exact(&mut raw, 0) {
        return None;
    }
    let (header, _) = pod::from_bytes::<FileHeader64<LE>>(&raw).ok()?;
    let ident = &header.e_ident;
    if ident.magic != elf::ELFMAG
        || ident.class != elf::ELFCLASS64
        || ident.data != elf::ELFDATA2LSB
        || header.e_shentsize.get(LE) as usize != core::mem::size_of::<SectionHeader64<LE>>()
    {
        return None;
    }
    let count = header.e_shnum.get(LE);
    if count == 0 || count > MAX_SECTIONS {
        return None;
    }
    let mut table = vec![0u8; usize::from(count) * core::mem::size_of::<SectionHeader64<LE>>()];
    if !fd.pread_exact(&mut table, header.e_shoff.get(LE)) {
        return None;
    }
    let sections: &[SectionHeader64<LE>] = pod::slice_from_all_bytes(&table).ok()?;
    if let (Some(loaded), Some(on_disk)) = (build_id, file_build_id(fd, sections))
        && loaded != on_disk.as_slice()
    {
        return None;
    }
    let find = |kind: elf::SectionType| sections.iter().find(|s| s.sh_type.get(LE) == kind);
    let (symtab, kind) = match find(elf::SHT_SYMTAB) {
        Some(s) => (s, TableKind::Full),
        None => (find(elf::SHT_DYNSYM)?, TableKind::Exported),
    };
    let strtab = sections.get(symtab.sh_link.get(LE) as usize)?;
    let strings_len = strtab.sh_size.get(LE);
    // Fallible: without the memory for the names the table is not read
    // (the exported names from memory serve instead), the dump goes on and
    // says so.
    let mut strings = Vec::new();
    if strings_len > MAX_STRINGS
        || strings_len as usize > crate::sys::arena::ARENA.spare()
        || strings.try_reserve_exact(strings_len as usize).is_err()
    {
        *too_big = true;
        return None;
    }
    strings.resize(strings_len as usize, 0);
    if !fd.pread_exact(&mut strings, strtab.sh_offset.get(LE)) {
        return None;
    }
    let symbols = Chunks {
        fd,
        next: symtab.sh_offset.get(LE),
        left: symtab.sh_size.get(LE) as usize / SYM_SIZE,
        buf: [0; CHUNK],
        at: CHUNK,
        filled: 0,
    };
    let section_end = |index: u16| {
        let s = sections.get(usize::from(index))?;
        Some(s.sh_addr.get(LE) + s.sh_size.get(LE))
    };
    // SAFETY: the index borrows the strings' heap buffer, which does not
    // move when the Vec does and is freed only after the index (field order
    // of ReadTable).
    let borrowed: &'static [u8] =
        unsafe { core::slice::from_raw_parts(strings.as_ptr(), strings.len()) };
    let index = SymbolIndex::new(symbols, borrowed, kind, section_end);
    Some(ReadTable {
        index,
        _strings: strings,
    })
}

/// The build-id from the file's note sections.
fn file_build_id(fd: &Fd, sections: &[SectionHeader64<LE>]) -> Option<Vec<u8>> {
    sections
        .iter()
        .filter(|s| s.sh_type.get(LE) == elf::SHT_NOTE && s.sh_size.get(LE) <= MAX_NOTE)
        .find_map(|s| {
            let mut notes = vec![0u8; s.sh_size.get(LE) as usize];
            fd.pread_exact(&mut notes, s.sh_offset.get(LE))
                .then(|| build_id_in_notes(&notes).map(<[u8]>::to_vec))
                .flatten()
        })
}

/// The symbols of a table, read `CHUNK` bytes at a time.
struct Chunks<'f> {
    fd: &'f Fd,
    next: u64,
    left: usize,
    buf: [u8; CHUNK],
    at: usize,
    filled: usize,
}

impl Iterator for Chunks<'_> {
    type Item = Sym64<LE>;

    fn next(&mut self) -> Option<Sym64<LE>> {
        if self.left == 0 {
            return None;
        }
        if self.at >= self.filled {
            let n = (self.left * SYM_SIZE).min(CHUNK);
            if !self.fd.pread_exact(&mut self.buf[..n], self.next) {
                self.left = 0;
                return None;
            }
            self.next += n as u64;
            (self.at, self.filled) = (0, n);
        }
        let (sym, _) = pod::from_bytes::<Sym64<LE>>(&self.buf[self.at..self.filled]).ok()?;
        self.at += SYM_SIZE;
        self.left -= 1;
        Some(*sym)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.left, Some(self.left))
    }
}

impl ExactSizeIterator for Chunks<'_> {}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::elf::ElfImage;

    #[test]
    fn reads_the_same_table_as_a_mapping() {
        let fd = crate::sys::open_read(c"/proc/self/exe").unwrap();
        let read = read_table(&fd, None, &mut false).expect("table");
        let data = std::fs::read("/proc/self/exe").unwrap();
        let image = ElfImage::parse(&data).unwrap();
        let mapped = image.symbol_index().unwrap();
        assert!(read.index.is_full());
        let named = |i: &SymbolIndex, at: u64| i.lookup(at).map(|n| (n.name.to_vec(), n.start));
        let mut seen = 0;
        for at in (0..8u64 << 20).step_by(0x101) {
            let a = named(&read.index, at);
            assert_eq!(a, named(&mapped, at), "at {at:#x}");
            seen += usize::from(a.is_some());
        }
        assert!(seen > 100, "{seen} addresses named");
        assert!(read_table(&fd, Some(b"not the build-id"), &mut false).is_none());
        let libc = crate::sys::open_read(c"/usr/lib/x86_64-linux-gnu/libc.so.6").unwrap();
        assert!(read_table(&libc, None, &mut false).is_some());
    }
}
