//! faultdump: Python's `faulthandler` for native programs.
//!
//! Preloaded into any dynamically linked program, the library prints a
//! readable stack trace of every thread when the program dies of a fatal
//! signal (and after a timeout, on a user signal, or through the C API),
//! then lets it die exactly as it would have. README.md says how to use it;
//! this is the map for changing it. Each module's own documentation says
//! its part; `cargo doc --no-deps` (private items included, see
//! `.cargo/config.toml`) renders it.
//!
//! # The layers and their rules
//!
//! The folders are layers. A file imports only from its own folder or from
//! folders further down this list, never up:
//!
//! - [`startup`]: the constructor, configuration parsing
//!   ([`startup::config`]), the C API's entry points that install handlers
//!   or start threads, the interposed `pthread_create` and `sigaction`
//!   family. Ordinary code: malloc and locks allowed; never reached from a
//!   handler (the interposed `sigaction` family excepted: programs install
//!   handlers from handlers, so it is async-signal-safe too).
//! - [`triggers`]: what starts a dump: the fatal and user signal handlers,
//!   the watchdog, the API's dump call; what each handler replaced.
//!   **Async-signal-safe from here down.**
//! - [`dump`]: the dump itself: its lock and sequence, stopping and walking
//!   threads, unwinding, the dump stack, CPython's frames.
//! - [`symbolize`]: naming addresses: the module list (the start-up
//!   snapshot, then the loader's list), symbol tables, debug files, DWARF.
//! - [`report`]: writing the report: the [`Sink`](report::sink::Sink)
//!   every format implements ([`report::text`], [`report::json`]), the
//!   Cause line, the output with its deadline and its turn.
//! - [`sys`] (system calls, fault-safe memory reads, the crash arena, the
//!   start-up reservation, the program's view of the signals,
//!   processor-specific code in [`sys::arch`]), [`elf`] (pure ELF
//!   parsing), [`format`] (fixed-buffer formatting), [`settings`] (the
//!   configuration as data). Safe everywhere.
//!
//! The rules for everything reachable from a signal handler, [`triggers`]
//! and below: no allocation from the host's malloc (the crash arena,
//! [`sys::arena`], serves the thread that writes a dump; everyone else goes
//! to the host's allocator, [`sys::hostalloc`]); no lock (the program may
//! hold any lock, or have died holding it); no stdio; no call into the
//! loader (`dlsym`, `dl_iterate_phdr`: the loader lock); system calls only
//! through [`sys`] ([`sys::raw`] makes them directly). The signal-safety
//! test (`tests/safety.rs`) watches every handler for malloc, stdio, mutex
//! and loader calls.
//!
//! State shared across layers lives in the lowest layer that needs it: the
//! configuration in [`settings`] (start-up publishes it once, handlers read
//! it); what a trigger tells the dump travels in
//! [`dump::Options`], built in [`triggers`]. Everything that depends on the
//! processor is in [`sys::arch`], one twin per architecture with the same
//! file names and interface (`x86_64/`, `aarch64/`).
//!
//! # A dump, in order
//!
//! 1. A handler in [`triggers`] enters through a checked entry
//!    ([`sys::arch`]'s `signal_entry!`: a call that is not a real signal
//!    frame is declined) and claims the dump lock ([`dump::claim`]: one dump
//!    at a time per process, keyed by pid and tid, so that a `vfork` child
//!    waits for its parent's dumper; a fault inside the dump, of any fatal
//!    signal, the one being handled included, ends the process at once
//!    with one line saying so).
//! 2. [`dump::run`] moves to the 4 MiB dump stack ([`dump::stacks`]) and
//!    starts the crash arena: every allocation of the dump (framehop,
//!    gimli, demangling, `Vec`) is served from it, never from the host.
//! 3. The output is opened ([`report::output`]) and the report is begun in
//!    memory ([`report::output::buffer`]) with its header.
//! 4. The other threads are stopped with a real-time signal
//!    ([`dump::threads`]), then the memory map is read and the event and
//!    its Cause line written (the phases of `dump::write` say why in that
//!    order). In a dump the process survives (timeout, user
//!    signal, API, a fatal signal a handler installed before ours takes
//!    next) a thread asleep in a system call is read from `/proc` instead
//!    and left asleep, and the others are released before the symbols are
//!    looked up; in a dump the process dies of, they stay parked until it
//!    does.
//! 5. The modules: the start-up snapshot plus what the loader loaded since,
//!    each entry validated ([`symbolize::modules`]).
//! 6. Each thread is walked ([`dump::unwind`], framehop from the signal's
//!    `ucontext`), its CPython frames read ([`dump::python`]), its frames
//!    named ([`symbolize::symbols`], [`symbolize::dwarf`] within its
//!    budget) and handed to the format's sink, thread by thread.
//! 7. Registers and modules (fatal dumps), notes, the last line; the dump
//!    takes its turn on the output and is written
//!    ([`report::output::turn`]).
//! 8. [`triggers::fatal`] puts back the disposition found before ours and
//!    lets the signal act again: the process dies by the same signal, with
//!    the same core.
//!
//! A new output format is one more [`Sink`](report::sink::Sink)
//! implementation in [`report`], one more [`settings::Format`], parsed in
//! [`startup::config`]: the dump calls whichever sink the configuration
//! names, and never walks the threads a second time.
//!
//! # Start-up: the reservation and the snapshot
//!
//! Every process pays for start-up, so the constructor ([`startup`]) does
//! only what a dump in trouble cannot do later: one mapping reserved for the
//! library ([`sys::reserve`]: start-up area, dump stack, main thread's
//! alternate stack, minimum arena), the configuration read from `environ`
//! into that area, the module snapshot ([`symbolize::snapshot`]) taken and
//! sealed read-only, the handlers installed. No symbol table is read and no
//! thread started (unless a timeout is configured); the host's heap is
//! never touched. Its code is gathered in one section
//! (`.text.faultdump.startup`, see `build.rs`) so that it faults in one
//! window of the file.
//!
//! # What the library exports
//!
//! The C API's eight `faultdump_*` functions ([`startup::capi`],
//! [`triggers::api`]), `pthread_create` ([`startup::threadstart`]: every
//! thread gets an alternate signal stack) and the `sigaction` family
//! ([`startup::interpose`]). Nothing else: every symbol lookup of a process
//! that preloads the library consults its table, and any other export could
//! interpose on the program's own symbols. `tests/ship/portable.rs` checks
//! the list.
//!
//! # The program's view of `sigaction`
//!
//! Language runtimes read the handler they replace and decide on it. So for
//! every signal faultdump handles, the interposed `sigaction` family
//! ([`startup::interpose`]) shows the program the disposition it would have
//! without faultdump, and `SIG_DFL` *is* faultdump: the kernel runs
//! faultdump's handler whenever the program's disposition is the default.
//! The view is a lock-free record per signal ([`sys::dispositions`]); the
//! library's own installs go to the next `sigaction` after it
//! ([`sys::realsig`]).
//!
//! # The output's turn in a crash storm
//!
//! The processes of a container share one stderr and crash together. Each
//! dump is built whole in memory of its own ([`report::output::buffer`]) and
//! written in as few `write(2)` calls as the output allows, while holding an
//! exclusive `flock` on a description of the output of its own, or on one
//! of 64 lock files chosen by it ([`report::output::turn`]). The wait is bounded
//! by the dump's deadline.
//!
//! # The system calls a dump makes
//!
//! For seccomp profiles: `rt_sigaction`, `rt_sigprocmask`, `rt_sigpending`,
//! `rt_sigtimedwait`, `rt_tgsigqueueinfo`, `tgkill`, `gettid`, `getpid`,
//! `futex`, `mmap`, `mprotect`, `munmap`, `mremap`, `openat`, `read`,
//! `pread64`, `close`, `fstat`, `newfstatat`, `fcntl`, `ioctl` (`TCGETS`),
//! `getsockopt` (`SO_TYPE`), `flock`, `fchmod` (a lock file it creates),
//! `readlinkat`, `getdents64`, `ppoll`, `write`, `sendto`, `writev`, `prctl`,
//! `process_vm_readv`, `kcmp` (`KCMP_VM`, only when another process holds
//! the dump lock), `nanosleep`/`clock_nanosleep`, `sched_yield`;
//! `clock_gettime` through the vDSO; with `FAULTHANDLER_MINIDUMP`, also
//! `pwrite64`, `ftruncate`, `renameat`, `unlinkat`, `fstatfs`, `uname` and
//! `sched_getaffinity`. It reads `/proc/self/maps`, `/proc/self/exe`,
//! `/proc/self/task/*/{status,syscall,comm}`, `/proc/self/fd/N`,
//! `/proc/self/{cgroup,mountinfo}` and the Kubernetes service account's
//! namespace file (the `Origin:` line), and for a minidump
//! `/proc/self/{status,cmdline,auxv}`; it opens modules' files and their
//! debug files read-only, may create an empty lock file in `/dev/shm` or
//! `/tmp`, and writes minidumps (and a crash-loop state file) only in the
//! minidump directory. Without
//! `/proc` it checks memory with `process_vm_readv`. Every one of them goes
//! through [`sys`].
//!
//! # Why not
//!
//! - std: its panic and backtrace machinery, constructor and thread-local
//!   block cost every process about 10 µs of start-up, 224 relocations and
//!   a TLS block, for nothing the library uses; so no crate that needs std
//!   (`memmap2`: a file is mapped with one `mmap`, [`sys`]).
//! - `dl_iterate_phdr` or `dladdr` in a dump: they take the loader lock,
//!   which the crashing thread may hold; the snapshot and the loader's
//!   `r_debug` list are read instead ([`symbolize::modules`]).
//! - ptrace or a helper process: a process may not be traceable (Yama,
//!   seccomp, containers), and a fork of a dying process in trouble is one
//!   more thing to fail; threads are stopped in-process ([`dump::threads`]).

