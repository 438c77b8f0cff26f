//! Parking threads: stopping the other threads of the process for the
//! length of a dump, in-process, with a real-time signal.
//!
//! The dumping thread allocates one [`Slot`] per thread from the arena,
//! publishes the table, and queues the park signal to every thread at once
//! (`rt_tgsigqueueinfo`, with a per-dump cookie and the slot's index in
//! `si_value`). On each target thread the tiny [`park_handler`] copies the
//! registers of the interrupted context into its slot, wakes the dumper,
//! and waits on a futex until the dump releases it (or, should the dumper
//! never do so, until a bound derived from the dump's deadline). The dumper
//! waits for all the answers under one deadline, unwinds each parked thread
//! from its own stack (the parked thread is not running, so its stack holds
//! still), and releases them all together.
//!
//! The handler runs on threads the arena does not serve: it allocates
//! nothing, takes no lock, and touches only atomics and its own slot.
//!
//! When the queue is full (`RLIMIT_SIGPENDING` counts every signal pending
//! for the user, which in a container is every process), queueing fails
//! with EAGAIN. The kernel still delivers a real-time signal sent with
//! `kill` (`SI_USER`) when the queue is full: it drops the signal's data,
//! not the signal. So the threads the queue had no room for are stopped
//! "blind", one `kill` of the process at a time: the kernel gives each to
//! a thread that does not block the signal (parked threads block it, so
//! each `kill` stops one more), and the handler of a signal without data
//! (`SI_USER` from pid 0) finds its slot by its own tid. A signal without
//! data that arrives after such a dump is taken for a late one of ours and
//! ignored (the dumper also takes back the one left pending).
//!
//! The signal is chosen when the first dump needs it, among the real-time
//! signals whose disposition is still the default, from `SIGRTMAX` down (the
//! low ones are the ones programs and libraries pick first; glibc keeps 32
//! and 33 below `SIGRTMIN` for itself). Before each dump the choice is
//! checked again: a program that installed its own handler on it since is
//! left alone and another free signal is taken. Once installed, the handler
//! stays: a signal queued to a thread that had not yet taken it must never
//! meet the default action (which would end the process). The same signal
//! sent by anyone else still ends the process, as it would have: the
//! handler puts the default action back and lets it act.
//!
//! A program may own every real-time signal (timers, its own messaging).
//! A dump then borrows the highest one: the park handler goes to the
//! kernel while the program's view of the signal stays its own action
//! ([`crate::sys::dispositions`]), and every delivery that is not a park
//! is passed on to that action, in the order the kernel delivers them, so
//! none of the program's is lost or reordered. When the dump ends with
//! every park signal it sent taken, the signal is given back (the kernel
//! gets the program's action again); otherwise the park handler stays, as
//! for a free signal, and keeps passing the program's on. Should the
//! program set the signal's action itself meanwhile, it takes it back.

use alloc::vec::Vec;
use core::sync::atomic::{AtomicI32, AtomicPtr, AtomicU32, AtomicU64, AtomicUsize, Ordering};

use crate::sys;
use crate::sys::arch::{Registers, reg};

/// One thread's answer.
pub struct Slot {
    tid: AtomicI32,
    answered: AtomicU32,
    /// Its park signal was sent.
    sent: AtomicU32,
    /// The queue had no room for its signal: it is stopped blind.
    blind: AtomicU32,
    gregs: [AtomicU64; reg::COUNT],
    /// The address of the thread's signal context (`ucontext_t`), in its
    /// handler's frame: valid while the thread stays parked (its FP and
    /// SIMD registers, for the minidump).
    ucontext: AtomicU64,
}

/// The park signal installed, 0 before the first dump that needed one.
static SIGNAL: AtomicI32 = AtomicI32::new(0);
/// The process that installed it: a `vfork` child shares this memory but
/// not the parent's signal dispositions, so its choice is not the parent's.
static SIGNAL_PID: AtomicI32 = AtomicI32::new(0);

/// The cookie of the dump whose table is published, 0 when none.
static COOKIE: AtomicU32 = AtomicU32::new(0);
static SLOTS: AtomicPtr<Slot> = AtomicPtr::new(core::ptr::null_mut());
static LEN: AtomicUsize = AtomicUsize::new(0);
/// Handlers between their cookie check and their last write to a slot: the
/// dumper waits for none to be left before the table's memory is reused.
static INSIDE: AtomicU32 = AtomicU32::new(0);
/// Bumped by every answer; the dumper sleeps on it.
static ANSWERS: AtomicU32 = AtomicU32::new(0);
/// The cookie of the last dump that released its threads; parked handlers
/// sleep on it.
static RELEASED: AtomicU32 = AtomicU32::new(0);
/// Monotonic time after which a parked thread leaves on its own.
static PARK_UNTIL_NS: AtomicU64 = AtomicU64::new(0);
/// Source of cookies.
static SEQUENCE: AtomicU32 = AtomicU32::new(0);
/// A dump of this process stopped threads blind (see the module doc).
static BLIND_USED: AtomicI32 = AtomicI32::new(0);

