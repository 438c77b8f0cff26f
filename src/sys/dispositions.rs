//! The program's view of the signals faultdump handles.
//!
//! For every signal faultdump handles (the fatal ones, the user signals, the
//! signal that parks threads) the program sees, through the interposed
//! `sigaction` family (`startup::interpose`), what it would have seen
//! without faultdump: the disposition found when faultdump took the signal
//! (normally `SIG_DFL`), then whatever the program itself set. What the
//! program sets is what the kernel gets, except `SIG_DFL`: `SIG_DFL` *is*
//! faultdump, so then faultdump's handler is what the kernel runs. A
//! program's own handler therefore never finds faultdump's to chain to.
//!
//! Each handled signal has one record, published in `VIEW` as a word naming
//! an immutable slot of a static pool. Writers build a new slot and swap the
//! word with a compare-and-swap (so each writer gets exactly the record it
//! replaced, as `sigaction`'s old action), then bring the kernel in line
//! with the newest record, again until the record they installed from is
//! still the newest: the last writer to touch the kernel always did it from
//! the newest record. Readers copy a slot and check its sequence number, as
//! with a seqlock whose only writer is the slot's owner. No lock, no
//! allocation, no system call but `rt_sigaction` (and `sched_yield`, should
//! every slot of the pool be taken at once): safe for
//! installs from any number of threads at once and from inside signal
//! handlers, including a handler interrupting an install on its own thread.

use core::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering, fence};

use super::realsig;

/// Signal numbers run from 1 to 64 on Linux.
const NSIG: usize = 65;

/// glibc adds this flag (and its own restorer) to every action it installs,
/// and reports both back.
const SA_RESTORER: i32 = 0x0400_0000;

/// A disposition as the kernel keeps it on x86_64 and Linux: the handler,
/// the flags, the 64 signals of the mask, the restorer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Action {
    pub handler: usize,
    pub flags: i32,
    pub mask: u64,
    pub restorer: usize,
}

impl Action {
    pub const DEFAULT: Action = Action {
        handler: libc::SIG_DFL,
        flags: 0,
        mask: 0,
        restorer: 0,
    };

    pub fn from_libc(a: &libc::sigaction) -> Action {
        Action {
            handler: a.sa_sigaction,
            flags: a.sa_flags,
            mask: super::mask_bits(&a.sa_mask),
            restorer: a.sa_restorer.map_or(0, |f| f as usize),
        }
    }

    pub fn to_libc(self) -> libc::sigaction {
        // SAFETY: an all-zero sigaction is valid; the fields are set below.
        let mut a: libc::sigaction = unsafe { core::mem::zeroed() };
        a.sa_sigaction = self.handler;
        a.sa_flags = self.flags;
        a.sa_mask = super::sigset_from_bits(self.mask);
        // SAFETY: a restorer is a function address or 0 (None).
        a.sa_restorer =
            unsafe { core::mem::transmute::<usize, Option<extern "C" fn()>>(self.restorer) };
        a
    }
}

/// One signal's record: the program's view, and whether faultdump's
/// handler is what the kernel runs for it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Record {
    pub view: Action,
    pub ours: bool,
}

const POOL: usize = 256;

struct Slot {
    /// Odd while the owner writes; the published value is even.
    seq: AtomicU32,
    busy: AtomicBool,
    /// handler, flags | ours << 32, mask, restorer.
    words: [AtomicU64; 4],
}

// Placed after the rest of `.bss` (build.rs): only its first slots are
// written at start-up, which then share the page of the small statics
// start-up writes anyway, instead of pushing those statics 10 KiB further.
#[unsafe(link_section = ".bss.faultdump.cold")]
static SLOTS: [Slot; POOL] = [const {
    Slot {
        seq: AtomicU32::new(0),
        busy: AtomicBool::new(false),
        words: [const { AtomicU64::new(0) }; 4],
    }
}; POOL];
/// Where the next slot search starts.
static HINT: AtomicUsize = AtomicUsize::new(0);

/// Per signal: 0 when faultdump does not handle it, else the slot of its
/// record (index + 1, low 32 bits) and that slot's sequence (high 32).
static VIEW: [AtomicU64; NSIG] = [const { AtomicU64::new(0) }; NSIG];
/// Per signal: faultdump's action for it (its handler; flags and mask are
/// the same for all, see [`OUR_FLAGS`] and `OUR_MASK`).
static HANDLER: [AtomicUsize; NSIG] = [const { AtomicUsize::new(0) }; NSIG];
static OUR_MASK: AtomicU64 = AtomicU64::new(0);
pub const OUR_FLAGS: i32 = libc::SA_SIGINFO | libc::SA_ONSTACK | libc::SA_RESTART;
/// glibc's restorer, learned from the first action read back that has one.
static RESTORER: AtomicUsize = AtomicUsize::new(0);

