//! The minidump (`FAULTHANDLER_MINIDUMP`): one more consumer of the one
//! collected dump. The dump hands over what it already holds, the threads
//! it stopped with the registers they reported, the modules it found and
//! the maps it read, while the threads are still stopped; this writes the
//! Breakpad/Crashpad file that crash servers (Sentry, Socorro, Backtrace)
//! and `minidump-stackwalk` read.
//!
//! The file is written in one pass of `pwrite`s ([`file::Out`]): every
//! piece after the header and directory, then the lists that point at the
//! pieces, then the header and directory at the start; under a temporary
//! name, renamed when complete. Process memory (stacks, the code around
//! the pc) goes to the file through the kernel, which fails on memory that
//! is gone instead of faulting. Records are built by [`layout`], the
//! processor's context by [`crate::sys::arch::context`].
//!
//! Signal-safe like the rest of the report: arena memory only, no lock, no
//! loader call. Never written for a set-uid or non-dumpable process (the
//! caller checks), and never with the environment (it holds secrets).

mod crashloop;
mod file;
pub mod layout;

use alloc::vec;
use alloc::vec::Vec;
use core::ffi::CStr;

use crate::format::line::Line;
use crate::format::names;
use crate::settings::Minidump;
use crate::sys;
use crate::sys::arch::Registers;
use crate::sys::arch::context::{self, CONTEXT_SIZE, MINIDUMP_ARCH};
use crate::sys::memory::Maps;
use file::{Names, Out};
use layout::{Location, MemoryRange, stream};

/// Stack bytes kept per thread, from just below its stack pointer up
/// (breakpad's `kStackToCapture`).
pub const STACK_PER_THREAD: usize = 32 * 1024;
/// Bytes kept below the stack pointer: x86_64's red zone.
const BELOW_SP: u64 = 128;
/// Bytes of code kept around the crashing pc (half before, half after).
const AROUND_PC: u64 = 256;

/// One stopped thread: the registers it reported, and, for the thread the
/// signal hit and for the threads parked in their handler, the signal's
/// `ucontext_t` (its floating-point and SIMD state).
pub struct Thread {
    pub tid: i32,
    pub name: [u8; 16],
    pub name_len: usize,
    pub regs: Registers,
    pub ucontext: Option<u64>,
}

/// One module: its image's address range, its path and its build id.
pub struct Image<'a> {
    pub base: u64,
    pub size: u64,
    pub path: &'a [u8],
    pub build_id: Option<&'a [u8]>,
}

/// Why the dump was written.
pub struct Exception {
    /// The thread it happened on (its context is the exception's).
    pub tid: i32,
    /// The signal, or [`layout::EXCEPTION_DUMP_REQUESTED`] (a timeout).
    pub code: u32,
    pub si_code: i32,
    pub address: u64,
}

/// Everything a minidump holds, borrowed from the dump.
pub struct Dump<'a> {
    pub settings: &'a Minidump,
    /// The executable's file name, for the file's name.
    pub exe_name: &'a [u8],
    pub pid: i32,
    pub unix_time: u64,
    pub threads: &'a [Thread],
    pub exception: Exception,
    pub images: &'a [Image<'a>],
    pub maps: Option<&'a Maps>,
    /// Key/value strings for the Crashpad-info stream's simple annotations.
    pub annotations: &'a [(&'a [u8], &'a [u8])],
    /// What makes two crashes the same crash (the executable's build id and
    /// the faulting pc's place in its module), for [`crashloop`]; empty:
    /// not counted.
    pub crash_key: &'a [u8],
    pub deadline_ns: u64,
}

