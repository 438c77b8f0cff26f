//! The C library's functions that set signal dispositions, interposed, so
//! that the program sees its own view of the signals faultdump handles and
//! faultdump steps aside for a signal the program takes
//! ([`crate::sys::dispositions`] says how). Language runtimes (HotSpot, Ruby, Go
//! with cgo, Python's faulthandler) read the handler they replace and call
//! it, or their crash report depends on what they find: they find what they
//! would find without faultdump.
//!
//! Exported, each because the C library sets dispositions through it
//! without going through `sigaction`: `sigaction`; `signal`, `bsd_signal`
//! and `ssignal` (one function in glibc); `sysv_signal` and `__sysv_signal`
//! (what `signal` is compiled to under strict ISO C or X/Open); `sigset`;
//! `sigignore`; `siginterrupt` (it changes the flags `signal` uses later).
//! Each does what glibc's does, on top of the interposed `sigaction`. A
//! signal faultdump does not handle goes to the C library's `sigaction`
//! untouched: same result, same errors. Every function here is
//! async-signal-safe (no lock, no allocation, no loader call): programs
//! install handlers from handlers. A program setting `SIG_DFL` on a handled
//! signal is noted: a wrapper does it before passing its child's death on
//! ([`crate::triggers::verdict`]).

use core::ffi::c_int;
use core::sync::atomic::{AtomicU64, Ordering};

use crate::sys::dispositions::{self, Action};
use crate::sys::{self, realsig, set_errno};
use crate::triggers::verdict;

type Handler = libc::sighandler_t;

const SIG_ERR: Handler = !0;
const SIG_HOLD: Handler = 2;
/// glibc's `NSIG`: signals are 1 to 64.
const NSIG: c_int = 65;

/// The signals `siginterrupt` made interrupting (glibc's `_sigintr`), which
/// `signal` then installs without `SA_RESTART`. glibc keeps its own set,
/// which no program call reaches any more.
static INTERRUPTING: AtomicU64 = AtomicU64::new(0);

fn bit(sig: c_int) -> u64 {
    1u64 << (sig - 1)
}

/// `sigaction`: the view of a signal faultdump handles, the C library's
/// for any other.
///
/// # Safety
/// As `sigaction`: `act` and `old` are null or valid (a bad pointer faults,
/// as in the C library).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sigaction(
    sig: c_int,
    act: *const libc::sigaction,
    old: *mut libc::sigaction,
) -> c_int {
    // SAFETY: per the contract, act is null or valid; read only for a
    // handled signal (the C library checks the number before it reads).
    let new = || unsafe { act.as_ref() }.map(Action::from_libc);
    if let Some(previous) = dispositions::exchange(sig, new) {
        // SAFETY: as above.
        if unsafe { act.as_ref() }.is_some_and(|a| a.sa_sigaction == libc::SIG_DFL) {
            verdict::set_to_default(sig);
        }
        if !old.is_null() {
            // SAFETY: per the contract, old is valid.
            unsafe { *old = previous.to_libc() };
        }
        return 0;
    }
    // SAFETY: forwarded as called.
    unsafe { realsig::sigaction(sig, act, old) }
}

/// Installs `handler` with `mask` and `flags` through [`sigaction`]; the
/// handler it replaced, or `SIG_ERR`.
fn install(sig: c_int, handler: Handler, mask: u64, flags: c_int) -> Handler {
    let act = Action {
        handler,
        flags,
        mask,
        restorer: 0,
    }
    .to_libc();
    // SAFETY: an all-zero sigaction is valid; written by the call.
    let mut old: libc::sigaction = unsafe { core::mem::zeroed() };
    // SAFETY: both pointers are valid.
    if unsafe { sigaction(sig, &act, &mut old) } < 0 {
        return SIG_ERR;
    }
    old.sa_sigaction
}

/// BSD `signal`, as glibc's: the signal itself blocked while its handler
/// runs, system calls restarted unless `siginterrupt` said otherwise.
fn bsd_install(sig: c_int, handler: Handler) -> Handler {
    if handler == SIG_ERR || !(1..NSIG).contains(&sig) {
        set_errno(libc::EINVAL);
        return SIG_ERR;
    }
    let flags = if INTERRUPTING.load(Ordering::Relaxed) & bit(sig) != 0 {
        0
    } else {
        libc::SA_RESTART
    };
    install(sig, handler, bit(sig), flags)
}

/// System V `signal`, as glibc's: one-shot, not blocked, interrupting.
fn sysv_install(sig: c_int, handler: Handler) -> Handler {
    if handler == SIG_ERR || !(1..NSIG).contains(&sig) {
        set_errno(libc::EINVAL);
        return SIG_ERR;
    }
    install(sig, handler, 0, libc::SA_RESETHAND | libc::SA_NODEFER)
}

