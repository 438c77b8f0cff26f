//! Memory of the library's own, reserved by the constructor as address
//! space (untouched pages cost nothing), apart from the heap, in one
//! mapping:
//!
//! ```text
//! [ start-up area | dump stack | main thread's alternate stack | reserved arena ]
//! ```
//!
//! - the start-up area holds the constructor's allocations (see
//!   [`crate::sys::arena::STARTUP`]) and the module snapshot
//!   ([`crate::symbolize::snapshot`]); it is made read-only once written
//!   ([`seal`]), so a wild write in the program cannot reach it, and it is
//!   the guard below the dump stack (an overflow writes into it and faults);
//! - the dump stack and a minimum arena are there when a process that has
//!   exhausted `RLIMIT_AS` (or memory) crashes: a dump maps nothing then;
//! - the main thread's alternate signal stack (see `dump::stacks`): one
//!   mapping less than a stack of its own. Below it is the dump stack,
//!   untouched outside a dump, rather than a guard page: a handler of the
//!   program's that outgrows the 64 KiB (without faultdump it would have
//!   run on the thread's own stack) goes on into memory nobody uses instead
//!   of faulting. Only the same overflow in the middle of another thread's
//!   dump would reach that dump's frames.
//!
//! One `mmap` and one `mprotect` (the seal), no guard of its own: every
//! change of a mapping costs each process microseconds. The 20.31 MiB
//! mapping counts once against `RLIMIT_AS`; only the pages start-up writes
//! (one, for `/bin/true`) are resident.

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
/// The main thread's alternate signal stack.
pub const ALTSTACK_SIZE: usize = 64 << 10;
/// Every part's size is a multiple of 64 KiB, the largest page size of
/// Linux on arm64, so that each starts on a page boundary (the seal's
/// `mprotect` needs one) whatever the kernel's page size.
const _: () =
    assert!((AREA_SIZE | STACK_SIZE | ALTSTACK_SIZE | ARENA_SIZE).is_multiple_of(64 << 10));
const STACK_OFFSET: usize = AREA_SIZE;
const ALTSTACK_OFFSET: usize = STACK_OFFSET + STACK_SIZE;
const TOTAL: usize = ALTSTACK_OFFSET + ALTSTACK_SIZE + ARENA_SIZE;

/// Base of the reservation, 0 when none could be made.
static BASE: AtomicUsize = AtomicUsize::new(0);

/// Where the parts of the reservation are.
pub struct Reserved {
    /// The lowest address of the main thread's alternate stack
    /// ([`ALTSTACK_SIZE`] bytes).
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
    Some(Reserved {
        altstack: base + ALTSTACK_OFFSET,
        area: base,
        stack_top: base + STACK_OFFSET + STACK_SIZE,
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
    let bottom = base + STACK_OFFSET;
    base == 0 || (sp >= bottom && sp < bottom + STACK_SIZE)
}

/// Makes the start-up area read-only: nothing in it is written again.
pub fn seal() {
    let base = BASE.load(Ordering::Acquire);
    if base != 0 {
        // SAFETY: the area is ours and nothing in it is written after this
        // (the constructor's allocator has been closed).
        unsafe { super::raw::mprotect(map_ptr(base), AREA_SIZE, libc::PROT_READ) };
    }
}

fn map_ptr(addr: usize) -> *mut libc::c_void {
    addr as *mut libc::c_void
}
