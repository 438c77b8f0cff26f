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

use alloc::boxed::Box;
use alloc::vec::Vec;
use core::fmt::Write as _;

use gimli::{DebugInfoOffset, Dwarf, Unit};

pub use budget::{Budget, Spent};
use lines::{LineTable, Position};
use reader::Reader;
use refs::Refs;
pub use sources::Sources;
use units::UnitFinder;

use crate::format::line::Line;

/// One frame as DWARF describes it.
#[derive(Debug, Default, Clone)]
pub struct Frame {
    /// Demangled or scoped name.
    pub function: Option<Vec<u8>>,
    /// The function's entry (a file address), for a frame no symbol names.
    pub entry: Option<u64>,
    pub file: Option<Vec<u8>>,
    /// 0 when unknown.
    pub line: u32,
}

/// What a caller wants of one address.
#[derive(Clone, Copy, Default, Debug)]
pub struct Query {
    /// Name the function itself too (a symbol usually names it, and its
    /// DWARF name may sit in another unit, costly to reach).
    pub name_function: bool,
    /// The address is where the thread stopped (frame 0), not a return
    /// address: inlined calls that begin exactly there are not shown, as
    /// gdb does not show them.
    pub stopped_here: bool,
}

/// Units kept parsed per module (each holds abbreviations and a line table).
const MAX_UNITS: usize = 64;

/// Answers kept per dump (see [`Resolver::answers`]).
const MAX_ANSWERS: usize = 512;

/// Answers address queries for one dump, keeping what it parsed.
pub struct Resolver<'s> {
    sources: &'s Sources<'s>,
    modules: Vec<Slot<'s>>,
    told: bool,
    /// The answers given, by module, address and query: a dump of many
    /// threads asks for the same few addresses once per thread (a hundred
    /// threads asleep in the same C-library calls), and each answer walks
    /// a unit's entries again.
    answers: Vec<Answer>,
}

struct Answer {
    index: usize,
    addr: u64,
    query: (bool, bool),
    frames: Vec<Frame>,
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
    /// Read as far as lookups needed it; `None` without a line program.
    lines: Option<LineTable<'s>>,
}

