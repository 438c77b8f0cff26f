//! Fatal signals: installing the handlers, chaining to the ones before, and
//! dying exactly as the process would have without this library.
//!
//! The handler is short (CPython's rule): claim the dump lock, write the dump
//! (on the dump stack, see [`crate::dump`]), restore the disposition that was
//! there before us, and let the signal act again. A hardware fault re-faults
//! when the handler returns (the kernel's siginfo, and so the core dump, stay
//! those of the real fault); a signal that was sent, and SIGABRT, SIGTRAP and
//! SIGSYS (whose instruction does not repeat), is sent again to the thread
//! and is delivered when the handler returns. A handler that was installed
//! before ours therefore runs after the dump, as with Python's faulthandler.

use core::cell::UnsafeCell;
use core::sync::atomic::{AtomicBool, Ordering};

use crate::config::{Config, FATAL_SIGNALS};
use crate::dump::{self, Claim, Options, Trigger};
use crate::names;
use crate::sys;
use crate::unwind::Registers;

/// Signal numbers run from 1 to 64 on Linux.
const NSIG: usize = 65;

/// Dispositions found when ours were installed, by signal number. Written
/// once per signal before our handler for it is installed, read after.
struct Saved {
    actions: [UnsafeCell<libc::sigaction>; NSIG],
    installed: [AtomicBool; NSIG],
}

// SAFETY: each slot is written only by the constructor (or the C API, under
// the same rule) before the matching `installed` flag is set with Release;
// handlers read a slot only after seeing the flag with Acquire.
unsafe impl Sync for Saved {}

static SAVED: Saved = Saved {
    // SAFETY: an all-zero sigaction is a valid value (SIG_DFL, empty mask).
    actions: [const { UnsafeCell::new(unsafe { core::mem::zeroed() }) }; NSIG],
    installed: [const { AtomicBool::new(false) }; NSIG],
};

/// The disposition `sig` had before ours, if ours is installed.
pub fn previous(sig: i32) -> Option<libc::sigaction> {
    let i = usize::try_from(sig).ok().filter(|&i| i < NSIG)?;
    // SAFETY: see `Saved`: the flag guards the slot.
    SAVED.installed[i]
        .load(Ordering::Acquire)
        .then(|| unsafe { *SAVED.actions[i].get() })
}

/// Installs `handler` for `sig`, keeping what was there for chaining.
pub fn install(
    sig: i32,
    handler: extern "C" fn(i32, *mut libc::siginfo_t, *mut libc::c_void),
    mask: &libc::sigset_t,
) -> bool {
    let i = sig as usize;
    if i >= NSIG || SAVED.installed[i].load(Ordering::Acquire) {
        return false;
    }
    // SAFETY: zeroed is a valid sigaction; the fields are set below.
    let mut action: libc::sigaction = unsafe { core::mem::zeroed() };
    action.sa_sigaction = handler as usize;
    action.sa_flags = libc::SA_SIGINFO | libc::SA_ONSTACK | libc::SA_RESTART;
    action.sa_mask = *mask;
    // SAFETY: the slot is not yet visible to handlers (flag not set); the
    // pointers are valid.
    let ok = unsafe { libc::sigaction(sig, &action, SAVED.actions[i].get()) == 0 };
    if ok {
        SAVED.installed[i].store(true, Ordering::Release);
    }
    ok
}

/// Puts back the disposition found before ours; true if ours was installed.
pub fn uninstall(sig: i32) -> bool {
    let Some(previous) = previous(sig) else {
        return false;
    };
    SAVED.installed[sig as usize].store(false, Ordering::Release);
    sys::sigaction_set(sig, &previous)
}