/// The park signal if it is installed and still ours.
pub fn current_signal() -> Option<i32> {
    let sig = installed();
    (sig != 0 && is_ours(sig)).then_some(sig)
}

/// The park signal this process installed, 0 if none.
fn installed() -> i32 {
    if SIGNAL_PID.load(Ordering::Acquire) == sys::getpid() {
        SIGNAL.load(Ordering::Acquire)
    } else {
        0
    }
}

fn is_ours(sig: i32) -> bool {
    sys::sigaction_get(sig).sa_sigaction == park_handler as extern "C" fn(_, _, _) as usize
}

/// The park signal for a dump: the one installed if it is still ours,
/// else the highest real-time signal still at its default disposition that
/// `avoid` does not reject, installed now. When the program has a handler
/// on every one, the highest the program owns is borrowed for the dump
/// (see the module doc). `None` if there is none. Signal-safe (sigaction
/// only); called with the dump lock held.
pub fn signal(avoid: impl Fn(i32) -> bool) -> Option<i32> {
    if let Some(sig) = current_signal() {
        return Some(sig);
    }
    let taken = installed();
    let free = |sig: i32| sys::sigaction_get(sig).sa_sigaction == libc::SIG_DFL;
    let candidates = (libc::SIGRTMIN()..=libc::SIGRTMAX()).rev();
    for sig in candidates.clone().filter(|&s| free(s)).chain(candidates) {
        if sig == taken
            || avoid(sig)
            || sys::dispositions::record(sig).is_some()
            || !sys::can_queue(sig)
        {
            continue;
        }
        // A parked thread runs nothing else: every asynchronous signal
        // waits until it is released. Installed as the library's other
        // handlers are, so that the program sees `SIG_DFL` on it and gets
        // it when it takes it.
        let mask = sys::mask_bits(&crate::dump::lock::dump_mask());
        let handler = park_handler as extern "C" fn(_, _, _) as usize;
        if sys::dispositions::install(sig, handler, mask) {
            SIGNAL_PID.store(sys::getpid(), Ordering::Release);
            SIGNAL.store(sig, Ordering::Release);
            return Some(sig);
        }
    }
    None
}

extern "C" fn park_handler(sig: i32, info: *mut libc::siginfo_t, uc: *mut libc::c_void) {
    let _errno = sys::ErrnoGuard::save();
    // SAFETY: the kernel passes a valid siginfo_t with SA_SIGINFO.
    let info = unsafe { &*info };
    // SAFETY: si_pid is valid for SI_QUEUE and SI_USER signals, si_value
    // for SI_QUEUE ones, the only ones looked into.
    let sender =
        matches!(info.si_code, libc::SI_QUEUE | libc::SI_USER).then(|| unsafe { info.si_pid() });
    let value = (info.si_code == libc::SI_QUEUE && sender == Some(sys::getpid()))
        .then(|| unsafe { info.si_value().sival_ptr } as u64);
    // A `kill` whose data the full queue dropped: `SI_USER` from pid 0.
    let blind = info.si_code == libc::SI_USER && sender == Some(0);
    let (cookie, index) = match value {
        Some(v) => ((v >> 32) as u32, v as u32 as usize),
        None if blind && BLIND_USED.load(Ordering::Acquire) == sys::getpid() => {
            match blind_slot() {
                Some(found) => found,
                // The program's own on a borrowed signal, or a late one of
                // ours after its dump (ignored, not the default action).
                None => {
                    if program_owns(sig) {
                        pass_on(sig, info, uc);
                    }
                    return;
                }
            }
        }
        None => (0, 0),
    };
    if cookie == 0 {
        pass_on(sig, info, uc);
        return;
    }
    INSIDE.fetch_add(1, Ordering::SeqCst);
    let answered = COOKIE.load(Ordering::SeqCst) == cookie && {
        let slots = SLOTS.load(Ordering::Acquire);
        let len = LEN.load(Ordering::Acquire);
        // SAFETY: the table stays valid while COOKIE holds our cookie and
        // INSIDE is non-zero (see `Park::drop`); index is bounds-checked.
        let slot = (!slots.is_null() && index < len).then(|| unsafe { &*slots.add(index) });
        match slot {
            Some(slot) if slot.tid.load(Ordering::Acquire) == sys::gettid() => {
                // SAFETY: the kernel passes a valid ucontext_t with SA_SIGINFO.
                let regs = unsafe { Registers::from_ucontext(uc) };
                for (dst, src) in slot.gregs.iter().zip(regs.gregs) {
                    dst.store(src, Ordering::Relaxed);
                }
                slot.ucontext.store(uc as u64, Ordering::Relaxed);
                slot.answered.store(1, Ordering::Release);
                true
            }
            _ => false,
        }
    };
    INSIDE.fetch_sub(1, Ordering::SeqCst);
    if !answered {
        return;
    }
    ANSWERS.fetch_add(1, Ordering::AcqRel);
    sys::futex_wake(&ANSWERS, 1);
    let until = PARK_UNTIL_NS.load(Ordering::Acquire);
    loop {
        let released = RELEASED.load(Ordering::Acquire);
        let now = sys::monotonic_ns();
        if released == cookie || now >= until {
            return;
        }
        sys::futex_wait(&RELEASED, released, until - now);
    }
}