/// Writes the minidump, and says in lines (through `note`) where it went,
/// which limit kept it out or cut it, or why it failed.
pub fn write(dump: &Dump, note: &mut dyn FnMut(&[u8])) {
    let mut line = Line::new();
    let settings = dump.settings;
    let mut dir_path = Vec::with_capacity(settings.dir.len() + 1);
    dir_path.extend_from_slice(&settings.dir);
    dir_path.push(0);
    let dir_c = CStr::from_bytes_with_nul(&dir_path).unwrap_or(c".");
    let say = |line: &mut Line, what: &[u8], errno: Option<i32>| {
        line.clear();
        line.push(b"faultdump: minidump not written to ");
        line.push(&settings.dir);
        line.push(b": ");
        line.push(what);
        if let Some(e) = errno {
            line.push(names::errno_name(e).as_bytes());
        }
    };
    let dir = match sys::files::open_dir_nofollow(dir_c) {
        Ok(dir) => dir,
        Err(e) => {
            say(&mut line, b"", Some(e));
            note(line.as_bytes());
            return;
        }
    };
    // One writer at a time in the directory, across processes: the file cap
    // and the crash-loop state are read, then acted on; two processes that
    // crash together would otherwise both see room for one more. Bounded by
    // the dump's deadline; the lock goes with the descriptor.
    if !lock_dir(&dir, dump.deadline_ns) {
        say(&mut line, b"", None);
        line.push(b"another process's minidump held the directory until the deadline");
        note(line.as_bytes());
        return;
    }
    if let Some(free) = dir.free_bytes()
        && free < settings.min_free
    {
        say(&mut line, b"", None);
        let _ = core::fmt::Write::write_fmt(
            &mut line,
            format_args!(
                "{} KiB free, below FAULTHANDLER_MINIDUMP_MIN_FREE ({} KiB)",
                free / 1024,
                settings.min_free / 1024
            ),
        );
        note(line.as_bytes());
        return;
    }
    let present = file::count_minidumps(&dir);
    if present >= settings.max_files {
        say(&mut line, b"", None);
        let _ = core::fmt::Write::write_fmt(
            &mut line,
            format_args!(
                "it holds {present} minidumps, FAULTHANDLER_MINIDUMP_MAX_FILES is {}",
                settings.max_files
            ),
        );
        note(line.as_bytes());
        return;
    }
    let mut skipped_count = Line::new();
    if !dump.crash_key.is_empty()
        && let Ok(state) = dir.open_rw_in(crashloop::STATE_FILE)
    {
        let mut buf = [0u8; 512];
        let n = state.read_full(&mut buf);
        let mut next = Line::new();
        let decision = crashloop::decide(&buf[..n], dump.crash_key, dump.unix_time, &mut next);
        let _ = state
            .truncate(0)
            .then(|| state.pwrite_all(next.as_bytes(), 0));
        match decision {
            crashloop::Decision::Skip { nth } => {
                say(&mut line, b"", None);
                let _ = core::fmt::Write::write_fmt(
                    &mut line,
                    format_args!(
                        "the same crash again, {nth} times in {} s (at most {} minidumps of it \
                         per window; counted in {})",
                        crashloop::WINDOW_S,
                        crashloop::PER_WINDOW,
                        crashloop::STATE_FILE.to_str().unwrap_or("")
                    ),
                );
                note(line.as_bytes());
                return;
            }
            crashloop::Decision::Write { skipped } if skipped > 0 => {
                skipped_count.dec(skipped as i64);
            }
            crashloop::Decision::Write { .. } => {}
        }
    }
    let mut annotations: Vec<(&[u8], &[u8])> = dump.annotations.to_vec();
    if !skipped_count.as_bytes().is_empty() {
        annotations.push((b"faultdump.same_crash_skipped", skipped_count.as_bytes()));
    }
    let names = Names::new(dump.exe_name, dump.pid, dump.unix_time);
    let fd = match dir.create_in(names.temp_c()) {
        Ok(fd) => fd,
        Err(e) => {
            say(&mut line, b"", Some(e));
            note(line.as_bytes());
            return;
        }
    };
    let mut streams = Streams::new();
    let mut out = Out::new(fd, streams.reserved(), settings.max_size);
    let cut = write_streams(dump, &annotations, &mut out, &mut streams);
    streams.finish(&mut out, dump.unix_time as u32);
    let size = out.len();
    let error = out.error;
    drop(out);
    let result = match error {
        Some(e) => Err(e),
        None => dir.rename_in(names.temp_c(), names.final_c()),
    };
    if let Err(e) = result {
        dir.unlink_in(names.temp_c());
        say(&mut line, b"", Some(e));
        note(line.as_bytes());
        return;
    }
    line.clear();
    line.push(b"faultdump: minidump written to ");
    line.push(&settings.dir);
    line.byte(b'/');
    line.push(names.shown());
    let _ = core::fmt::Write::write_fmt(&mut line, format_args!(" ({} KiB)", size.div_ceil(1024)));
    note(line.as_bytes());
    if let Some(cut) = cut {
        line.clear();
        cut.say(settings.max_size, &mut line);
        note(line.as_bytes());
    }
}