/// Signals blocked while a dump is written: every asynchronous signal (so
/// the program's own handlers do not run in the middle of the dump), but not
/// the synchronous faults (a fault inside the dump must reach our handler at
/// once). The signal that parks threads is blocked too: a thread waiting in
/// a fatal handler is walked from /proc instead (see `park`).
pub fn dump_mask() -> libc::sigset_t {
    // SAFETY: sigfillset initialises the set it is given.
    let mut set: libc::sigset_t = unsafe { core::mem::zeroed() };
    // SAFETY: set is a valid sigset_t.
    unsafe {
        libc::sigfillset(&mut set);
        for &sig in &FATAL_SIGNALS {
            libc::sigdelset(&mut set, sig);
        }
    }
    set
}

/// Installs the fatal handlers; returns how many took.
pub fn install_fatal() -> usize {
    let mask = dump_mask();
    FATAL_SIGNALS
        .iter()
        .filter(|&&sig| install(sig, fatal_handler, &mask))
        .count()
}

extern "C" fn fatal_handler(sig: i32, info: *mut libc::siginfo_t, uc: *mut libc::c_void) {
    let _errno = sys::ErrnoGuard::save();
    // SAFETY: the kernel passes a valid siginfo_t with SA_SIGINFO.
    let info = unsafe { &*info };
    let Some(config) = crate::startup::config() else {
        die_as_before(sig, info, uc);
        return;
    };
    if would_be_ignored(sig, info) {
        // Without us the signal would have been ignored: so it is.
        return;
    }
    let wait = config.deadline.as_nanos() as u64 + 1_000_000_000;
    match dump::claim(Some(sig), wait) {
        Claim::Acquired => {
            #[cfg(feature = "selftest-unsafe-handler")]
            crate::selftest_unsafe_call(false);
            // SAFETY: the kernel passes a valid ucontext_t with SA_SIGINFO.
            let regs = unsafe { Registers::from_ucontext(uc) };
            dump::run(config, Trigger::Fatal { info, regs }, fatal_options(config));
            dump::release();
        }
        Claim::Reentered => {
            fault_in_dump(sig);
            return;
        }
        Claim::Declined => {}
    }
    die_as_before(sig, info, uc);
}

/// Where the fatal dump goes: set by `faultdump_enable` (see [`crate::capi`]).
fn fatal_options(_config: &Config) -> Options {
    crate::capi::fatal_options()
}

/// A signal the kernel raised for the thread (a fault, `int3`, a seccomp
/// trap: `si_code > 0`) is forced through: a `SIG_IGN` or a blocked mask
/// does not stop it. Only one a process sent (`si_code <= 0`) can be
/// ignored, whoever sent it.
fn is_forced(info: &libc::siginfo_t) -> bool {
    info.si_code > 0
}

/// Whether the disposition found before ours would have ignored the signal.
/// One exception: SIGABRT the process sent itself is dumped, because that
/// is `abort()`, which resets SIGABRT to SIG_DFL and raises it again when
/// the first raise is ignored (the process dies either way).
fn would_be_ignored(sig: i32, info: &libc::siginfo_t) -> bool {
    if is_forced(info) || previous(sig).is_none_or(|p| p.sa_sigaction != libc::SIG_IGN) {
        return false;
    }
    // SAFETY: si_pid is valid for signals sent by a process (si_code <= 0).
    let sender = unsafe { info.si_pid() };
    !(sig == libc::SIGABRT && sender == sys::getpid())
}

/// Whether returning from the handler raises the signal again by itself:
/// a hardware fault re-executes the faulting instruction. Not so for
/// signals that were sent, for `int3` (SIGTRAP, the pc is past it), seccomp
/// (SIGSYS, the system call is skipped) and an action-optional machine
/// check (SIGBUS `BUS_MCEERR_AO`, reported asynchronously).
fn repeats_on_return(sig: i32, code: i32) -> bool {
    const BUS_MCEERR_AO: i32 = 5;
    code > 0
        && !matches!(sig, libc::SIGABRT | libc::SIGTRAP | libc::SIGSYS)
        && !(sig == libc::SIGBUS && code == BUS_MCEERR_AO)
}

