//! Function names for addresses, found at dump time.
//!
//! A module's symbols are loaded the first time one of its addresses needs a
//! name, never at start-up: the file is mapped (no read into memory) and its
//! `.symtab` indexed, so that static functions get their own names; a file
//! with none (stripped) gives its `.dynsym`. A file whose build-id differs
//! from the loaded image's was replaced since the program started and is not
//! trusted; then, and for files that cannot be opened, the executable's file
//! is remapped from its own image ([`crate::symbolize::exefile`]), and
//! otherwise the exported symbols are read from the loaded image itself
//! through its `PT_DYNAMIC`. The vDSO
//! is a complete ELF image in memory and is read there. An address is named
//! only when it lies inside a symbol (see [`crate::elf::SymbolIndex`]).

use alloc::boxed::Box;
use alloc::vec::Vec;
use core::cell::{Cell, OnceCell};
use core::fmt::Write as _;

use crate::elf::{ElfImage, SymbolIndex, exported_symbol_index};
use crate::format::line::Line;
use crate::symbolize::debugfile;
use crate::symbolize::exefile;
use crate::symbolize::modules::{Module, ModuleKind, Modules};
use crate::symbolize::symread::{self, ReadTable};
use crate::sys;
use crate::sys::memory::Memory;
use crate::sys::recover::Fault;

/// A symbol for an address: its raw (mangled) name and start address.
pub struct Symbol<'a> {
    pub name: &'a [u8],
    pub start: u64,
}

/// What a dump found for one module. The index borrows from the mappings,
/// which are kept (and unmapped) together with it.
struct Loaded {
    index: Option<SymbolIndex<'static>>,
    /// The table read through a fixed buffer, when the file could not be
    /// mapped (then `index` is `None`).
    read: Option<ReadTable>,
    /// A table read through the fixed buffer had names too big for the
    /// dump memory left: they are not shown (see [`Symbolizer::short_note`]).
    names_left_out: bool,
    /// The module's own file, when it is the image that is loaded: mapped
    /// (or, the executable's, remapped from its image) by this dump
    /// (`image`), or at start-up (the executable's).
    file: Option<&'static [u8]>,
    /// Owns the mapping `file` borrows from (unmapped on drop, at the end
    /// of the dump).
    _image: Option<sys::Mapping>,
    /// Its separate debug file (by build-id or `.gnu_debuglink`), if any.
    debug: Option<sys::Mapping>,
}

/// Per-module symbol indexes, loaded on demand during one dump. Each module
/// is loaded once and then kept unchanged, so what it lends out (symbol
/// names, the mapped files) lives as long as the `Symbolizer`.
pub struct Symbolizer {
    states: Vec<OnceCell<Box<Loaded>>>,
    /// Modules whose file could not be opened or mapped: how many, and the
    /// first one's index and errno.
    unreadable: Cell<(usize, usize, i32)>,
    /// Modules whose symbol index left functions out for want of memory.
    short: Cell<usize>,
    /// Per module, what a fault while reading it cost ([`Lost`] bits).
    lost: Vec<Cell<u8>>,
}

/// What a fault while reading a module's files or image costs it (see
/// [`Symbolizer::lose`]).
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Lost {
    /// Its symbol names (read from its file, debug file or image).
    Names = 1,
    /// Its file names and lines (DWARF).
    Lines = 2,
}

impl Symbolizer {
    pub fn new(modules: &Modules) -> Symbolizer {
        Symbolizer {
            states: modules.list().iter().map(|_| OnceCell::new()).collect(),
            unreadable: Cell::new((0, 0, 0)),
            short: Cell::new(0),
            lost: modules.list().iter().map(|_| Cell::new(0)).collect(),
        }
    }

    /// Whether module `index` lost `what` to a fault.
    pub fn has_lost(&self, index: usize, what: Lost) -> bool {
        self.lost[index].get() & what as u8 != 0
    }

    /// Records that reading module `index` for `what` faulted: it is not
    /// read for that again in this dump (its state may be half-built).
    /// Writes the line that says so.
    pub fn lose(&self, modules: &Modules, index: usize, what: Lost, fault: Fault, line: &mut Line) {
        let lost = &self.lost[index];
        lost.set(lost.get() | what as u8);
        line.push(b"faultdump: reading ");
        line.push(&modules.get(index).path);
        line.push(match what {
            Lost::Names => b" for its symbols",
            Lost::Lines => b" for its debug information",
        });
        line.push(b" faulted (");
        describe_fault(line, &fault);
        let _ = write!(
            line,
            ": a file cut short or changed, or memory unmapped); its {} not shown",
            match what {
                Lost::Names => "function names are",
                Lost::Lines => "files and lines are",
            }
        );
    }

