//! The dump itself: the sequence of FORMAT.md, from a trigger to the last
//! line (this file), under the dump lock ([`lock`]: one dump at a time in
//! the process), on the dump stack ([`stacks`]), walking the current
//! thread and the others ([`unwind`], [`threads`]).
//!
//! Async-signal-safe: the arena serves every allocation (see
//! [`crate::sys::arena`]), never the host's malloc; no lock, no stdio, no
//! loader call. Only `stacks::ensure_altstack` also runs outside a dump
//! (start-up and new threads).

mod abortmsg;
mod frames;
mod lock;
pub mod python;
pub mod stacks;
pub mod threads;
pub mod unwind;

use alloc::boxed::Box;
use alloc::vec::Vec;
use frames::Stacks;
#[cfg(not(test))]
pub use lock::held_here;
pub use lock::{Claim, claim, dump_mask, fatal_signal_in_progress, release};

use crate::dump::threads::{Fate, Others, Walked};
use crate::format::line::Line;
use crate::format::names;
use crate::report::cause;
use crate::report::json::JsonSink;
use crate::report::minidump;
use crate::report::origin::Origin;
use crate::report::output::{Target, Writer};
use crate::report::sink::{Detail, DumpHeader, Event, FatalEvent, ModuleLine, Sink, ThreadHeader};
use crate::report::text::TextSink;
use crate::settings::{Config, Format};
use crate::symbolize::dwarf::{self, Resolver, Sources};
use crate::symbolize::modules::{ModuleKind, Modules};
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
        /// The address of the signal's `ucontext_t` (its floating-point
        /// state, for the minidump).
        ucontext: u64,
    },
    UserSignal {
        signum: i32,
        regs: Registers,
    },
    /// A call of the C API; `regs` are the caller's (our frames are skipped).
    Api {
        regs: Registers,
    },
    /// The watchdog: no thread is current. With `exits`, the process ends
    /// right after (`FAULTHANDLER_TIMEOUT=...:exit`).
    Timeout {
        period_ns: u64,
        exits: bool,
    },
}

