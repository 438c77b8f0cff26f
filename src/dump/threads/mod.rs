//! All threads: the threads of a dump other than the current one.
//!
//! Signal-safe, on the dumping thread (arena memory). A dump
//! 1. lists the threads (`/proc/self/task`), keeps at most as many as it
//!    may show, and reads each one's state and blocked signals;
//! 2. queues the park signal ([`crate::dump::threads::park`]) to every thread that can
//!    take it, all at once, before the current thread is printed, so that
//!    the process holds still while it is described; in a dump the process
//!    survives (user signal, timeout, API, a fatal signal the program's own
//!    handler takes next), a thread asleep in a system call is not
//!    signalled (the call would fail with EINTR) but walked from where the
//!    kernel says it sleeps, and signalled only if it woke up meanwhile;
//! 3. waits for the answers under one deadline ([`PARK_WAIT`]);
//! 4. walks each thread's stack: from the registers a parked thread
//!    reported, or, for a thread that cannot answer but sits in a system
//!    call (it blocks the signal, as `sigwait` servers do in every thread;
//!    it is in uninterruptible sleep; it is stopped), from the stack and
//!    instruction pointers the kernel gives in `/proc/self/task/TID/syscall`;
//! 5. hands the walked threads ([`Walked`]) back while the parked ones
//!    are still parked (the minidump reads their stacks then);
//! 6. in a dump the process survives, releases every parked thread, then
//!    prints the stacks; a thread that gave nothing gets one line saying
//!    why. In a dump that ends the process ([`Fate::Dies`]) every thread
//!    that can take the signal is parked, asleep or not, and none is ever
//!    released: nothing of the program runs again, and a call the signal
//!    interrupted (`sleep`, `poll`, `pause`: EINTR whatever `SA_RESTART`
//!    says) never returns to show it. Released, the program would run on
//!    during the dump with failing calls, and could even exit 0 before
//!    the signal's default action.

pub mod park;
pub mod tasks;

use alloc::vec::Vec;
use core::time::Duration;

use crate::dump::frames::{Collected, Stacks};
use crate::format::line::Line;
use crate::report::sink::{Sink, ThreadHeader};
use crate::sys;
use crate::sys::arch::Registers;
use park::Park;
use tasks::{Status, Syscall};

/// The longest a dump waits for the other threads to answer, all together.
pub const PARK_WAIT: Duration = Duration::from_millis(200);

/// How long a dump waits for answers: [`PARK_WAIT`], or a quarter of the
/// dump's own deadline when that is shorter.
pub fn park_wait(deadline: Duration) -> Duration {
    PARK_WAIT.min(deadline / 4)
}

/// How long a thread that blocks the park signal while running user code
/// is watched for unblocking it: glibc blocks every signal for a moment in
/// `pthread_create`, `fork` and `abort`.
const LATE_WINDOW: Duration = Duration::from_millis(20);

/// What becomes of the process once the dump is written.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Fate {
    /// It goes on: no thread's system call may be interrupted, and the
    /// parked threads are released before the symbols are looked up.
    GoesOn,
    /// The signal's default action ends it: the parked threads stay
    /// parked until it does.
    Dies,
}

struct Entry {
    tid: i32,
    /// Read before the signal was sent.
    status: Option<Status>,
    /// The park signal was queued to it.
    signalled: bool,
    /// It blocked the signal while running user code: it is signalled if
    /// it unblocks within [`LATE_WINDOW`].
    late: bool,
    /// A dump the process survives, and the thread sleeps in this system
    /// call: it is walked from there without a signal (which would make
    /// the call fail with EINTR), if it is still there afterwards.
    asleep: Option<Syscall>,
}

/// The other threads of one dump, parked (or not) and not yet printed.
pub struct Others {
    entries: Vec<Entry>,
    /// Threads beyond the limit, not shown.
    omitted: usize,
    park: Option<Park>,
    fate: Fate,
    wait_until_ns: u64,
    wait: Duration,
}