/// How long to sleep between tries of the directory's lock.
const LOCK_RETRY_NS: u64 = 1_000_000;

/// Waits for the directory's `flock` until `deadline_ns`.
fn lock_dir(dir: &sys::Fd, deadline_ns: u64) -> bool {
    loop {
        if sys::try_flock(dir.0) {
            return true;
        }
        let now = sys::monotonic_ns();
        if now >= deadline_ns {
            return false;
        }
        sys::sleep_ns(LOCK_RETRY_NS.min(deadline_ns - now));
    }
}

/// The directory being filled: up to [`MAX_STREAMS`] entries.
const MAX_STREAMS: usize = 11;

struct Streams {
    entries: [(u32, Location); MAX_STREAMS],
    len: usize,
}

impl Streams {
    fn new() -> Streams {
        Streams {
            entries: [(0, Location::default()); MAX_STREAMS],
            len: 0,
        }
    }

    /// Where the first piece goes: after the header and a full directory.
    fn reserved(&self) -> u64 {
        (layout::HEADER_SIZE + MAX_STREAMS * layout::DIRECTORY_ENTRY_SIZE) as u64
    }

    fn add(&mut self, kind: u32, loc: Location) {
        if self.len < MAX_STREAMS && loc.size > 0 {
            self.entries[self.len] = (kind, loc);
            self.len += 1;
        }
    }

    /// Writes the directory and then the header (last: a file cut short
    /// before this point has no valid header).
    fn finish(&self, out: &mut Out, unix_time: u32) {
        let mut dir = [0u8; MAX_STREAMS * layout::DIRECTORY_ENTRY_SIZE];
        for (i, (kind, loc)) in self.entries[..self.len].iter().enumerate() {
            let at = i * layout::DIRECTORY_ENTRY_SIZE;
            dir[at..at + layout::DIRECTORY_ENTRY_SIZE]
                .copy_from_slice(&layout::directory_entry(*kind, *loc));
        }
        out.patch(
            &dir[..self.len * layout::DIRECTORY_ENTRY_SIZE],
            layout::HEADER_SIZE as u64,
        );
        out.patch(&layout::header(self.len as u32, unix_time), 0);
    }
}

/// What the size cap or the deadline took away.
#[derive(Clone, Copy)]
struct Cut {
    /// Threads whose stack was shortened (or left out).
    threads: usize,
    /// Threads left out entirely.
    left_out: usize,
    /// The deadline came first.
    deadline: bool,
}

impl Cut {
    fn say(&self, max_size: u64, line: &mut Line) {
        let _ = if self.deadline {
            core::fmt::Write::write_fmt(
                line,
                format_args!(
                    "faultdump: minidump: the dump's deadline came: {} stacks cut short",
                    self.threads
                ),
            )
        } else {
            core::fmt::Write::write_fmt(
                line,
                format_args!(
                    "faultdump: minidump: {} stacks cut and {} threads left out to fit \
                     FAULTHANDLER_MINIDUMP_MAX_SIZE ({} KiB)",
                    self.threads,
                    self.left_out,
                    max_size / 1024
                ),
            )
        };
    }
}

