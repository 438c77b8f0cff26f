//! Stacks: the alternate signal stack handlers start on, and the big stack a
//! dump runs on.
//!
//! A handler for a stack overflow cannot run on the overflowed stack, so
//! every handler is installed with `SA_ONSTACK` and each thread gets an
//! alternate stack ([`ALTSTACK_SIZE`], at least Go's 32 KiB minimum). That
//! stack may also be one the program installed, of any size, so the fatal
//! handler does almost nothing on it: it switches at once to a dedicated dump
//! stack of [`DUMP_STACK_SIZE`] (an unwind needs ~17 KB, DWARF parsing much
//! more), mapped when the first dump starts and kept for later dumps.

use core::sync::atomic::{AtomicUsize, Ordering};

use crate::sys;

/// Alternate signal stack per thread. Mapped with no swap reservation:
/// untouched pages cost nothing.
pub const ALTSTACK_SIZE: usize = 64 * 1024;
pub const DUMP_STACK_SIZE: usize = 4 << 20;
const GUARD: usize = 4096;

/// Gives the calling thread an alternate signal stack unless it has one.
/// Returns the mapping's base if one was made (for the thread-exit hook).
pub fn ensure_altstack() -> Option<usize> {
    // SAFETY: a null new stack only queries.
    let mut current: libc::stack_t = unsafe { core::mem::zeroed() };
    // SAFETY: current is writable.
    unsafe { libc::sigaltstack(core::ptr::null(), &mut current) };
    if current.ss_flags & libc::SS_DISABLE == 0 {
        return None;
    }
    let map = sys::Mapping::anonymous(ALTSTACK_SIZE + GUARD)?;
    // SAFETY: the lowest page of our own fresh mapping becomes a guard.
    unsafe { libc::mprotect(map.ptr.cast(), GUARD, libc::PROT_NONE) };
    let stack = libc::stack_t {
        // SAFETY: within the mapping.
        ss_sp: unsafe { map.ptr.add(GUARD) }.cast(),
        ss_flags: 0,
        ss_size: ALTSTACK_SIZE,
    };
    // SAFETY: stack describes memory that stays mapped while in use.
    if unsafe { libc::sigaltstack(&stack, core::ptr::null_mut()) } != 0 {
        return None;
    }
    let base = map.ptr as usize;
    core::mem::forget(map);
    Some(base)
}

/// Disables and unmaps an alternate stack made by [`ensure_altstack`], if it
/// is still the calling thread's.
pub fn release_altstack(base: usize) {
    // SAFETY: a null new stack only queries.
    let mut current: libc::stack_t = unsafe { core::mem::zeroed() };
    // SAFETY: current is writable.
    unsafe { libc::sigaltstack(core::ptr::null(), &mut current) };
    if current.ss_sp as usize != base + GUARD || current.ss_flags & libc::SS_ONSTACK != 0 {
        return;
    }
    let off = libc::stack_t {
        ss_sp: core::ptr::null_mut(),
        ss_flags: libc::SS_DISABLE,
        ss_size: 0,
    };
    // SAFETY: disabling the thread's alternate stack, then unmapping it.
    unsafe {
        libc::sigaltstack(&off, core::ptr::null_mut());
        libc::munmap(base as *mut libc::c_void, ALTSTACK_SIZE + GUARD);
    }
}

static DUMP_STACK_TOP: AtomicUsize = AtomicUsize::new(0);

/// Runs `f` on the dump stack. Only the thread holding the dump lock calls
/// this, so one stack serves every dump. Runs `f` on the current stack if
/// no memory can be mapped.
pub fn on_dump_stack<F: FnOnce()>(f: F) {
    let mut top = DUMP_STACK_TOP.load(Ordering::Acquire);
    if top == 0 {
        if let Some(map) = sys::Mapping::anonymous(DUMP_STACK_SIZE + GUARD) {
            // SAFETY: the lowest page of our own fresh mapping becomes a guard.
            unsafe { libc::mprotect(map.ptr.cast(), GUARD, libc::PROT_NONE) };
            top = map.ptr as usize + DUMP_STACK_SIZE + GUARD;
            DUMP_STACK_TOP.store(top, Ordering::Release);
            core::mem::forget(map);
        } else {
            f();
            return;
        }
    }
    let mut f = Some(f);
    extern "C" fn trampoline<F: FnOnce()>(arg: *mut libc::c_void) {
        // SAFETY: arg is the &mut Option<F> passed below, live for the call.
        let f = unsafe { &mut *arg.cast::<Option<F>>() };
        if let Some(f) = f.take() {
            f();
        }
    }
    // SAFETY: top is the 16-byte aligned end of a mapping reserved for this;
    // the callee follows the C ABI, and r12 (callee-saved) carries the old
    // stack pointer across the call.
    unsafe {
        core::arch::asm!(
            "mov r12, rsp",
            "mov rsp, {top}",
            "call {f}",
            "mov rsp, r12",
            top = in(reg) top,
            f = in(reg) trampoline::<F> as extern "C" fn(*mut libc::c_void),
            in("rdi") &mut f as *mut Option<F>,
            out("r12") _,
            clobber_abi("C"),
        );
    }
}
