//! How a dump writes what it knows: fixed-buffer lines with Python's
//! escaping, decimals, timestamps ([`line`](mod@line)), and the names of signals,
//! `si_code`s and errnos ([`names`]).
//!
//! Pure code with no state: no allocation, no system call. It runs in
//! handlers and at start-up alike, and imports nothing else of the crate.

pub mod line;
pub mod names;
