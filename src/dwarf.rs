//! Source file, line and inlined calls for an address, from DWARF, at dump
//! time (never before: start-up does nothing here).
//!
//! For an address of a module, only the compilation unit holding it is
//! parsed ([`units`]): its line table ([`lines`]) gives the innermost file and
//! line, the chain of its function and inlined calls ([`inlined`]) gives one
//! frame per inlined call, each placed at the call site recorded by the call
//! inside it, as gdb shows them. Names come from linkage names or scoped
//! `DW_AT_name`s ([`names`]), paths as gdb prints them ([`paths`]). The
//! sections come from the module's separate debug file or its own file
//! ([`sources`]), inflated on demand when compressed ([`section`]).
//!
//! Signal-safe (dump path): everything runs on the dumping thread with arena
//! memory, reads only mapped files, and every parse is fallible and bounded.
//! A [`Budget`] of time and memory stops the work; past it the rest of the
//! dump uses symbol names.

mod budget;
mod inlined;
mod lines;
mod names;
mod paths;
mod reader;
mod refs;
mod section;
mod sources;
mod units;

use core::fmt::Write as _;

use gimli::{DebugInfoOffset, Dwarf, Unit};

pub use budget::{Budget, Spent};
use lines::{LineTable, Position};
use reader::Reader;
use refs::Refs;
pub use sources::Sources;
use units::UnitFinder;

use crate::output::Line;

/// One frame as DWARF describes it.
#[derive(Debug, Default)]
pub struct Frame {
    /// Demangled or scoped name.
    pub function: Option<Vec<u8>>,
    /// The function's entry (a file address), for a frame no symbol names.
    pub entry: Option<u64>,
    pub file: Option<Vec<u8>>,
    /// 0 when unknown.
    pub line: u32,
}

/// Units kept parsed per module (each holds abbreviations and a line table).
const MAX_UNITS: usize = 64;

/// Answers address queries for one dump, keeping what it parsed.
pub struct Resolver<'s> {
    sources: &'s Sources<'s>,
    modules: Vec<Slot<'s>>,
    told: bool,
}

enum Slot<'s> {
    Unread,
    Missing,
    Read(Box<ModuleState<'s>>),
}

struct ModuleState<'s> {
    dwarf: Dwarf<Reader<'s>>,
    finder: UnitFinder,
    units: Vec<Parsed<'s>>,
    refs: Refs<'s>,
}

struct Parsed<'s> {
    offset: usize,
    unit: Unit<Reader<'s>>,
    /// Built on first use; `None` inside when the program could not be read.
    lines: Option<Option<LineTable>>,
}

impl<'s> Resolver<'s> {
    pub fn new(sources: &'s Sources<'s>, module_count: usize) -> Resolver<'s> {
        Resolver {
            sources,
            modules: (0..module_count).map(|_| Slot::Unread).collect(),
            told: false,
        }
    }

    /// The frames at `addr`, a file address of module `index` (already one
    /// less for a return address), innermost first; the last one is the
    /// function itself, named only with `name_function` (a symbol usually
    /// names it, and its DWARF name may sit in another unit). Empty when
    /// DWARF says nothing.
    pub fn frames(&mut self, index: usize, addr: u64, name_function: bool, out: &mut Vec<Frame>) {
        out.clear();
        let budget = self.sources.budget();
        if budget.spent().is_some() {
            return;
        }
        if let Some(state) = self.module(index) {
            resolve(state, addr, name_function, budget, out);
        }
    }

    /// Once per dump, when the budget has run out: the line that says so.
    pub fn spent_note(&mut self, line: &mut Line) -> bool {
        let budget = self.sources.budget();
        let Some(spent) = budget.spent().filter(|_| !self.told) else {
            return false;
        };
        self.told = true;
        match spent {
            Spent::Time => {
                let ms = budget.limit_ns() / 1_000_000;
                let _ = write!(
                    line,
                    "faultdump: DWARF time budget of {}.{:03}s used up \
                     (FAULTHANDLER_DWARF_BUDGET); later frames without file and line",
                    ms / 1000,
                    ms % 1000
                );
            }
            Spent::Memory => {
                let _ = write!(
                    line,
                    "faultdump: DWARF memory limit reached; later frames without file and line"
                );
            }
        }
        true
    }

    fn module(&mut self, index: usize) -> Option<&mut ModuleState<'s>> {
        let slot = self.modules.get_mut(index)?;
        if matches!(slot, Slot::Unread) {
            *slot = match self.sources.module(index) {
                Some(sections) => Slot::Read(Box::new(ModuleState {
                    dwarf: sections.dwarf(),
                    finder: UnitFinder::default(),
                    units: Vec::new(),
                    refs: Refs::default(),
                })),
                None => Slot::Missing,
            };
        }
        match slot {
            Slot::Read(state) => Some(state),
            _ => None,
        }
    }
}

