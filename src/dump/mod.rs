//! The dump itself: the sequence of FORMAT.md, from a trigger to the last
//! line (this file), under the dump lock ([`lock`]: one dump at a time in
//! the process), on the dump stack ([`stacks`]), walking the current
//! thread and the others ([`unwind`], [`threads`]).
//!
//! Async-signal-safe: the arena serves every allocation (see
//! [`crate::sys::arena`]), never the host's malloc; no lock, no stdio, no
//! loader call. Only `stacks::ensure_altstack` also runs outside a dump
//! (start-up and new threads).

mod frames;
mod lock;
pub mod python;
pub mod stacks;
pub mod threads;
pub mod unwind;

use alloc::boxed::Box;
use alloc::vec::Vec;
use frames::Stacks;
pub use lock::{Claim, claim, dump_mask, fatal_signal_in_progress, release};

use crate::dump::threads::{Fate, Others};
use crate::format::line::Line;
use crate::format::names;
use crate::report::cause;
use crate::report::json::JsonSink;
use crate::report::output::{Target, Writer};
use crate::report::sink::{Detail, DumpHeader, Event, FatalEvent, ModuleLine, Sink, ThreadHeader};
use crate::report::text::TextSink;
use crate::settings::{Config, Format};
use crate::symbolize::dwarf::{self, Resolver, Sources};
use crate::symbolize::modules::Modules;
use crate::symbolize::snapshot;
use crate::symbolize::symbols::Symbolizer;
use crate::sys;
use crate::sys::arch::Registers;
use crate::sys::arena::ARENA;
use crate::sys::memory::{Maps, Memory};
use unwind::{NativeCache, Walker};

/// Why a dump is written, with what it needs to describe the current thread.
pub enum Trigger<'a> {
    Fatal {
        info: &'a libc::siginfo_t,
        regs: Registers,
        /// The signal's default action follows the dump: the process
        /// dies, and nothing of the program may run again (the other
        /// threads stay parked until the end). False when a handler of
        /// the program's own runs next.
        ends_process: bool,
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

impl Trigger<'_> {
    /// What becomes of the process after the dump.
    fn fate(&self) -> Fate {
        match self {
            Trigger::Fatal {
                ends_process: true, ..
            } => Fate::Dies,
            _ => Fate::GoesOn,
        }
    }
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
    if let Trigger::Fatal { info, regs, .. } = trigger {
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

    // Stop the other threads first, so that the process holds still while
    // it is described: the maps are read after, once no stopped thread can
    // map or unmap.
    let others = options.all_threads.then(|| {
        Others::stop(
            &[sys::gettid(), options.hidden_tid],
            config.max_threads - usize::from(!matches!(trigger, Trigger::Timeout { .. })),
            config.deadline,
            deadline_ns,
            trigger.fate(),
            options.signal_in_use,
        )
    });

    let maps = Maps::read();
    let maps_errno = sys::errno();
    let memory = Memory::new(maps);
    // For the stacks of threads that are not stopped (seen through /proc):
    // every read goes through the kernel, which fails cleanly on memory a
    // running thread unmapped since the maps were read.
    let unstopped_memory = Memory::new(None);
    let event = match trigger {
        Trigger::Fatal { info, regs, .. } => Event::Fatal(fatal_event(info, regs, memory.maps())),
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
                build_id: m.build_id.as_deref(),
                build_id_unreadable: m.build_id_unreadable,
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
