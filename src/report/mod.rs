//! Writing the report: the sink interface ([`sink`]) and its two formats
//! ([`text`], [`json`]), the `Cause:` line ([`cause`]), where the dump goes
//! and the writer with its deadline ([`output`], [`path`]); where the
//! process runs ([`origin`]: container, pod, tags); and the minidump
//! ([`minidump`]), written from the same collected dump.
//!
//! Runs inside a dump: fixed buffers and `write(2)`; no host malloc, no
//! lock, no stdio. Pure parts (the Cause analysis, JSON escaping, path
//! templates) are unit-tested without signals.

pub mod cause;
pub mod json;
pub mod minidump;
pub mod origin;
pub mod output;
pub mod path;
pub mod sink;
pub mod text;