    fn loaded(&self, modules: &Modules, memory: &Memory, index: usize) -> &Loaded {
        self.states[index].get_or_init(|| {
            let (loaded, errno) = load(modules.get(index), memory);
            if errno != 0 {
                let (count, first, first_errno) = self.unreadable.get();
                self.unreadable.set(if count == 0 {
                    (1, index, errno)
                } else {
                    (count + 1, first, first_errno)
                });
            }
            let short = loaded.index.as_ref().is_some_and(SymbolIndex::is_short)
                || loaded.read.as_ref().is_some_and(|r| r.index.is_short())
                || loaded.names_left_out;
            self.short.set(self.short.get() + usize::from(short));
            Box::new(loaded)
        })
    }

    /// The line that says how many modules' functions were not all named
    /// for want of dump memory.
    pub fn short_note(&self, line: &mut Line) -> bool {
        let count = self.short.get();
        if count > 0 {
            let _ = write!(
                line,
                "faultdump: not enough dump memory for the symbol tables of {count} module(s); \
                 some of their functions are not named"
            );
        }
        count > 0
    }

    /// The line that says which module files could not be read, and why.
    pub fn unopened_note(&self, modules: &Modules, line: &mut Line) -> bool {
        let (count, first, errno) = self.unreadable.get();
        if count == 0 {
            return false;
        }
        line.push(b"faultdump: could not read ");
        line.push(&modules.get(first).path);
        line.push(b" (");
        line.push(crate::format::names::errno_name(errno).as_bytes());
        line.push(b")");
        if count > 1 {
            let _ = write!(line, ", nor the files of {} other modules", count - 1);
        }
        line.push(b"; their functions are named from the symbols in memory");
        true
    }

    /// The symbol holding `addr` (a lookup address: already minus one for
    /// return addresses) in module `index`.
    pub fn lookup(
        &self,
        modules: &Modules,
        memory: &Memory,
        index: usize,
        addr: u64,
    ) -> Option<Symbol<'_>> {
        if self.has_lost(index, Lost::Names) {
            return None;
        }
        let bias = modules.get(index).bias;
        let loaded = self.loaded(modules, memory, index);
        let named = loaded
            .index
            .as_ref()
            .or(loaded.read.as_ref().map(|r| &r.index))?
            .lookup(addr.wrapping_sub(bias))?;
        Some(Symbol {
            name: named.name,
            start: named.start.wrapping_add(bias),
        })
    }

    /// The module's verified file and separate debug file, mapped, for the
    /// debug-information reader.
    pub fn files(
        &self,
        modules: &Modules,
        memory: &Memory,
        index: usize,
    ) -> (Option<&[u8]>, Option<&[u8]>) {
        let loaded = self.loaded(modules, memory, index);
        (loaded.file, loaded.debug.as_ref().map(sys::Mapping::bytes))
    }
}

/// Borrows a mapping for as long as the `Loaded` that owns it.
fn static_bytes(m: &sys::Mapping) -> &'static [u8] {
    // SAFETY: every caller keeps the result in the same `Loaded` as the
    // mapping; the mapping is unmapped only when that `Loaded` is dropped,
    // at the end of the dump, after its index (field order).
    unsafe { core::slice::from_raw_parts(m.ptr, m.len) }
}

