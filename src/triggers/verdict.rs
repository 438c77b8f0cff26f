//! Whether a fatal signal that reached our handler is a crash of this
//! process, decided first, before anything is written or changed.
//!
//! Our handler sees signals the process would never have acted on, and
//! signals that are somebody else's crash passed on:
//! - **Discarded**: without us the kernel would have thrown the signal away,
//!   so we do exactly that (nothing written, nothing changed, our handlers
//!   stay). A signal a process sent (`si_code <= 0`) is discarded when the
//!   disposition we replaced is `SIG_IGN`; and, in the init of a PID
//!   namespace (`getpid() == 1`), when it is `SIG_DFL`: the kernel marks
//!   that process `SIGNAL_UNKILLABLE` and drops a `SIG_DFL` signal to it
//!   (`sig_task_ignored` when sent, `get_signal` when dequeued), whoever
//!   sent it, from inside or from an ancestor namespace: only SIGKILL and
//!   SIGSTOP from an ancestor are forced through, and we handle neither. A
//!   fault (`si_code > 0`) is forced: `force_sig_info_to_task` clears
//!   `SIGNAL_UNKILLABLE` for a `SIG_DFL` one, and init dies of it. One
//!   exception: SIGABRT the process sent itself is `abort()`, which dies
//!   whatever happens to that first raise (it sets `SIG_DFL`, raises again,
//!   then executes a faulting instruction or `_exit`s), so it is dumped;
//!   a PID 1 that raises SIGABRT for its own reasons and lives on gets
//!   that dump and no other, as a process that ignores SIGABRT does.
//! - **Passed on**: a wrapper (`timeout`, `unshare --fork`, an init shim)
//!   whose child died of signal S reaps it, then sets `SIG_DFL` and sends
//!   itself S to die the same way. The crash was the child's, dumped by the
//!   child. Told from what the process did: the last child it reaped,
//!   shortly before, died of signal S ([`reaped`], recorded by the
//!   interposed `wait` family); since then the program set S to `SIG_DFL`
//!   ([`set_to_default`], by the interposed `sigaction` family); and S was
//!   sent by the process to itself. A program's own `raise(SIGSEGV)`, or
//!   Python's faulthandler re-raising its fault, has no such child: dumped;
//!   and a program that asserts on its child's death and so calls `abort()`
//!   sets no `SIG_DFL` before that first SIGABRT (`abort()` resets it
//!   inside the C library, after): dumped.

use core::sync::atomic::{AtomicI32, AtomicU64, Ordering};

use crate::format::{line, names};
use crate::sys;
use crate::triggers::dispositions::previous;

pub enum Verdict {
    /// The process's own crash: dump it, then die as before.
    Dump,
    /// Without us the kernel would have dropped the signal: return at once.
    Discarded,
    /// The signal the child `child` died of, passed on: die as before, with
    /// no dump.
    PassedOn { child: i32 },
}

/// How long after reaping a child that died of S a process's S sent to
/// itself counts as passing it on. A wrapper does it at once (`timeout`,
/// `unshare`) or after some clean-up (`sudo` closes its PAM session); a
/// program that crashes for its own reasons so soon after a child of its
/// died of the same signal is rarer.
const PASS_ON_WINDOW_NS: u64 = 10_000_000_000;

/// The last child reaped that died of a signal: its pid and the signal in
/// one word (pid << 8 | signal), 0 when the last child reaped exited.
static LAST_REAPED: AtomicU64 = AtomicU64::new(0);
/// When it was reaped (monotonic ns).
static REAPED_AT: AtomicU64 = AtomicU64::new(0);
/// The pid that recorded [`LAST_REAPED`]: a forked child reaps its own
/// children, not its parent's.
static REAPER: AtomicI32 = AtomicI32::new(0);
/// The signals the program set to `SIG_DFL` since that reap (bit `sig - 1`).
static SET_TO_DEFAULT: AtomicU64 = AtomicU64::new(0);

/// Records that the program set `sig`'s disposition to `SIG_DFL` (through
/// the interposed `sigaction` family). Async-signal-safe.
pub fn set_to_default(sig: i32) {
    if (1..=64).contains(&sig) {
        SET_TO_DEFAULT.fetch_or(1 << (sig - 1), Ordering::Relaxed);
    }
}

/// Records that this process reaped child `pid`, dead of `signal` (0 if it
/// exited). Called by the interposed `wait` family; async-signal-safe (one
/// clock read, only for a child killed by a signal).
pub fn reaped(pid: i32, signal: i32) {
    if signal == 0 {
        LAST_REAPED.store(0, Ordering::Relaxed);
        return;
    }
    SET_TO_DEFAULT.store(0, Ordering::Relaxed);
    REAPED_AT.store(sys::monotonic_ns(), Ordering::Relaxed);
    REAPER.store(sys::getpid(), Ordering::Relaxed);
    LAST_REAPED.store(
        (pid as u32 as u64) << 8 | (signal as u8 as u64),
        Ordering::Release,
    );
}