/// Writes every stream's pieces and lists. Returns what was cut.
fn write_streams(
    dump: &Dump,
    annotations: &[(&[u8], &[u8])],
    out: &mut Out,
    streams: &mut Streams,
) -> Option<Cut> {
    streams.add(stream::SYSTEM_INFO, system_info(out));

    // What the streams besides the stacks need at most, so that the stacks
    // are cut, not the rest; and, should even that not fit, the threads
    // that do with the first one's stack (the thread the dump is about).
    let fixed = 16 * 1024
        + dump
            .images
            .iter()
            .map(|m| layout::MODULE_SIZE + layout::md_string_size(m.path) + 4 + 64)
            .sum::<usize>()
        + dump.maps.map_or(0, |m| m.text().len())
        + annotations
            .iter()
            .map(|(k, v)| 8 + k.len() + v.len() + 10)
            .sum::<usize>()
        + AROUND_PC as usize;
    let per_thread = CONTEXT_SIZE
        + layout::THREAD_SIZE
        + layout::MEMORY_DESCRIPTOR_SIZE
        + layout::THREAD_NAME_SIZE
        + 4
        + 16 * 2
        + 2;
    let room = out.room() as usize;
    // The first thread's stack before any other thread.
    let fit = (room.saturating_sub(fixed + STACK_PER_THREAD) / per_thread).max(1);
    let threads = &dump.threads[..dump.threads.len().min(fit)];
    let n = threads.len();
    let later = fixed + n * per_thread;
    let mut stack_budget = room.saturating_sub(later);

    // Per thread: its context, then its stack.
    let mut contexts: Vec<Location> = Vec::with_capacity(n);
    let mut stacks: Vec<MemoryRange> = Vec::with_capacity(n);
    let mut cut = Cut {
        threads: 0,
        left_out: dump.threads.len() - n,
        deadline: false,
    };
    let mut buf = [0u8; CONTEXT_SIZE];
    for (i, t) in threads.iter().enumerate() {
        context::minidump_context(&t.regs, t.ucontext, &mut buf);
        contexts.push(out.bytes(&buf));
        if sys::monotonic_ns() >= dump.deadline_ns {
            cut.deadline = true;
        }
        // The thread the dump is about first, as much as it wants; the
        // others share what is left.
        let share = if i == 0 {
            stack_budget
        } else {
            stack_budget / (n - i)
        };
        let cap = if cut.deadline {
            0
        } else {
            STACK_PER_THREAD.min(share)
        };
        let range = stack(out, dump.maps, t.regs.sp(), cap, &mut cut);
        stack_budget = stack_budget.saturating_sub(range.bytes.size as usize);
        stacks.push(range);
    }

    // The code around the pc of the thread the exception names, if it is
    // among the threads that fit (an index into `threads` and `contexts`).
    let crashed = threads.iter().position(|t| t.tid == dump.exception.tid);
    let code = crashed.map_or(MemoryRange::default(), |i| {
        around_pc(out, dump.maps, threads[i].regs.pc())
    });

    // ThreadList.
    let rva = out.rva();
    let mut size = out.bytes(&layout::count(n)).size;
    for (i, t) in threads.iter().enumerate() {
        size += out
            .bytes(&layout::thread(t.tid as u32, stacks[i], contexts[i]))
            .size;
    }
    streams.add(stream::THREAD_LIST, Location { size, rva });

    // MemoryList: the stacks (the same bytes, not copied again) and the code.
    let ranges = stacks
        .iter()
        .chain(core::iter::once(&code))
        .filter(|r| r.bytes.size > 0);
    let rva = out.rva();
    let mut size = out.bytes(&layout::count(ranges.clone().count())).size;
    for r in ranges {
        size += out.bytes(&layout::memory_descriptor(*r)).size;
    }
    streams.add(stream::MEMORY_LIST, Location { size, rva });

    streams.add(stream::MODULE_LIST, module_list(out, dump.images));
    streams.add(stream::THREAD_NAMES, thread_names(out, threads));

    let context = crashed.map_or(Location::default(), |i| contexts[i]);
    let e = &dump.exception;
    streams.add(
        stream::EXCEPTION,
        out.bytes(&layout::exception(
            e.tid as u32,
            e.code,
            e.si_code as u32,
            e.address,
            context,
        )),
    );

    let mut chunk = vec![0u8; 16 * 1024];
    if let Some(maps) = dump.maps {
        streams.add(stream::LINUX_MAPS, out.bytes(maps.text()));
    }
    for (kind, path) in [
        (stream::LINUX_PROC_STATUS, c"/proc/self/status"),
        (stream::LINUX_CMD_LINE, c"/proc/self/cmdline"),
        (stream::LINUX_AUXV, c"/proc/self/auxv"),
    ] {
        if let Some(fd) = sys::open_read(path) {
            streams.add(kind, out.stream(&mut chunk, |buf| fd.read_full(buf)));
        }
    }
    if !annotations.is_empty() {
        streams.add(stream::CRASHPAD_INFO, crashpad_info(out, annotations));
    }
    (cut.threads > 0 || cut.left_out > 0 || cut.deadline).then_some(cut)
}

