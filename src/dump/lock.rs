//! The dump lock: one dump at a time in the process, and none after a fatal
//! dump has begun (the process is going down). Lock-free: a compare-and-swap
//! on the dumping thread's tid, so a handler can take it whatever the
//! interrupted code held.

use core::sync::atomic::{AtomicI32, Ordering};

use crate::settings::FATAL_SIGNALS;
use crate::sys;

/// Signals blocked while a dump is written: every asynchronous signal (so
/// the program's own handlers do not run in the middle of the dump), but not
/// the synchronous faults (a fault inside the dump must reach our handler at
/// once; the fatal handler also unblocks the one signal the kernel blocked
/// for it). The signal that parks threads is blocked too: a thread waiting in
/// a fatal handler is walked from /proc instead (see `park`).
pub fn dump_mask() -> libc::sigset_t {
    let mut set = sys::sigset_full();
    for &sig in &FATAL_SIGNALS {
        sys::sigdelset(&mut set, sig);
    }
    set
}

/// Kernel tid of the thread writing a dump, 0 when none.
static DUMPER: AtomicI32 = AtomicI32::new(0);
/// The pid of the process whose fatal dump has started, 0 if none: that
/// process is going down, later faults in its other threads wait for it
/// and then die without a dump of their own. Keyed by process: a `vfork`
/// child shares this memory, and its own fatal dump must not silence the
/// parent's.
static FATAL_STARTED: AtomicI32 = AtomicI32::new(0);
/// The signal of the fatal dump in progress, for a fault inside the dump.
static FATAL_SIGNAL: AtomicI32 = AtomicI32::new(0);

pub enum Claim {
    /// The caller now writes the dump and must call [`release`].
    Acquired,
    /// The caller is the thread already writing a dump: it faulted inside it.
    Reentered,
    /// Another thread's fatal dump is under way or done, or the lock could not
    /// be had in time: write nothing.
    Declined,
}

/// Takes the dump lock, waiting for another thread's dump up to `wait_ns`.
pub fn claim(fatal_signal: Option<i32>, wait_ns: u64) -> Claim {
    let me = sys::gettid();
    let pid = sys::getpid();
    let give_up = sys::monotonic_ns().saturating_add(wait_ns);
    loop {
        match DUMPER.compare_exchange(0, me, Ordering::AcqRel, Ordering::Acquire) {
            Ok(_) => {
                if let Some(sig) = fatal_signal {
                    if FATAL_STARTED.swap(pid, Ordering::AcqRel) == pid {
                        DUMPER.store(0, Ordering::Release);
                        return Claim::Declined;
                    }
                    FATAL_SIGNAL.store(sig, Ordering::Release);
                } else if FATAL_STARTED.load(Ordering::Acquire) == pid {
                    DUMPER.store(0, Ordering::Release);
                    return Claim::Declined;
                }
                return Claim::Acquired;
            }
            Err(owner) if owner == me => return Claim::Reentered,
            Err(owner) if !sys::thread_exists(owner) => {
                // A thread of the parent was dumping when this process was
                // forked: in the child it does not exist to release the lock.
                let _ = DUMPER.compare_exchange(owner, 0, Ordering::AcqRel, Ordering::Acquire);
            }
            Err(_) if sys::monotonic_ns() >= give_up => return Claim::Declined,
            Err(_) => sys::sleep_ns(1_000_000),
        }
    }
}

pub fn release() {
    DUMPER.store(0, Ordering::Release);
}

/// The signal whose fatal dump is in progress (for a fault inside the dump).
pub fn fatal_signal_in_progress() -> i32 {
    if FATAL_STARTED.load(Ordering::Acquire) == sys::getpid() {
        FATAL_SIGNAL.load(Ordering::Acquire)
    } else {
        0
    }
}