/// What to do with `sig`, with the kernel's `info`. Async-signal-safe.
pub fn verdict(sig: i32, info: &libc::siginfo_t) -> Verdict {
    if info.si_code > 0 {
        // Raised by the kernel for this thread: forced through.
        return Verdict::Dump;
    }
    // SAFETY: si_pid is valid for signals sent by a process (si_code <= 0).
    let sender = unsafe { info.si_pid() };
    let me = sys::getpid();
    let found = previous(sig).map_or(libc::SIG_DFL, |p| p.sa_sigaction);
    decide(
        kernel_drops(sig, found, sender, me),
        sender == me,
        passed_on(sig, sys::monotonic_ns()),
    )
}

/// Whether the kernel drops `sig` sent by `sender` to process `me` (its pid
/// in its own namespace) whose disposition is `found`.
fn kernel_drops(sig: i32, found: usize, sender: i32, me: i32) -> bool {
    let aborting = sig == libc::SIGABRT && sender == me;
    !aborting && (found == libc::SIG_IGN || (found == libc::SIG_DFL && me == 1))
}

fn decide(dropped: bool, from_itself: bool, child: Option<i32>) -> Verdict {
    if dropped {
        return Verdict::Discarded;
    }
    match child {
        Some(child) if from_itself => Verdict::PassedOn { child },
        _ => Verdict::Dump,
    }
}

/// The child whose death by `sig` this process recorded less than
/// [`PASS_ON_WINDOW_NS`] before `now`, if the program has set `sig` to
/// `SIG_DFL` since.
fn passed_on(sig: i32, now: u64) -> Option<i32> {
    let last = LAST_REAPED.load(Ordering::Acquire);
    (last != 0
        && (last & 0xff) as i32 == sig
        && SET_TO_DEFAULT.load(Ordering::Relaxed) & 1 << (sig - 1) != 0
        && REAPER.load(Ordering::Relaxed) == sys::getpid()
        && now.saturating_sub(REAPED_AT.load(Ordering::Relaxed)) < PASS_ON_WINDOW_NS)
        .then_some((last >> 8) as i32)
}

/// The one line a wrapper that passes on its child's signal gets, on
/// stderr: `faultdump: pid P passes on SIGSEGV, which its child pid C died
/// of (dumped there): no dump`. Pieces on the stack, one `writev`.
pub fn say_passed_on(sig: i32, child: i32) {
    let (mut me_buf, mut child_buf) = ([0u8; 20], [0u8; 20]);
    crate::report::output::say_on_stderr(&[
        b"faultdump: pid ",
        line::decimal(sys::getpid() as u64, &mut me_buf),
        b" passes on SIG",
        names::signal_abbrev(sig).unwrap_or("?").as_bytes(),
        b", which its child pid ",
        line::decimal(child as u64, &mut child_buf),
        b" died of (dumped there): no dump\n",
    ]);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dropped_signal_is_dropped_whatever_else() {
        assert!(matches!(decide(true, true, Some(7)), Verdict::Discarded));
        assert!(matches!(decide(true, false, None), Verdict::Discarded));
    }

    #[test]
    fn what_the_kernel_drops() {
        let (dfl, ign, handler) = (libc::SIG_DFL, libc::SIG_IGN, 0x1000);
        // Ignored: dropped, in any process.
        assert!(kernel_drops(libc::SIGSEGV, ign, 9, 5));
        // SIG_DFL: dropped only in the init of a namespace, from inside
        // (another process, or itself) or from outside (si_pid 0).
        assert!(!kernel_drops(libc::SIGSEGV, dfl, 9, 5));
        for sender in [0, 1, 2] {
            assert!(kernel_drops(libc::SIGSEGV, dfl, sender, 1));
            assert!(kernel_drops(libc::SIGTERM, dfl, sender, 1));
        }
        // A handler of the program's: run.
        assert!(!kernel_drops(libc::SIGSEGV, handler, 2, 1));
        // abort() dies anyway: dumped.
        assert!(!kernel_drops(libc::SIGABRT, dfl, 1, 1));
        assert!(!kernel_drops(libc::SIGABRT, ign, 5, 5));
        assert!(kernel_drops(libc::SIGABRT, dfl, 2, 1));
    }

    #[test]
    fn only_a_signal_sent_to_itself_after_such_a_child_is_passed_on() {
        assert!(matches!(
            decide(false, true, Some(7)),
            Verdict::PassedOn { child: 7 }
        ));
        // Sent by another process: the crash is this one's.
        assert!(matches!(decide(false, false, Some(7)), Verdict::Dump));
        // No child died of it: raise(SIGSEGV) for its own reasons.
        assert!(matches!(decide(false, true, None), Verdict::Dump));
    }

    #[test]
    fn the_reaped_child_counts_for_its_signal_within_the_window() {
        reaped(4242, libc::SIGSEGV);
        let at = REAPED_AT.load(Ordering::Relaxed);
        // Not before the program set SIG_DFL (abort() after a child's
        // crash: its own).
        assert_eq!(passed_on(libc::SIGSEGV, at + 1), None);
        set_to_default(libc::SIGSEGV);
        assert_eq!(passed_on(libc::SIGSEGV, at + 1), Some(4242));
        assert_eq!(passed_on(libc::SIGABRT, at + 1), None);
        assert_eq!(passed_on(libc::SIGSEGV, at + PASS_ON_WINDOW_NS), None);
        // A child that exited since: no longer.
        reaped(4243, 0);
        assert_eq!(passed_on(libc::SIGSEGV, at + 1), None);
    }
}
