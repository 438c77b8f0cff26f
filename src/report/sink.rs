//! What a dump says, independent of how it is written: the dump code calls a
//! [`Sink`] with each part in order, and the text and JSON formats implement
//! it. Everything a sink receives is borrowed; a sink writes through its
//! [`Writer`] and allocates nothing.

use crate::report::origin::Origin;
use crate::report::output::Writer;
use crate::sys::arch::Registers;

pub struct DumpHeader<'a> {
    pub pid: i32,
    pub exe: &'a [u8],
    pub unix_time: u64,
    /// Container, host, pod and tags.
    pub origin: &'a Origin<'a>,
}

/// How the fault is described beyond its signal and code.
#[derive(Clone, Copy)]
pub enum Detail {
    /// A fault raised by the hardware at this address.
    Address(u64),
    /// A signal sent by a process.
    Sender { pid: i32, uid: u32 },
    /// SIGSYS from seccomp: the system call refused.
    Syscall {
        number: i64,
        name: Option<&'static str>,
    },
    /// Nothing more is known (for example SI_KERNEL faults carry no address).
    Nothing,
}

/// The mapping a fault address lies in, or the nearest one.
#[derive(Clone, Copy)]
pub struct MappingNote<'a> {
    pub addr: u64,
    pub contains: bool,
    pub start: u64,
    pub end: u64,
    pub perms: [u8; 4],
    pub path: &'a [u8],
}

#[derive(Clone, Copy)]
pub struct Cause<'a> {
    pub what: &'static str,
    pub mapping: Option<MappingNote<'a>>,
}

#[derive(Clone, Copy)]
pub struct FatalEvent<'a> {
    pub signum: i32,
    pub title: &'static str,
    pub abbrev: &'static str,
    pub code: i32,
    pub code_name: Option<&'static str>,
    pub detail: Detail,
    pub cause: Option<Cause<'a>>,
    /// SIGABRT: the message the C library recorded for it (an `assert()`,
    /// a heap check, `__libc_fatal`), where it keeps one.
    pub abort_message: Option<&'a [u8]>,
}

/// Why a dump is being written.
#[derive(Clone, Copy)]
pub enum Event<'a> {
    Fatal(FatalEvent<'a>),
    Timeout { period_ns: u64 },
    UserSignal { signum: i32 },
    Api,
}

pub struct ThreadHeader<'a> {
    pub tid: i32,
    pub name: &'a [u8],
    pub current: bool,
}

/// One line of a stack: a physical frame, or a function inlined into one.
pub struct FrameLine<'a> {
    pub index: usize,
    pub addr: u64,
    /// Demangled; `None` when nothing names the address.
    pub function: Option<&'a [u8]>,
    /// Address minus the function's start, where a symbol gave the start.
    pub offset: Option<u64>,
    pub inlined: bool,
    pub file: Option<&'a [u8]>,
    pub line: Option<u32>,
    /// Path of the module, `[vdso]`; `None` for memory no file backs.
    pub module: Option<&'a [u8]>,
    /// Address minus the module's load bias (or the anonymous mapping's start).
    pub module_offset: u64,
}

/// One Python frame, placed among the native frames (the dump's `python` module).
pub struct PythonFrameLine<'a> {
    pub index: usize,
    /// `co_qualname` (3.11+) or `co_name`, as UTF-8; `??` when unreadable.
    pub function: &'a [u8],
    pub file: &'a [u8],
    /// `None` where the line table gives no line.
    pub line: Option<u32>,
}

pub struct ModuleLine<'a> {
    pub bias: u64,
    pub path: &'a [u8],
    pub build_id: Option<&'a [u8]>,
    /// No build-id, because the one the image has could not be read.
    pub build_id_unreadable: bool,
}

pub trait Sink {
    fn begin(&mut self, header: &DumpHeader);
    /// A line about the dump itself (a file that could not be opened, a
    /// budget that ran out).
    fn note(&mut self, text: &[u8]);
    fn event(&mut self, event: &Event);
    fn thread_begin(&mut self, thread: &ThreadHeader);
    fn frame(&mut self, frame: &FrameLine);
    fn python_frame(&mut self, frame: &PythonFrameLine);
    fn frames_omitted(&mut self, count: u64);
    /// The thread gave no stack; `why` says what is known.
    fn no_answer(&mut self, why: &[u8]);
    fn thread_end(&mut self);
    fn threads_omitted(&mut self, count: usize);
    fn registers(&mut self, regs: &Registers);
    fn module(&mut self, module: &ModuleLine);
    fn end(&mut self, pid: i32);
    /// Writes out what is buffered, so that it survives a later fault.
    fn flush(&mut self) {
        self.writer().flush();
    }
    /// The writer gave up (deadline, closed reader): stop producing.
    fn stopped(&self) -> bool;
    /// The writer underneath (for the dump's turn on its output).
    fn writer(&mut self) -> &mut Writer;
}
