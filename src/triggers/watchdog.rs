//! The watchdog: `FAULTHANDLER_TIMEOUT` and
//! `faultdump_dump_traceback_later`, as Python's `dump_traceback_later`.
//!
//! A thread, created only when a timeout is set and born with every signal
//! blocked (so it never takes a signal meant for the program), sleeps on a
//! futex until the time is up, then dumps all threads under a
//! `Timeout (H:MM:SS)!` line through [`dump::run`] like any dump (it is the
//! dumping thread, not shown). With `repeat` it starts over; with `exit` it
//! ends the process with `_exit(1)` right after the dump. Cancelling ends
//! the thread, so that a cancelled process is single-threaded again.
//!
//! `fork` copies only the calling thread: a `pthread_atfork` child handler
//! starts a new watchdog in the child, with the full timeout.
//!
//! Everything shared with the thread is an atomic; arming and cancelling
//! hold a small spin lock (not a pthread mutex, which `fork` could copy in
//! a locked state).

use core::sync::atomic::{AtomicBool, AtomicI32, AtomicU32, AtomicU64, AtomicUsize, Ordering};
use core::time::Duration;

use crate::dump::{self, Claim, Trigger};
use crate::sys;
use crate::sys::libpthread;

static LOCK: AtomicBool = AtomicBool::new(false);
/// Futex word: bumped whenever the settings change or the thread must stop.
static GENERATION: AtomicU32 = AtomicU32::new(0);
static ARMED: AtomicBool = AtomicBool::new(false);
static PERIOD_NS: AtomicU64 = AtomicU64::new(0);
static ARMED_AT_NS: AtomicU64 = AtomicU64::new(0);
static REPEAT: AtomicBool = AtomicBool::new(false);
static EXIT: AtomicBool = AtomicBool::new(false);
/// -1: the configured output.
static FD: AtomicI32 = AtomicI32::new(-1);
/// Each thread runs while this holds the value it was started with:
/// cancelling bumps it, so an ending thread never stops its successor.
static EPOCH: AtomicU32 = AtomicU32::new(0);
/// The thread's `pthread_t`, 0 when there is none.
static THREAD: AtomicUsize = AtomicUsize::new(0);
static TID: AtomicI32 = AtomicI32::new(0);
static ATFORK_REGISTERED: AtomicBool = AtomicBool::new(false);

/// The watchdog's stack: it only waits, and dumps on the dump stack.
const STACK_SIZE: usize = 256 * 1024;

/// The watchdog thread's kernel tid, 0 when there is none (never shown in a
/// dump).
pub fn tid() -> i32 {
    TID.load(Ordering::Acquire)
}

fn lock() {
    while LOCK
        .compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed)
        .is_err()
    {
        sys::raw::sched_yield();
    }
}

fn unlock() {
    LOCK.store(false, Ordering::Release);
}

fn wake() {
    GENERATION.fetch_add(1, Ordering::AcqRel);
    sys::futex_wake(&GENERATION, i32::MAX);
}

/// Dumps all threads after `period` (again every `period` with `repeat`),
/// replacing any earlier setting and starting the time again; to `fd`, or
/// the configured output when `None`. False if no thread could be created.
pub fn arm(period: Duration, repeat: bool, exit: bool, fd: Option<i32>) -> bool {
    lock();
    PERIOD_NS.store(
        period.as_nanos().min(u64::MAX as u128) as u64,
        Ordering::Release,
    );
    REPEAT.store(repeat, Ordering::Release);
    EXIT.store(exit, Ordering::Release);
    FD.store(fd.unwrap_or(-1), Ordering::Release);
    ARMED_AT_NS.store(sys::monotonic_ns(), Ordering::Release);
    ARMED.store(true, Ordering::Release);
    wake();
    let ok = THREAD.load(Ordering::Acquire) != 0 || spawn();
    if !ok {
        ARMED.store(false, Ordering::Release);
    }
    unlock();
    ok
}

