//! ELF lookups: program headers, `.eh_frame_hdr`, build-id notes, symbol
//! tables ([`dynamic`]: the loader's own hash tables). Pure functions over
//! byte slices or caller-supplied reads, used in the dump (so they do not
//! allocate beyond the symbol index they build) and at start-up; unit-tested
//! on real files. Imports nothing else of the crate.

pub mod dynamic;

use alloc::vec::Vec;
use object::elf;
use object::read::elf::{ElfFile64, SectionHeader, Sym};
use object::{LittleEndian as LE, Object, ObjectSection};

/// Program header types and flags, as plain numbers (`<elf.h>`).
pub const PT_LOAD: u32 = 1;
pub const PT_DYNAMIC: u32 = 2;
pub const PT_NOTE: u32 = 4;
pub const PT_GNU_EH_FRAME: u32 = 0x6474_e550;
pub const PF_X: u32 = 1;
pub const PF_R: u32 = 4;
const NT_GNU_BUILD_ID: u32 = 3;

/// The part of a program header a dump needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProgramHeader {
    pub kind: u32,
    pub flags: u32,
    pub offset: u64,
    pub vaddr: u64,
    pub filesz: u64,
    pub memsz: u64,
}

pub const PHDR_SIZE: usize = 56;

/// Parses `Elf64_Phdr` entries (little-endian, as on x86_64).
pub fn parse_program_headers(bytes: &[u8]) -> impl Iterator<Item = ProgramHeader> + Clone + '_ {
    bytes.chunks_exact(PHDR_SIZE).map(|p| ProgramHeader {
        kind: u32_at(p, 0),
        flags: u32_at(p, 4),
        offset: u64_at(p, 8),
        vaddr: u64_at(p, 16),
        filesz: u64_at(p, 32),
        memsz: u64_at(p, 40),
    })
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().unwrap_or_default())
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(b[at..at + 8].try_into().unwrap_or_default())
}

/// Where an ELF header says its program headers are: (`e_phoff`, `e_phnum`).
pub fn program_header_location(ehdr: &[u8; 64]) -> Option<(u64, u16)> {
    let is_elf64_le = ehdr[..4] == *b"\x7fELF" && ehdr[4] == 2 && ehdr[5] == 1;
    let phentsize = u16::from_le_bytes([ehdr[54], ehdr[55]]);
    (is_elf64_le && phentsize as usize == PHDR_SIZE)
        .then(|| (u64_at(ehdr, 32), u16::from_le_bytes([ehdr[56], ehdr[57]])))
}

/// How long the file an ELF header and its program headers describe must
/// be: the end of the section header table (last in the files linkers
/// write), and at least the end of every `PT_LOAD`'s file range. `None` if
/// the header is not an ELF64 little-endian one or the sizes overflow.
pub fn file_length(ehdr: &[u8; 64], phdrs: impl Iterator<Item = ProgramHeader>) -> Option<u64> {
    program_header_location(ehdr)?;
    let shoff = u64_at(ehdr, 40);
    let shentsize = u64::from(u16::from_le_bytes([ehdr[58], ehdr[59]]));
    // e_shnum 0 with a table: the count is in section 0 (extended
    // numbering); that first entry at least is covered.
    let shnum = u64::from(u16::from_le_bytes([ehdr[60], ehdr[61]])).max(1);
    let mut end = if shoff == 0 {
        0
    } else {
        shoff.checked_add(shnum.checked_mul(shentsize)?)?
    };
    for p in phdrs.filter(|p| p.kind == PT_LOAD) {
        end = end.max(p.offset.checked_add(p.filesz)?);
    }
    Some(end)
}

