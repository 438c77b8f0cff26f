//! Everything that depends on the processor, behind one interface that each
//! architecture implements in a folder of its own with the same file names
//! (framehop's rule: a port is a folder, not a scattering):
//! - `registers.rs`: [`Registers`] (a thread's general registers as its
//!   `ucontext_t` holds them, capture of the caller's own, the fault's
//!   access kind) and the names the `Registers:` section prints;
//! - `code.rs`: what the unwinder must recognise in machine code (the
//!   signal trampoline, an instruction that is a call) and framehop's
//!   register set;
//! - `asm.rs`: the assembly: running a closure on another stack, the thread
//!   start trampoline and the `_Unwind_*` stand-ins;
//! - `syscalls.rs`: system call names by number.
//!
//! Async-signal-safe throughout; no state.

#[cfg(target_arch = "x86_64")]
mod x86_64;
#[cfg(target_arch = "x86_64")]
pub use x86_64::*;

#[cfg(target_arch = "aarch64")]
mod aarch64;
#[cfg(target_arch = "aarch64")]
pub use aarch64::*;
