//! What starts a dump: the fatal signal handlers ([`fatal`]), user signals
//! ([`usersignal`]), the watchdog thread ([`watchdog`]) and the C API's
//! dump call ([`api`]); [`dispositions`] keeps what each handler replaced.
//!
//! Async-signal-safe: handlers run here, and the watchdog dumps from a
//! thread that may have interrupted anything. No host malloc, no lock, no
//! stdio, no loader call. Installing and arming (called by start-up and
//! the C API, never by a handler) may use libc's ordinary calls.

pub mod api;
pub mod dispositions;
pub mod fatal;
pub mod usersignal;
pub mod verdict;
pub mod watchdog;

use crate::dump::Options;

/// A dump's options: its output and thread choice, with what every trigger
/// tells the dump of the others (the watchdog thread is not shown; the
/// registered user signals are not for parking threads).
fn options(fd: Option<i32>, all_threads: bool) -> Options {
    Options {
        fd,
        all_threads,
        hidden_tid: watchdog::tid(),
        signal_in_use: usersignal::is_registered,
    }
}