/// The address of `.eh_frame` from the `eh_frame_ptr` field of an
/// `.eh_frame_hdr` found at `hdr_addr`.
pub fn eh_frame_address(hdr: &[u8], hdr_addr: u64) -> Option<u64> {
    const DW_EH_PE_OMIT: u8 = 0xff;
    if hdr.len() < 8 || hdr[0] != 1 || hdr[1] == DW_EH_PE_OMIT {
        return None;
    }
    let encoding = hdr[1];
    let field = &hdr[4..];
    let value: i64 = match encoding & 0x0f {
        0x00 | 0x04 | 0x0c => i64::from_le_bytes(field.get(..8)?.try_into().ok()?),
        0x03 => i64::from(u32::from_le_bytes(field[..4].try_into().ok()?)),
        0x0b => i64::from(i32::from_le_bytes(field[..4].try_into().ok()?)),
        _ => return None,
    };
    let base = match encoding & 0x70 {
        0x00 => 0,
        0x10 => hdr_addr + 4, // pcrel: relative to the field itself
        0x30 => hdr_addr,     // datarel: relative to .eh_frame_hdr
        _ => return None,
    };
    Some(base.wrapping_add_signed(value))
}

/// The GNU build-id in a run of ELF notes.
pub fn build_id_in_notes(mut notes: &[u8]) -> Option<&[u8]> {
    while notes.len() >= 12 {
        let namesz = u32_at(notes, 0) as usize;
        let descsz = u32_at(notes, 4) as usize;
        let kind = u32_at(notes, 8);
        let name_end = 12 + namesz.next_multiple_of(4);
        let desc_end = name_end.checked_add(descsz.next_multiple_of(4))?;
        if desc_end > notes.len() {
            return None;
        }
        if kind == NT_GNU_BUILD_ID && namesz == 4 && &notes[12..16] == b"GNU\0" {
            return Some(&notes[name_end..name_end + descsz]);
        }
        notes = &notes[desc_end..];
    }
    None
}

/// The number of symbols a `DT_GNU_HASH` table covers: one past the highest
/// symbol index any bucket chain reaches. `read_u32` reads the table.
pub fn gnu_hash_symbol_count(addr: u64, read_u32: impl Fn(u64) -> Option<u32>) -> Option<u64> {
    let nbuckets = u64::from(read_u32(addr)?);
    let symoffset = u64::from(read_u32(addr + 4)?);
    let bloom_size = u64::from(read_u32(addr + 8)?);
    if nbuckets == 0 || nbuckets > 1 << 24 || bloom_size > 1 << 24 {
        return None;
    }
    let buckets = addr + 16 + bloom_size * 8;
    let mut last = 0;
    for i in 0..nbuckets {
        last = last.max(u64::from(read_u32(buckets + i * 4)?));
    }
    if last < symoffset {
        return Some(symoffset);
    }
    let chains = buckets + nbuckets * 4;
    for _ in 0..1 << 24 {
        let hash = read_u32(chains + (last - symoffset) * 4)?;
        last += 1;
        if hash & 1 != 0 {
            return Some(last);
        }
    }
    None
}

/// Marks a size computed for a symbol that had none, until it is bounded.
const SIZELESS: u64 = 1 << 63;

/// The ranks of local and of versioned symbols (see `SymbolIndex::new`):
/// the ones given up first when not every symbol can be kept.
const LOCAL_RANKS: u8 = 4;

/// One function symbol in a [`SymbolIndex`].
#[derive(Debug, Clone, Copy)]
struct Entry {
    start: u64,
    size: u64,
    name: u32,
    rank: u8,
}

/// Function symbols of one module sorted by address, for lookups by address.
/// Names stay in the string table they came from.
pub struct SymbolIndex<'a> {
    entries: Vec<Entry>,
    strings: &'a [u8],
    kind: TableKind,
    /// Not every function could be kept: no memory for more.
    short: bool,
}

/// Where a symbol table comes from decides how far a name reaches.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum TableKind {
    /// `.symtab`: every function, so a symbol without a size may extend to
    /// the next symbol, as gdb assumes.
    Full,
    /// `.dynsym`: exported names only; a static function lies between them,
    /// so only an address inside a symbol's own size is named.
    Exported,
}

