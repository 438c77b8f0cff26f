//! The limits on DWARF work in one dump: time (`FAULTHANDLER_DWARF_BUDGET`,
//! counted from the first frame that needs DWARF) and arena memory
//! ([`SOFT_LIMIT`]). Once either is spent the rest of the dump uses symbol
//! names only; the dump says so once.

use core::cell::Cell;

use crate::sys;
use crate::sys::arena::{ARENA, SOFT_LIMIT};

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Spent {
    Time,
    Memory,
    /// The dump runs in the small arena reserved at start-up.
    Reserved,
}

pub struct Budget {
    limit_ns: u64,
    /// 0 until the first use.
    deadline_ns: Cell<u64>,
    spent: Cell<Option<Spent>>,
}

impl Budget {
    pub fn new(limit: core::time::Duration) -> Budget {
        Budget {
            limit_ns: u64::try_from(limit.as_nanos()).unwrap_or(u64::MAX),
            deadline_ns: Cell::new(0),
            spent: Cell::new(None),
        }
    }

    /// The deadline, starting the clock on first use.
    pub fn deadline_ns(&self) -> u64 {
        if self.deadline_ns.get() == 0 {
            let now = sys::monotonic_ns();
            self.deadline_ns
                .set(now.saturating_add(self.limit_ns).max(1));
        }
        self.deadline_ns.get()
    }

    /// Whether DWARF work must stop now (and from now on).
    pub fn spent(&self) -> Option<Spent> {
        if self.spent.get().is_none() {
            if ARENA.is_reserved() {
                self.spent.set(Some(Spent::Reserved));
            } else if ARENA.used() > SOFT_LIMIT {
                self.spent.set(Some(Spent::Memory));
            } else if sys::monotonic_ns() > self.deadline_ns() {
                self.spent.set(Some(Spent::Time));
            }
        }
        self.spent.get()
    }

    pub fn limit_ns(&self) -> u64 {
        self.limit_ns
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::time::Duration;

    #[test]
    fn spends_on_time_and_stays_spent() {
        let b = Budget::new(Duration::from_secs(60));
        assert_eq!(b.spent(), None);
        let b = Budget::new(Duration::ZERO);
        let _ = b.deadline_ns();
        sys::sleep_ns(1000);
        assert_eq!(b.spent(), Some(Spent::Time));
        assert_eq!(b.spent(), Some(Spent::Time));
    }
}
