//! Python frames in the dump of a process running CPython (3.8 to 3.13).
//!
//! At dump time the interpreter is found by its `_PyRuntime` symbol in a
//! loaded module (the executable, or libpython), through the module's own
//! dynamic symbol table: no loader call. Its version picks a [`layout`].
//! Each thread's Python frames are read from its thread state while the
//! thread is stopped ([`frames`]), and printed among its native frames:
//! after each native evaluation frame (`_PyEval_EvalFrameDefault`) come the
//! Python frames it runs, innermost first, when the counts of evaluation
//! frames and Python activations agree; else after the native frames as a
//! block of their own, with a note. Everything is read through
//! [`Memory`]; nothing in CPython is called. Signal-safe (arena memory).

mod frames;
mod layout;
mod lines;
mod strings;
mod threads;

use core::fmt::Write as _;

pub use frames::PyStack;

use crate::elf::dynamic::DynamicTables;
use crate::format::line::Line;
use crate::report::sink::{PythonFrameLine, Sink};
use crate::symbolize::modules::{Module, ModuleKind, Modules};
use crate::sys::memory::Memory;

/// The interpreter of this process, as found at dump time.
pub struct Python {
    layout: layout::Layout,
    runtime: u64,
    /// Where glibc's `struct pthread` holds the tid (3.8 to 3.10).
    pthread_tid: Option<u64>,
}

/// A CPython this dump cannot read: its minor version if known.
pub struct Unsupported {
    minor: Option<u8>,
    free_threaded: bool,
}

impl Unsupported {
    /// The note line a dump prints instead of Python frames.
    pub fn note(&self, note: &mut Line) {
        note.push(b"faultdump: Python frames not shown: ");
        match self.minor {
            Some(minor) => {
                let _ = write!(note, "CPython 3.{minor}");
                if self.free_threaded {
                    note.push(b" (free-threaded)");
                }
            }
            None => note.push(b"a CPython older than 3.8"),
        }
        note.push(b" is not supported (3.8 to 3.13 are)");
    }
}

/// A pointer a CPython structure may be at: not null, 8-byte aligned.
fn aligned(ptr: u64) -> bool {
    ptr != 0 && ptr.is_multiple_of(8)
}

/// Looks for a module defining `_PyRuntime` and reads its version:
/// `Ok(None)` in a process without CPython, `Err` for a CPython whose
/// frames cannot be read.
pub fn find(modules: &Modules, memory: &Memory) -> Result<Option<Python>, Unsupported> {
    for m in modules.list() {
        if matches!(m.kind, ModuleKind::Vdso | ModuleKind::Ourselves) {
            continue;
        }
        let Some(symbols) = Symbols::of(m, memory) else {
            continue;
        };
        if let Some(runtime) = symbols.object(b"_PyRuntime") {
            return interpreter(&symbols, runtime).map(Some);
        }
    }
    Ok(None)
}

fn interpreter(symbols: &Symbols, runtime: u64) -> Result<Python, Unsupported> {
    let memory = symbols.memory;
    let mut cookie = [0u8; 8];
    let debug_offsets = memory.read(runtime, &mut cookie) && cookie == *b"xdebugpy";
    let version = if debug_offsets {
        memory.read_u64(runtime + 8)
    } else {
        let mut v = [0u8; 4];
        symbols
            .object(b"Py_Version")
            .filter(|&a| memory.read(a, &mut v))
            .map(|_| u64::from(u32::from_ne_bytes(v)))
    };
    let minor = match version {
        Some(v) => ((v >> 24) & 0xff == 3).then_some((v >> 16) as u8),
        None if symbols.function(b"PyAIter_Check") => Some(10),
        None if symbols.function(b"PyFrame_GetBack") => Some(9),
        None if symbols.function(b"PyCode_NewWithPosOnlyArgs") => Some(8),
        None => None,
    };
    let layout = match minor {
        Some(13) if debug_offsets => {
            let mut words = [0u64; layout::DEBUG_OFFSETS_WORDS];
            let mut bytes = [0u8; layout::DEBUG_OFFSETS_WORDS * 8];
            if memory.read(runtime, &mut bytes) {
                for (w, b) in words.iter_mut().zip(bytes.chunks_exact(8)) {
                    *w = u64::from_ne_bytes(b.try_into().unwrap_or_default());
                }
                layout::from_debug_offsets_313(&words)
            } else {
                None
            }
        }
        Some(minor) => layout::for_minor(minor),
        None => None,
    };
    let types = (
        symbols.object(b"PyCode_Type"),
        symbols.object(b"PyUnicode_Type"),
        symbols.object(b"PyBytes_Type"),
    );
    match (layout, types) {
        (Some(mut layout), (Some(code), Some(unicode), Some(bytes))) => {
            layout.code_type = code;
            layout.unicode_type = unicode;
            layout.bytes_type = bytes;
            let pthread_tid = match layout.thread_id {
                layout::ThreadId::Pthread(_) => threads::pthread_tid_offset(memory),
                layout::ThreadId::Native(_) => None,
            };
            Ok(Python {
                layout,
                runtime,
                pthread_tid,
            })
        }
        _ => Err(Unsupported {
            minor,
            free_threaded: debug_offsets && minor == Some(13),
        }),
    }
}