impl Trigger<'_> {
    /// What becomes of the process after the dump.
    fn fate(&self) -> Fate {
        match self {
            Trigger::Fatal {
                ends_process: true, ..
            }
            | Trigger::Timeout { exits: true, .. } => Fate::Dies,
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
    begin(sink, &origin(config), &exe, &target);
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

/// Where the process runs, read now (see [`crate::report::origin`]).
fn origin(config: &Config) -> Origin<'_> {
    Origin::read(&config.pod_name, &config.pod_namespace, &config.tags)
}

fn begin(sink: &mut dyn Sink, origin: &Origin, exe: &ExePath, target: &Target) {
    sink.begin(&DumpHeader {
        pid: sys::getpid(),
        exe: exe.path(),
        unix_time: sys::realtime_ns() / 1_000_000_000,
        origin,
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

/// One dump, in phases whose order matters:
/// 1. the output and the header, first: something is said even if the
///    rest fails;
/// 2. the other threads are stopped ([`Others::stop`]) before anything is
///    read of the process, so that the memory map and the memory read
///    after it describe a process that holds still;
/// 3. the memory map, then the event (its Cause line reads the map),
///    flushed: a dump that dies from here on has said why the process did;
/// 4. the modules and the means to walk and name (unwinder, symbols,
///    Python, DWARF);
/// 5. the current thread, flushed; then the others, walked
///    ([`Others::walk`]) while parked; the minidump, if one is asked for,
///    from those same registers and still stacks ([`minidump`]); then the
///    others printed ([`Walked::print`]), released first in a dump the
///    process survives, kept parked until the process dies in a fatal one;
/// 6. the trailer: notes, registers and modules of a fatal dump, the
///    turn's and the dump's figures.
fn write(config: &Config, trigger: &Trigger, options: Options) {
    #[cfg(feature = "selftest-unsafe-handler")]
    crate::selftest_unsafe_call(true);
    // 1. Output and header.
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
    let origin = origin(config);
    begin(sink, &origin, &exe, &target);

    // 2. The other threads stopped: the maps are read after, once no
    // stopped thread can map or unmap.
    let others = stop_others(config, trigger, options, deadline_ns);

    // 3. Memory map and event.
    let maps = Maps::read();
    let maps_errno = sys::errno();
    let memory = Memory::new(maps);
    // For the stacks of threads that are not stopped (seen through /proc):
    // every read goes through the kernel, which fails cleanly on memory a
    // running thread unmapped since the maps were read.
    let unstopped_memory = Memory::new(None);
    let mut abort_buf = [0u8; 1024];
    let abort_message = write_event(sink, trigger, &memory, maps_errno, &mut abort_buf);
    #[cfg(feature = "selftest-fault-in-dump")]
    crate::selftest_fault();

    // A minidump for a dump the process does not survive, never for a
    // privileged one (its memory is not its caller's to read).
    let minidump = config.minidump.as_ref().filter(|_| {
        !secure
            && matches!(
                trigger,
                Trigger::Fatal { .. } | Trigger::Timeout { exits: true, .. }
            )
    });

    // 4. Modules, unwinder, symbols, Python, DWARF.
    let modules = Modules::discover(&memory, exe.path());
    note_rejected(sink, &modules);
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

    // 5. The current thread; the others walked, still parked; the
    // minidump, written while their stacks hold still, from the same
    // registers; then the others printed (and released, in a dump the
    // process survives); the minidump's lines come after the threads.
    print_current(sink, trigger, &mut stacks);
    let walked = others.map(|others| others.walk(&mut stacks));
    let minidump_notes = match minidump {
        Some(settings) => write_minidump(
            &minidump::Dump {
                settings,
                exe_name: exe.base(),
                pid: sys::getpid(),
                unix_time: sys::realtime_ns() / 1_000_000_000,
                threads: &minidump_threads(trigger, walked.as_ref()),
                exception: minidump_exception(trigger, walked.as_ref()),
                images: &minidump_images(&modules),
                maps: memory.maps(),
                annotations: &origin.annotations(
                    (b"faultdump.version", env!("CARGO_PKG_VERSION").as_bytes()),
                    abort_message,
                ),
                crash_key: crash_key(trigger, &modules, &mut Line::new()).as_bytes(),
                deadline_ns,
            },
            config.stats,
        ),
        None => Vec::new(),
    };
    if let Some(walked) = walked {
        walked.print(&mut stacks, sink);
    }
    for note in &minidump_notes {
        sink.note(note);
    }

    // 6. Trailer.
    let mut note = Line::new();
    if symbolizer.unopened_note(&modules, &mut note) {
        sink.note(note.as_bytes());
    }
    note.clear();
    if symbolizer.short_note(&mut note) {
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

/// Writes the minidump; returns its lines for the text dump (what it
/// wrote, or why not; with `stats`, its time).
fn write_minidump(dump: &minidump::Dump, stats: bool) -> Vec<Vec<u8>> {
    let started_ns = sys::monotonic_ns();
    let mut notes: Vec<Vec<u8>> = Vec::new();
    minidump::write(dump, &mut |line| notes.push(line.to_vec()));
    if stats {
        let mut note = Line::new();
        let _ = core::fmt::Write::write_fmt(
            &mut note,
            format_args!(
                "faultdump: minidump written in {:.3} ms",
                (sys::monotonic_ns() - started_ns) as f64 / 1e6
            ),
        );
        notes.push(note.as_bytes().to_vec());
    }
    notes
}

/// What makes a fatal crash the same as another for the minidump's crash
/// loop accounting: the executable's build id, the faulting pc's module's
/// build id and its offset there (hex). Empty for other dumps.
fn crash_key<'l>(trigger: &Trigger, modules: &Modules, key: &'l mut Line) -> &'l Line {
    let Trigger::Fatal { regs, info, .. } = trigger else {
        return key;
    };
    // The first `n` bytes of a module's build id, in hex.
    let id = |key: &mut Line, m: Option<&crate::symbolize::modules::Module>, n: usize| {
        for b in m
            .and_then(|m| m.build_id.as_deref())
            .unwrap_or_default()
            .iter()
            .take(n)
        {
            let _ = core::fmt::Write::write_fmt(key, format_args!("{b:02x}"));
        }
    };
    let exe = modules
        .list()
        .iter()
        .find(|m| m.kind == ModuleKind::Executable);
    id(key, exe, 8);
    let found = modules.find(regs.pc());
    let _ = core::fmt::Write::write_fmt(key, format_args!("-{}-", info.si_signo));
    id(key, found.map(|(_, m)| m), 4);
    let _ = core::fmt::Write::write_fmt(
        key,
        format_args!(
            "+{:x}",
            regs.pc().wrapping_sub(found.map_or(0, |(_, m)| m.bias))
        ),
    );
    key
}

/// The minidump's threads: the current one first (the one the signal
/// hit, with its signal context), then the others that gave registers, in
/// the order the dump prints them.
fn minidump_threads(trigger: &Trigger, walked: Option<&Walked>) -> Vec<minidump::Thread> {
    let mut threads = Vec::new();
    let mut push = |tid: i32, regs: &Registers, ucontext: Option<u64>| {
        let mut name = [0u8; 16];
        let name_len = if tid == sys::gettid() {
            sys::thread_name(&mut name).len()
        } else {
            threads::tasks::name(tid, &mut name).len()
        };
        threads.push(minidump::Thread {
            tid,
            name,
            name_len,
            regs: *regs,
            ucontext,
        });
    };
    if let Trigger::Fatal { regs, ucontext, .. } = trigger {
        push(sys::gettid(), regs, Some(*ucontext));
    }
    if let Some(walked) = walked {
        walked.each_with_registers(|tid, regs, ucontext| push(tid, regs, ucontext));
    }
    threads
}

/// The minidump's exception: the fatal signal on the current thread, or,
/// for a timeout, a dump requested on the main thread.
fn minidump_exception(trigger: &Trigger, walked: Option<&Walked>) -> minidump::Exception {
    match trigger {
        Trigger::Fatal { info, .. } => minidump::Exception {
            tid: sys::gettid(),
            code: info.si_signo as u32,
            si_code: info.si_code,
            address: if names::is_fault_with_address(info.si_signo, info.si_code) {
                // SAFETY: the kernel filled the fault fields for this signal and code.
                unsafe { info.si_addr() as u64 }
            } else {
                0
            },
        },
        _ => {
            let mut tid = 0;
            if let Some(walked) = walked {
                walked.each_with_registers(|t, _, _| {
                    if tid == 0 || t == sys::getpid() {
                        tid = t;
                    }
                });
            }
            minidump::Exception {
                tid,
                code: minidump::layout::EXCEPTION_DUMP_REQUESTED,
                si_code: 0,
                address: 0,
            }
        }
    }
}

/// Each module's image: from the page of its lowest `PT_LOAD` to the end
/// of its highest (a non-PIE executable's base is its link address, not
/// its bias of 0), its path (the vDSO under breakpad's name) and build id.
fn minidump_images(modules: &Modules) -> Vec<minidump::Image<'_>> {
    let page = sys::page_size() as u64;
    modules
        .list()
        .iter()
        .map(|m| {
            let base = m.avma.start & !(page - 1);
            minidump::Image {
                base,
                size: m.avma.end.saturating_sub(base),
                path: if m.kind == ModuleKind::Vdso {
                    b"linux-gate.so"
                } else {
                    &m.path
                },
                build_id: m.build_id.as_deref(),
            }
        })
        .collect()
}

/// Phase 2: the other threads, listed and signalled to stop (all threads
/// unless the trigger asked for the current one only).
fn stop_others(
    config: &Config,
    trigger: &Trigger,
    options: Options,
    deadline_ns: u64,
) -> Option<Others> {
    options.all_threads.then(|| {
        Others::stop(
            &[sys::gettid(), options.hidden_tid],
            config.max_threads - usize::from(!matches!(trigger, Trigger::Timeout { .. })),
            config.deadline,
            deadline_ns,
            trigger.fate(),
            options.signal_in_use,
        )
    })
}

/// Phase 3: the event line (with its Cause and, for SIGABRT, the C
/// library's abort message, read into `abort_buf` and returned), a note if
/// the memory map could not be read, flushed.
fn write_event<'b>(
    sink: &mut dyn Sink,
    trigger: &Trigger,
    memory: &Memory,
    maps_errno: i32,
    abort_buf: &'b mut [u8],
) -> Option<&'b [u8]> {
    let abort_message = match trigger {
        Trigger::Fatal { info, .. } if info.si_signo == libc::SIGABRT => {
            abortmsg::read(memory, abort_buf)
        }
        _ => None,
    };
    let event = match trigger {
        Trigger::Fatal { info, regs, .. } => Event::Fatal(FatalEvent {
            abort_message,
            ..fatal_event(info, regs, memory.maps())
        }),
        Trigger::UserSignal { signum, .. } => Event::UserSignal { signum: *signum },
        Trigger::Api { .. } => Event::Api,
        Trigger::Timeout { period_ns, .. } => Event::Timeout {
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
    abort_message
}

/// Phase 4: a note if entries of the loader's list were left out.
fn note_rejected(sink: &mut dyn Sink, modules: &Modules) {
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
}

/// Phase 5: the thread the trigger came from, if there is one (not for a
/// timeout), flushed.
fn print_current(sink: &mut dyn Sink, trigger: &Trigger, stacks: &mut Stacks) {
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
        abort_message: None,
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
