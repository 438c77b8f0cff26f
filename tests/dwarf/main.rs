//! Source files, lines and inlined frames from DWARF, compared frame by frame
//! with gdb's `bt` of the same crash: C at -O2 with inlined helpers, C++
//! templates, Rust (no .debug_aranges), CPython's own crash functions, libc
//! through Debian's compressed separate debug file, a library whose debug
//! information is only in a separate file, compressed sections, a stripped
//! program symbolized afterwards (from a debug folder, or through a real
//! debuginfod server), and broken debug information.
//!
//! One test binary, one file per theme: `gdb` (languages and libraries
//! against gdb), `debug_files` (debuglink, dwz), `sections` (compressed,
//! corrupted, the budget), `symbolize` (afterwards, from the build-id),
//! `debuginfod` (afterwards, from a server);
//! `support` holds the comparison with gdb they share.

#[path = "../common/mod.rs"]
mod common;

mod debug_files;
mod debuginfod;
mod gdb;
mod sections;
mod support;
mod symbolize;