fn index(sig: i32) -> Option<usize> {
    usize::try_from(sig).ok().filter(|&i| i > 0 && i < NSIG)
}

/// A free slot, taken. Spins (yielding) only if all are taken at once,
/// which needs more than 190 installs in flight.
fn take_slot() -> usize {
    loop {
        // A plain load and store: racing writers may start at the same
        // slot, and the claim below settles it.
        let start = HINT.load(Ordering::Relaxed);
        HINT.store(start.wrapping_add(1), Ordering::Relaxed);
        for k in 0..POOL {
            let i = (start + k) % POOL;
            if !SLOTS[i].busy.load(Ordering::Relaxed)
                && !SLOTS[i].busy.swap(true, Ordering::Acquire)
            {
                return i;
            }
        }
        super::raw::sched_yield();
    }
}

fn free_slot(word: u64) {
    SLOTS[(word as u32 - 1) as usize]
        .busy
        .store(false, Ordering::Release);
}

/// Writes `record` into a new slot; the word naming it.
fn publish(record: Record) -> u64 {
    let i = take_slot();
    let slot = &SLOTS[i];
    let seq = slot.seq.load(Ordering::Relaxed).wrapping_add(1) | 1;
    slot.seq.store(seq, Ordering::Relaxed);
    fence(Ordering::Release);
    let v = record.view;
    let words = [
        v.handler as u64,
        u64::from(v.flags as u32) | u64::from(record.ours) << 32,
        v.mask,
        v.restorer as u64,
    ];
    for (dst, src) in slot.words.iter().zip(words) {
        dst.store(src, Ordering::Relaxed);
    }
    let seq = seq.wrapping_add(1);
    slot.seq.store(seq, Ordering::Release);
    u64::from(seq) << 32 | (i as u64 + 1)
}

/// The record a word names; `None` if its slot has been reused since.
fn read(word: u64) -> Option<Record> {
    let slot = &SLOTS[(word as u32 - 1) as usize];
    let seq = (word >> 32) as u32;
    if slot.seq.load(Ordering::Acquire) != seq {
        return None;
    }
    let w: [u64; 4] = core::array::from_fn(|k| slot.words[k].load(Ordering::Relaxed));
    fence(Ordering::Acquire);
    if slot.seq.load(Ordering::Relaxed) != seq {
        return None;
    }
    Some(Record {
        view: Action {
            handler: w[0] as usize,
            flags: w[1] as u32 as i32,
            mask: w[2],
            restorer: w[3] as usize,
        },
        ours: w[1] >> 32 != 0,
    })
}

/// The newest record of signal `i` and its word; `None` if not handled.
fn current(i: usize) -> Option<(u64, Record)> {
    loop {
        let word = VIEW[i].load(Ordering::Acquire);
        if word == 0 {
            return None;
        }
        if let Some(record) = read(word) {
            return Some((word, record));
        }
    }
}

/// The record of `sig`, if faultdump handles it. Async-signal-safe.
pub fn record(sig: i32) -> Option<Record> {
    current(index(sig)?).map(|(_, r)| r)
}

/// What the kernel should run for a record.
fn kernel_action(i: usize, record: &Record) -> libc::sigaction {
    if record.ours {
        Action {
            handler: HANDLER[i].load(Ordering::Acquire),
            flags: OUR_FLAGS,
            mask: OUR_MASK.load(Ordering::Acquire),
            restorer: 0,
        }
        .to_libc()
    } else {
        let mut a = record.view;
        a.flags &= !SA_RESTORER;
        a.restorer = 0;
        a.to_libc()
    }
}

/// Brings the kernel in line with the newest record, from `word`'s on.
fn sync(i: usize, mut word: u64, mut record: Record) {
    loop {
        let action = kernel_action(i, &record);
        // The old action is asked for only until glibc's restorer is known
        // (the program's old action is the view's, not the kernel's).
        // SAFETY: an all-zero sigaction is valid; written by the call.
        let mut old: libc::sigaction = unsafe { core::mem::zeroed() };
        let learn = RESTORER.load(Ordering::Relaxed) == 0;
        let old_ptr = if learn {
            &mut old as *mut libc::sigaction
        } else {
            core::ptr::null_mut()
        };
        // SAFETY: both pointers are valid or null.
        unsafe { realsig::sigaction(i as i32, &action, old_ptr) };
        if let Some(r) = old.sa_restorer {
            RESTORER.store(r as usize, Ordering::Relaxed);
        }
        match current(i) {
            Some((now, r)) if now != word => (word, record) = (now, r),
            // Still the newest, or no longer handled (the one who
            // uninstalled set the kernel).
            _ => return,
        }
    }
}