/// # Safety
/// As `signal`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn signal(sig: c_int, handler: Handler) -> Handler {
    bsd_install(sig, handler)
}

/// # Safety
/// As `bsd_signal`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn bsd_signal(sig: c_int, handler: Handler) -> Handler {
    bsd_install(sig, handler)
}

/// # Safety
/// As `ssignal`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ssignal(sig: c_int, handler: Handler) -> Handler {
    bsd_install(sig, handler)
}

/// # Safety
/// As `sysv_signal`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sysv_signal(sig: c_int, handler: Handler) -> Handler {
    sysv_install(sig, handler)
}

/// # Safety
/// As `__sysv_signal`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn __sysv_signal(sig: c_int, handler: Handler) -> Handler {
    sysv_install(sig, handler)
}

/// Changes the calling thread's mask for `sig`; whether it was blocked.
fn block(how: c_int, sig: c_int) -> Option<bool> {
    let set = sys::sigset_of(&[sig]);
    let mut old = sys::sigset_from_bits(0);
    // SAFETY: both sets are valid; the old one is written.
    (unsafe { libc::sigprocmask(how, &set, &mut old) } == 0).then(|| sys::sigismember(&old, sig))
}

/// System V `sigset`, as glibc's: `SIG_HOLD` blocks the signal, anything
/// else is installed and unblocks it; `SIG_HOLD` is returned if it was
/// blocked.
///
/// # Safety
/// As `sigset`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sigset(sig: c_int, disp: Handler) -> Handler {
    if !(1..NSIG).contains(&sig) {
        set_errno(libc::EINVAL);
        return SIG_ERR;
    }
    if disp == SIG_HOLD {
        return match block(libc::SIG_BLOCK, sig) {
            None => SIG_ERR,
            Some(true) => SIG_HOLD,
            Some(false) => {
                // SAFETY: an all-zero sigaction is valid; written by the call.
                let mut old: libc::sigaction = unsafe { core::mem::zeroed() };
                // SAFETY: a null new action only queries.
                if unsafe { sigaction(sig, core::ptr::null(), &mut old) } < 0 {
                    SIG_ERR
                } else {
                    old.sa_sigaction
                }
            }
        };
    }
    let old = install(sig, disp, 0, 0);
    if old == SIG_ERR {
        return SIG_ERR;
    }
    match block(libc::SIG_UNBLOCK, sig) {
        None => SIG_ERR,
        Some(true) => SIG_HOLD,
        Some(false) => old,
    }
}

/// # Safety
/// As `sigignore`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sigignore(sig: c_int) -> c_int {
    if install(sig, libc::SIG_IGN, 0, 0) == SIG_ERR {
        -1
    } else {
        0
    }
}

/// `siginterrupt`, as glibc's: `SA_RESTART` off (or on) in the current
/// action, and remembered for later `signal` calls.
///
/// # Safety
/// As `siginterrupt`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn siginterrupt(sig: c_int, interrupt: c_int) -> c_int {
    // SAFETY: an all-zero sigaction is valid; written by the call.
    let mut action: libc::sigaction = unsafe { core::mem::zeroed() };
    // SAFETY: a null new action only queries.
    if unsafe { sigaction(sig, core::ptr::null(), &mut action) } < 0 {
        return -1;
    }
    if interrupt != 0 {
        INTERRUPTING.fetch_or(bit(sig), Ordering::Relaxed);
        action.sa_flags &= !libc::SA_RESTART;
    } else {
        INTERRUPTING.fetch_and(!bit(sig), Ordering::Relaxed);
        action.sa_flags |= libc::SA_RESTART;
    }
    // SAFETY: a valid action; the old one is not wanted.
    if unsafe { sigaction(sig, &action, core::ptr::null_mut()) } < 0 {
        return -1;
    }
    0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_signal_numbers_fail_as_in_the_c_library() {
        for sig in [0, -1, 65, 1000] {
            set_errno(0);
            assert_eq!(bsd_install(sig, libc::SIG_DFL), SIG_ERR);
            assert_eq!(crate::sys::errno(), libc::EINVAL);
            assert_eq!(sysv_install(sig, libc::SIG_DFL), SIG_ERR);
            // SAFETY: no pointer involved.
            assert_eq!(unsafe { sigset(sig, libc::SIG_DFL) }, SIG_ERR);
        }
        assert_eq!(bsd_install(libc::SIGUSR1, SIG_ERR), SIG_ERR);
    }
}