// The crate's interface is the C API; its documentation is the design, for
// the engineers who change it, rendered with the private items: links from
// the crate's page to the private layers are the point.
#![allow(rustdoc::private_intra_doc_links)]
// No std: its panic and backtrace machinery, its start-up code and its
// thread-locals would cost every process one more page of relocations, a
// thread-local block and some thirty symbol lookups at load, for nothing the
// library uses (see "Why not" above). The unit tests use std.
#![cfg_attr(not(test), no_std)]

extern crate alloc;

mod dump;
mod elf;
mod format;
mod report;
mod settings;
mod startup;
mod symbolize;
mod sys;
mod triggers;

#[global_allocator]
static ALLOCATOR: sys::arena::DumpAwareAllocator = sys::arena::DumpAwareAllocator;

/// A panic in this library is a bug. It says so in one line written with
/// no allocation (it may happen in the middle of a dump), then ends the
/// process by SIGABRT raised on the thread itself, a dump in progress as a
/// fault inside it does (see `triggers::fatal::internal_error`).
///
/// Only a debug build (`cargo build`) says where and why. In a release
/// build nothing reads a panic's location or message, so the optimiser
/// leaves out every panic site's `Location` and message pieces: some 360
/// relocated pointers and 8 KiB of `.data.rel.ro`, two copy-on-write pages
/// the loader would write in every process. The release build's line asks
/// for the debug build's.
#[cfg(not(test))]
#[panic_handler]
fn on_internal_panic(info: &core::panic::PanicInfo) -> ! {
    let mut line = format::line::Line::new();
    line.push(b"faultdump: internal error");
    if cfg!(debug_assertions) {
        if let Some(location) = info.location() {
            let _ = core::fmt::Write::write_fmt(
                &mut line,
                format_args!(
                    " at {}:{}: {}",
                    location.file(),
                    location.line(),
                    info.message()
                ),
            );
        }
    } else {
        line.push(b" (a debug build of faultdump says where)");
    }
    line.byte(b'\n');
    // SAFETY: writing our own buffer to fd 2.
    unsafe { sys::raw::write(2, line.as_bytes().as_ptr().cast(), line.as_bytes().len()) };
    triggers::fatal::internal_error()
}

/// The positive control of the signal-safety test: a build with this feature
/// calls the host's allocator from the fatal handler, once on the signal
/// stack (`malloc`) and once on the dump stack (`calloc`), which the test
/// must both catch.
#[cfg(feature = "selftest-unsafe-handler")]
fn selftest_unsafe_call(on_dump_stack: bool) {
    // SAFETY: deliberately unsafe in a handler; never built outside the test.
    // black_box: the compiler may otherwise drop an allocation that is freed
    // unused.
    unsafe {
        let p = if on_dump_stack {
            libc::calloc(1, 64)
        } else {
            libc::malloc(64)
        };
        libc::free(core::hint::black_box(p));
    }
}

/// The fault of the `selftest-fault-in-dump` build: a read of an address
/// that is never mapped, outside any recovery point, as a bug of our own
/// would be.
#[cfg(feature = "selftest-fault-in-dump")]
fn selftest_fault() {
    // SAFETY: deliberately faults; never built outside the test.
    unsafe { core::ptr::read_volatile(core::hint::black_box(8usize) as *const u8) };
}
