//! Recovery points: a dump never dies of what it reads.
//!
//! A dump reads what it cannot trust: stacks that may end in a guard page,
//! frame pointers into anything, loader lists another thread changes, other
//! modules' images in memory, module files and debug files that may be cut
//! short or damaged (a file page past the end of the file raises SIGBUS).
//! Checking addresses against `/proc/self/maps` is not enough: the maps do
//! not show `MADV_GUARD_INSTALL` guard regions (Linux 6.13+), nor file pages
//! past the end of the file, nor what a thread unmapped after they were
//! read. Copying every read through the kernel (`process_vm_readv`) would
//! cover single reads, but not the parsers (symbol tables, DWARF, the
//! unwinder's `.eh_frame`) that work on whole mapped files and images in
//! place. So the dump runs its reads under a recovery point instead:
//! [`guarded`] runs a closure; a SIGSEGV or SIGBUS the kernel raises for
//! the dumping thread inside it reaches the fatal handler, which calls
//! [`recover`] first: that returns from [`guarded`] with the [`Fault`]
//! (a `sigsetjmp`/`siglongjmp` pair, written per architecture in
//! `arch::asm` since the library has no C library `setjmp` to lean on).
//! The caller then gives up only what the fault touched: one read, one
//! module's names or lines, the rest of one thread's walk, and says so.
//!
//! What makes the jump sound:
//! - the dump runs on the dump stack, and [`arm`] (called there by
//!   [`crate::dump::stacks::on_dump_stack`]) makes a part of that stack
//!   the alternate signal stack for the dump's length, so the nested
//!   signal frame never lands on the handler's frame on the thread's own
//!   alternate stack, which the dump returns to;
//! - [`arm`] unblocks SIGSEGV and SIGBUS (a fatal handler runs with its own
//!   signal blocked: a fault of that signal would otherwise be forced to
//!   its default action) and [`recover`] restores the mask of the dump, not
//!   the nested handler's;
//! - the frames jumped over are the dump's own code between the recovery
//!   point and the fault: they hold arena memory (reclaimed when the dump
//!   ends) and no lock, and callers keep nothing across the point that a
//!   half-done operation could leave inconsistent (each says what it
//!   discards).
//!
//! Only the thread that armed recovery is served, and only for faults (a
//! `si_code` the kernel set); a fault anywhere else, or outside a recovery
//! point, goes on to the dump or to `fault_in_dump` as before.

use core::cell::UnsafeCell;
use core::sync::atomic::{AtomicI32, AtomicPtr, Ordering};

use crate::sys;
use crate::sys::arch::{RecoveryRegisters, faultdump_recover_to, faultdump_recovery_call};

/// A fault a recovery point caught.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fault {
    pub signal: i32,
    pub addr: u64,
}

/// One recovery point, on the stack of [`guarded`].
struct Point {
    regs: RecoveryRegisters,
    fault: Fault,
    outer: *mut Point,
}

/// The thread served (0: none), the innermost point, and the signal mask
/// the dump runs with.
static ARMED: AtomicI32 = AtomicI32::new(0);
static INNERMOST: AtomicPtr<Point> = AtomicPtr::new(core::ptr::null_mut());
struct Mask(UnsafeCell<libc::sigset_t>);
// SAFETY: written by the arming thread before ARMED is published, read only
// by that thread (in its own nested handler).
unsafe impl Sync for Mask {}
static MASK: Mask = Mask(UnsafeCell::new(unsafe { core::mem::zeroed() }));

/// Signals a recovery point catches: the ones a bad read raises.
const CAUGHT: [i32; 2] = [libc::SIGSEGV, libc::SIGBUS];

/// Serves the calling thread's recovery points until the returned value is
/// dropped: SIGSEGV and SIGBUS unblocked, and the mask remembered for the
/// return from a fault. Needs an alternate signal stack that does not hold
/// the caller's frames (see the module doc).
pub fn arm() -> Armed {
    let before = sys::sigmask(libc::SIG_UNBLOCK, &sys::sigset_of(&CAUGHT));
    let mut during = before;
    for sig in CAUGHT {
        sys::sigdelset(&mut during, sig);
    }
    // SAFETY: only the arming thread uses MASK, and not yet.
    unsafe { *MASK.0.get() = during };
    INNERMOST.store(core::ptr::null_mut(), Ordering::Relaxed);
    ARMED.store(sys::gettid(), Ordering::Release);
    Armed { before }
}

/// Recovery served; restores the mask when dropped.
pub struct Armed {
    before: libc::sigset_t,
}

impl Drop for Armed {
    fn drop(&mut self) {
        ARMED.store(0, Ordering::Release);
        sys::sigmask(libc::SIG_SETMASK, &self.before);
    }
}

