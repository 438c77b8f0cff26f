//! One thread's frames: walked ([`Stacks::collect`]), kept within the
//! frame limit ([`Collected`]), and printed with their names, lines,
//! inlined calls and Python frames. Shared by the current thread and the
//! others ([`super::threads`]); runs inside a dump (arena memory only).

use super::python::{self, Interleave, PyStack, Python};
use super::unwind::{FrameKind, RawFrame, Walker};
use crate::format::line::Line;
use crate::report::sink::{FrameLine, Sink};
use crate::symbolize::dwarf::{self, Resolver};
use crate::symbolize::modules::ModuleKind;
use crate::symbolize::symbols::{Lost, Symbolizer, demangle_into, describe_fault};
use crate::sys;
use crate::sys::arch::Registers;
use crate::sys::memory::Memory;
use crate::sys::recover;
use alloc::vec::Vec;

/// The frames of one thread kept for printing: the innermost ones, how
/// many were left out, and the outermost ones.
pub struct Collected {
    head: Vec<RawFrame>,
    omitted: u64,
    tail: Vec<RawFrame>,
    /// The thread's Python frames, read while it was stopped.
    python: Option<PyStack>,
    /// The fault that cut the walk short (an unwind table that could not
    /// be read): the frames found before it are kept.
    cut: Option<recover::Fault>,
}

/// Walking and printing stacks, with what persists across threads: the
/// framehop cache, the symbol indexes and the DWARF read so far.
pub struct Stacks<'a> {
    pub walker: Walker<'a>,
    pub symbolizer: &'a Symbolizer,
    pub dwarf: Resolver<'a>,
    /// The current frame's DWARF frames (kept to reuse the allocation).
    pub dwarf_frames: Vec<dwarf::Frame>,
    pub max_frames: usize,
    pub unstopped_memory: &'a Memory,
    pub python: Option<&'a Python>,
}

