//! Where a module's DWARF is read from: its separate debug file (found by
//! build-id or `.gnu_debuglink`, see [`crate::symbolize::debugfile`]) when that has
//! `.debug_info`, else the module's own file; both are the files the
//! [`Symbolizer`] mapped and verified (a file whose build-id differs from the
//! loaded image's is never used). A `dwz` supplementary file named by
//! `.gnu_debugaltlink` is found by its build-id (or its absolute path) and
//! checked the same way. Nothing is read before a frame of the module needs
//! it; compressed sections are inflated lazily (see [`Section`]).

use alloc::boxed::Box;
use alloc::vec::Vec;
use core::cell::OnceCell;
use core::convert::Infallible;

use gimli::SectionId;

use super::budget::Budget;
use super::reader::Reader;
use super::section::Section;
use crate::elf::ElfImage;
use crate::symbolize::debugfile;
use crate::symbolize::modules::Modules;
use crate::symbolize::symbols::{Symbolizer, open_verified};
use crate::sys;
use crate::sys::memory::Memory;

/// The sections the reader uses, in the order of [`Sections::sections`].
const USED: [SectionId; 10] = [
    SectionId::DebugAbbrev,
    SectionId::DebugAddr,
    SectionId::DebugAranges,
    SectionId::DebugInfo,
    SectionId::DebugLine,
    SectionId::DebugLineStr,
    SectionId::DebugStr,
    SectionId::DebugStrOffsets,
    SectionId::DebugRanges,
    SectionId::DebugRngLists,
];

/// The DWARF sections of one ELF file.
pub struct Sections<'s> {
    sections: [Section<'s>; USED.len()],
    empty: Section<'s>,
}

impl<'s> Sections<'s> {
    /// `None` when the file has no `.debug_info`.
    fn load(elf: &ElfImage<'s>, deadline_ns: u64) -> Option<Sections<'s>> {
        let sections = USED.map(|id| section(elf, id, deadline_ns));
        let info = USED.iter().position(|&id| id == SectionId::DebugInfo)?;
        (sections[info].len() > 0).then_some(Sections {
            sections,
            empty: Section::empty(),
        })
    }

    fn reader(&'s self, id: SectionId) -> Reader<'s> {
        match USED.iter().position(|&u| u == id) {
            Some(i) => Reader::new(&self.sections[i]),
            None => Reader::new(&self.empty),
        }
    }

    fn dwarf(&'s self) -> gimli::Dwarf<Reader<'s>> {
        let Ok(dwarf) = gimli::Dwarf::load(|id| Ok::<_, Infallible>(self.reader(id)));
        dwarf
    }
}

/// A section by name: plain, `SHF_COMPRESSED`, or the older `.zdebug_*`.
fn section<'s>(elf: &ElfImage<'s>, id: SectionId, deadline_ns: u64) -> Section<'s> {
    let name = id.name().as_bytes();
    let found = match elf.stored_section(name) {
        Some((bytes, false)) => Some(Section::plain(bytes)),
        Some((bytes, true)) => Section::compressed(bytes, deadline_ns),
        None => {
            let mut zname = [0u8; 32];
            zdebug_name(name, &mut zname)
                .and_then(|z| elf.stored_section(z))
                .and_then(|(bytes, _)| Section::zdebug(bytes, deadline_ns))
        }
    };
    found.unwrap_or_else(Section::empty)
}

/// `.debug_info` -> `.zdebug_info`, in `buf`.
fn zdebug_name<'b>(name: &[u8], buf: &'b mut [u8; 32]) -> Option<&'b [u8]> {
    let rest = name.strip_prefix(b".debug_")?;
    let z = b".zdebug_";
    let len = z.len() + rest.len();
    let out = buf.get_mut(..len)?;
    out[..z.len()].copy_from_slice(z);
    out[z.len()..].copy_from_slice(rest);
    Some(out)
}

