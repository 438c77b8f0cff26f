//! User signals: `FAULTHANDLER_SIGNAL` and `faultdump_register`, as Python's
//! `faulthandler.register`.
//!
//! On a registered signal the thread that received it writes a dump (all
//! threads unless asked otherwise, that thread first as the current one)
//! and the program carries on. With `chain`, the disposition found when the
//! signal was registered then acts as well: a handler is called (with the
//! same arguments, under its own mask; a one-shot one, `SA_RESETHAND`,
//! once, after which the view is `SIG_DFL`), `SIG_IGN` does nothing, and
//! `SIG_DFL` does what the default action does (for most signals, ending
//! the process), as Python's `register(chain=True)` does.
//!
//! The handler is signal-safe; registering is not (it is called from the
//! constructor or the C API).

use core::sync::atomic::{AtomicBool, AtomicI32, Ordering};

use crate::dump::threads::park;
use crate::dump::{self, Claim, Options, Trigger};
use crate::settings::FATAL_SIGNALS;
use crate::sys;
use crate::sys::arch::Registers;
use crate::sys::arch::signal_entry;
use crate::triggers::dispositions;

const NSIG: usize = 65;

struct Registration {
    active: AtomicBool,
    /// The descriptor to write to; -1 for the configured output.
    fd: AtomicI32,
    all_threads: AtomicBool,
    chain: AtomicBool,
}

static REGISTERED: [Registration; NSIG] = [const {
    Registration {
        active: AtomicBool::new(false),
        fd: AtomicI32::new(-1),
        all_threads: AtomicBool::new(true),
        chain: AtomicBool::new(false),
    }
}; NSIG];

/// Why `sig` cannot be registered, if it cannot.
pub fn refusal(sig: i32) -> Option<&'static str> {
    if sig < 1 || sig > libc::SIGRTMAX() {
        Some("no such signal")
    } else if sig == libc::SIGKILL || sig == libc::SIGSTOP {
        Some("this signal cannot be caught")
    } else if FATAL_SIGNALS.contains(&sig) {
        Some("fatal signals are handled by FAULTHANDLER, not registered")
    } else if sig > 31 && sig < libc::SIGRTMIN() {
        Some("reserved by the C library")
    } else if park::current_signal() == Some(sig) {
        Some("used by faultdump to stop threads during a dump")
    } else {
        None
    }
}

pub fn is_registered(sig: i32) -> bool {
    usize::try_from(sig)
        .ok()
        .and_then(|i| REGISTERED.get(i))
        .is_some_and(|r| r.active.load(Ordering::Acquire))
}

/// Registers `sig` (which [`refusal`] accepts): dumps go to `fd`, or to the
/// configured output when `None`. A signal registered again keeps the
/// disposition found the first time and takes the new settings. False if
/// the handler could not be installed.
pub fn register(sig: i32, fd: Option<i32>, all_threads: bool, chain: bool) -> bool {
    let r = &REGISTERED[sig as usize];
    r.fd.store(fd.unwrap_or(-1), Ordering::Release);
    r.all_threads.store(all_threads, Ordering::Release);
    r.chain.store(chain, Ordering::Release);
    if r.active.load(Ordering::Acquire) {
        return true;
    }
    r.active.store(true, Ordering::Release);
    if dispositions::install(sig, user_entry, &dump::dump_mask()) {
        true
    } else {
        r.active.store(false, Ordering::Release);
        false
    }
}

/// Puts back the disposition found when `sig` was registered; false if it
/// was not registered.
pub fn unregister(sig: i32) -> bool {
    let Some(r) = usize::try_from(sig).ok().and_then(|i| REGISTERED.get(i)) else {
        return false;
    };
    if !r.active.swap(false, Ordering::AcqRel) {
        return false;
    }
    dispositions::uninstall(sig);
    true
}

// Called as a plain function by someone who kept its address, the handler
// is not run: no registers to dump, no arguments to chain with.
signal_entry!(user_entry, user_handler);

fn user_handler(sig: i32, info: *mut libc::siginfo_t, uc: *mut libc::c_void) {
    let _errno = sys::ErrnoGuard::save();
    let r = &REGISTERED[sig as usize];
    let active = r.active.load(Ordering::Acquire);
    if active {
        // SAFETY: the kernel passes a valid ucontext_t with SA_SIGINFO.
        let regs = unsafe { Registers::from_ucontext(uc) };
        let fd = r.fd.load(Ordering::Acquire);
        let options = super::options(
            (fd >= 0).then_some(fd),
            r.all_threads.load(Ordering::Acquire),
        );
        dump_on_signal(sig, regs, options);
    }
    // A signal that arrives after unregistering meets the disposition from
    // before, as if we had never been there.
    if !active || r.chain.load(Ordering::Acquire) {
        chain(sig, info, uc);
    }
}

fn dump_on_signal(signum: i32, regs: Registers, options: Options) {
    let Some(config) = crate::settings::get() else {
        return;
    };
    let wait = config.deadline.as_nanos() as u64 + 1_000_000_000;
    if let Claim::Acquired = dump::claim(None, wait) {
        dump::run(config, Trigger::UserSignal { signum, regs }, options);
        dump::release();
    }
}

/// Lets the disposition found at registration act on this delivery.
fn chain(sig: i32, info: *mut libc::siginfo_t, uc: *mut libc::c_void) {
    let Some(previous) = dispositions::previous(sig) else {
        return;
    };
    match previous.sa_sigaction {
        libc::SIG_IGN => {}
        libc::SIG_DFL => default_action(sig),
        _ => {
            if !sys::dispositions::run_program_handler(sig, &previous, info, uc) {
                // Another delivery fired it first, or the program changed
                // the action: what is there now acts on this one.
                chain(sig, info, uc);
            }
        }
    }
}

/// The default action of `sig`, now: nothing for the signals whose default
/// is to be ignored; otherwise the process ends (or stops, and then our
/// handler is put back when it continues).
fn default_action(sig: i32) {
    if matches!(
        sig,
        libc::SIGCHLD | libc::SIGCONT | libc::SIGURG | libc::SIGWINCH
    ) {
        return;
    }
    let ours = sys::sigaction_get(sig);
    sys::set_default(sig);
    sys::sigmask(libc::SIG_UNBLOCK, &sys::sigset_of(&[sig]));
    // Delivered on the way out of this system call.
    sys::tgkill(sys::gettid(), sig);
    sys::sigaction_set(sig, &ours);
}
