//! Whether a handler of ours was entered by the kernel, with the kernel's
//! `siginfo_t` and `ucontext_t` (x86_64).
//!
//! Anyone holding the address of a handler can call it: a runtime that
//! found it installed and calls it as `void (*)(int)` (Ruby's `[BUG]` path
//! does), leaving garbage where the other two arguments go, or a handler
//! preloaded after the library that wraps ours and calls it with the
//! kernel's arguments (the signal-safety spy does). The handlers enter
//! through [`signal_entry!`](crate::sys::arch::signal_entry!), which passes the stack pointer at entry, and
//! accept the arguments only if they describe a real signal frame:
//! - entered by the kernel: `uc` is right above the return address the
//!   kernel pushed (`rt_sigframe`: return address, `ucontext`, `siginfo`),
//!   `info` follows the kernel's `ucontext`, and `info.si_signo` is the
//!   signal;
//! - called with the kernel's arguments by a handler further up the same
//!   stack: the same layout higher up, with a return address that points
//!   at `__restore_rt` (`mov $15, %rax; syscall`), read with reads that
//!   fail instead of faulting.
//!
//! Anything else is not a frame: the handler then does nothing and
//! returns, as a handler called for a signal it does not know.

use super::code::SIGRETURN_CODE;
use crate::sys::memory::kernel_copy;

/// The kernel's `struct ucontext` on x86_64 (flags, link, stack,
/// sigcontext, 64-bit mask): `siginfo` follows it in the frame.
const KERNEL_UCONTEXT: usize = 304;

/// How far above the handler's entry a wrapping handler's frame may be.
const WRAPPER_REACH: usize = 64 * 1024;

/// Whether `info` and `uc` are the kernel's signal frame for `sig`, for a
/// handler entered with `entry_sp`. Async-signal-safe.
pub fn is_kernel_frame(
    sig: i32,
    info: *const libc::siginfo_t,
    uc: *const libc::c_void,
    entry_sp: usize,
) -> bool {
    let (info, uc) = (info as usize, uc as usize);
    if info != uc.wrapping_add(KERNEL_UCONTEXT) || uc % 8 != 0 {
        return false;
    }
    if uc == entry_sp + 8 {
        // The frame the kernel built for this entry, mapped by definition.
        // SAFETY: info lies in that frame.
        return unsafe { (*(info as *const libc::siginfo_t)).si_signo } == sig;
    }
    if uc <= entry_sp || uc - entry_sp > WRAPPER_REACH {
        return false;
    }
    let mut word = [0u8; 8];
    let mut code = [0u8; SIGRETURN_CODE.len()];
    let mut signo = [0u8; 4];
    kernel_copy(uc as u64 - 8, &mut word)
        && kernel_copy(u64::from_ne_bytes(word), &mut code)
        && code == SIGRETURN_CODE
        && kernel_copy(info as u64, &mut signo)
        && i32::from_ne_bytes(signo) == sig
}

/// The two instructions of a checked entry (see `sys::arch::signal_entry!`):
/// the stack pointer into the fourth argument (rcx), then a jump (no
/// frame, no return address of ours).
macro_rules! entry_instructions {
    () => {
        "mov rcx, rsp\n jmp {target}"
    };
}
pub(crate) use entry_instructions;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn garbage_is_not_a_frame() {
        let sp = 0x7fff_0000_0000usize;
        // Nothing where the kernel puts it, far away, or null.
        assert!(!is_kernel_frame(
            11,
            core::ptr::null(),
            core::ptr::null(),
            sp
        ));
        assert!(!is_kernel_frame(
            11,
            0x1234 as *const _,
            0x5678 as *const _,
            sp
        ));
        // The layout right, but out of reach above or below the entry.
        let uc = sp + WRAPPER_REACH + 16;
        assert!(!is_kernel_frame(
            11,
            (uc + KERNEL_UCONTEXT) as *const _,
            uc as *const _,
            sp
        ));
        let uc = sp - 64;
        assert!(!is_kernel_frame(
            11,
            (uc + KERNEL_UCONTEXT) as *const _,
            uc as *const _,
            sp
        ));
    }

    #[test]
    fn a_frame_on_the_stack_needs_the_restorer_below_it() {
        // A fake frame in a buffer on this stack, above a fake entry sp:
        // readable, right layout and signal, but no __restore_rt below.
        let mut frame = [0u64; 128];
        let base = frame.as_mut_ptr() as usize;
        let uc = base + 16;
        let info = uc + KERNEL_UCONTEXT;
        frame[(info - base) / 8] = 11;
        frame[1] = 0x1000; // not code
        core::hint::black_box(&frame);
        assert!(!is_kernel_frame(11, info as *const _, uc as *const _, base));
        // Pointing at a copy of the restorer's bytes, it is accepted.
        let restorer = SIGRETURN_CODE;
        frame[1] = restorer.as_ptr() as u64;
        core::hint::black_box(&frame);
        assert!(is_kernel_frame(11, info as *const _, uc as *const _, base));
        assert!(!is_kernel_frame(7, info as *const _, uc as *const _, base));
    }
}