/// SystemInfo, with its OS string (`uname`: sysname release version
/// machine) before it.
fn system_info(out: &mut Out) -> Location {
    // SAFETY: plain data the kernel fills in.
    let mut uts: libc::utsname = unsafe { core::mem::zeroed() };
    sys::raw::uname(&mut uts);
    let field = |f: &[libc::c_char]| -> ([u8; 65], usize) {
        let mut b = [0u8; 65];
        let n = f.iter().position(|&c| c == 0).unwrap_or(f.len()).min(65);
        for (d, s) in b.iter_mut().zip(&f[..n]) {
            // c_char is i8 on x86_64, u8 on aarch64.
            #[allow(clippy::unnecessary_cast)]
            let byte = *s as u8;
            *d = byte;
        }
        (b, n)
    };
    let mut text = Line::new();
    for (i, f) in [&uts.sysname[..], &uts.release, &uts.version, &uts.machine]
        .into_iter()
        .enumerate()
    {
        if i > 0 {
            text.byte(b' ');
        }
        let (b, n) = field(f);
        text.push(&b[..n]);
    }
    let mut encoded = vec![0u8; layout::md_string_size(text.as_bytes())];
    let len = layout::md_string(text.as_bytes(), &mut encoded);
    let csd = out.bytes(&encoded[..len]);
    let (level, revision, info) = context::minidump_cpu();
    let cpu = layout::Cpu {
        arch: MINIDUMP_ARCH,
        level,
        revision,
        count: sys::files::cpu_count().min(255) as u8,
        info,
    };
    let (release, n) = field(&uts.release);
    out.bytes(&layout::system_info(
        &cpu,
        layout::kernel_version(&release[..n]),
        csd.rva,
    ))
}

/// A thread's stack from just below `sp` up, at most `cap` bytes, within
/// its mapping. A stack pointer in unreadable memory (an overflow into the
/// guard page) gives the stack from the next page up.
fn stack(out: &mut Out, maps: Option<&Maps>, sp: u64, cap: usize, cut: &mut Cut) -> MemoryRange {
    let page = sys::page_size() as u64;
    let next_page = (sp | (page - 1)).saturating_add(1);
    let mut start = sp.saturating_sub(BELOW_SP) & !15;
    let mut end = start.saturating_add(STACK_PER_THREAD as u64);
    if let Some(maps) = maps {
        let readable = |a: u64| maps.find(a).filter(|e| e.read);
        let mapping = match readable(sp) {
            Some(e) => e,
            None => match readable(next_page) {
                Some(e) => {
                    start = next_page;
                    end = start.saturating_add(STACK_PER_THREAD as u64);
                    e
                }
                None => return MemoryRange::default(),
            },
        };
        start = start.max(mapping.start);
        end = end.min(mapping.end);
    }
    let want = end.saturating_sub(start) as usize;
    if want > cap {
        cut.threads += 1;
    }
    let mut bytes = out.memory(start, want.min(cap));
    if bytes.size == 0 && maps.is_none() {
        // Without the maps, the stack pointer's page may be the guard.
        start = next_page;
        bytes = out.memory(start, want.min(cap));
    }
    MemoryRange { start, bytes }
}

