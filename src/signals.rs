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

/// Signals blocked while a fatal dump is written: every asynchronous signal
/// (so the program's own handlers do not run in the middle of the dump), but
/// not the synchronous faults (a fault inside the dump must reach our
/// handler at once) nor the signal that parks threads.
pub fn dump_mask(park_signal: Option<i32>) -> libc::sigset_t {
    // SAFETY: sigfillset initialises the set it is given.
    let mut set: libc::sigset_t = unsafe { core::mem::zeroed() };
    // SAFETY: set is a valid sigset_t.
    unsafe {
        libc::sigfillset(&mut set);
        for sig in FATAL_SIGNALS.iter().copied().chain(park_signal) {
            libc::sigdelset(&mut set, sig);
        }
    }
    set
}

/// Installs the fatal handlers; returns how many took.
pub fn install_fatal(park_signal: Option<i32>) -> usize {
    let mask = dump_mask(park_signal);
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
        die_as_before(sig, info);
        return;
    };
    if was_ignored_and_sent_by_another(sig, info) {
        // Without us the signal would have been ignored: so it is.
        return;
    }
    let wait = config.deadline.as_nanos() as u64 + 1_000_000_000;
    match dump::claim(Some(sig), wait) {
        Claim::Acquired => {
            #[cfg(feature = "selftest-unsafe-handler")]
            crate::selftest_unsafe_call(&());
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
    die_as_before(sig, info);
}

/// Where the fatal dump goes: set by `faultdump_enable` (see [`crate::capi`]).
fn fatal_options(_config: &Config) -> Options {
    crate::capi::fatal_options()
}

fn was_ignored_and_sent_by_another(sig: i32, info: &libc::siginfo_t) -> bool {
    // SAFETY: si_pid is valid for signals sent by a process (si_code <= 0).
    let sender = if info.si_code <= 0 {
        unsafe { info.si_pid() }
    } else {
        0
    };
    info.si_code <= 0
        && sender != sys::getpid()
        && previous(sig).is_some_and(|p| p.sa_sigaction == libc::SIG_IGN)
}

/// Restores the earlier disposition and lets the signal act again.
fn die_as_before(sig: i32, info: &libc::siginfo_t) {
    if let Some(previous) = previous(sig) {
        sys::sigaction_set(sig, &previous);
    } else {
        set_default(sig);
    }
    let repeats_by_itself = info.si_code > 0
        && info.si_code != 0x80
        && !matches!(sig, libc::SIGABRT | libc::SIGTRAP | libc::SIGSYS);
    let gp_fault = sig == libc::SIGSEGV && info.si_code == 0x80;
    if !(repeats_by_itself || gp_fault) {
        // Pending until this handler returns and unblocks it.
        sys::tgkill(sys::gettid(), sig);
    }
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
    let mut line = crate::output::Line::new();
    line.push(b"faultdump: the dump itself failed with SIG");
    line.push(names::signal_abbrev(sig).unwrap_or("?").as_bytes());
    line.push(b"; ending the process\n");
    // SAFETY: writing our own buffer to fd 2; failure is irrelevant here.
    unsafe { libc::write(2, line.as_bytes().as_ptr().cast(), line.as_bytes().len()) };
    set_default(original);
    set_default(sig);
    sys::sigmask(libc::SIG_UNBLOCK, &sys::sigset_of(&[original, sig]));
    sys::tgkill(sys::gettid(), original);
    // A hardware fault that gets here re-faults into the default action.
}
