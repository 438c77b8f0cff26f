//! The dump itself: the sequence of FORMAT.md, from a trigger to the last
//! line (this file), under the dump lock ([`lock`]: one dump at a time in
//! the process), on the dump stack ([`stacks`]), walking the current
//! thread and the others ([`unwind`], [`threads`]).
//!
//! Async-signal-safe: the arena serves every allocation (see
//! [`crate::sys::arena`]), never the host's malloc; no lock, no stdio, no
//! loader call. Only `stacks::ensure_altstack` also runs outside a dump
//! (start-up and new threads).

mod lock;
pub mod python;
pub mod stacks;
pub mod threads;
pub mod unwind;

pub use lock::{Claim, claim, dump_mask, fatal_signal_in_progress, release};

use crate::dump::python::{Interleave, PyStack, Python};
use crate::dump::threads::Others;
use crate::format::line::Line;
use crate::format::names;
use crate::report::cause;
use crate::report::json::JsonSink;
use crate::report::output::{Target, Writer};
use crate::report::sink::{
    Detail, DumpHeader, Event, FatalEvent, FrameLine, ModuleLine, Sink, ThreadHeader,
};
use crate::report::text::TextSink;
use crate::settings::{Config, Format};
use crate::symbolize::dwarf::{self, Resolver, Sources};
use crate::symbolize::modules::{ModuleKind, Modules};
use crate::symbolize::snapshot;
use crate::symbolize::symbols::{Symbolizer, demangle_into};
use crate::sys;
use crate::sys::arch::Registers;
use crate::sys::arena::ARENA;
use crate::sys::memory::{Maps, Memory};
use unwind::{FrameKind, NativeCache, RawFrame, Walker};

/// Why a dump is written, with what it needs to describe the current thread.
pub enum Trigger<'a> {
    Fatal {
        info: &'a libc::siginfo_t,
        regs: Registers,
    },
    UserSignal {
        signum: i32,
        regs: Registers,
    },
    /// A call of the C API; `regs` are the caller's (our frames are skipped).
    Api {
        regs: Registers,
    },
    /// The watchdog: no thread is current.
    Timeout {
        period_ns: u64,
    },
}

/// Where the dump goes and how much it shows.
#[derive(Clone, Copy)]
pub struct Options {
    /// `None`: the configured output; `Some(fd)`: this descriptor.
    pub fd: Option<i32>,
    pub all_threads: bool,
    /// A thread of the library's own that the dump never shows (the
    /// watchdog), or 0.
    pub hidden_tid: i32,
    /// Signals the program's dump triggers use, which the thread-parking
    /// signal must not be.
    pub signal_in_use: fn(i32) -> bool,
}

/// Writes one dump. The caller holds the dump lock. Everything, even the
/// fixed buffers of a dump without memory (some 13 KB), runs on the dump
/// stack: the caller may be on a program's small alternate signal stack
/// (8 KiB, of which the kernel's signal frame takes up to 3.5 KB).
pub fn run(config: &Config, trigger: Trigger, options: Options) {
    stacks::on_dump_stack(|| {
        if ARENA.begin() {
            write(config, &trigger, options);
            ARENA.end();
        } else {
            // No memory at all: say so on the target, nothing more can be done.
            write_without_memory(config, &trigger, options);
        }
    });
}

fn write_without_memory(config: &Config, trigger: &Trigger, options: Options) {
    let exe = ExePath::read();
    let Some(target) = open_target(config, options, exe.base()) else {
        return;
    };
    let mut writer = Writer::new(
        target.fd,
        sys::monotonic_ns() + config.deadline.as_nanos() as u64,
    );
    let mut format = FormatSink::new(config.format, &mut writer, true);
    let sink = format.sink();
    begin(sink, &exe, &target);
    if let Trigger::Fatal { info, regs } = trigger {
        sink.event(&Event::Fatal(fatal_event(info, regs, None)));
    }
    sink.note(b"faultdump: no memory could be mapped for the dump; stacks not shown");
    sink.end(sys::getpid());
}

