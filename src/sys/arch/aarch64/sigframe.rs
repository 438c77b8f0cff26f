//! Whether a handler of ours was entered by the kernel, with the kernel's
//! `siginfo_t` and `ucontext_t` (aarch64; see the x86_64 twin for why).
//! The handlers enter through [`signal_entry!`](crate::sys::arch::signal_entry!), which passes the stack
//! pointer at entry, and accept the arguments only if they describe a real
//! signal frame (`rt_sigframe`: `siginfo`, then `ucontext`):
//! - entered by the kernel: the frame starts at the stack pointer of the
//!   entry, `info` is its start, `uc` follows it, and `info.si_signo` is
//!   the signal;
//! - called with the kernel's arguments by a handler further up the same
//!   stack: the same layout higher up, whose context starts its records
//!   with the kernel's FP/SIMD record, read with reads that fail instead
//!   of faulting.
//!
//! Anything else is not a frame: the handler then does nothing and
//! returns, as a handler called for a signal it does not know.

use super::registers::{SIGCONTEXT_RESERVED, SIGINFO_SIZE, UC_MCONTEXT};
use crate::sys::memory::kernel_copy;

/// `struct fpsimd_context`'s magic: the first record the kernel (and
/// qemu-user) writes into every signal context.
const FPSIMD_MAGIC: u32 = 0x4650_8001;

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
    if uc != info.wrapping_add(SIGINFO_SIZE as usize) || info % 16 != 0 {
        return false;
    }
    if info == entry_sp {
        // The frame the kernel built for this entry, mapped by definition.
        // SAFETY: info is that frame's start.
        return unsafe { (*(info as *const libc::siginfo_t)).si_signo } == sig;
    }
    if info < entry_sp || info - entry_sp > WRAPPER_REACH {
        return false;
    }
    let mut magic = [0u8; 4];
    let mut signo = [0u8; 4];
    kernel_copy(uc as u64 + UC_MCONTEXT + SIGCONTEXT_RESERVED, &mut magic)
        && u32::from_ne_bytes(magic) == FPSIMD_MAGIC
        && kernel_copy(info as u64, &mut signo)
        && i32::from_ne_bytes(signo) == sig
}

/// The two instructions of a checked entry (see `sys::arch::signal_entry!`):
/// the stack pointer into the fourth argument (x3), then a branch (x30,
/// the caller's return address, is untouched).
macro_rules! entry_instructions {
    () => {
        "mov x3, sp\n b {target}"
    };
}
pub(crate) use entry_instructions;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn garbage_is_not_a_frame() {
        let sp = 0xffff_0000_0000usize;
        let frame = |info: usize| (info as *const _, (info + SIGINFO_SIZE as usize) as *const _);
        assert!(!is_kernel_frame(
            11,
            core::ptr::null(),
            core::ptr::null(),
            sp
        ));
        // The layout right, but out of reach above or below the entry.
        let (info, uc) = frame(sp + WRAPPER_REACH + 16);
        assert!(!is_kernel_frame(11, info, uc, sp));
        let (info, uc) = frame(sp - 64);
        assert!(!is_kernel_frame(11, info, uc, sp));
        // A readable frame above the entry without the FP/SIMD record.
        let buf = [0u64; 1024];
        let base = (buf.as_ptr() as usize).next_multiple_of(16);
        let (info, uc) = frame(base + 64);
        assert!(!is_kernel_frame(11, info, uc, base));
    }
}