/// What is known of one thread once the waiting is over.
// aarch64's 36 registers make the first variant 289 bytes: one value per
// thread, on the dump stack, not worth an allocation.
#[cfg_attr(target_arch = "aarch64", allow(clippy::large_enum_variant))]
enum Answer {
    Stack { regs: Registers, from_syscall: bool },
    Nothing(Reason),
}

#[derive(Clone, Copy)]
enum Reason {
    BlockedNotInSyscall,
    Stopped,
    Traced,
    DiskSleep,
    NoSignal,
    NoReply,
}

impl Others {
    /// Lists the threads other than `exclude`, at most `limit`, and queues
    /// the park signal to those that can take it. When the process goes on
    /// after the dump, threads asleep in a system call are left alone and
    /// walked from `/proc` instead.
    pub fn stop(
        exclude: &[i32],
        limit: usize,
        deadline: Duration,
        dump_deadline_ns: u64,
        fate: Fate,
        signal_in_use: fn(i32) -> bool,
    ) -> Others {
        let mut tids = tasks::list();
        tids.retain(|t| !exclude.contains(t));
        let omitted = tids.len().saturating_sub(limit);
        tids.truncate(limit);
        let mut entries: Vec<Entry> = tids
            .iter()
            .map(|&tid| Entry {
                tid,
                status: tasks::status(tid),
                signalled: false,
                late: false,
                asleep: None,
            })
            .filter(|e| !e.status.is_some_and(|s| s.exiting()))
            .collect();
        let wait = park_wait(deadline);
        let now = sys::monotonic_ns();
        let wait_until_ns = now.saturating_add(wait.as_nanos() as u64);
        let sig = park::signal(signal_in_use);
        let park = sig.map(|sig| {
            let tids: Vec<i32> = entries.iter().map(|e| e.tid).collect();
            // A parked thread waits for the whole dump, and a second
            // longer if the dump never releases it; until the end when
            // the process dies.
            let until_ns = match fate {
                Fate::GoesOn => dump_deadline_ns.saturating_add(1_000_000_000),
                Fate::Dies => u64::MAX,
            };
            Park::new(sig, &tids, until_ns)
        });
        if let (Some(park), Some(sig)) = (&park, sig) {
            for (i, e) in entries.iter_mut().enumerate() {
                let stopped = e.status.is_some_and(|s| matches!(s.state, b'T' | b't'));
                let deaf = e.status.is_some_and(|s| s.blocks(sig));
                let sleeping = e.status.is_some_and(|s| matches!(s.state, b'S' | b'D'));
                if fate == Fate::GoesOn && sleeping && !stopped && !deaf {
                    e.asleep =
                        tasks::syscall(e.tid).filter(|c| matches!(c, Syscall::InCall { .. }));
                }
                if e.asleep.is_some() {
                    // Walked in `print`.
                } else if !stopped && !deaf {
                    e.signalled = park.send(i);
                    if !e.signalled {
                        // Gone since it was listed.
                        e.tid = 0;
                    }
                } else if deaf && !stopped {
                    e.late = !matches!(tasks::syscall(e.tid), Some(Syscall::InCall { .. }));
                }
            }
        }
        Others {
            entries,
            omitted,
            park,
            fate,
            wait_until_ns,
            wait,
        }
    }