/// The configured format's sink. Lives on the dump stack, where a few KiB
/// more for the larger variant cost nothing (and a box would need the arena).
#[allow(clippy::large_enum_variant)]
enum FormatSink<'w> {
    Text(TextSink<'w>),
    Json(JsonSink<'w>),
}

impl<'w> FormatSink<'w> {
    fn new(format: Format, writer: &'w mut Writer, secure: bool) -> FormatSink<'w> {
        match format {
            Format::Text => FormatSink::Text(TextSink::new(writer, secure)),
            Format::Json => FormatSink::Json(JsonSink::new(writer, secure)),
        }
    }

    fn sink(&mut self) -> &mut dyn Sink {
        match self {
            FormatSink::Text(text) => text,
            FormatSink::Json(json) => json,
        }
    }
}

fn open_target(config: &Config, options: Options, exe_base: &[u8]) -> Option<Target> {
    match options.fd {
        Some(fd) => Some(Target::fd(fd)),
        None => Target::open(&config.output, exe_base),
    }
}

fn begin(sink: &mut dyn Sink, exe: &ExePath, target: &Target) {
    sink.begin(&DumpHeader {
        pid: sys::getpid(),
        exe: exe.path(),
        unix_time: sys::realtime_ns() / 1_000_000_000,
    });
    let mut note = Line::new();
    if target.fallback_note(&mut note) {
        sink.note(note.as_bytes());
    }
}

/// The executable's path from /proc/self/exe.
struct ExePath {
    buf: [u8; 4096],
    len: usize,
}

impl ExePath {
    fn read() -> ExePath {
        let mut buf = [0u8; 4096];
        let mut len = sys::readlink(c"/proc/self/exe", &mut buf).map_or(0, |p| p.len());
        // Without /proc: the path resolved at start-up.
        if len == 0
            && let Some(path) = snapshot::get()
                .map(|s| s.exe_path)
                .filter(|p| p.len() <= buf.len())
        {
            buf[..path.len()].copy_from_slice(path);
            len = path.len();
        }
        ExePath { buf, len }
    }

    fn path(&self) -> &[u8] {
        if self.len == 0 {
            b"?"
        } else {
            &self.buf[..self.len]
        }
    }

    fn base(&self) -> &[u8] {
        let p = &self.buf[..self.len];
        let p = p.strip_suffix(b" (deleted)").unwrap_or(p);
        p.rsplit(|&b| b == b'/').next().unwrap_or(p)
    }
}

fn write(config: &Config, trigger: &Trigger, options: Options) {
    #[cfg(feature = "selftest-unsafe-handler")]
    crate::selftest_unsafe_call(true);
    let exe = ExePath::read();
    let Some(target) = open_target(config, options, exe.base()) else {
        return;
    };
    let started_ns = sys::monotonic_ns();
    let deadline_ns = started_ns.saturating_add(config.deadline.as_nanos() as u64);
    let secure = config.secure || !sys::is_dumpable();
    let mut writer = Writer::new(target.fd, deadline_ns);
    let mut format = FormatSink::new(config.format, &mut writer, secure);
    let sink = format.sink();
    begin(sink, &exe, &target);

    let maps = Maps::read();
    let maps_errno = sys::errno();
    let memory = Memory::new(maps);
    // For the stacks of threads that are not stopped (seen through /proc):
    // every read goes through the kernel, which fails cleanly on memory a
    // running thread unmapped since the maps were read.
    let unstopped_memory = Memory::new(None);
    let event = match trigger {
        Trigger::Fatal { info, regs } => Event::Fatal(fatal_event(info, regs, memory.maps())),
        Trigger::UserSignal { signum, .. } => Event::UserSignal { signum: *signum },
        Trigger::Api { .. } => Event::Api,
        Trigger::Timeout { period_ns } => Event::Timeout {
            period_ns: *period_ns,
        },
    };
    sink.event(&event);
    if memory.maps().is_none() {
        let mut note = Line::new();
        note.push(b"faultdump: /proc/self/maps could not be read (");
        note.push(names::errno_name(maps_errno).as_bytes());
        note.push(b"): memory is read through the kernel, code outside modules is not named");
        sink.note(note.as_bytes());
    }
    sink.flush();

    // Stop the other threads first, so that the process holds still while
    // it is described.
    let others = options.all_threads.then(|| {
        Others::stop(
            &[sys::gettid(), options.hidden_tid],
            config.max_threads - usize::from(!matches!(trigger, Trigger::Timeout { .. })),
            config.deadline,
            deadline_ns,
            !matches!(trigger, Trigger::Fatal { .. }),
            options.signal_in_use,
        )
    });

    let modules = Modules::discover(&memory, exe.path());
    if modules.rejected() > 0 {
        let mut note = Line::new();
        let _ = core::fmt::Write::write_fmt(
            &mut note,
            format_args!(
                "faultdump: {} entries of the loader's list of objects failed validation \
                 (ELF header, program headers, ranges) and were left out",
                modules.rejected()
            ),
        );
        sink.note(note.as_bytes());
    }
    let unwinder = modules.unwinder();
    let mut cache = Box::new(NativeCache::new_in());
    let symbolizer = Symbolizer::new(&modules);
    let found = if config.python {
        python::find(&modules, &memory)
    } else {
        Ok(None)
    };
    let python = found.unwrap_or_else(|unsupported| {
        let mut note = Line::new();
        unsupported.note(&mut note);
        sink.note(note.as_bytes());
        None
    });
    let sources = Sources::new(
        &modules,
        &memory,
        &symbolizer,
        dwarf::Budget::new(config.dwarf_budget),
    );
    let mut stacks = Stacks {
        walker: Walker {
            unwinder: &unwinder,
            cache: &mut cache,
            memory: &memory,
            modules: &modules,
            deadline_ns,
            fp_unknown: false,
        },
        symbolizer: &symbolizer,
        dwarf: Resolver::new(&sources, modules.list().len()),
        dwarf_frames: Vec::new(),
        max_frames: config.max_frames,
        unstopped_memory: &unstopped_memory,
        python: python.as_ref(),
    };

    let current = match trigger {
        Trigger::Fatal { regs, .. } | Trigger::UserSignal { regs, .. } => Some((regs, false)),
        Trigger::Api { regs } => Some((regs, true)),
        Trigger::Timeout { .. } => None,
    };
    if let Some((regs, skip_own)) = current {
        let mut name = [0u8; 16];
        sink.thread_begin(&ThreadHeader {
            tid: sys::gettid(),
            name: sys::thread_name(&mut name),
            current: true,
        });
        stacks.print(sink, regs, skip_own);
        sink.thread_end();
        sink.flush();
    }
    if let Some(others) = others {
        others.print(&mut stacks, sink);
    }
    let mut note = Line::new();
    if symbolizer.unopened_note(&modules, &mut note) {
        sink.note(note.as_bytes());
    }

    if let Trigger::Fatal { regs, .. } = trigger {
        sink.registers(regs);
        for m in modules.list() {
            sink.module(&ModuleLine {
                bias: m.bias,
                path: &m.path,
                build_id: m.build_id,
            });
        }
    }
    let turn = sink.writer().turn();
    turn.notes(config.stats, sink);
    if config.stats {
        let mut note = Line::new();
        let _ = core::fmt::Write::write_fmt(
            &mut note,
            format_args!(
                "faultdump: dump written in {:.3} ms with {} KiB of dump memory at most",
                (sys::monotonic_ns() - started_ns) as f64 / 1e6,
                ARENA.peak().div_ceil(1024)
            ),
        );
        sink.note(note.as_bytes());
    }
    sink.end(sys::getpid());
}

/// The `Fatal error:` line's content and the `Cause:` analysis.
fn fatal_event<'m>(
    info: &libc::siginfo_t,
    regs: &Registers,
    maps: Option<&'m Maps>,
) -> FatalEvent<'m> {
    let signum = info.si_signo;
    let code = info.si_code;
    let detail = if names::is_fault_with_address(signum, code) {
        // SAFETY: the kernel filled the fault fields for this signal and code.
        Detail::Address(unsafe { info.si_addr() } as u64)
    } else if signum == libc::SIGSYS && code == 1 {
        let nr = sigsys_number(info);
        Detail::Syscall {
            number: nr,
            name: crate::sys::arch::syscall_name(nr),
        }
    } else if code <= 0 {
        // SAFETY: signals sent by a process carry the sender's pid and uid.
        Detail::Sender {
            pid: unsafe { info.si_pid() },
            uid: unsafe { info.si_uid() },
        }
    } else {
        Detail::Nothing
    };
    let addr = match detail {
        Detail::Address(a) => a,
        _ => 0,
    };
    let cause = if code > 0 {
        cause::analyse(signum, code, addr, regs, maps)
    } else {
        None
    };
    FatalEvent {
        signum,
        title: names::fatal_signal_title(signum).unwrap_or("Fatal signal"),
        abbrev: names::signal_abbrev(signum).unwrap_or("?"),
        code,
        code_name: names::si_code_name(signum, code),
        detail,
        cause,
    }
}

