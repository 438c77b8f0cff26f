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
use crate::sys::arch;

/// Alternate signal stack per thread. Mapped with no swap reservation:
/// untouched pages cost nothing.
pub const ALTSTACK_SIZE: usize = sys::reserve::ALTSTACK_SIZE;
pub const DUMP_STACK_SIZE: usize = sys::reserve::STACK_SIZE;
/// The lowest part of the dump stack, the alternate signal stack while a
/// dump runs (a fault inside the dump is handled there).
const FAULT_STACK_SIZE: usize = 64 << 10;
/// The guard page below each stack: one page of the system's size (a 4 KiB
/// `mprotect` would cover the stack above it too where pages are larger).
fn guard() -> usize {
    sys::page_size()
}

/// The main thread's alternate stack, reserved at start-up (its lowest
/// address, see [`crate::sys::reserve`]) and not yet given out; 0 if none.
static RESERVED_ALTSTACK: AtomicUsize = AtomicUsize::new(0);

/// Makes the next [`ensure_altstack`] use this stack (its lowest address)
/// rather than map one.
pub fn adopt_altstack(base: usize) {
    RESERVED_ALTSTACK.store(base, Ordering::Release);
}

/// Gives the calling thread an alternate signal stack unless it has one.
/// Returns the mapping's base if one was made (for the thread-exit hook).
#[unsafe(link_section = ".text.faultdump.startup")]
pub fn ensure_altstack() -> Option<usize> {
    let reserved = RESERVED_ALTSTACK.swap(0, Ordering::AcqRel);
    let (bottom, mapped) = if reserved != 0 {
        (reserved, None)
    } else {
        let base = ensure_mapped_altstack()?;
        (base + guard(), Some(base))
    };
    let stack = libc::stack_t {
        ss_sp: bottom as *mut libc::c_void,
        ss_flags: 0,
        ss_size: ALTSTACK_SIZE,
    };
    // Set first and read the previous one in the same call (one system
    // call, in every process and every new thread); nearly always there was
    // none.
    // SAFETY: an all-zero stack_t is valid; the kernel fills it in.
    let mut previous: libc::stack_t = unsafe { core::mem::zeroed() };
    // SAFETY: stack describes memory that stays mapped while in use.
    let set = unsafe { sys::raw::sigaltstack(&stack, &mut previous) } == 0;
    let had_one = set && previous.ss_flags & libc::SS_DISABLE == 0;
    if had_one {
        // The program's (or another library's) stays: put it back.
        // SAFETY: previous is what the kernel just reported.
        unsafe { sys::raw::sigaltstack(&previous, core::ptr::null_mut()) };
    }
    if !set || had_one {
        match mapped {
            Some(base) => free_altstack(base),
            None => RESERVED_ALTSTACK.store(reserved, Ordering::Release),
        }
        return None;
    }
    // The reserved stack is never freed: only a mapped one is handed back.
    mapped
}

/// An alternate stack of the pool, or a new mapping: the base of its guard
/// page.
fn ensure_mapped_altstack() -> Option<usize> {
    match pool_take() {
        Some(base) => Some(base),
        None => {
            let map = sys::Mapping::anonymous(ALTSTACK_SIZE + guard())?;
            // SAFETY: the lowest page of our own fresh mapping becomes a guard.
            unsafe { sys::raw::mprotect(map.ptr.cast(), guard(), libc::PROT_NONE) };
            let base = map.ptr as usize;
            core::mem::forget(map);
            Some(base)
        }
    }
}

/// Alternate stacks of ended threads, kept for the next threads: a thread
/// then starts with one `sigaltstack` call instead of `mmap` + `mprotect`,
/// and ends without a `munmap` (which interrupts every CPU running the
/// process to flush its TLB). At most this many are kept (about 4 MiB of
/// address space, of which only pages a handler once touched are memory).
const POOL_SIZE: usize = 64;
/// Each slot holds a stack's mapping base, or 0. A stack moves in or out
/// of a slot by compare-and-swap, so each has one owner at a time.
static POOL: [AtomicUsize; POOL_SIZE] = [const { AtomicUsize::new(0) }; POOL_SIZE];

fn pool_take() -> Option<usize> {
    POOL.iter().find_map(|slot| {
        let base = slot.load(Ordering::Relaxed);
        (base != 0
            && slot
                .compare_exchange(base, 0, Ordering::Acquire, Ordering::Relaxed)
                .is_ok())
        .then_some(base)
    })
}

