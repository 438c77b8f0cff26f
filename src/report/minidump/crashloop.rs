//! Crash loops: a process that crashes the same way again and again (a
//! container restarted by its orchestrator) writes a few minidumps of that
//! crash per window, and counts the rest in a small state file in the
//! directory, `.faultdump-crashloop`; the count goes into the next
//! minidump written for it (annotation `faultdump.same_crash_skipped`).
//!
//! The same crash: the same key (the executable's build id and the
//! faulting pc's offset in its module, made by the caller). The state is
//! one line, `KEY WINDOW_START WRITTEN SKIPPED`: only the last crash's key
//! is kept, so crashes that alternate are never held back. Pure: the
//! caller reads and writes the file.

use crate::format::line::Line;

/// Minidumps of the same crash per window.
pub const PER_WINDOW: u32 = 3;
/// The window, in seconds.
pub const WINDOW_S: u64 = 600;
/// The state file's name in the directory.
pub const STATE_FILE: &core::ffi::CStr = c".faultdump-crashloop";

/// What to do with this crash.
#[derive(Debug, PartialEq, Eq)]
pub enum Decision {
    /// Write it; `skipped` dumps of the same crash were not written
    /// before it.
    Write { skipped: u64 },
    /// Do not: it is the `nth` of the same crash in this window.
    Skip { nth: u64 },
}

/// Decides for the crash `key` at `now` (Unix seconds) given the state
/// file's bytes, and writes the new state into `out`.
pub fn decide(state: &[u8], key: &[u8], now: u64, out: &mut Line) -> Decision {
    let mut fields = state
        .split(|&b| b == b'\n')
        .next()
        .unwrap_or_default()
        .split(|&b| b == b' ');
    let old_key = fields.next().unwrap_or_default();
    let mut number = || -> Option<u64> { core::str::from_utf8(fields.next()?).ok()?.parse().ok() };
    let (start, written, skipped) = (number(), number(), number());
    let (mut start, mut written, mut skipped) = match (start, written, skipped) {
        (Some(s), Some(w), Some(k)) if old_key == key && !key.is_empty() => (s, w, k),
        _ => (now, 0, 0),
    };
    if now.saturating_sub(start) >= WINDOW_S {
        // A new window: the count of what was skipped stays for the next
        // minidump.
        start = now;
        written = 0;
    }
    let decision = if written < u64::from(PER_WINDOW) {
        written += 1;
        let d = Decision::Write { skipped };
        skipped = 0;
        d
    } else {
        skipped += 1;
        Decision::Skip {
            nth: written + skipped,
        }
    };
    out.clear();
    out.push(key);
    for n in [start, written, skipped] {
        out.byte(b' ');
        out.dec(n as i64);
    }
    out.byte(b'\n');
    decision
}

#[cfg(test)]
mod tests {
    use super::*;

    fn step(state: &mut Vec<u8>, key: &[u8], now: u64) -> Decision {
        let mut out = Line::new();
        let d = decide(state, key, now, &mut out);
        *state = out.as_bytes().to_vec();
        d
    }

    #[test]
    fn a_few_per_window_then_counted_into_the_next() {
        let mut state = Vec::new();
        for _ in 0..PER_WINDOW {
            assert_eq!(
                step(&mut state, b"k1", 1000),
                Decision::Write { skipped: 0 }
            );
        }
        assert_eq!(step(&mut state, b"k1", 1001), Decision::Skip { nth: 4 });
        assert_eq!(step(&mut state, b"k1", 1002), Decision::Skip { nth: 5 });
        assert_eq!(state, b"k1 1000 3 2\n");
        // The window over: written again, with the count.
        assert_eq!(
            step(&mut state, b"k1", 1000 + WINDOW_S),
            Decision::Write { skipped: 2 }
        );
        assert_eq!(state, b"k1 1600 1 0\n");
    }

    #[test]
    fn another_crash_or_a_bad_state_starts_over() {
        let mut state = b"k1 1000 3 7\n".to_vec();
        assert_eq!(
            step(&mut state, b"k2", 1001),
            Decision::Write { skipped: 0 }
        );
        let mut state = b"garbage".to_vec();
        assert_eq!(step(&mut state, b"k1", 5), Decision::Write { skipped: 0 });
        assert_eq!(state, b"k1 5 1 0\n");
    }
}