/// Lets the program's `action` for `sig` act on this delivery, as the
/// kernel would run it: a one-shot (`SA_RESETHAND`) handler fires once, the
/// program's view turning to `SIG_DFL` ([`fire_one_shot`]). False when it
/// did not run because another delivery fired it first or the program
/// changed the action meanwhile: what is there now acts instead.
pub fn run_program_handler(
    sig: i32,
    action: &libc::sigaction,
    info: *mut libc::siginfo_t,
    uc: *mut libc::c_void,
) -> bool {
    if action.sa_flags & libc::SA_RESETHAND != 0 && !fire_one_shot(sig, action.sa_sigaction) {
        return false;
    }
    call_handler(sig, action, info, uc);
    true
}

/// Runs the program's handler of `action` (not `SIG_DFL` or `SIG_IGN`)
/// for this delivery of `sig`, from inside one of faultdump's handlers,
/// with the signals the kernel would have blocked for it added to the
/// current mask.
pub fn call_handler(
    sig: i32,
    action: &libc::sigaction,
    info: *mut libc::siginfo_t,
    uc: *mut libc::c_void,
) {
    let mut mask = action.sa_mask;
    if action.sa_flags & libc::SA_NODEFER == 0 {
        super::sigaddset(&mut mask, sig);
    }
    let old = super::sigmask(libc::SIG_BLOCK, &mask);
    if action.sa_flags & libc::SA_SIGINFO != 0 {
        // SAFETY: with SA_SIGINFO the program installed a three-argument
        // handler; it gets this delivery's arguments.
        let f: extern "C" fn(i32, *mut libc::siginfo_t, *mut libc::c_void) =
            unsafe { core::mem::transmute(action.sa_sigaction) };
        f(sig, info, uc);
    } else {
        // SAFETY: without SA_SIGINFO the handler takes the number only.
        let f: extern "C" fn(i32) = unsafe { core::mem::transmute(action.sa_sigaction) };
        f(sig);
    }
    super::sigmask(libc::SIG_SETMASK, &old);
}

/// Takes `sig`: faultdump's `handler` (with [`OUR_FLAGS`] and `mask`) goes
/// to the kernel, and the program's view starts as what the kernel had.
/// False if `sig` is handled already or the kernel refused. One
/// `rt_sigaction`, as before the view existed. A program thread installing
/// an action for `sig` at the same moment (through the C library, since
/// `sig` is not handled yet) may end up in the kernel while the view shows
/// what was found: only `faultdump_enable` or `faultdump_register` racing
/// the program's own `sigaction` on the same signal can do that.
#[unsafe(link_section = ".text.faultdump.startup")]
pub fn install(sig: i32, handler: usize, mask: u64) -> bool {
    let Some(i) = index(sig) else {
        return false;
    };
    if VIEW[i].load(Ordering::Acquire) != 0 {
        return false;
    }
    HANDLER[i].store(handler, Ordering::Release);
    OUR_MASK.store(mask, Ordering::Release);
    let ours = kernel_action(
        i,
        &Record {
            view: Action::DEFAULT,
            ours: true,
        },
    );
    // SAFETY: an all-zero sigaction is valid; written by the call.
    let mut found: libc::sigaction = unsafe { core::mem::zeroed() };
    // SAFETY: both pointers are valid.
    if unsafe { realsig::sigaction(sig, &ours, &mut found) } != 0 {
        return false;
    }
    let word = publish(Record {
        view: Action::from_libc(&found),
        ours: true,
    });
    if VIEW[i]
        .compare_exchange(0, word, Ordering::AcqRel, Ordering::Acquire)
        .is_err()
    {
        free_slot(word);
        return false;
    }
    true
}

/// Gives `sig` back: the kernel gets the program's view if faultdump's
/// handler was what it ran (else the program's own action stays), and the
/// program's calls pass through again. The record it had; `None` if
/// faultdump did not handle `sig`.
pub fn uninstall(sig: i32) -> Option<Record> {
    let i = index(sig)?;
    let word = VIEW[i].swap(0, Ordering::AcqRel);
    if word == 0 {
        return None;
    }
    // Only the one who took the word off frees its slot: readable here.
    let record = read(word);
    free_slot(word);
    let record = record?;
    if record.ours {
        let mut view = record.view;
        view.flags &= !SA_RESTORER;
        // SAFETY: a valid action; the old one is not wanted.
        unsafe { realsig::sigaction(sig, &view.to_libc(), core::ptr::null_mut()) };
    }
    Some(record)
}

