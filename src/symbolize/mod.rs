//! Naming addresses: the loaded modules ([`modules`]), their symbol tables
//! ([`symbols`]; the executable's file without `open()`: [`exefile`]),
//! separate debug files ([`debugfile`]) and DWARF lines and inlined calls
//! ([`dwarf`]).
//!
//! Runs inside a dump: no host malloc (allocations go to the crash arena),
//! no lock, no stdio, no loader call; every read of the process's memory
//! goes through [`crate::sys::memory::Memory`], so a damaged module list or
//! image cannot fault the dump.

pub mod debugfile;
pub mod dwarf;
pub mod exefile;
pub mod modules;
pub mod snapshot;
pub mod symbols;
pub mod symread;