/// Keeps a stack no thread uses any more for the next thread, or unmaps it.
fn free_altstack(base: usize) {
    let kept = POOL.iter().any(|slot| {
        slot.compare_exchange(0, base, Ordering::Release, Ordering::Relaxed)
            .is_ok()
    });
    if !kept {
        // SAFETY: the mapping was made by ensure_altstack and nothing uses it.
        unsafe { sys::raw::munmap(base as *mut libc::c_void, ALTSTACK_SIZE + guard()) };
    }
}

/// Gives back an alternate stack made by [`ensure_altstack`] at the end of
/// its thread: kept for another thread or unmapped. If it is still the
/// thread's alternate stack it is disabled first; if the thread replaced
/// or disabled it, nothing uses it any more (the kernel refuses to change
/// the alternate stack of a thread running on it). Only the one a handler
/// still runs on stays mapped.
pub fn release_altstack(base: usize) {
    // SAFETY: a null new stack only queries.
    let mut current: libc::stack_t = unsafe { core::mem::zeroed() };
    // SAFETY: current is writable.
    unsafe { sys::raw::sigaltstack(core::ptr::null(), &mut current) };
    if current.ss_sp as usize != base + guard() || current.ss_flags & libc::SS_DISABLE != 0 {
        free_altstack(base);
        return;
    }
    if current.ss_flags & libc::SS_ONSTACK != 0 {
        return;
    }
    let off = libc::stack_t {
        ss_sp: core::ptr::null_mut(),
        ss_flags: libc::SS_DISABLE,
        ss_size: 0,
    };
    // SAFETY: disabling the thread's alternate stack; it is then unused.
    if unsafe { sys::raw::sigaltstack(&off, core::ptr::null_mut()) } == 0 {
        free_altstack(base);
    }
}

static DUMP_STACK_TOP: AtomicUsize = AtomicUsize::new(0);

/// Uses a stack reserved at start-up (see [`crate::sys::reserve`]) as the dump
/// stack: `top` is its 16-byte aligned end, with read-only memory below it.
pub fn adopt_dump_stack(top: usize) {
    DUMP_STACK_TOP.store(top, Ordering::Release);
}

/// Runs `f` on the dump stack. Only the thread holding the dump lock calls
/// this, so one stack serves every dump. Runs `f` on the current stack if
/// no memory can be mapped.
pub fn on_dump_stack<F: FnOnce()>(f: F) {
    let mut top = DUMP_STACK_TOP.load(Ordering::Acquire);
    if top == 0 {
        if let Some(map) = sys::Mapping::anonymous(DUMP_STACK_SIZE + guard()) {
            // SAFETY: the lowest page of our own fresh mapping becomes a guard.
            unsafe { sys::raw::mprotect(map.ptr.cast(), guard(), libc::PROT_NONE) };
            top = map.ptr as usize + DUMP_STACK_SIZE + guard();
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
        let top = DUMP_STACK_TOP.load(Ordering::Acquire);
        // A fault inside the dump is handled on the lowest part of the dump
        // stack, not at the top of the thread's alternate stack, where the
        // handler that started the dump has its frames (which it returns
        // to after a recovered fault; see `sys::recover`). Allowed: the
        // thread is not on its alternate stack now.
        let fault_stack = libc::stack_t {
            ss_sp: (top - DUMP_STACK_SIZE) as *mut libc::c_void,
            ss_flags: 0,
            ss_size: FAULT_STACK_SIZE,
        };
        // SAFETY: an all-zero stack_t is valid; the kernel fills it in.
        let mut own: libc::stack_t = unsafe { core::mem::zeroed() };
        // SAFETY: the fault stack is part of the dump stack's mapping, used
        // only by the thread holding the dump lock.
        let swapped = unsafe { sys::raw::sigaltstack(&fault_stack, &mut own) } == 0;
        if swapped {
            let armed = sys::recover::arm();
            if let Some(f) = f.take() {
                f();
            }
            drop(armed);
            own.ss_flags &= libc::SS_DISABLE;
            // SAFETY: what the kernel reported before, put back.
            unsafe { sys::raw::sigaltstack(&own, core::ptr::null_mut()) };
        } else if let Some(f) = f.take() {
            f();
        }
    }
    // SAFETY: top is the 16-byte aligned end of a mapping reserved for this,
    // used only by the thread holding the dump lock.
    unsafe {
        arch::call_on_stack(top, trampoline::<F>, (&mut f as *mut Option<F>).cast());
    }
}