/// One module's exported symbols, read from memory.
struct Symbols<'m> {
    tables: DynamicTables,
    bias: u64,
    memory: &'m Memory,
}

impl<'m> Symbols<'m> {
    fn of(m: &Module, memory: &'m Memory) -> Option<Symbols<'m>> {
        let tables = m.dynamic_tables(memory)?;
        Some(Symbols {
            tables,
            bias: m.bias,
            memory,
        })
    }

    fn lookup(&self, name: &[u8], kind: object::elf::SymbolType) -> Option<u64> {
        let read = |a: u64, buf: &mut [u8]| self.memory.read(a, buf);
        self.tables.lookup(name, kind, self.bias, &read)
    }

    fn object(&self, name: &[u8]) -> Option<u64> {
        self.lookup(name, object::elf::STT_OBJECT)
    }

    fn function(&self, name: &[u8]) -> bool {
        self.lookup(name, object::elf::STT_FUNC).is_some()
    }
}

impl Python {
    /// The Python frames of kernel thread `tid`; `None` for a thread
    /// running no Python. Called while the thread is stopped.
    pub fn stack(&self, memory: &Memory, tid: i32) -> Option<PyStack> {
        let tstate = threads::find(memory, &self.layout, self.runtime, self.pthread_tid, tid)?;
        let stack = frames::read(memory, &self.layout, tstate);
        (!stack.frames.is_empty()).then_some(stack)
    }
}

/// Whether a native frame's symbol is CPython's evaluation loop (or one of
/// its parts split off by the compiler, `.cold` and the like).
pub fn is_eval_frame(symbol: &[u8]) -> bool {
    symbol
        .strip_prefix(b"_PyEval_EvalFrameDefault")
        .is_some_and(|rest| rest.is_empty() || rest[0] == b'.')
}

/// Places one thread's Python frames while its native frames are printed.
pub struct Interleave<'s> {
    stack: Option<&'s PyStack>,
    merged: bool,
    /// Activations printed so far, and their frames.
    activation: usize,
    frame: usize,
    note: Line,
}

impl<'s> Interleave<'s> {
    /// `eval_frames`: how many native evaluation frames the thread shows;
    /// `native_omitted`: native frames left out in the middle.
    pub fn new(stack: Option<&'s PyStack>, eval_frames: usize, native_omitted: u64) -> Self {
        let mut note = Line::new();
        let merged = stack.is_none_or(|s| {
            let activations = s.activations.len();
            let merged = eval_frames == activations && native_omitted == 0 && !s.cut;
            if !merged {
                let _ = write!(
                    note,
                    "faultdump: the Python frames below are not placed among the native ones \
                     ({eval_frames} native evaluation frames, {activations} Python activations"
                );
                if native_omitted > 0 {
                    let _ = write!(note, ", {native_omitted} native frames not shown");
                }
                if s.cut {
                    let _ = write!(note, ", over {} Python frames", frames::MAX_FRAMES);
                }
                note.byte(b')');
            }
            merged
        });
        Interleave {
            stack,
            merged,
            activation: 0,
            frame: 0,
            note,
        }
    }

    /// After a native frame: if it is an evaluation frame, the Python
    /// frames it runs.
    pub fn after_native(&mut self, eval: bool, sink: &mut dyn Sink, index: &mut usize) {
        let Some(stack) = self.stack.filter(|_| self.merged && eval) else {
            return;
        };
        let Some(&count) = stack.activations.get(self.activation) else {
            return;
        };
        self.activation += 1;
        let end = (self.frame + count).min(stack.frames.len());
        print(sink, stack, self.frame..end, index);
        self.frame = end;
    }

    /// After the last native frame: the Python frames as a block of their
    /// own if they could not be placed, at most `max_frames` of them.
    pub fn finish(&mut self, sink: &mut dyn Sink, index: &mut usize, max_frames: usize) {
        let Some(stack) = self.stack.filter(|_| !self.merged) else {
            return;
        };
        sink.note(self.note.as_bytes());
        let shown = stack.frames.len().min(max_frames);
        print(sink, stack, 0..shown, index);
        let omitted = stack.frames.len() - shown;
        if omitted > 0 {
            sink.frames_omitted(omitted as u64);
            *index += omitted;
        }
    }
}

fn print(sink: &mut dyn Sink, stack: &PyStack, range: core::ops::Range<usize>, index: &mut usize) {
    for f in &stack.frames[range] {
        if sink.stopped() {
            return;
        }
        let unknown: &[u8] = b"??";
        let function = stack.function(f);
        let file = stack.file(f);
        sink.python_frame(&PythonFrameLine {
            index: *index,
            function: if function.is_empty() {
                unknown
            } else {
                function
            },
            file: if file.is_empty() { unknown } else { file },
            line: f.line,
        });
        *index += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn evaluation_frames_by_name() {
        assert!(is_eval_frame(b"_PyEval_EvalFrameDefault"));
        assert!(is_eval_frame(b"_PyEval_EvalFrameDefault.cold"));
        assert!(!is_eval_frame(b"_PyEval_EvalFrameDefaultX"));
        assert!(!is_eval_frame(b"PyEval_EvalFrame"));
    }
}