impl Stacks<'_> {
    /// Prints one thread's frames, innermost first (see [`Stacks::collect`]).
    pub fn print(&mut self, sink: &mut dyn Sink, regs: &Registers, skip_own: bool) {
        let collected = self.collect(sys::gettid(), regs, skip_own, false);
        self.print_collected(sink, &collected);
    }

    /// Walks the stack of thread `tid` and keeps the frames to show: all of them,
    /// or, when there are more than `max_frames`, the innermost ones and
    /// the outermost quarter (so a deep recursion still shows where it
    /// started). With `skip_own`, the library's own frames at the top are
    /// left out, with the signal trampoline right after them. With
    /// `from_proc`, `regs` are what /proc/self/task/TID/syscall gave: no
    /// frame pointer (the walk recovers it from the stack if it needs it),
    /// and a thread that is not stopped (its stack is read through the
    /// kernel).
    pub fn collect(
        &mut self,
        tid: i32,
        regs: &Registers,
        skip_own: bool,
        from_proc: bool,
    ) -> Collected {
        let tail_cap = self.max_frames / 4;
        let head_cap = self.max_frames - tail_cap;
        let mut head: Vec<RawFrame> = Vec::with_capacity(head_cap);
        let mut tail: Vec<RawFrame> = Vec::with_capacity(tail_cap);
        let mut total: u64 = 0;
        let mut skipping = skip_own;
        let modules = self.walker.modules;
        self.walker.fp_unknown = from_proc;
        let stopped_memory = self.walker.memory;
        if from_proc {
            self.walker.memory = self.unstopped_memory;
        }
        let walker = &mut self.walker;
        let walked = recover::guarded(|| {
            walker.walk(regs, |f| {
                if skipping {
                    let own = modules
                        .find(f.lookup_addr())
                        .is_some_and(|(_, m)| m.kind == ModuleKind::Ourselves);
                    if own {
                        return;
                    }
                    skipping = false;
                    if f.kind == FrameKind::SignalTrampoline && total == 0 {
                        return;
                    }
                }
                if head.len() < head_cap {
                    head.push(f);
                } else if tail_cap > 0 {
                    let slot = ((total - head_cap as u64) % tail_cap as u64) as usize;
                    if tail.len() < tail_cap {
                        tail.push(f);
                    } else {
                        tail[slot] = f;
                    }
                }
                total += 1;
            })
        });
        let python = self.python.and_then(|p| p.stack(self.walker.memory, tid));
        self.walker.fp_unknown = false;
        self.walker.memory = stopped_memory;
        // The ring's oldest entry is the one after the last overwritten.
        let shown = (head.len() + tail.len()) as u64;
        if total > shown {
            let start = ((total - head_cap as u64) % tail_cap.max(1) as u64) as usize;
            tail.rotate_left(start);
        }
        Collected {
            head,
            omitted: total - shown,
            tail,
            python,
            cut: walked.err(),
        }
    }

    /// Prints collected frames, the Python frames among them.
    pub fn print_collected(&mut self, sink: &mut dyn Sink, c: &Collected) {
        let eval_frames = match c.python {
            Some(_) => c
                .head
                .iter()
                .chain(&c.tail)
                .filter(|f| self.is_eval(f, sink))
                .count(),
            None => 0,
        };
        let mut python = Interleave::new(c.python.as_ref(), eval_frames, c.omitted);
        let mut index = 0;
        for f in &c.head {
            let eval = self.print_frame(sink, f, &mut index);
            python.after_native(eval, sink, &mut index);
        }
        if c.omitted > 0 {
            sink.frames_omitted(c.omitted);
            index += c.omitted as usize;
        }
        for f in &c.tail {
            let eval = self.print_frame(sink, f, &mut index);
            python.after_native(eval, sink, &mut index);
        }
        python.finish(sink, &mut index, self.max_frames);
        if let Some(fault) = c.cut {
            let mut note = Line::new();
            note.push(b"faultdump: the walk of this stack faulted (");
            describe_fault(&mut note, &fault);
            note.push(b") reading unwind tables; the frames beyond are not shown");
            sink.note(note.as_bytes());
        }
    }

    /// Whether a frame is in CPython's evaluation loop, by its symbol.
    fn is_eval(&self, f: &RawFrame, sink: &mut dyn Sink) -> bool {
        let mut name = Line::new();
        self.named(f.lookup_addr(), &mut name, sink)
            .is_some_and(|(_, eval)| eval)
    }

    /// The symbol holding `lookup`: its start, whether it is CPython's
    /// evaluation loop, and its name demangled into `name`. Read under a
    /// recovery point: a fault costs the module its names, with a line
    /// that says so.
    fn named(&self, lookup: u64, name: &mut Line, sink: &mut dyn Sink) -> Option<(u64, bool)> {
        let (modules, memory) = (self.walker.modules, self.walker.memory);
        let (i, _) = modules.find(lookup)?;
        let found = recover::guarded(|| {
            let symbol = self.symbolizer.lookup(modules, memory, i, lookup)?;
            name.clear();
            demangle_into(symbol.name, name);
            Some((symbol.start, python::is_eval_frame(symbol.name)))
        });
        found.unwrap_or_else(|fault| {
            name.clear();
            let mut note = Line::new();
            self.symbolizer
                .lose(modules, i, Lost::Names, fault, &mut note);
            sink.note(note.as_bytes());
            None
        })
    }

    /// Prints one physical frame: first the calls inlined at its address
    /// (innermost first, marked `(inlined)`), then the function itself,
    /// each with its file and line where DWARF gives them. Says whether the
    /// frame is in CPython's evaluation loop.
    fn print_frame(&mut self, sink: &mut dyn Sink, f: &RawFrame, index: &mut usize) -> bool {
        if sink.stopped() {
            return false;
        }
        let modules = self.walker.modules;
        let memory = self.walker.memory;
        let lookup = f.lookup_addr();
        let found = modules.find(lookup);
        let (module, module_offset) = match found {
            Some((_, m)) => (Some(&m.path[..]), f.addr.wrapping_sub(m.bias)),
            None => {
                let start = memory
                    .maps()
                    .and_then(|maps| maps.find(lookup))
                    .map_or(0, |e| e.start);
                (None, f.addr - start)
            }
        };
        let mut line = FrameLine {
            index: *index,
            addr: f.addr,
            function: None,
            offset: None,
            inlined: false,
            file: None,
            line: None,
            module,
            module_offset,
        };
        if f.kind == FrameKind::SignalTrampoline {
            line.function = Some(b"<signal handler called>");
            sink.frame(&line);
            *index += 1;
            return false;
        }
        let mut name = Line::new();
        let symbol = self.named(lookup, &mut name, sink);
        // Said before the first frame the DWARF budget leaves out.
        let mut note = Line::new();
        if self.dwarf.spent_note(&mut note) {
            sink.note(note.as_bytes());
        }
        let mut frames = core::mem::take(&mut self.dwarf_frames);
        // Never the previous frame's: an address outside every module has
        // no debug information.
        frames.clear();
        if let Some((i, m)) = found
            && !self.symbolizer.has_lost(i, Lost::Lines)
        {
            let query = dwarf::Query {
                name_function: true,
                stopped_here: *index == 0 && f.kind == FrameKind::Executing,
            };
            let dwarf = &mut self.dwarf;
            let read = recover::guarded(|| {
                dwarf.frames(i, lookup.wrapping_sub(m.bias), query, &mut frames)
            });
            if let Err(fault) = read {
                frames.clear();
                let mut note = Line::new();
                self.symbolizer
                    .lose(modules, i, Lost::Lines, fault, &mut note);
                sink.note(note.as_bytes());
            }
        }
        let (physical, inlined) = match frames.split_last() {
            Some((last, rest)) => (Some(last), rest),
            None => (None, &[][..]),
        };
        for frame in inlined {
            line.index = *index;
            line.function = frame.function.as_deref();
            line.inlined = true;
            line.file = frame.file.as_deref();
            line.line = (frame.line != 0).then_some(frame.line);
            sink.frame(&line);
            *index += 1;
        }
        line.index = *index;
        line.inlined = false;
        // The function's name as its debug information gives it (what gdb
        // shows: `parse_header`, not the symbol `parse_header.isra.0`), else
        // the symbol's; the offset from the symbol where there is one.
        let dwarf_name = physical.and_then(|p| p.function.as_deref());
        match (symbol, physical) {
            (Some((start, _)), _) => {
                line.function = dwarf_name.or(Some(name.as_bytes()));
                line.offset = Some(f.addr.wrapping_sub(start));
            }
            (None, Some(frame)) => {
                line.function = dwarf_name;
                let bias = found.map_or(0, |(_, m)| m.bias);
                line.offset = dwarf_name
                    .and(frame.entry)
                    .map(|entry| f.addr.wrapping_sub(entry.wrapping_add(bias)));
            }
            (None, None) => {}
        }
        line.file = physical.and_then(|p| p.file.as_deref());
        line.line = physical.map(|p| p.line).filter(|&l| l != 0);
        sink.frame(&line);
        *index += 1;
        self.dwarf_frames = frames;
        symbol.is_some_and(|(_, eval)| eval)
    }
}