/// Cancels the timeout and ends the watchdog thread (waiting for a dump it
/// is writing to end).
pub fn cancel() {
    lock();
    ARMED.store(false, Ordering::Release);
    let thread = THREAD.swap(0, Ordering::AcqRel);
    if thread != 0 {
        EPOCH.fetch_add(1, Ordering::AcqRel);
        TID.store(0, Ordering::Release);
        wake();
    }
    // Not under the lock: the thread takes it once more after a dump.
    unlock();
    if thread != 0 {
        // Joinable, and joined once: THREAD was swapped to 0 under the lock.
        libpthread::join(thread as libc::pthread_t);
    }
}

/// Creates the thread with every signal blocked. Called with the lock held.
fn spawn() -> bool {
    if !ATFORK_REGISTERED.swap(true, Ordering::AcqRel) {
        libpthread::atfork(before_fork, after_fork_parent, after_fork_child);
    }
    let old = sys::sigmask(libc::SIG_SETMASK, &sys::sigset_full());
    let epoch = EPOCH.load(Ordering::Acquire) as usize as *mut libc::c_void;
    let thread = libpthread::spawn(STACK_SIZE, watchdog_main, epoch);
    if let Some(thread) = thread {
        THREAD.store(thread as usize, Ordering::Release);
    }
    let created = thread.is_some();
    sys::sigmask(libc::SIG_SETMASK, &old);
    created
}

extern "C" fn watchdog_main(epoch: *mut libc::c_void) -> *mut libc::c_void {
    let epoch = epoch as usize as u32;
    TID.store(sys::gettid(), Ordering::Release);
    // SAFETY: PR_SET_NAME reads a NUL-terminated name of at most 16 bytes.
    unsafe {
        sys::raw::prctl(
            libc::PR_SET_NAME,
            c"faultdump-watch".as_ptr() as libc::c_ulong,
        )
    };
    loop {
        let generation = GENERATION.load(Ordering::Acquire);
        if EPOCH.load(Ordering::Acquire) != epoch {
            return core::ptr::null_mut();
        }
        if !ARMED.load(Ordering::Acquire) {
            sys::futex_wait(&GENERATION, generation, 3600 * 1_000_000_000);
            continue;
        }
        let period_ns = PERIOD_NS.load(Ordering::Acquire);
        let due = ARMED_AT_NS
            .load(Ordering::Acquire)
            .saturating_add(period_ns);
        let now = sys::monotonic_ns();
        if now < due {
            sys::futex_wait(&GENERATION, generation, due - now);
            continue;
        }
        let fd = FD.load(Ordering::Acquire);
        dump_now(period_ns, (fd >= 0).then_some(fd));
        if EXIT.load(Ordering::Acquire) {
            // SAFETY: _exit ends the process at once, as asked.
            unsafe { libc::_exit(1) };
        }
        lock();
        // Unless the settings changed during the dump: again, or done.
        if GENERATION.load(Ordering::Acquire) == generation
            && EPOCH.load(Ordering::Acquire) == epoch
        {
            if REPEAT.load(Ordering::Acquire) {
                ARMED_AT_NS.store(sys::monotonic_ns(), Ordering::Release);
            } else {
                ARMED.store(false, Ordering::Release);
            }
        }
        unlock();
    }
}

fn dump_now(period_ns: u64, fd: Option<i32>) {
    let Some(config) = crate::settings::get() else {
        return;
    };
    let wait = config.deadline.as_nanos() as u64 + 1_000_000_000;
    if let Claim::Acquired = dump::claim(None, wait) {
        dump::run(
            config,
            Trigger::Timeout {
                period_ns,
                exits: EXIT.load(Ordering::Acquire),
            },
            super::options(fd, true),
        );
        dump::release();
    }
}

extern "C" fn before_fork() {
    lock();
}

extern "C" fn after_fork_parent() {
    unlock();
}

/// In the child: the watchdog thread was not copied; start a new one with
/// the full timeout if one was armed.
extern "C" fn after_fork_child() {
    THREAD.store(0, Ordering::Release);
    TID.store(0, Ordering::Release);
    if ARMED.load(Ordering::Acquire) {
        ARMED_AT_NS.store(sys::monotonic_ns(), Ordering::Release);
        if !spawn() {
            ARMED.store(false, Ordering::Release);
        }
    }
    unlock();
}