/// A resolved name: the raw (mangled) bytes and the symbol's start address.
pub struct Named<'a> {
    pub name: &'a [u8],
    pub start: u64,
}

impl<'a> SymbolIndex<'a> {
    /// Indexes the function symbols of a table (`syms` with its `strings`).
    /// `section_end` gives the end address of a section by index, used to
    /// bound symbols without a size in a full table.
    pub fn new(
        syms: impl ExactSizeIterator<Item = elf::Sym64<LE>>,
        strings: &'a [u8],
        kind: TableKind,
        section_end: impl Fn(u16) -> Option<u64>,
    ) -> SymbolIndex<'a> {
        // Within half of what the dump's arena can spare (the other
        // modules' tables need some too), allocated fallibly: when memory
        // runs out the index keeps what it has, global functions in place
        // of local ones (fewer names), and the dump goes on.
        let max = crate::sys::arena::ARENA.spare() / 2 / core::mem::size_of::<Entry>();
        let mut entries: Vec<Entry> = Vec::new();
        let mut short = entries
            .try_reserve_exact((syms.len() / 2).min(max))
            .is_err();
        // Where the search for a local function to give up starts.
        let mut evict = 0;
        for sym in syms {
            let t = sym.st_type();
            let shndx = sym.st_shndx(LE);
            let section = shndx.index().unwrap_or(0);
            let value = sym.st_value(LE);
            if !(t == elf::STT_FUNC || t == elf::STT_GNU_IFUNC)
                || shndx == elf::SHN_UNDEF
                || value == 0
            {
                continue;
            }
            let size = sym.st_size(LE);
            if size == 0 && kind == TableKind::Exported {
                continue;
            }
            let rank = match sym.st_bind() {
                elf::STB_GLOBAL => 2,
                elf::STB_WEAK => 1,
                _ => 0,
            };
            let name = sym.st_name(LE);
            let text = strings.get(name as usize..).unwrap_or_default();
            let text = &text[..text.iter().position(|&b| b == 0).unwrap_or(text.len())];
            let leading = text.iter().take_while(|&&b| b == b'_').count().min(3);
            // `memcpy@GLIBC_2.2.5`: an old version of an exported name.
            let versioned = text.contains(&b'@');
            if !short && entries.len() == entries.capacity() {
                let more = entries.len().max(64).min(max.saturating_sub(entries.len()));
                short = more == 0 || entries.try_reserve_exact(more).is_err();
            }
            let slot = if !short {
                entries.len()
            } else if rank == 0 {
                continue;
            } else {
                match entries[evict..].iter().position(|e| e.rank <= LOCAL_RANKS) {
                    Some(i) => evict + i,
                    None => {
                        evict = entries.len();
                        continue;
                    }
                }
            };
            let entry = Entry {
                start: value,
                // Sizeless (hand-written assembly): bounded below.
                size: if size == 0 {
                    section_end(section).map_or(1, |end| end.saturating_sub(value).max(1))
                        | SIZELESS
                } else {
                    size
                },
                name,
                // Among aliases: global before weak before local, then the
                // name with fewer leading underscores (`nanosleep`, not
                // `__nanosleep`), versioned names last.
                rank: if versioned {
                    0
                } else {
                    1 + rank * 4 + (3 - leading as u8)
                },
            };
            if slot == entries.len() {
                entries.push(entry);
            } else {
                entries[slot] = entry;
                evict = slot + 1;
            }
        }
        entries.sort_unstable_by(|a, b| a.start.cmp(&b.start).then(b.rank.cmp(&a.rank)));
        // A symbol without a size reaches at most to the next symbol.
        let (mut group, mut next_greater) = (u64::MAX, u64::MAX);
        for e in entries.iter_mut().rev() {
            if e.start != group {
                (group, next_greater) = (e.start, group);
            }
            if e.size & SIZELESS != 0 {
                e.size = (e.size & !SIZELESS).min(next_greater - e.start).max(1);
            }
        }
        SymbolIndex {
            entries,
            strings,
            kind,
            short,
        }
    }

    /// Some functions were left out for want of memory.
    pub fn is_short(&self) -> bool {
        self.short
    }

    /// From a `.symtab`, which names static functions too.
    pub fn is_full(&self) -> bool {
        self.kind == TableKind::Full
    }

    /// The symbol whose range holds `svma`: the innermost (latest start),
    /// and the best-ranked among aliases.
    pub fn lookup(&self, svma: u64) -> Option<Named<'a>> {
        let end = self.entries.partition_point(|e| e.start <= svma);
        let mut found: Option<&Entry> = None;
        for e in self.entries[..end].iter().rev().take(64) {
            if found.is_some_and(|f| e.start < f.start) {
                break;
            }
            if svma - e.start < e.size && found.is_none_or(|f| e.rank > f.rank) {
                found = Some(e);
            }
        }
        let e = found?;
        let name = self.strings.get(e.name as usize..)?;
        let name = &name[..name.iter().position(|&b| b == 0 || b == b'@')?];
        (!name.is_empty()).then_some(Named {
            name,
            start: e.start,
        })
    }
}