/// The frames at `addr` in one module; see [`Resolver::frames`].
fn resolve<'s>(
    state: &mut ModuleState<'s>,
    addr: u64,
    name_function: bool,
    budget: &Budget,
    out: &mut Vec<Frame>,
) {
    let ModuleState {
        dwarf,
        finder,
        units,
        refs,
    } = state;
    let Some(offset) = finder.find(dwarf, addr, budget) else {
        return;
    };
    let Some(parsed) = parsed_unit(dwarf, units, offset) else {
        return;
    };
    let Parsed { unit, lines, .. } = parsed;
    let table = lines.get_or_insert_with(|| {
        unit.line_program
            .clone()
            .and_then(|p| LineTable::build(p, budget))
    });
    let position = table.as_ref().and_then(|t| t.lookup(addr));
    let scopes = inlined::chain(dwarf, unit, addr, budget).unwrap_or_default();
    let path = |file| {
        let header = unit.line_program.as_ref()?.header();
        paths::display_path(dwarf, unit, header, file)
    };
    let mut at = position;
    for scope in scopes.iter().rev() {
        let named = scope.inlined || name_function;
        out.push(Frame {
            function: named
                .then(|| names::function_name(dwarf, unit, refs, scope.offset, budget))
                .flatten(),
            entry: (!scope.inlined).then_some(scope.entry).flatten(),
            file: at.and_then(|p| path(p.file)),
            line: at.map_or(0, |p| p.line),
        });
        at = (scope.call_line != 0).then_some(Position {
            file: scope.call_file,
            line: scope.call_line,
        });
    }
    if scopes.is_empty() && position.is_some() {
        out.push(Frame {
            function: None,
            entry: None,
            file: position.and_then(|p| path(p.file)),
            line: position.map_or(0, |p| p.line),
        });
    }
}

/// The unit at `offset`, parsed with its line program header, kept.
fn parsed_unit<'a, 's>(
    dwarf: &Dwarf<Reader<'s>>,
    units: &'a mut Vec<Parsed<'s>>,
    offset: usize,
) -> Option<&'a mut Parsed<'s>> {
    if let Some(i) = units.iter().position(|p| p.offset == offset) {
        return units.get_mut(i);
    }
    let header = dwarf.unit_header(DebugInfoOffset(offset)).ok()?;
    let unit = Unit::new(dwarf, header).ok()?;
    if units.len() >= MAX_UNITS {
        units.remove(0);
    }
    units.push(Parsed {
        offset,
        unit,
        lines: None,
    });
    units.last_mut()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A resolver over one ELF file's DWARF (no process behind it).
    pub fn with_file(
        path: &str,
        f: impl FnOnce(&mut dyn FnMut(u64) -> Vec<Frame>, &sources::ModuleSections),
    ) {
        let bytes = std::fs::read(path).unwrap();
        let sections = sources::ModuleSections::from_elf(&bytes).unwrap();
        let budget = Budget::new(core::time::Duration::from_secs(60));
        let mut state = ModuleState {
            dwarf: sections.dwarf(),
            finder: UnitFinder::default(),
            units: Vec::new(),
            refs: Refs::default(),
        };
        let mut lookup = |addr| {
            let mut out = Vec::new();
            resolve(&mut state, addr, true, &budget, &mut out);
            out
        };
        f(&mut lookup, &sections);
    }

    #[test]
    fn python_inflation() {
        let d = "/usr/lib/debug/.build-id/c5/61f3aa7232f2bd6ac6d56bd475f1c154a00486.debug";
        with_file(d, |lookup, sections| {
            for a in [
                0x4cb75bu64,
                0x520648,
                0x4ee333,
                0x5028aa,
                0x4f9f1b,
                0x62d403,
                0x62aa5f,
                0x54922d,
                0x623246,
                0x636ef4,
                0x60a917,
            ] {
                let t = std::time::Instant::now();
                let frames = lookup(a - 1);
                eprintln!(
                    "{a:x} {:?} {:?}",
                    t.elapsed(),
                    frames
                        .iter()
                        .map(|f| (
                            f.function
                                .as_ref()
                                .map(|n| String::from_utf8_lossy(n).into_owned()),
                            f.file
                                .as_ref()
                                .map(|n| String::from_utf8_lossy(n).into_owned()),
                            f.line
                        ))
                        .collect::<Vec<_>>()
                );
                for (n, i, l) in sections.inflated() {
                    if i > 0 {
                        eprint!("  {n} {i}/{l}");
                    }
                }
                eprintln!();
            }
        });
    }

    #[test]
    fn libc_inflation() {
        let d = "/usr/lib/debug/.build-id/93/ac61ec5a8eb1396f9fbd350e3169a558528a40.debug";
        with_file(d, |lookup, sections| {
            for a in [
                0x8aeec - 1u64,
                0x3bfb2 - 1,
                0x26472 - 1,
                0x2724a - 1,
                0x27305 - 1,
            ] {
                let t = std::time::Instant::now();
                let frames = lookup(a);
                eprintln!(
                    "{a:x} {:?} {:?}",
                    t.elapsed(),
                    frames
                        .iter()
                        .map(|f| (
                            f.function
                                .as_ref()
                                .map(|n| String::from_utf8_lossy(n).into_owned()),
                            f.file
                                .as_ref()
                                .map(|n| String::from_utf8_lossy(n).into_owned()),
                            f.line
                        ))
                        .collect::<Vec<_>>()
                );
                for (n, i, l) in sections.inflated() {
                    eprintln!("  {n} {i} / {l}");
                }
            }
        });
    }
}
