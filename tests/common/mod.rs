//! Shared support for the integration tests: building the test programs at
//! test time, running them with the real library preloaded, and parsing the
//! dumps they print (by FORMAT.md's fixed parts only).
//!
//! - `dirs`: the repository, where built programs go, fresh scratch folders.
//! - `build`: compiling `tests/programs/` with gcc, g++ or rustc;
//!   `programs`: the builds several test files share.
//! - `run`: running a program with the library preloaded, and what is
//!   asserted of every fatal run (one complete dump, its event line).
//! - `parse`: dumps parsed by FORMAT.md's fixed parts.
//! - `gdb`: gdb's backtrace of the same run, the reference dumps are
//!   compared with.
//! - `minidump`: minidumps read by minidump-stackwalk and dump_syms.
//! - `mutate`: damaged copies of ELF files, from fixed seeds.
//! - `elf`: what binutils says of a file (readelf, nm), and the names the C
//!   library's debug information gives.
//! - `release`: building the release libraries, and what their ELF headers
//!   must say.
#![allow(dead_code)] // each test file uses its own part of this module

mod build;
mod dirs;
mod elf;
mod gdb;
mod minidump;
pub mod mutate;
mod parse;
mod programs;
mod release;
mod run;
pub mod spy;

// Each test file uses its own part of these (unused in the others).
#[allow(unused_imports)]
pub use build::*;
#[allow(unused_imports)]
pub use dirs::*;
#[allow(unused_imports)]
pub use elf::*;
#[allow(unused_imports)]
pub use gdb::*;
#[allow(unused_imports)]
pub use minidump::*;
#[allow(unused_imports)]
pub use parse::*;
#[allow(unused_imports)]
pub use programs::*;
#[allow(unused_imports)]
pub use release::*;
#[allow(unused_imports)]
pub use run::*;