/// An ELF file image (a mapped file, or the vDSO in memory) parsed far
/// enough for symbols and notes.
pub struct ElfImage<'a> {
    file: ElfFile64<'a, LE>,
}

impl<'a> ElfImage<'a> {
    pub fn parse(data: &'a [u8]) -> Option<ElfImage<'a>> {
        ElfFile64::<LE>::parse(data)
            .ok()
            .map(|file| ElfImage { file })
    }

    pub fn build_id(&self) -> Option<&'a [u8]> {
        self.file.build_id().ok().flatten()
    }

    pub fn gnu_debuglink(&self) -> Option<(&'a [u8], u32)> {
        self.file.gnu_debuglink().ok().flatten()
    }

    /// The best symbol table: `.symtab` if present, else `.dynsym`.
    pub fn symbol_index(&self) -> Option<SymbolIndex<'a>> {
        let sections = self.file.elf_section_table();
        let data = self.file.data();
        let (table, kind) = if !self.file.elf_symbol_table().is_empty() {
            (self.file.elf_symbol_table(), TableKind::Full)
        } else if !self.file.elf_dynamic_symbol_table().is_empty() {
            (self.file.elf_dynamic_symbol_table(), TableKind::Exported)
        } else {
            return None;
        };
        let strings = sections
            .section(table.string_section())
            .ok()?
            .data(LE, data)
            .ok()?;
        let section_end = |index: u16| {
            let s = sections
                .section(object::SectionIndex(index as usize))
                .ok()?;
            Some(s.sh_addr(LE) + s.sh_size(LE))
        };
        Some(SymbolIndex::new(
            table.symbols().iter().copied(),
            strings,
            kind,
            section_end,
        ))
    }

    /// A section's bytes as stored, and whether they are compressed
    /// (`SHF_COMPRESSED`: an `Elf64_Chdr` and the compressed stream).
    pub fn stored_section(&self, name: &[u8]) -> Option<(&'a [u8], bool)> {
        let s = self.file.section_by_name_bytes(name)?;
        let flags = s.elf_section_header().sh_flags(LE);
        Some((s.data().ok()?, flags.0 & elf::SHF_COMPRESSED.0 != 0))
    }

    /// `.gnu_debugaltlink` (dwz): the supplementary file's path and build-id.
    pub fn gnu_debugaltlink(&self) -> Option<(&'a [u8], &'a [u8])> {
        self.file.gnu_debugaltlink().ok().flatten()
    }
}