/// A delivery that is not a park: what the program set for the signal
/// acts on it. Its own handler (on a borrowed signal) runs, once if it is
/// a one-shot handler; `SIG_DFL`,
/// which would have ended the process without us, is put back, and the
/// signal is delivered again when this handler returns.
fn pass_on(sig: i32, info: &libc::siginfo_t, uc: *mut libc::c_void) {
    match view_handler(sig) {
        libc::SIG_IGN => {}
        libc::SIG_DFL => {
            sys::set_default(sig);
            sys::tgkill(sys::gettid(), sig);
        }
        _ => {
            if let Some(record) = sys::dispositions::record(sig) {
                let action = record.view.to_libc();
                let info_ptr = (info as *const libc::siginfo_t).cast_mut();
                if !sys::dispositions::run_program_handler(sig, &action, info_ptr, uc) {
                    // A one-shot handler fired meanwhile, or the program
                    // changed the action: what is there now acts.
                    pass_on(sig, info, uc);
                }
            }
        }
    }
}

/// What the program sees as the handler of `sig`.
fn view_handler(sig: i32) -> usize {
    sys::dispositions::record(sig).map_or(libc::SIG_DFL, |r| r.view.handler)
}

/// Whether the program has a handler of its own on `sig` (a borrowed
/// signal).
fn program_owns(sig: i32) -> bool {
    !matches!(view_handler(sig), libc::SIG_DFL | libc::SIG_IGN)
}

/// The published dump's cookie and the slot of the calling thread, if
/// that slot waits for a blind signal.
fn blind_slot() -> Option<(u32, usize)> {
    INSIDE.fetch_add(1, Ordering::SeqCst);
    let cookie = COOKIE.load(Ordering::SeqCst);
    let slots = SLOTS.load(Ordering::Acquire);
    let len = LEN.load(Ordering::Acquire);
    let me = sys::gettid();
    let found = (cookie != 0 && !slots.is_null())
        .then(|| {
            (0..len).find(|&i| {
                // SAFETY: the table stays valid while COOKIE holds its
                // cookie and INSIDE is non-zero (see `Park::drop`).
                let slot = unsafe { &*slots.add(i) };
                slot.tid.load(Ordering::Acquire) == me && slot.blind.load(Ordering::Acquire) != 0
            })
        })
        .flatten()
        .map(|i| (cookie, i));
    INSIDE.fetch_sub(1, Ordering::SeqCst);
    found
}

/// One dump's parked threads. Dropping it releases them.
pub struct Park {
    sig: i32,
    cookie: u32,
    slots: Vec<Slot>,
}

impl Park {
    /// Publishes a table with one slot per thread of `tids`; no thread is
    /// signalled yet. Parked threads leave on their own at `until_ns` if
    /// the dump has not released them by then.
    pub fn new(sig: i32, tids: &[i32], until_ns: u64) -> Park {
        let slots: Vec<Slot> = tids
            .iter()
            .map(|&tid| Slot {
                tid: AtomicI32::new(tid),
                answered: AtomicU32::new(0),
                sent: AtomicU32::new(0),
                blind: AtomicU32::new(0),
                gregs: [const { AtomicU64::new(0) }; reg::COUNT],
                ucontext: AtomicU64::new(0),
            })
            .collect();
        let mut cookie = SEQUENCE.fetch_add(1, Ordering::Relaxed).wrapping_add(1);
        if cookie == 0 {
            cookie = SEQUENCE.fetch_add(1, Ordering::Relaxed).wrapping_add(1);
        }
        PARK_UNTIL_NS.store(until_ns, Ordering::Release);
        SLOTS.store(slots.as_ptr().cast_mut(), Ordering::Release);
        LEN.store(slots.len(), Ordering::Release);
        COOKIE.store(cookie, Ordering::SeqCst);
        Park { sig, cookie, slots }
    }

