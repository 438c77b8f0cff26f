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

use core::sync::atomic::{AtomicBool, AtomicI32, Ordering};

use crate::dump::{self, Claim, Options, Trigger, dump_mask};
use crate::format::names;
use crate::settings::FATAL_SIGNALS;
use crate::sys;
use crate::sys::arch::Registers;
use crate::sys::arch::signal_entry;
use crate::triggers::dispositions::{install, previous};
use crate::triggers::verdict::{self, Verdict};

/// Installs the fatal handlers; returns how many took.
#[unsafe(link_section = ".text.faultdump.startup")]
pub fn install_fatal() -> usize {
    let mask = dump_mask();
    FATAL_SIGNALS
        .iter()
        .filter(|&&sig| install(sig, fatal_entry, &mask))
        .count()
}

// Called as a plain function (`void (*)(int)`) by someone who kept its
// address, the handler is not run: no siginfo, no registers to trust, and
// doing nothing lets the caller go on to the death it chose.
signal_entry!(fatal_entry, fatal_handler);

fn fatal_handler(sig: i32, info: *mut libc::siginfo_t, uc: *mut libc::c_void) {
    // SAFETY: the entry checked it: the kernel's siginfo_t for this signal.
    let info = unsafe { &*info };
    // A bad read inside the dump, which the dump recovers from.
    sys::recover::recover(sig, info);
    let _errno = sys::ErrnoGuard::save();
    let Some(config) = crate::settings::get() else {
        die_as_before(sig, info, uc);
        return;
    };
    match verdict::verdict(sig, info) {
        Verdict::Dump => {}
        // Without us the signal would have been dropped: so it is.
        Verdict::Discarded => return,
        Verdict::PassedOn { child } => {
            verdict::say_passed_on(sig, child);
            die_as_before(sig, info, uc);
            return;
        }
    }
    let wait = config.deadline.as_nanos() as u64 + 1_000_000_000;
    match dump::claim(Some(sig), wait) {
        Claim::Acquired => {
            #[cfg(feature = "selftest-unsafe-handler")]
            crate::selftest_unsafe_call(false);
            // SAFETY: the kernel passes a valid ucontext_t with SA_SIGINFO.
            let regs = unsafe { Registers::from_ucontext(uc) };
            let ends_process = action_after(sig, info).sa_sigaction == libc::SIG_DFL;
            let trigger = Trigger::Fatal {
                info,
                regs,
                ends_process,
                ucontext: uc as u64,
            };
            // The kernel blocked `sig` for this handler: a fault of the same
            // signal inside the dump would then meet the default action
            // (no output at all, and a core of our fault, not the
            // program's). Unblocked, it reaches `fault_in_dump`. Blocked
            // again before the signal acts once more below: that must
            // happen when the handler returns, not inside it.
            let entry_mask = sys::sigmask(libc::SIG_UNBLOCK, &sys::sigset_of(&[sig]));
            dump::run(config, trigger, fatal_options());
            dump::release();
            sys::sigmask(libc::SIG_SETMASK, &entry_mask);
        }
        Claim::Reentered if !is_forced(info) => {
            // Sent to the dumping thread while it writes: not a fault of
            // the dump. It waits, blocked, until the dump is over (as it
            // did before `sig` was unblocked above).
            defer_until_dump_ends(sig, uc);
            return;
        }
        Claim::Reentered => {
            fault_in_dump(sig);
            return;
        }
        Claim::Declined => {}
    }
    die_as_before(sig, info, uc);
}

/// Where fatal dumps go after `faultdump_enable` (see `startup/capi.rs`): -1 for the configured
/// output (`FAULTHANDLER`).
static FATAL_FD: AtomicI32 = AtomicI32::new(-1);
static FATAL_ALL_THREADS: AtomicBool = AtomicBool::new(true);

/// Sets where fatal dumps go and whether they show every thread
/// (`faultdump_enable`).
pub fn set_options(fd: i32, all_threads: bool) {
    FATAL_FD.store(fd, Ordering::Release);
    FATAL_ALL_THREADS.store(all_threads, Ordering::Release);
}

/// The fatal handler's output and thread choice, as `faultdump_enable` set
/// them (the configured output and all threads until then).
pub fn fatal_options() -> Options {
    let fd = FATAL_FD.load(Ordering::Acquire);
    super::options(
        (fd >= 0).then_some(fd),
        FATAL_ALL_THREADS.load(Ordering::Acquire),
    )
}