/// The bytes around `pc`, within its mapping.
fn around_pc(out: &mut Out, maps: Option<&Maps>, pc: u64) -> MemoryRange {
    let mut start = pc.saturating_sub(AROUND_PC / 2);
    let mut end = pc.saturating_add(AROUND_PC / 2);
    if let Some(maps) = maps {
        match maps.find(pc).filter(|e| e.read) {
            Some(e) => {
                start = start.max(e.start);
                end = end.min(e.end);
            }
            None => return MemoryRange::default(),
        }
    }
    let bytes = out.memory(start, end.saturating_sub(start) as usize);
    MemoryRange { start, bytes }
}

/// ModuleList: each module's path and CodeView record, then the list.
fn module_list(out: &mut Out, images: &[Image]) -> Location {
    let mut records: Vec<[u8; layout::MODULE_SIZE]> = Vec::with_capacity(images.len());
    let mut encoded = Vec::new();
    for m in images {
        encoded.clear();
        encoded.resize(layout::md_string_size(m.path), 0);
        let len = layout::md_string(m.path, &mut encoded);
        let name = out.bytes(&encoded[..len]);
        let cv = match m.build_id.filter(|id| !id.is_empty()) {
            Some(id) => {
                let head = out.bytes(&layout::codeview_head());
                let tail = out.bytes(id);
                Location {
                    size: head.size + tail.size,
                    rva: head.rva,
                }
            }
            None => Location::default(),
        };
        records.push(layout::module(
            m.base,
            m.size.min(u64::from(u32::MAX)) as u32,
            name.rva,
            cv,
        ));
    }
    let rva = out.rva();
    let mut size = out.bytes(&layout::count(records.len())).size;
    for r in &records {
        size += out.bytes(r).size;
    }
    Location { size, rva }
}

/// ThreadNames: each name as an `MDString`, then the list.
fn thread_names(out: &mut Out, threads: &[Thread]) -> Location {
    let mut rvas: Vec<u32> = Vec::with_capacity(threads.len());
    let mut encoded = [0u8; 4 + 16 * 2 + 2];
    for t in threads {
        let len = layout::md_string(&t.name[..t.name_len], &mut encoded);
        rvas.push(out.bytes(&encoded[..len]).rva);
    }
    let rva = out.rva();
    let mut size = out.bytes(&layout::count(threads.len())).size;
    for (t, name) in threads.iter().zip(&rvas) {
        size += out.bytes(&layout::thread_name(t.tid as u32, *name)).size;
    }
    Location { size, rva }
}

/// The Crashpad-info stream with the annotations as its simple dictionary:
/// `MinidumpUTF8String`s (length, bytes, NUL), the dictionary, an empty
/// module list, the info record.
fn crashpad_info(out: &mut Out, annotations: &[(&[u8], &[u8])]) -> Location {
    let string = |out: &mut Out, s: &[u8]| {
        let head = out.bytes(&(s.len() as u32).to_le_bytes());
        out.bytes(s);
        out.bytes(&[0]);
        head.rva
    };
    let mut entries: Vec<[u8; 8]> = Vec::with_capacity(annotations.len());
    for (key, value) in annotations {
        let k = string(out, key);
        let v = string(out, value);
        entries.push(layout::dictionary_entry(k, v));
    }
    let rva = out.rva();
    let mut size = out.bytes(&layout::count(entries.len())).size;
    for e in &entries {
        size += out.bytes(e).size;
    }
    let dictionary = Location { size, rva };
    let modules = out.bytes(&layout::count(0));
    out.bytes(&layout::crashpad_info(dictionary, modules))
}