/// The system call number of a seccomp SIGSYS (`si_syscall`).
fn sigsys_number(info: &libc::siginfo_t) -> i64 {
    // The union after the three leading ints (padded to 16 bytes) holds
    // `void *si_call_addr; int si_syscall; unsigned int si_arch;`.
    let base = info as *const libc::siginfo_t as *const u8;
    // SAFETY: siginfo_t is 128 bytes; offset 24 holds si_syscall.
    i64::from(unsafe { base.add(24).cast::<i32>().read_unaligned() })
}

/// The frames of one thread kept for printing: the innermost ones, how
/// many were left out, and the outermost ones.
pub struct Collected {
    head: Vec<RawFrame>,
    omitted: u64,
    tail: Vec<RawFrame>,
    /// The thread's Python frames, read while it was stopped.
    python: Option<PyStack>,
}

/// Walking and printing stacks, with what persists across threads: the
/// framehop cache, the symbol indexes and the DWARF read so far.
pub struct Stacks<'a> {
    walker: Walker<'a>,
    symbolizer: &'a Symbolizer,
    dwarf: Resolver<'a>,
    /// The current frame's DWARF frames (kept to reuse the allocation).
    dwarf_frames: Vec<dwarf::Frame>,
    max_frames: usize,
    unstopped_memory: &'a Memory,
    python: Option<&'a Python>,
}