/// A signal the kernel raised for the thread (a fault, `int3`, a seccomp
/// trap: `si_code > 0`) is forced through: a `SIG_IGN` or a blocked mask
/// does not stop it. Only one a process sent (`si_code <= 0`) can be
/// ignored, whoever sent it.
fn is_forced(info: &libc::siginfo_t) -> bool {
    info.si_code > 0
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

/// The disposition that acts on the signal after the dump: the one found
/// before ours, with a forced signal's `SIG_IGN` made `SIG_DFL` (what the
/// kernel does when it forces one). `SIG_DFL` ends the process: every
/// fatal signal's default action does.
fn action_after(sig: i32, info: &libc::siginfo_t) -> libc::sigaction {
    // SAFETY: an all-zero sigaction is SIG_DFL with an empty mask.
    let mut action: libc::sigaction = previous(sig).unwrap_or(unsafe { core::mem::zeroed() });
    if is_forced(info) && action.sa_sigaction == libc::SIG_IGN {
        action.sa_sigaction = libc::SIG_DFL;
    }
    action
}

/// Restores the earlier disposition and lets the signal act again, as it
/// would have without us: a forced signal whose disposition was SIG_IGN
/// gets SIG_DFL (what the kernel does when it forces one), and a signal
/// sent again is unblocked in the context the handler returns to, so that
/// it acts at once even when the interrupted code had it blocked (a
/// `sigsuspend`, `pselect` or `ppoll` with a mask: the kernel restores the
/// caller's mask on return).
fn die_as_before(sig: i32, info: &libc::siginfo_t, uc: *mut libc::c_void) {
    let action = action_after(sig, info);
    sys::sigaction_set(sig, &action);
    if repeats_on_return(sig, info.si_code) {
        return;
    }
    if action.sa_sigaction == libc::SIG_DFL && !uc.is_null() {
        // SAFETY: uc is the ucontext_t the kernel passed to this handler;
        // the mask in it is what the thread's mask becomes on return.
        sys::sigdelset(
            unsafe { &mut (*uc.cast::<libc::ucontext_t>()).uc_sigmask },
            sig,
        );
    }
    // Pending until this handler returns and unblocks it.
    sys::tgkill(sys::gettid(), sig);
}

/// Leaves a signal sent during our own dump pending and blocked in the
/// dump's context, where the fatal handler's entry mask brings it back
/// when the handler returns.
fn defer_until_dump_ends(sig: i32, uc: *mut libc::c_void) {
    if uc.is_null() {
        return;
    }
    // SAFETY: uc is the ucontext_t the kernel passed to this handler; its
    // mask is what the interrupted dump runs with on return.
    sys::sigaddset(
        unsafe { &mut (*uc.cast::<libc::ucontext_t>()).uc_sigmask },
        sig,
    );
    sys::tgkill(sys::gettid(), sig);
}

/// The end of a panic of the library: in a dump, as a fault inside it
/// ([`fault_in_dump`] with SIGABRT: the line saying so, then the death by
/// the signal being dumped); elsewhere SIGABRT with its default action.
/// Raised on the thread with `tgkill`, not by the C library's `abort()`,
/// which before glibc 2.27 flushes stdio under its locks.
#[cfg(not(test))]
pub fn internal_error() -> ! {
    if dump::held_here() {
        fault_in_dump(libc::SIGABRT);
    } else {
        sys::set_default(libc::SIGABRT);
        sys::sigmask(libc::SIG_UNBLOCK, &sys::sigset_of(&[libc::SIGABRT]));
        sys::tgkill(sys::gettid(), libc::SIGABRT);
    }
    // The signal acted on the way out of `tgkill`; should something (a
    // tracer) have kept it from ending the process, end it anyway.
    // SAFETY: exit_group has no preconditions and does not return.
    unsafe { libc::syscall(libc::SYS_exit_group, 128 + libc::SIGABRT) };
    loop {
        core::hint::spin_loop();
    }
}

/// The dump itself faulted: say so in one line and die at once by the signal
/// being dumped (or this one), with its default action.
fn fault_in_dump(sig: i32) {
    let original = match dump::fatal_signal_in_progress() {
        0 => sig,
        s => s,
    };
    crate::report::output::write_pending_after_fault();
    crate::report::output::say_on_stderr(&[
        b"faultdump: the dump itself failed with SIG",
        names::signal_abbrev(sig).unwrap_or("?").as_bytes(),
        b"; ending the process\n",
    ]);
    sys::set_default(original);
    sys::set_default(sig);
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
