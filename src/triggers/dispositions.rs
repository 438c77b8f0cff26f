//! The dispositions the library's handlers replaced, by signal number: what
//! a handler chains to and what is put back when the library steps aside.
//! Written at install time (start-up, the C API), read by handlers without
//! a lock.

use core::cell::UnsafeCell;
use core::sync::atomic::{AtomicBool, Ordering};

use crate::sys;

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