/// The module's symbols, and the errno if its file could not be read.
fn load(module: &Module, memory: &Memory) -> (Loaded, i32) {
    if module.kind == ModuleKind::Vdso {
        // The vDSO is a complete ELF image in memory, section headers
        // included: its mapping may extend past its PT_LOAD segment.
        let end = memory
            .maps()
            .and_then(|maps| maps.find(module.ehdr))
            .map_or(module.avma.end, |e| e.end);
        let image = memory.slice(module.ehdr, end.saturating_sub(module.ehdr));
        let loaded = Loaded {
            index: image
                .and_then(ElfImage::parse)
                .and_then(|i| i.symbol_index()),
            read: None,
            names_left_out: false,
            file: None,
            _image: None,
            debug: None,
        };
        return (loaded, 0);
    }
    let premapped = premapped_executable(module);
    // The handler restores errno.
    sys::set_errno(0);
    let mut image = premapped
        .is_none()
        .then(|| {
            module
                .file_path()
                .and_then(|path| open_verified(path, module.build_id.as_deref()))
        })
        .flatten();
    let mut errno = if premapped.is_none() && image.is_none() && module.file_path().is_some() {
        sys::errno()
    } else {
        0
    };
    // The executable's file could not be opened (no /proc, open() denied)
    // or is another build: remapped from its own image instead. If that
    // fails too, the open's errno is the one reported.
    if premapped.is_none() && image.is_none() && module.kind == ModuleKind::Executable {
        image = exefile::remap(module, memory);
        if image.is_some() {
            errno = 0;
        }
    }
    let file = premapped.or_else(|| image.as_ref().map(static_bytes));
    let parsed = file.and_then(ElfImage::parse);
    let debug = find_debug_file(module, parsed.as_ref());
    let parsed_debug = debug
        .as_ref()
        .and_then(|m| ElfImage::parse(static_bytes(m)));
    // .symtab from the file or its debug file names static functions; the
    // exported .dynsym is the last resort, from the file or from memory.
    let full = |i: &Option<ElfImage<'static>>| {
        i.as_ref()
            .and_then(|i| i.symbol_index())
            .filter(|x| x.is_full())
    };
    let mut index = full(&parsed).or_else(|| full(&parsed_debug));
    // A file that could not be mapped (no address space left): its tables
    // are read through a fixed buffer instead.
    let mut too_big = false;
    let read = (index.is_none() && errno == libc::ENOMEM)
        .then(|| read_unmapped(module, &mut too_big))
        .flatten();
    // A full table was there, but not its names: the exported ones serve.
    let names_left_out = too_big && !read.as_ref().is_some_and(|t| t.index.is_full());
    if read.is_none() {
        index = index
            .or_else(|| parsed.as_ref().and_then(|i| i.symbol_index()))
            .or_else(|| dynamic_symbols(module, memory));
    }
    let errno = if read.is_some() { 0 } else { errno };
    let loaded = Loaded {
        index,
        read,
        names_left_out,
        file,
        _image: image,
        debug,
    };
    (loaded, errno)
}

/// The best symbol table of a module whose file could not be mapped, read
/// through a fixed buffer: the file's `.symtab`, else its debug file's (by
/// build-id), else the file's `.dynsym`.
fn read_unmapped(module: &Module, too_big: &mut bool) -> Option<ReadTable> {
    let mut read = |path: &[u8]| {
        let fd = open_path(path)?;
        symread::read_table(&fd, module.build_id.as_deref(), too_big)
    };
    let own = module.file_path().and_then(&mut read);
    if own.as_ref().is_some_and(|t| t.index.is_full()) {
        return own;
    }
    module
        .build_id
        .as_deref()
        .and_then(debugfile::by_build_id)
        .and_then(|path| read(path.as_bytes()))
        .filter(|t| t.index.is_full())
        .or(own)
}

/// The executable's file as mapped at start-up (only where a dump could
/// not remap it, see [`crate::symbolize::snapshot`]), if its build-id is
/// the loaded image's: read without /proc and without `open()`.
fn premapped_executable(module: &Module) -> Option<&'static [u8]> {
    if module.kind != ModuleKind::Executable {
        return None;
    }
    let file = crate::symbolize::snapshot::get()?.exe_file?;
    let on_disk = ElfImage::parse(file)?.build_id();
    (on_disk == module.build_id.as_deref()).then_some(file)
}

/// Opens a file by a path that is not NUL-terminated.
fn open_path(path: &[u8]) -> Option<sys::Fd> {
    let mut cpath = [0u8; debugfile::MAX_PATH + 1];
    if path.len() >= debugfile::MAX_PATH || path.contains(&0) {
        return None;
    }
    cpath[..path.len()].copy_from_slice(path);
    let cpath = core::ffi::CStr::from_bytes_until_nul(&cpath).ok()?;
    sys::open_read(cpath)
}

/// Opens and maps a file, and keeps it only if its build-id matches the
/// loaded image's (a file replaced since start is not trusted).
pub fn open_verified(path: &[u8], build_id: Option<&[u8]>) -> Option<sys::Mapping> {
    let fd = open_path(path)?;
    let file = sys::Mapping::file(&fd)?;
    let image = ElfImage::parse(file.bytes())?;
    if let (Some(loaded), Some(on_disk)) = (build_id, image.build_id())
        && loaded != on_disk
    {
        return None;
    }
    Some(file)
}

fn find_debug_file(module: &Module, image: Option<&ElfImage>) -> Option<sys::Mapping> {
    if let Some(path) = module.build_id.as_deref().and_then(debugfile::by_build_id)
        && let Some(file) = open_verified(path.as_bytes(), module.build_id.as_deref())
    {
        return Some(file);
    }
    let (link, _crc) = image?.gnu_debuglink()?;
    debugfile::by_debuglink(&module.path, link)
        .find_map(|path| open_verified(path.as_bytes(), module.build_id.as_deref()))
}

