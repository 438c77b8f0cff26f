//! faultdump: Python's `faulthandler` for native programs.
//!
//! Preloaded into any dynamically linked program, the library prints a
//! readable stack trace when the program dies of a fatal signal, then lets it
//! die exactly as it would have. See README.md for use and FORMAT.md for the
//! output.
//!
//! The folders are layers, and each says in its module doc what its code
//! may do. Imports point down the list, never up:
//! - [`startup`]: the constructor, configuration parsing, the C API's
//!   entry points that install handlers or threads, interposed libc
//!   functions. Ordinary code: malloc and locks allowed; never reached
//!   from a handler.
//! - [`triggers`]: what starts a dump: the fatal and user signal handlers,
//!   the watchdog, the API's dump call. Async-signal-safe from here down.
//! - [`dump`]: the dump itself: its lock and sequence, stopping and walking
//!   threads, unwinding, the dump stack. No host malloc (only the crash
//!   arena), no lock, no stdio, no loader call.
//! - [`symbolize`] and [`report`]: naming addresses (modules, symbol tables,
//!   debug files, DWARF) and writing the report (text and JSON, the Cause
//!   line, the output with its deadline). Same rules as the dump.
//! - [`sys`], [`elf`], [`format`], [`settings`]: system calls, fault-safe
//!   memory reads, the crash arena, the processor-specific code
//!   ([`sys::arch`]); ELF parsing; fixed-buffer formatting; the
//!   configuration as data. Safe everywhere.

// No std: its panic and backtrace machinery, its start-up code and its
// thread-locals would cost every process one more page of relocations, a
// thread-local block and some thirty symbol lookups at load, for nothing the
// library uses (README, "Start-up breakdown"). The unit tests use std.
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
/// the loader would write in every process (README, "Start-up
/// breakdown"). The release build's line asks for the debug build's.
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