/// The program's `sigaction` on a handled signal: replaces the view with
/// what `new` gives (if anything) and returns the view it replaced, as
/// glibc reports an action (with its restorer flag). `None` if faultdump
/// does not handle `sig`: the call is the C library's, and `new` is not
/// called. Async-signal-safe.
pub fn exchange(sig: i32, new: impl FnOnce() -> Option<Action>) -> Option<Action> {
    let i = index(sig)?;
    let (mut word, mut old) = current(i)?;
    let Some(mut new) = new() else {
        return Some(visible(sig, &old));
    };
    new.flags |= SA_RESTORER;
    new.restorer = 0;
    let record = Record {
        view: new,
        ours: new.handler == libc::SIG_DFL,
    };
    loop {
        // Before the new action reaches the kernel: `visible` asks the
        // kernel whether it reset a one-shot handler, which it can tell
        // only while that handler's action is the kernel's.
        let shown = visible(sig, &old);
        let next = publish(record);
        if let Err(now) = VIEW[i].compare_exchange(word, next, Ordering::AcqRel, Ordering::Acquire)
        {
            free_slot(next);
            (word, old) = match now {
                // Given back meanwhile: the C library's call after all.
                0 => return None,
                _ => current(i)?,
            };
            continue;
        }
        free_slot(word);
        sync(i, next, record);
        return Some(shown);
    }
}

/// What the kernel does on delivering a one-shot (`SA_RESETHAND`) handler,
/// done to the view of a signal faultdump handles and chains to: the
/// handler becomes `SIG_DFL`, flags and mask stay. Only if the view still
/// shows `handler` as a one-shot one: false if another delivery, or the
/// program, changed it first (the delivery then meets what is there now).
/// Async-signal-safe.
pub fn fire_one_shot(sig: i32, handler: usize) -> bool {
    let Some(i) = index(sig) else {
        return false;
    };
    let Some((word, record)) = current(i) else {
        return false;
    };
    if !record.ours || record.view.handler != handler || record.view.flags & libc::SA_RESETHAND == 0
    {
        return false;
    }
    let reset = Record {
        view: Action {
            handler: libc::SIG_DFL,
            ..record.view
        },
        ours: true,
    };
    let next = publish(reset);
    if VIEW[i]
        .compare_exchange(word, next, Ordering::AcqRel, Ordering::Acquire)
        .is_err()
    {
        free_slot(next);
        return false;
    }
    free_slot(word);
    // Faultdump's handler stays what the kernel runs: nothing to sync.
    true
}

/// A record as the program sees it: with glibc's restorer where the
/// program set it through glibc; `SIG_DFL` once a one-shot handler
/// (`SA_RESETHAND`) of its own has run (the kernel reset it).
fn visible(sig: i32, record: &Record) -> Action {
    let mut view = record.view;
    if view.flags & SA_RESTORER != 0 && view.restorer == 0 {
        view.restorer = RESTORER.load(Ordering::Relaxed);
    }
    if !record.ours && view.flags & libc::SA_RESETHAND != 0 {
        // SAFETY: an all-zero sigaction is valid; written by the call.
        let mut now: libc::sigaction = unsafe { core::mem::zeroed() };
        // SAFETY: a null new action only queries.
        unsafe { realsig::sigaction(sig, core::ptr::null(), &mut now) };
        if now.sa_sigaction == libc::SIG_DFL {
            return Action::from_libc(&now);
        }
    }
    view
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip_through_slots() {
        let record = Record {
            view: Action {
                handler: 0x1234_5678,
                flags: libc::SA_SIGINFO | SA_RESTORER,
                mask: 1 << 10 | 1 << 63,
                restorer: 0x42,
            },
            ours: false,
        };
        let word = publish(record);
        assert_eq!(read(word), Some(record));
        free_slot(word);
        // The slot reused: the old word no longer reads.
        let again = (0..POOL)
            .map(|_| {
                publish(Record {
                    ours: true,
                    ..record
                })
            })
            .collect::<Vec<_>>();
        assert_eq!(read(word), None);
        for w in again {
            assert!(read(w).is_some_and(|r| r.ours));
            free_slot(w);
        }
    }

    #[test]
    fn actions_convert_to_and_from_libc() {
        let a = Action {
            handler: 0x1000,
            flags: libc::SA_ONSTACK,
            mask: 0b1010,
            restorer: 0,
        };
        assert_eq!(Action::from_libc(&a.to_libc()), a);
        assert_eq!(
            Action::from_libc(&Action::DEFAULT.to_libc()),
            Action::DEFAULT
        );
    }
}
