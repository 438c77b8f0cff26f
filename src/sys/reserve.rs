//! Memory of the library's own, reserved by the constructor as address
//! space (untouched pages cost nothing), apart from the heap, in one
//! mapping:
//!
//! ```text
//! [ start-up area | dump stack | reserved arena ]
//! ```
//!
//! - the start-up area holds the constructor's allocations (see
//!   [`crate::sys::arena::STARTUP`]) and the module snapshot
//!   ([`crate::symbolize::snapshot`]); it is made read-only once written
//!   ([`seal`]), so a wild write in the program cannot reach it, and it is
//!   the guard below the dump stack (an overflow writes into it and faults);
//! - the dump stack and a minimum arena are there when a process that has
//!   exhausted `RLIMIT_AS` (or memory) crashes: a dump maps nothing then.
//!
//! The 20.25 MiB mapping counts once against `RLIMIT_AS`; only the
//! pages start-up writes (a handful) are resident.

use core::sync::atomic::{AtomicUsize, Ordering};

use crate::sys;

/// The constructor's allocations and the snapshot. Only touched pages cost
/// memory: two for `/bin/true`, some ten for 200 libraries.
pub const AREA_SIZE: usize = 256 << 10;
/// The dump stack (see `dump::stacks`).
pub const STACK_SIZE: usize = 4 << 20;
/// The arena a dump runs in when no bigger one can be mapped. Enough for
/// the module list, the unwinder and the symbol tables of a large program;
/// not for DWARF, which is then skipped.
pub const ARENA_SIZE: usize = 16 << 20;
const TOTAL: usize = AREA_SIZE + STACK_SIZE + ARENA_SIZE;

/// Base of the reservation, 0 when none could be made.
static BASE: AtomicUsize = AtomicUsize::new(0);

/// Where the parts of the reservation are.
pub struct Reserved {
    /// The start-up area, [`AREA_SIZE`] bytes.
    pub area: usize,
    /// The 16-byte aligned end of the dump stack (the sealed area below it).
    pub stack_top: usize,
}

/// Makes the reservation (once, in the constructor).
pub fn reserve() -> Option<Reserved> {
    let map = sys::Mapping::anonymous(TOTAL)?;
    let base = map.ptr as usize;
    core::mem::forget(map);
    BASE.store(base, Ordering::Release);
    Some(Reserved {
        area: base,
        stack_top: base + AREA_SIZE + STACK_SIZE,
    })
}

/// The reserved arena, if the reservation was made.
pub fn arena() -> Option<(usize, usize)> {
    let base = BASE.load(Ordering::Acquire);
    (base != 0).then_some((base + TOTAL - ARENA_SIZE, ARENA_SIZE))
}

/// Whether the calling code runs on the reserved dump stack, or there is no
/// reservation (then the arena cannot tell by the stack).
pub fn on_stack_or_none() -> bool {
    let base = BASE.load(Ordering::Acquire);
    let marker = 0u8;
    let sp = core::ptr::addr_of!(marker) as usize;
    let bottom = base + AREA_SIZE;
    base == 0 || (sp >= bottom && sp < bottom + STACK_SIZE)
}

/// Makes the start-up area read-only: nothing in it is written again.
pub fn seal() {
    let base = BASE.load(Ordering::Acquire);
    if base != 0 {
        // SAFETY: the area is ours and nothing in it is written after this
        // (the constructor's allocator has been closed).
        unsafe { libc::mprotect(base as *mut libc::c_void, AREA_SIZE, libc::PROT_READ) };
    }
}