/// Exported symbols from the loaded image: `DT_SYMTAB`, `DT_STRTAB`, and the
/// symbol count from `DT_HASH` or `DT_GNU_HASH`.
fn dynamic_symbols(module: &Module, memory: &Memory) -> Option<SymbolIndex<'static>> {
    let tables = module.dynamic_tables(memory)?;
    let read_u32 = |addr: u64| {
        let mut b = [0u8; 4];
        memory.read(addr, &mut b).then(|| u32::from_le_bytes(b))
    };
    let count = tables.symbol_count(&read_u32)?;
    let syms = memory.slice(tables.symtab, count.checked_mul(24)?)?;
    let strings = memory.slice(tables.strtab, tables.strsz)?;
    Some(exported_symbol_index(syms, strings))
}

/// Writes a symbol name demangled (Rust without the hash, as gdb shows it;
/// C++ as `c++filt` does but without a template function's return type, so
/// that every name starts with the function's own qualified name, as gdb
/// shows it from debug information), else as it is. Demangled C++ names
/// are built in the dump's arena.
pub fn demangle_into(name: &[u8], out: &mut Line) {
    if let Ok(text) = core::str::from_utf8(name)
        && let Ok(rust) = rustc_demangle::try_demangle(text)
    {
        let _ = write!(out, "{rust:#}");
        return;
    }
    if name.starts_with(b"_Z")
        && let Ok(symbol) = cpp_demangle::Symbol::new(name)
        && let Ok(text) =
            symbol.demangle_with_options(&cpp_demangle::DemangleOptions::new().no_return_type())
    {
        out.push(text.as_bytes());
        return;
    }
    out.push(name);
}

/// A fault a recovery point caught, as the dump's notes say it:
/// `SIGBUS at 0x7f...`.
pub fn describe_fault(line: &mut Line, fault: &Fault) {
    let _ = write!(
        line,
        "SIG{} at 0x{:x}",
        crate::format::names::signal_abbrev(fault.signal).unwrap_or("?"),
        fault.addr
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    fn demangled(name: &str) -> String {
        let mut line = Line::new();
        demangle_into(name.as_bytes(), &mut line);
        String::from_utf8(line.as_bytes().to_vec()).unwrap()
    }

    #[test]
    fn demangles_rust_cpp_and_c() {
        assert_eq!(
            demangled("_ZN4demo6level317h0123456789abcdefE"),
            "demo::level3"
        );
        assert_eq!(demangled("_RNvCs1234_4demo6level3"), "demo::level3");
        assert_eq!(demangled("_ZN2ns3BoxIiE5crashEv"), "ns::Box<int>::crash()");
        // A template function: no return type in front of its name.
        assert_eq!(
            demangled("_ZN2ns3runIiEEvRNS_5ThingIT_EE"),
            "ns::run<int>(ns::Thing<int>&)"
        );
        // C++ functions whose mangling looks like a Rust legacy path.
        assert_eq!(demangled("_ZN3foo3barEv"), "foo::bar()");
        assert_eq!(demangled("_ZN3foo3barEi"), "foo::bar(int)");
        assert_eq!(demangled("_ZN2ns5applyIiEEvT_"), "ns::apply<int>(int)");
        assert_eq!(demangled("main"), "main");
        assert_eq!(demangled("_Zgarbage"), "_Zgarbage");
    }

    #[test]
    fn names_functions_of_this_process() {
        let memory = Memory::new(crate::sys::memory::Maps::read());
        let modules = Modules::discover(&memory, b"/proc/self/exe");
        let symbolizer = Symbolizer::new(&modules);
        let abort = libc::abort as *const () as u64;
        let (i, _) = modules.find(abort).unwrap();
        let s = symbolizer.lookup(&modules, &memory, i, abort + 2).unwrap();
        assert_eq!(s.name, b"abort");
        assert_eq!(s.start, abort);
        // The in-memory dynamic table gives the same answer.
        let index = dynamic_symbols(modules.get(i), &memory).unwrap();
        let n = index.lookup(abort + 2 - modules.get(i).bias).unwrap();
        assert_eq!(n.name, b"abort");
        // vDSO symbols come from memory.
        let vdso = modules
            .list()
            .iter()
            .position(|m| m.kind == ModuleKind::Vdso)
            .unwrap();
        assert!(load(modules.get(vdso), &memory).0.index.is_some());
    }
}