impl Stacks<'_> {
    /// Prints one thread's frames, innermost first (see [`Stacks::collect`]).
    fn print(&mut self, sink: &mut dyn Sink, regs: &Registers, skip_own: bool) {
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
        self.walker.walk(regs, |f| {
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
        }
    }

    /// Prints collected frames, the Python frames among them.
    pub fn print_collected(&mut self, sink: &mut dyn Sink, c: &Collected) {
        let eval_frames = match c.python {
            Some(_) => c
                .head
                .iter()
                .chain(&c.tail)
                .filter(|f| self.is_eval(f))
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
    }

    /// Whether a frame is in CPython's evaluation loop, by its symbol.
    fn is_eval(&self, f: &RawFrame) -> bool {
        let (modules, memory) = (self.walker.modules, self.walker.memory);
        let lookup = f.lookup_addr();
        modules
            .find(lookup)
            .and_then(|(i, _)| self.symbolizer.lookup(modules, memory, i, lookup))
            .is_some_and(|s| python::is_eval_frame(s.name))
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
        let symbol = found.and_then(|(i, _)| self.symbolizer.lookup(modules, memory, i, lookup));
        // Said before the first frame the DWARF budget leaves out.
        let mut note = Line::new();
        if self.dwarf.spent_note(&mut note) {
            sink.note(note.as_bytes());
        }
        let mut frames = core::mem::take(&mut self.dwarf_frames);
        // Never the previous frame's: an address outside every module has
        // no debug information.
        frames.clear();
        if let Some((i, m)) = found {
            let query = dwarf::Query {
                name_function: true,
                stopped_here: *index == 0 && f.kind == FrameKind::Executing,
            };
            self.dwarf
                .frames(i, lookup.wrapping_sub(m.bias), query, &mut frames);
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
        let mut name = Line::new();
        line.index = *index;
        line.inlined = false;
        // The function's name as its debug information gives it (what gdb
        // shows: `parse_header`, not the symbol `parse_header.isra.0`), else
        // the symbol's; the offset from the symbol where there is one.
        let dwarf_name = physical.and_then(|p| p.function.as_deref());
        match (&symbol, physical) {
            (Some(symbol), _) => {
                line.function = dwarf_name.or_else(|| {
                    demangle_into(symbol.name, &mut name);
                    Some(name.as_bytes())
                });
                line.offset = Some(f.addr.wrapping_sub(symbol.start));
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
        symbol.is_some_and(|s| python::is_eval_frame(s.name))
    }
}