/// The DWARF of one module: its own sections and its supplementary file's.
pub struct ModuleSections<'s> {
    main: Sections<'s>,
    sup: Option<Sections<'s>>,
}

impl<'s> ModuleSections<'s> {
    /// A gimli view of the sections, with the supplementary file's attached.
    pub fn dwarf(&'s self) -> gimli::Dwarf<Reader<'s>> {
        let mut dwarf = self.main.dwarf();
        if let Some(sup) = &self.sup {
            dwarf.set_sup(sup.dwarf());
        }
        dwarf
    }
}

/// The debug information of every module of the dump, loaded on demand.
pub struct Sources<'s> {
    modules: &'s Modules,
    memory: &'s Memory,
    symbolizer: &'s Symbolizer,
    budget: Budget,
    loaded: Vec<OnceCell<Option<Box<ModuleSections<'s>>>>>,
    /// dwz supplementary files, by module.
    sup_files: Vec<OnceCell<Option<sys::Mapping>>>,
}

impl<'s> Sources<'s> {
    pub fn new(
        modules: &'s Modules,
        memory: &'s Memory,
        symbolizer: &'s Symbolizer,
        budget: Budget,
    ) -> Sources<'s> {
        let n = modules.list().len();
        Sources {
            modules,
            memory,
            symbolizer,
            budget,
            loaded: (0..n).map(|_| OnceCell::new()).collect(),
            sup_files: (0..n).map(|_| OnceCell::new()).collect(),
        }
    }

    pub fn budget(&self) -> &Budget {
        &self.budget
    }

    /// The DWARF sections of module `index`, if it has any.
    pub fn module(&'s self, index: usize) -> Option<&'s ModuleSections<'s>> {
        self.loaded
            .get(index)?
            .get_or_init(|| self.load(index).map(Box::new))
            .as_deref()
    }

    fn load(&'s self, index: usize) -> Option<ModuleSections<'s>> {
        let (image, debug) = self.symbolizer.files(self.modules, self.memory, index);
        let deadline_ns = self.budget.deadline_ns();
        let parse = |bytes: Option<&'s [u8]>| bytes.and_then(ElfImage::parse);
        let (elf, main) = [parse(debug), parse(image)]
            .into_iter()
            .flatten()
            .find_map(|elf| Sections::load(&elf, deadline_ns).map(|s| (elf, s)))?;
        let sup = elf
            .gnu_debugaltlink()
            .and_then(|(path, build_id)| self.sup_file(index, path, build_id))
            .and_then(ElfImage::parse)
            .and_then(|sup| Sections::load(&sup, deadline_ns));
        Some(ModuleSections { main, sup })
    }

    /// The dwz file: by its build-id under `/usr/lib/debug/.build-id`, else
    /// by its path if absolute; its build-id must match the link's.
    fn sup_file(&'s self, index: usize, path: &[u8], build_id: &[u8]) -> Option<&'s [u8]> {
        let build_id = (!build_id.is_empty()).then_some(build_id);
        self.sup_files[index]
            .get_or_init(|| {
                build_id
                    .and_then(debugfile::by_build_id)
                    .and_then(|p| open_verified(p.as_bytes(), build_id))
                    .or_else(|| {
                        path.starts_with(b"/")
                            .then(|| open_verified(path, build_id))
                            .flatten()
                    })
            })
            .as_ref()
            .map(sys::Mapping::bytes)
    }
}

#[cfg(test)]
impl<'s> ModuleSections<'s> {
    /// The sections of an ELF file in memory (tests).
    pub fn from_elf(bytes: &'s [u8]) -> Option<ModuleSections<'s>> {
        let elf = ElfImage::parse(bytes)?;
        Some(ModuleSections {
            main: Sections::load(&elf, u64::MAX)?,
            sup: None,
        })
    }

    pub fn inflated(&self) -> Vec<(&'static str, usize, usize)> {
        USED.iter()
            .zip(&self.main.sections)
            .map(|(id, s)| (id.name(), s.inflated(), s.len()))
            .collect()
    }
}