/// Restores the earlier disposition and lets the signal act again, as it
/// would have without us: a forced signal whose disposition was SIG_IGN
/// gets SIG_DFL (what the kernel does when it forces one), and a signal
/// sent again is unblocked in the context the handler returns to, so that
/// it acts at once even when the interrupted code had it blocked (a
/// `sigsuspend`, `pselect` or `ppoll` with a mask: the kernel restores the
/// caller's mask on return).
fn die_as_before(sig: i32, info: &libc::siginfo_t, uc: *mut libc::c_void) {
    // SAFETY: an all-zero sigaction is SIG_DFL with an empty mask.
    let mut action: libc::sigaction = previous(sig).unwrap_or(unsafe { core::mem::zeroed() });
    if is_forced(info) && action.sa_sigaction == libc::SIG_IGN {
        action.sa_sigaction = libc::SIG_DFL;
    }
    sys::sigaction_set(sig, &action);
    if repeats_on_return(sig, info.si_code) {
        return;
    }
    if action.sa_sigaction == libc::SIG_DFL && !uc.is_null() {
        // SAFETY: uc is the ucontext_t the kernel passed to this handler;
        // the mask in it is what the thread's mask becomes on return.
        unsafe { libc::sigdelset(&mut (*uc.cast::<libc::ucontext_t>()).uc_sigmask, sig) };
    }
    // Pending until this handler returns and unblocks it.
    sys::tgkill(sys::gettid(), sig);
}

fn set_default(sig: i32) {
    // SAFETY: an all-zero sigaction is SIG_DFL with an empty mask.
    let dfl: libc::sigaction = unsafe { core::mem::zeroed() };
    sys::sigaction_set(sig, &dfl);
}

/// The dump itself faulted: say so in one line and die at once by the signal
/// being dumped (or this one), with its default action.
fn fault_in_dump(sig: i32) {
    let original = match dump::fatal_signal_in_progress() {
        0 => sig,
        s => s,
    };
    crate::output::write_pending_after_fault();
    // One writev of three static pieces: no buffer on the signal stack,
    // which may be a program's small one.
    let parts: [&[u8]; 3] = [
        b"faultdump: the dump itself failed with SIG",
        names::signal_abbrev(sig).unwrap_or("?").as_bytes(),
        b"; ending the process\n",
    ];
    let iov = parts.map(|p| libc::iovec {
        iov_base: p.as_ptr().cast_mut().cast(),
        iov_len: p.len(),
    });
    if crate::output::stderr_usable() {
        // SAFETY: the iovecs describe static bytes; failure is irrelevant here.
        unsafe { libc::writev(2, iov.as_ptr(), iov.len() as i32) };
    }
    set_default(original);
    set_default(sig);
    sys::sigmask(libc::SIG_UNBLOCK, &sys::sigset_of(&[original, sig]));
    sys::tgkill(sys::gettid(), original);
    // A hardware fault that gets here re-faults into the default action.
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn which_signals_repeat_on_return() {
        // Hardware faults re-execute the instruction, SI_KERNEL (a general
        // protection fault) included.
        for (sig, code) in [
            (libc::SIGSEGV, 1),
            (libc::SIGSEGV, 0x80),
            (libc::SIGBUS, 2),
            (libc::SIGFPE, 1),
            (libc::SIGILL, 2),
        ] {
            assert!(repeats_on_return(sig, code), "{sig}/{code}");
        }
        // Sent signals, abort, int3, seccomp and an asynchronous machine
        // check do not: they are sent again.
        for (sig, code) in [
            (libc::SIGSEGV, libc::SI_USER),
            (libc::SIGSEGV, libc::SI_TKILL),
            (libc::SIGABRT, libc::SI_TKILL),
            (libc::SIGTRAP, 0x80),
            (libc::SIGTRAP, 1),
            (libc::SIGSYS, 1),
            (libc::SIGBUS, 5),
        ] {
            assert!(!repeats_on_return(sig, code), "{sig}/{code}");
        }
    }
}
