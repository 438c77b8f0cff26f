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
//!   start trampoline and the unwinder stand-ins;
//! - `context.rs`: the registers as a minidump's CPU context, and what
//!   its SystemInfo says of the processor;
//! - `syscalls.rs`: system call names by number (`NAMES`);
//! - `sigframe.rs`: whether a handler was entered by the kernel, with a
//!   real signal frame, and the entry that lets it tell.
//!
//! What is the same for every architecture is here: the thread trampoline's
//! declaration, the unwinder stand-ins' symbols (each architecture gives
//! their two instructions), the syscall-name lookup.
//!
//! Async-signal-safe throughout; no state.

/// The unwinder's two names the precompiled `core` and `alloc` still
/// refer to, given the architecture's instructions for "return 8"
/// (`_URC_CONTINUE_UNWIND`) and "trap".
///
/// The library never unwinds: it is built with `panic = "abort"` and without
/// std, and its own stack walks use framehop, not the C unwinder. But
/// `core` and `alloc` come precompiled with landing pads, which name
/// `rust_eh_personality` (std's, which the library does not link) in their
/// unwind information and call `_Unwind_Resume`. Linking libgcc's unwinder
/// for them would make `libgcc_s.so.1` one more file for the loader to open
/// in every process (Alpine has none at all), or, in the portable build, an
/// unwinder that needs libpthread and libdl (see `crate::sys::libpthread`).
/// So:
/// - `rust_eh_personality` answers "nothing to do in this frame": should a
///   forced unwind (`pthread_exit`, cancellation) ever cross such a frame,
///   it goes on, skipping that frame's cleanups;
/// - `_Unwind_Resume` runs only in the middle of an unwind that a landing
///   pad joined, which the personality above never lets happen: it traps.
///
/// Both are local to the library (its version script exports nothing but
/// the C API), so the host program's own C++ exceptions and Rust panics
/// keep using the real unwinder and personality.
macro_rules! unwind_stand_ins {
    (continue_unwind: $continue:literal, trap: $trap:literal) => {
        // The unit tests link std, which defines both.
        #[cfg(not(test))]
        core::arch::global_asm!(
            ".globl rust_eh_personality",
            ".type rust_eh_personality, %function",
            "rust_eh_personality:",
            $continue,
            "    ret",
            ".globl _Unwind_Resume",
            ".type _Unwind_Resume, %function",
            "_Unwind_Resume:",
            $trap,
        );
    };
}
pub(crate) use unwind_stand_ins;

#[cfg(target_arch = "x86_64")]
mod x86_64;
#[cfg(target_arch = "x86_64")]
pub use x86_64::*;

#[cfg(target_arch = "aarch64")]
mod aarch64;
#[cfg(target_arch = "aarch64")]
pub use aarch64::*;

unsafe extern "C" {
    /// The start routine of a wrapped thread (`asm.rs`), given an argument
    /// whose first word is a `prepare` function: calls `prepare(arg)`, which
    /// returns the program's routine and its argument (in the two return
    /// registers), then jumps to that routine with the stack as the thread
    /// started. The trampoline leaves no frame behind: the program's routine
    /// appears called by `start_thread` itself, and `pthread_exit` and
    /// cancellation unwind through nothing of ours (a Rust frame there, even
    /// an `extern "C-unwind"` one with nothing to drop, aborts the forced
    /// unwind when built with panic=abort).
    fn faultdump_thread_trampoline();
}

/// [`faultdump_thread_trampoline`], as a value.
pub const THREAD_TRAMPOLINE: unsafe extern "C" fn() = faultdump_thread_trampoline;

/// The system call named by `nr`, from the architecture's `syscalls::NAMES`:
/// the names in number order, separated by one space, `-` where a number
/// has no system call. One string rather than a table of `&str`: in a
/// shared library every pointer in a table is a relocation that the loader
/// applies in every process at start-up (467 of them, on two copy-on-write
/// pages), and this library is loaded into every process.
pub fn syscall_name(nr: i64) -> Option<&'static str> {
    let nr = usize::try_from(nr).ok()?;
    syscalls::NAMES.split(' ').nth(nr).filter(|&n| n != "-")
}

/// Defines `$entry`, the address to install for the three-argument
/// handler `$handler` (a function of the calling module), which then runs
/// only with the kernel's arguments (each architecture's
/// `sigframe::is_kernel_frame`): called any other
/// way, the entry returns at once, with `errno` as it was. The entry is two
/// instructions (the architecture's `sigframe::entry_instructions!`) that
/// pass the stack pointer to a check (`$entry::checked`) and leave no frame:
/// the check returns straight to whoever entered it.
macro_rules! signal_entry {
    ($entry:ident, $handler:ident) => {
        unsafe extern "C" {
            fn $entry(sig: i32, info: *mut libc::siginfo_t, uc: *mut libc::c_void);
        }
        mod $entry {
            pub extern "C" fn checked(
                sig: i32,
                info: *mut libc::siginfo_t,
                uc: *mut libc::c_void,
                entry_sp: usize,
            ) {
                let _errno = $crate::sys::ErrnoGuard::save();
                if $crate::sys::arch::sigframe::is_kernel_frame(sig, info, uc, entry_sp) {
                    super::$handler(sig, info, uc);
                }
            }
        }
        core::arch::global_asm!(
            concat!(".pushsection .text.", stringify!($entry), ",\"ax\",%progbits"),
            ".p2align 4",
            concat!(".type ", stringify!($entry), ",%function"),
            // Global (another codegen unit may take its address), but not
            // exported.
            concat!(".globl ", stringify!($entry)),
            concat!(".hidden ", stringify!($entry)),
            concat!(stringify!($entry), ":"),
            ".cfi_startproc",
            $crate::sys::arch::sigframe::entry_instructions!(),
            ".cfi_endproc",
            concat!(".size ", stringify!($entry), ", . - ", stringify!($entry)),
            ".popsection",
            target = sym $entry::checked,
        );
    };
}
pub(crate) use signal_entry;
