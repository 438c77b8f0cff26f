//! faultdump: Python's `faulthandler` for native programs.
//!
//! Preloaded into any dynamically linked program, the library prints a
//! readable stack trace when the program dies of a fatal signal, then lets it
//! die exactly as it would have. See README.md for use and FORMAT.md for the
//! output.
//!
//! Two sets of rules apply in this crate, and each module says which:
//! - start-up code ([`startup`], [`config`]) runs once in the constructor and
//!   may allocate and use std;
//! - the dump path (everything reached from a handler: [`signals`], [`dump`]
//!   and what it calls) is async-signal-safe: no host malloc (allocations go
//!   to the crash arena, see [`arena`]), no lock, no stdio, no loader call.

#[cfg(target_arch = "aarch64")]
mod arch_aarch64;
mod arena;
mod capi;
mod cause;
mod config;
mod debugfile;
mod dump;
mod dwarf;
mod dynamic;
mod elf;
mod json;
mod libpthread;
mod memory;
mod modules;
mod names;
mod nounwind;
mod output;
mod park;
mod signals;
mod sink;
mod stacks;
mod startup;
mod symbols;
mod sys;
mod syscalls;
mod tasks;
mod text;
mod threads;
mod threadstart;
mod unwind;
mod usersignal;
mod watchdog;

#[global_allocator]
static ALLOCATOR: arena::DumpAwareAllocator = arena::DumpAwareAllocator;

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