impl<'s> Resolver<'s> {
    pub fn new(sources: &'s Sources<'s>, module_count: usize) -> Resolver<'s> {
        Resolver {
            sources,
            modules: (0..module_count).map(|_| Slot::Unread).collect(),
            told: false,
            answers: Vec::new(),
        }
    }

    /// The frames at `addr`, a file address of module `index` (already one
    /// less for a return address), innermost first; the last one is the
    /// function itself. Empty when DWARF says nothing. See [`Query`].
    pub fn frames(&mut self, index: usize, addr: u64, query: Query, out: &mut Vec<Frame>) {
        out.clear();
        let budget = self.sources.budget();
        if budget.spent().is_some() {
            return;
        }
        let key = (query.name_function, query.stopped_here);
        if let Some(known) = self
            .answers
            .iter()
            .find(|a| a.index == index && a.addr == addr && a.query == key)
        {
            out.extend(known.frames.iter().cloned());
            return;
        }
        if let Some(state) = self.module(index) {
            resolve(state, addr, query, budget, out);
        }
        // A complete answer only: one the budget cut short stays unknown.
        if self.answers.len() < MAX_ANSWERS && budget.spent().is_none() {
            self.answers.push(Answer {
                index,
                addr,
                query: key,
                frames: out.clone(),
            });
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
            Spent::Reserved => {
                let _ = write!(
                    line,
                    "faultdump: DWARF skipped: no memory could be mapped, the dump runs in the \
                     {} MiB reserved at start-up; frames without file and line",
                    crate::sys::reserve::ARENA_SIZE >> 20
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
    query: Query,
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
    let position = lines.as_mut().and_then(|t| t.lookup(addr, budget));
    let mut scopes = inlined::chain(dwarf, unit, addr, budget).unwrap_or_default();
    let mut position = position;
    if query.stopped_here {
        // gdb's view of a thread stopped where inlined calls begin: not yet
        // in them, at their call site.
        while let Some(s) = scopes.last().filter(|s| s.inlined && s.entered_here) {
            position = (s.call_line != 0).then_some(Position {
                file: s.call_file,
                line: s.call_line,
            });
            scopes.pop();
        }
    }
    let path = |file| {
        let header = unit.line_program.as_ref()?.header();
        paths::display_path(dwarf, unit, header, file)
    };
    let mut at = position;
    let assembler = names::is_assembler(unit);
    for scope in scopes.iter().rev() {
        let named = (scope.inlined || query.name_function) && !assembler;
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
    let lines = unit.line_program.clone().map(LineTable::new);
    units.push(Parsed {
        offset,
        unit,
        lines,
    });
    units.last_mut()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::elf::ElfImage;
    use std::path::{Path, PathBuf};

    /// Resolves addresses of one ELF file's DWARF (no process behind it).
    fn with_file(
        bytes: &[u8],
        f: impl FnOnce(&mut dyn FnMut(u64) -> Vec<Frame>, &sources::ModuleSections),
    ) {
        let sections = sources::ModuleSections::from_elf(bytes).unwrap();
        let budget = Budget::new(core::time::Duration::from_secs(60));
        let mut state = ModuleState {
            dwarf: sections.dwarf(),
            finder: UnitFinder::default(),
            units: Vec::new(),
            refs: Refs::default(),
        };
        let query = Query {
            name_function: true,
            stopped_here: false,
        };
        let mut lookup = |addr| {
            let mut out = Vec::new();
            resolve(&mut state, addr, query, &budget, &mut out);
            out
        };
        f(&mut lookup, &sections);
    }

    fn text(b: &Option<Vec<u8>>) -> &str {
        core::str::from_utf8(b.as_deref().unwrap_or_default()).unwrap()
    }

    fn debug_file_of(path: &str) -> Option<String> {
        let bytes = std::fs::read(path).ok()?;
        let id = ElfImage::parse(&bytes)?.build_id()?.to_vec();
        let p = crate::symbolize::debugfile::by_build_id(&id)?;
        let p = String::from_utf8(p.as_bytes().to_vec()).ok()?;
        Path::new(&p).exists().then_some(p)
    }

    /// An address in libc through Debian's compressed libc6-dbg file: the
    /// function, file and line, with `.debug_info` inflated only in part.
    #[test]
    fn libc_through_its_compressed_debug_file() {
        let libc = "/usr/lib/x86_64-linux-gnu/libc.so.6";
        let debug = debug_file_of(libc).expect("libc6-dbg is installed");
        let image = std::fs::read(libc).unwrap();
        let abort = symbol_address(&image, "abort");
        let bytes = std::fs::read(&debug).unwrap();
        with_file(&bytes, |lookup, sections| {
            let frames = lookup(abort + 8);
            let last = frames.last().expect("a frame");
            assert_eq!(text(&last.file), "./stdlib/abort.c");
            assert!(last.line > 0);
            assert!(text(&last.function).ends_with("abort"), "{frames:?}");
            let (_, inflated, len) = sections
                .inflated()
                .into_iter()
                .find(|s| s.0 == ".debug_info")
                .unwrap();
            assert!(inflated < len, "{inflated} of {len}: inflated it all");
        });
    }

    fn symbol_address(elf: &[u8], name: &str) -> u64 {
        use object::{Object, ObjectSymbol};
        let file = object::read::elf::ElfFile64::<object::LittleEndian>::parse(elf).unwrap();
        file.symbols()
            .chain(file.dynamic_symbols())
            .find(|s| s.name() == Ok(name))
            .map(|s| s.address())
            .unwrap_or_else(|| panic!("no symbol {name}"))
    }

    fn compile(source: &str, name: &str, compiler: &str, ext: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("faultdump-dwarf-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let src = dir.join(format!("{name}.{ext}"));
        std::fs::write(&src, source).unwrap();
        let out = dir.join(name);
        let status = std::process::Command::new(compiler)
            .args(["-O1", "-g", "-shared", "-fPIC", "-o"])
            .arg(&out)
            .arg(&src)
            .status()
            .unwrap();
        assert!(status.success());
        out
    }

    /// Names without a linkage name take their namespaces (C++), and C
    /// names stay bare.
    #[test]
    fn scoped_names_without_linkage_names() {
        let cpp = compile(
            "namespace outer { namespace { extern \"C\" int plain(int x) { return x + 1; } } }",
            "scoped",
            "g++",
            "cpp",
        );
        let c = compile("int bare(int x) { return x * 2; }", "bare", "gcc", "c");
        for (object, symbol, expected) in [
            (cpp, "plain", "outer::(anonymous namespace)::plain"),
            (c, "bare", "bare"),
        ] {
            let bytes = std::fs::read(&object).unwrap();
            let addr = symbol_address(&bytes, symbol);
            with_file(&bytes, |lookup, _| {
                let frames = lookup(addr + 1);
                assert_eq!(text(&frames.last().unwrap().function), expected);
            });
        }
    }
}
