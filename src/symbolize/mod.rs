//! Naming addresses: the loaded modules ([`modules`]), their symbol tables
//! ([`symbols`]; the executable's file without `open()`: [`exefile`]),
//! separate debug files ([`debugfile`]) and DWARF lines and inlined calls
//! ([`dwarf`]).
//!
//! Runs inside a dump: no host malloc (allocations go to the crash arena),
//! no lock, no stdio, no loader call; every read of the process's memory
//! goes through [`crate::sys::memory::Memory`], checked against the memory
//! map, so a damaged module list or image is not followed into memory that
//! is not there.

pub mod debugfile;
pub mod dwarf;
pub mod exefile;
pub mod modules;
pub mod snapshot;
pub mod symbols;
pub mod symread;