/// Runs `f`; a fault inside it (on the armed thread) ends it and is
/// returned instead. Frames of `f` cut short are not dropped: `f` must
/// leave nothing half-done that outlives it but arena memory. Where
/// recovery is not armed (outside a dump, the unit tests), simply runs `f`.
pub fn guarded<F: FnOnce() -> R, R>(f: F) -> Result<R, Fault> {
    if ARMED.load(Ordering::Acquire) == 0 {
        return Ok(f());
    }
    let mut call: (Option<F>, Option<R>) = (Some(f), None);
    extern "C" fn trampoline<F: FnOnce() -> R, R>(arg: *mut libc::c_void) {
        // SAFETY: arg is the `call` pair below, live for the call.
        let call = unsafe { &mut *arg.cast::<(Option<F>, Option<R>)>() };
        if let Some(f) = call.0.take() {
            call.1 = Some(f());
        }
    }
    let mut point = Point {
        regs: [0; core::mem::size_of::<RecoveryRegisters>() / 8],
        fault: Fault { signal: 0, addr: 0 },
        outer: INNERMOST.load(Ordering::Relaxed),
    };
    INNERMOST.store(&mut point, Ordering::Release);
    // SAFETY: `point` outlives the call; the trampoline follows the C ABI.
    let caught = unsafe {
        faultdump_recovery_call(
            &mut point.regs,
            trampoline::<F, R>,
            (&mut call as *mut (Option<F>, Option<R>)).cast(),
        )
    };
    // SAFETY: `recover` wrote the fault through the pointer to `point`
    // before jumping back; read it through a volatile read, since the
    // compiler did not see that write.
    let fault = unsafe { core::ptr::read_volatile(&point.fault) };
    INNERMOST.store(point.outer, Ordering::Release);
    match (caught, call.1) {
        (0, Some(value)) => Ok(value),
        _ => Err(fault),
    }
}

/// Called first by the fatal handler: a fault of the armed thread inside a
/// recovery point returns from that point's [`guarded`] (and this does not
/// return). Anything else returns at once.
pub fn recover(sig: i32, info: &libc::siginfo_t) {
    if !CAUGHT.contains(&sig) || info.si_code <= 0 {
        return;
    }
    let armed = ARMED.load(Ordering::Acquire);
    if armed == 0 || armed != sys::gettid() {
        return;
    }
    let point = INNERMOST.load(Ordering::Acquire);
    if point.is_null() {
        return;
    }
    // SAFETY: the kernel filled si_addr for a fault (si_code > 0).
    let addr = unsafe { info.si_addr() } as u64;
    // SAFETY: the point is live: it is this thread's, popped only when its
    // `guarded` returns, and the fault happened inside that call. The mask
    // was set by `arm` on this thread.
    unsafe {
        (*point).fault = Fault { signal: sig, addr };
        sys::sigmask(libc::SIG_SETMASK, &*MASK.0.get());
        faultdump_recover_to(&(*point).regs, 1);
    }
}

/// Copies `buf.len()` bytes from `addr`, which the maps say are readable;
/// false if the read faulted all the same.
///
/// # Safety
/// The range must be one the caller may read as far as Rust is concerned
/// (readable memory not written by anyone in a way that matters).
pub unsafe fn copy(addr: u64, buf: &mut [u8]) -> bool {
    guarded(|| {
        // SAFETY: per the contract; a fault returns from `guarded`.
        unsafe { core::ptr::copy_nonoverlapping(addr as *const u8, buf.as_mut_ptr(), buf.len()) }
    })
    .is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    extern "C" fn on_fault(sig: i32, info: *mut libc::siginfo_t, _uc: *mut libc::c_void) {
        // SAFETY: the kernel's siginfo for this delivery.
        recover(sig, unsafe { &*info });
        // Not recovered: fail the child.
        // SAFETY: _exit is async-signal-safe.
        unsafe { libc::_exit(9) };
    }

    /// In a child process (the recovery state is process-wide and the other
    /// tests run in threads): a fault inside a recovery point returns from
    /// it, nested points included, and the mask is the dump's again.
    #[test]
    fn a_fault_returns_from_the_recovery_point() {
        // SAFETY: fork in a test; the child only runs the checks below and
        // leaves with _exit.
        let pid = unsafe { libc::fork() };
        if pid == 0 {
            // SAFETY: a plain handler install in the child.
            unsafe {
                let mut sa: libc::sigaction = core::mem::zeroed();
                sa.sa_sigaction = on_fault as *const () as usize;
                sa.sa_flags = libc::SA_SIGINFO;
                libc::sigaction(libc::SIGSEGV, &sa, core::ptr::null_mut());
                // Blocked, as in a SIGSEGV dump: `arm` unblocks it.
                sys::sigmask(libc::SIG_BLOCK, &sys::sigset_of(&[libc::SIGSEGV]));
            }
            let armed = arm();
            let bad = 0x10 as *const u8;
            // SAFETY: the read faults, which is the point.
            let read = || unsafe { core::ptr::read_volatile(bad) };
            let outer = guarded(|| {
                let inner = guarded(read);
                let again = guarded(read);
                (inner, again, 7)
            });
            let fault = Fault {
                signal: libc::SIGSEGV,
                addr: 0x10,
            };
            let ok = outer == Ok((Err(fault), Err(fault), 7)) && guarded(read) == Err(fault);
            drop(armed);
            let blocked = sys::sigmask(libc::SIG_BLOCK, &sys::sigset_of(&[]));
            // SAFETY: _exit in the child.
            unsafe {
                libc::_exit(if ok && sys::sigismember(&blocked, libc::SIGSEGV) {
                    0
                } else {
                    1
                })
            };
        }
        let mut status = 0;
        // SAFETY: waiting for our child.
        unsafe { libc::waitpid(pid, &mut status, 0) };
        assert_eq!(status, 0, "child status {status:#x}");
    }
}