    /// Walks the sleeping threads, waits for the answers and walks every
    /// other stack. The parked threads stay parked until [`Walked::print`]:
    /// what else reads their state (the minidump) reads it meanwhile.
    pub fn walk(mut self, stacks: &mut Stacks) -> Walked {
        let mut walked: Vec<Option<Walk>> = (0..self.entries.len()).map(|_| None).collect();
        for (i, e) in self.entries.iter_mut().enumerate() {
            let Some(Syscall::InCall { sp, pc, .. }) = e.asleep else {
                continue;
            };
            let regs = Registers::from_pc_sp_fp(pc, sp, 0);
            let collected = stacks.collect(e.tid, &regs, false, true);
            if tasks::syscall(e.tid) == e.asleep {
                walked[i] = Some(Ok((regs, collected)));
            } else if let Some(park) = &self.park {
                // It woke up meanwhile: what was read may be torn.
                e.asleep = None;
                e.signalled = park.send(i);
                if !e.signalled {
                    e.tid = 0;
                }
            }
        }
        self.wait();
        for (i, slot) in walked.iter_mut().enumerate() {
            if slot.is_some() || self.entries[i].tid == 0 {
                continue;
            }
            *slot = Some(match self.answer(i) {
                Answer::Stack { regs, from_syscall } => Ok((
                    regs,
                    stacks.collect(self.entries[i].tid, &regs, false, from_syscall),
                )),
                Answer::Nothing(reason) => Err(reason),
            });
        }
        Walked {
            others: self,
            walked,
        }
    }
}

/// A thread walked: the registers its walk started from, and its frames;
/// or why it gave none.
type Walk = Result<(Registers, Collected), Reason>;

/// The other threads walked, the parked ones still parked.
pub struct Walked {
    others: Others,
    walked: Vec<Option<Walk>>,
}

impl Walked {
    /// Each thread that gave registers, in the order it is printed, with
    /// its signal context where it is parked in its handler (the threads
    /// are still parked until [`Walked::print`]).
    pub fn each_with_registers(&self, mut f: impl FnMut(i32, &Registers, Option<u64>)) {
        let entries = self.others.entries.iter().zip(&self.walked).enumerate();
        for (i, (e, result)) in entries {
            if let Some(Ok((regs, _))) = result {
                let ucontext = self.others.park.as_ref().and_then(|p| p.ucontext(i));
                f(e.tid, regs, ucontext);
            }
        }
    }

    /// Releases the parked threads (unless the process dies), then prints.
    pub fn print(mut self, stacks: &mut Stacks, sink: &mut dyn Sink) {
        if let Some(park) = self.others.park.as_ref().filter(|p| p.borrowed()) {
            let mut note = Line::new();
            note.push(b"faultdump: the program has a handler on every real-time signal: signal ");
            note.dec(i64::from(park.signal()));
            note.push(b" borrowed to stop the threads, the program's own passed on to its handler");
            sink.note(note.as_bytes());
        }
        if self.others.park.as_ref().is_some_and(Park::blind) {
            sink.note(
                b"faultdump: the signal queue is full (RLIMIT_SIGPENDING): threads were \
                  stopped one at a time with signals that carry no data",
            );
        }
        match self.others.fate {
            // Release the parked threads before the slow part (symbols).
            Fate::GoesOn => self.others.park = None,
            // Never released: the table stays published (its arena memory
            // is not reused, no dump follows a fatal one) and the threads
            // wait until the process ends.
            Fate::Dies => core::mem::forget(self.others.park.take()),
        }
        for (e, result) in self.others.entries.iter().zip(&self.walked) {
            let Some(result) = result else { continue };
            if sink.stopped() {
                break;
            }
            let mut name = [0u8; 16];
            sink.thread_begin(&ThreadHeader {
                tid: e.tid,
                name: tasks::name(e.tid, &mut name),
                current: false,
            });
            match result {
                Ok((_, collected)) => stacks.print_collected(sink, collected),
                Err(reason) => self.others.explain(*reason, sink),
            }
            sink.thread_end();
            sink.flush();
        }
        if self.others.omitted > 0 {
            sink.threads_omitted(self.others.omitted);
        }
    }
}