/// Symbols of a loaded image read through its `PT_DYNAMIC` (for an image with
/// no usable file on disk): `syms` and `strings` from DT_SYMTAB / DT_STRTAB.
pub fn exported_symbol_index<'a>(syms: &'a [u8], strings: &'a [u8]) -> SymbolIndex<'a> {
    let syms: &[elf::Sym64<LE>] = object::pod::slice_from_all_bytes(syms).unwrap_or_default();
    SymbolIndex::new(syms.iter().copied(), strings, TableKind::Exported, |_| None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eh_frame_ptr_encodings() {
        // version 1, pcrel|sdata4, then +0x100
        let hdr = [1, 0x1b, 0x03, 0x3b, 0x00, 0x01, 0, 0];
        assert_eq!(eh_frame_address(&hdr, 0x1000), Some(0x1104));
        let hdr = [1, 0x1b, 0x03, 0x3b, 0xfc, 0xff, 0xff, 0xff];
        assert_eq!(eh_frame_address(&hdr, 0x1000), Some(0x1000));
        let hdr = [1, 0x03, 0x03, 0x3b, 0x00, 0x20, 0, 0];
        assert_eq!(eh_frame_address(&hdr, 0x1000), Some(0x2000));
        assert_eq!(eh_frame_address(&[2, 0x1b, 3, 0x3b, 0, 0, 0, 0], 0), None);
        assert_eq!(eh_frame_address(&[1, 0xff, 3, 0x3b, 0, 0, 0, 0], 0), None);
    }

    #[test]
    fn build_id_notes() {
        let mut notes = Vec::new();
        // An ABI tag note first, then the build-id.
        notes.extend_from_slice(&4u32.to_le_bytes());
        notes.extend_from_slice(&16u32.to_le_bytes());
        notes.extend_from_slice(&1u32.to_le_bytes());
        notes.extend_from_slice(b"GNU\0");
        notes.extend_from_slice(&[0; 16]);
        notes.extend_from_slice(&4u32.to_le_bytes());
        notes.extend_from_slice(&3u32.to_le_bytes());
        notes.extend_from_slice(&3u32.to_le_bytes());
        notes.extend_from_slice(b"GNU\0");
        notes.extend_from_slice(&[0xab, 0xcd, 0xef, 0]);
        assert_eq!(build_id_in_notes(&notes), Some(&[0xab, 0xcd, 0xef][..]));
        assert_eq!(build_id_in_notes(&notes[..30]), None);
    }

    fn own_image() -> Vec<u8> {
        std::fs::read("/proc/self/exe").unwrap()
    }

    #[test]
    fn symbols_of_the_test_binary() {
        let data = own_image();
        let image = ElfImage::parse(&data).unwrap();
        let index = image.symbol_index().unwrap();
        // Find this very function's address through its own symbol.
        let marker = symbols_of_the_test_binary as *const () as u64;
        // The test binary is PIE: compare by name instead of address.
        let mut found = false;
        for e in &index.entries {
            let name = &index.strings[e.name as usize..];
            let name = &name[..name.iter().position(|&b| b == 0).unwrap()];
            if name.windows(26).any(|w| w == b"symbols_of_the_test_binary") {
                let named = index.lookup(e.start + e.size / 2).unwrap();
                assert_eq!(named.start, e.start);
                assert!(
                    index
                        .lookup(e.start + e.size)
                        .is_none_or(|n| n.start != e.start)
                );
                found = true;
            }
        }
        assert!(found, "{marker:x}");
        assert!(image.build_id().is_some());
        let phdrs = image.file.elf_program_headers();
        assert!(phdrs.iter().any(|p| p.p_type.get(LE) == elf::PT_LOAD));
    }

    #[test]
    fn dynsym_only_names_inside_sizes() {
        let data = std::fs::read("/usr/lib/x86_64-linux-gnu/libc.so.6").unwrap();
        let image = ElfImage::parse(&data).unwrap();
        let index = image.symbol_index().unwrap();
        let abort = index
            .entries
            .iter()
            .find(|e| index.strings[e.name as usize..].starts_with(b"abort\0"))
            .copied()
            .unwrap();
        assert_eq!(index.lookup(abort.start + 1).unwrap().name, b"abort");
        // Past the end of abort and before the next export: not named abort.
        assert!(
            index
                .lookup(abort.start + abort.size)
                .is_none_or(|n| n.name != b"abort")
        );
    }
}
