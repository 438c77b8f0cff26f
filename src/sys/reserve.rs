//! Memory of the library's own, reserved by the constructor as address
//! space (untouched pages cost nothing), apart from the heap, in one
//! mapping:
//!
//! ```text
//! [ guard | main thread's alternate stack | start-up area | dump stack | reserved arena ]
//! ```
//!
//! - the main thread's alternate signal stack (see `dump::stacks`), above a
//!   guard page: one mapping less than a stack of its own;
//! - the start-up area holds the constructor's allocations (see
//!   [`crate::sys::arena::STARTUP`]) and the module snapshot
//!   ([`crate::symbolize::snapshot`]); it is made read-only once written
//!   ([`seal`]), so a wild write in the program cannot reach it, and it is
//!   the guard below the dump stack (an overflow writes into it and faults);
//! - the dump stack and a minimum arena are there when a process that has
//!   exhausted `RLIMIT_AS` (or memory) crashes: a dump maps nothing then.
//!
//! The 20.32 MiB mapping counts once against `RLIMIT_AS`; only the
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
/// The main thread's alternate signal stack, above [`GUARD`].
pub const ALTSTACK_SIZE: usize = 64 << 10;
/// The inaccessible guard below the main thread's alternate stack: 64 KiB,
/// the largest page size of Linux on arm64, so that the guard and every
/// part above it start on a page boundary whatever the kernel's page size
/// (address space only: nothing here is ever touched).
pub const GUARD: usize = 64 << 10;
const AREA_OFFSET: usize = GUARD + ALTSTACK_SIZE;
const TOTAL: usize = AREA_OFFSET + AREA_SIZE + STACK_SIZE + ARENA_SIZE;

/// Base of the reservation, 0 when none could be made.
static BASE: AtomicUsize = AtomicUsize::new(0);

/// Where the parts of the reservation are.
pub struct Reserved {
    /// The guard page below the main thread's alternate stack (the stack is
    /// [`ALTSTACK_SIZE`] bytes above it); 0 if the guard could not be made.
    pub altstack: usize,
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
    // SAFETY: the lowest page of our own fresh mapping becomes a guard.
    let guarded = unsafe { libc::mprotect(map_ptr(base), GUARD, libc::PROT_NONE) } == 0;
    let area = base + AREA_OFFSET;
    Some(Reserved {
        altstack: if guarded { base } else { 0 },
        area,
        stack_top: area + AREA_SIZE + STACK_SIZE,
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
    let bottom = base + AREA_OFFSET + AREA_SIZE;
    base == 0 || (sp >= bottom && sp < bottom + STACK_SIZE)
}

/// Makes the start-up area read-only: nothing in it is written again.
pub fn seal() {
    let base = BASE.load(Ordering::Acquire);
    if base != 0 {
        // SAFETY: the area is ours and nothing in it is written after this
        // (the constructor's allocator has been closed).
        unsafe { libc::mprotect(map_ptr(base + AREA_OFFSET), AREA_SIZE, libc::PROT_READ) };
    }
}

fn map_ptr(addr: usize) -> *mut libc::c_void {
    addr as *mut libc::c_void
}