impl Others {
    /// Waits for the signalled threads to answer, and for a while signals
    /// the ones that blocked the signal for a moment once they unblock it.
    fn wait(&mut self) {
        let Some(park) = &self.park else {
            return;
        };
        let sig = park.signal();
        let late_until =
            (sys::monotonic_ns() + LATE_WINDOW.as_nanos() as u64).min(self.wait_until_ns);
        loop {
            let now = sys::monotonic_ns();
            let late = self.entries.iter().any(|e| e.late && e.tid != 0);
            if !late || now >= late_until {
                park.wait(|i| self.entries[i].signalled, self.wait_until_ns);
                return;
            }
            park.wait(
                |i| self.entries[i].signalled,
                (now + 1_000_000).min(late_until),
            );
            for (i, e) in self.entries.iter_mut().enumerate() {
                if !e.late || e.tid == 0 {
                    continue;
                }
                let status = tasks::status(e.tid);
                if status.is_some_and(|s| !s.blocks(sig) && !matches!(s.state, b'T' | b't')) {
                    e.late = false;
                    e.signalled = park.send(i);
                    if !e.signalled {
                        e.tid = 0;
                    }
                }
            }
        }
    }

    fn answer(&self, i: usize) -> Answer {
        let e = &self.entries[i];
        if let Some(regs) = self.park.as_ref().and_then(|p| p.registers(i)) {
            return Answer::Stack {
                regs,
                from_syscall: false,
            };
        }
        // No answer: a thread inside a system call is not running user
        // code, so its stack holds still where the kernel says it is.
        match tasks::syscall(e.tid) {
            Some(Syscall::InCall { sp, pc, .. }) => {
                return Answer::Stack {
                    regs: Registers::from_pc_sp_fp(pc, sp, 0),
                    from_syscall: true,
                };
            }
            Some(Syscall::Running | Syscall::Blocked { .. }) | None => {}
        }
        let now = tasks::status(e.tid).or(e.status);
        Answer::Nothing(match now {
            Some(s) if s.state == b'T' => Reason::Stopped,
            Some(s) if s.state == b't' => Reason::Traced,
            Some(s) if s.state == b'D' => Reason::DiskSleep,
            _ if self.park.is_none() => Reason::NoSignal,
            _ if !e.signalled => Reason::BlockedNotInSyscall,
            _ => Reason::NoReply,
        })
    }

    fn explain(&self, reason: Reason, sink: &mut dyn Sink) {
        let mut line = Line::new();
        describe(reason, self.wait, &mut line);
        sink.no_answer(line.as_bytes());
    }
}

/// The text of a `<no answer: ...>` line.
fn describe(reason: Reason, wait: Duration, line: &mut Line) {
    line.push(match reason {
        Reason::BlockedNotInSyscall => b"signal blocked and not in a system call",
        Reason::Stopped => b"stopped (T)",
        Reason::Traced => b"stopped by a tracer (t)",
        Reason::DiskSleep => b"uninterruptible sleep (D)",
        Reason::NoSignal => b"no free real-time signal to stop it, and not in a system call",
        Reason::NoReply => b"no reply within ",
    });
    if let Reason::NoReply = reason {
        line.dec(wait.as_millis() as i64);
        line.push(b" ms");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons() {
        let text = |r| {
            let mut line = Line::new();
            describe(r, park_wait(Duration::from_secs(5)), &mut line);
            String::from_utf8(line.as_bytes().to_vec()).unwrap()
        };
        assert_eq!(text(Reason::NoReply), "no reply within 200 ms");
        assert_eq!(text(Reason::Stopped), "stopped (T)");
        assert_eq!(text(Reason::DiskSleep), "uninterruptible sleep (D)");
        assert_eq!(
            text(Reason::BlockedNotInSyscall),
            "signal blocked and not in a system call"
        );
    }

    #[test]
    fn the_wait_follows_a_short_deadline() {
        assert_eq!(park_wait(Duration::from_secs(5)), PARK_WAIT);
        assert_eq!(
            park_wait(Duration::from_millis(400)),
            Duration::from_millis(100)
        );
    }
}
