//! Fatal-signal dumps of real programs (issue 2): C, C++ and Rust programs
//! built at test time crash through named call chains; each test checks the
//! program's own frames (consecutive, in order, compared with gdb's `bt` for
//! a representative subset), the event line and the death signal.
//!
//! Assertions stick to the current thread and FORMAT.md's fixed parts, so
//! they hold with all-thread dumps, DWARF lines and other formats merged in.
//!
//! One test binary, one file per theme:
//! - `signals`: each fatal signal from a real fault and sent with `kill`,
//!   inherited `SIG_IGN`.
//! - `builds`: PIE and non-PIE, -O0 and -O2 without frame pointers, stripped.
//! - `libraries`: dlopen'ed libraries and their constructors.
//! - `cpp_rust`: C++ exceptions in templates, Rust panics.
//! - `broken_stacks`: smashed stacks, garbage function pointers.
//! - `overflow`: stack overflow and the frame limit.
//! - `handlers`: the program's own handlers, before and after ours.
//! - `locks`: the malloc arena, stdio and loader locks held.
//! - `processes`: concurrent faults in threads, forked children.
//! - `output`: file output, fd 2, pipes and the deadline, the stats note.
//! - `secure`: set-uid programs.

#[path = "../common/mod.rs"]
mod common;

mod broken_stacks;
mod builds;
mod cpp_rust;
mod handlers;
mod libraries;
mod locks;
mod output;
mod overflow;
mod processes;
mod secure;
mod signals;