    pub fn signal(&self) -> i32 {
        self.sig
    }

    /// Queues the park signal to the thread of slot `index`; false if the
    /// thread is gone. When the queue is full, the thread is left to be
    /// stopped blind by [`Park::wait`].
    pub fn send(&self, index: usize) -> bool {
        let slot = &self.slots[index];
        let value = u64::from(self.cookie) << 32 | index as u64;
        if sys::tgsigqueue(slot.tid.load(Ordering::Relaxed), self.sig, value) {
            slot.sent.store(1, Ordering::Release);
            return true;
        }
        let full = sys::errno() == libc::EAGAIN;
        if full {
            slot.sent.store(1, Ordering::Release);
            BLIND_USED.store(sys::getpid(), Ordering::Release);
            slot.blind.store(1, Ordering::Release);
        }
        full
    }

    /// Whether the signal is one of the program's, borrowed.
    pub fn borrowed(&self) -> bool {
        program_owns(self.sig)
    }

    /// Whether the queue was full for some thread of this dump.
    pub fn blind(&self) -> bool {
        self.slots
            .iter()
            .any(|s| s.blind.load(Ordering::Acquire) != 0)
    }

    pub fn answered(&self, index: usize) -> bool {
        self.slots[index].answered.load(Ordering::Acquire) != 0
    }

    /// Waits until every slot for which `expected` says yes has answered,
    /// or until `until_ns`.
    /// Threads to be stopped blind get one `kill` of the process at a time,
    /// each followed by a short wait for its answer.
    pub fn wait(&self, expected: impl Fn(usize) -> bool, until_ns: u64) {
        const BLIND_STEP_NS: u64 = 2_000_000;
        loop {
            let seen = ANSWERS.load(Ordering::Acquire);
            let missing = |i: usize| expected(i) && !self.answered(i);
            let now = sys::monotonic_ns();
            if !(0..self.slots.len()).any(missing) || now >= until_ns {
                return;
            }
            let blind = (0..self.slots.len())
                .any(|i| missing(i) && self.slots[i].blind.load(Ordering::Acquire) != 0);
            let mut until = until_ns;
            if blind {
                sys::kill_own_process(self.sig);
                until = until.min(now + BLIND_STEP_NS);
            }
            sys::futex_wait(&ANSWERS, seen, until - now);
        }
    }

    /// The registers a parked thread was interrupted at.
    pub fn registers(&self, index: usize) -> Option<Registers> {
        let slot = &self.slots[index];
        if slot.answered.load(Ordering::Acquire) == 0 {
            return None;
        }
        let mut gregs = [0u64; reg::COUNT];
        for (dst, src) in gregs.iter_mut().zip(&slot.gregs) {
            *dst = src.load(Ordering::Relaxed);
        }
        Some(Registers { gregs })
    }

    /// The address of a parked thread's signal context; meaningful only
    /// while the thread is still parked (before the table is released).
    pub fn ucontext(&self, index: usize) -> Option<u64> {
        let slot = &self.slots[index];
        (slot.answered.load(Ordering::Acquire) != 0)
            .then(|| slot.ucontext.load(Ordering::Relaxed))
            .filter(|&uc| uc != 0)
    }
}

impl Drop for Park {
    fn drop(&mut self) {
        // Withdraw the table, then wait for handlers still writing to it
        // (a handful of instructions each) before its memory can be reused.
        COOKIE.store(0, Ordering::SeqCst);
        let give_up = sys::monotonic_ns() + 100_000_000;
        while INSIDE.load(Ordering::SeqCst) != 0 && sys::monotonic_ns() < give_up {
            sys::raw::sched_yield();
        }
        SLOTS.store(core::ptr::null_mut(), Ordering::Release);
        LEN.store(0, Ordering::Release);
        if self.blind() {
            // A `kill` no thread took yet: the dumper blocks the signal.
            sys::consume_pending(self.sig);
        }
        let all_taken = self.slots.iter().all(|s| {
            s.sent.load(Ordering::Acquire) == 0 || s.answered.load(Ordering::Acquire) != 0
        });
        if self.borrowed() && all_taken {
            sys::dispositions::uninstall(self.sig);
            SIGNAL.store(0, Ordering::Release);
        }
        RELEASED.store(self.cookie, Ordering::Release);
        sys::futex_wake(&RELEASED, i32::MAX);
    }
}
