//! The crash-time memory arena and the library's dispatching allocator.
//!
//! A dump needs memory: the module list, framehop's unwinder and cache, symbol
//! indexes, demangled names, DWARF units. The host's malloc may be the very
//! thing that crashed, or be locked by the interrupted thread, so a dump must
//! never call it. This crate's `#[global_allocator]` therefore serves the one
//! thread that is dumping (claimed with [`Arena::begin`]) from a bump arena:
//! an anonymous mapping made when the first dump starts (start-up pays
//! nothing), reset after each dump. Every other thread, and this thread
//! outside a dump, goes to the system allocator as any Rust library would.
//! The host's own malloc is never touched by the dumping thread.
//!
//! Rules while dumping: `dealloc` of an arena block is a no-op (or gives the
//! space back when it was the last block); a system block is leaked rather
//! than freed; `realloc` of a system block moves it into the arena.

use super::hostalloc::System;
use core::alloc::{GlobalAlloc, Layout};
use core::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use crate::sys;

/// Virtual size asked for first; smaller sizes are tried if the system
/// refuses (strict overcommit, RLIMIT_AS). Untouched pages cost nothing.
const ARENA_SIZES: [usize; 4] = [1 << 30, 256 << 20, 64 << 20, 16 << 20];

/// Above this much arena use, optional work (DWARF) stops so that the hard
/// end of the arena is never reached.
pub const SOFT_LIMIT: usize = 192 << 20;

pub struct Arena {
    /// `pthread_self()` of the thread the arena serves, 0 when none.
    owner: AtomicUsize,
    base: AtomicUsize,
    size: AtomicUsize,
    /// Offset of the first free byte.
    next: AtomicUsize,
    /// Start of the last block handed out, so that it can grow in place.
    last: AtomicUsize,
    /// Highest `next` reached in the current or last dump.
    peak: AtomicUsize,
    /// The memory is the minimum arena reserved at start-up: no bigger one
    /// could be mapped (the process is out of address space or memory).
    reserved: AtomicBool,
    /// Serves its owner only on the dump stack: a `vfork` child shares the
    /// parent's memory and its `pthread_self()`, and one that died in the
    /// middle of a dump must not leave the parent's thread served.
    dump_stack_only: bool,
}

pub static ARENA: Arena = Arena::new(true);

/// The constructor's allocations (the configuration, the start-up
/// snapshot), served from the snapshot area (see [`crate::symbolize::snapshot`]) so
/// that start-up never initialises the host's heap. Read-only once sealed:
/// nothing in it is freed or written again.
pub static STARTUP: Arena = Arena::new(false);

fn self_id() -> usize {
    // SAFETY: pthread_self reads the thread pointer; it cannot fail and is
    // async-signal-safe in glibc (no lock, no allocation).
    unsafe { libc::pthread_self() as usize }
}

impl Arena {
    const fn new(dump_stack_only: bool) -> Arena {
        Arena {
            owner: AtomicUsize::new(0),
            base: AtomicUsize::new(0),
            size: AtomicUsize::new(0),
            next: AtomicUsize::new(0),
            last: AtomicUsize::new(usize::MAX),
            peak: AtomicUsize::new(0),
            reserved: AtomicBool::new(false),
            dump_stack_only,
        }
    }

    /// Routes the calling thread's allocations to the arena until `end`.
    /// Maps the arena on first use, else takes the one reserved at
    /// start-up. Returns false if there is no memory at all (the dump then
    /// does without what needs memory).
    pub fn begin(&self) -> bool {
        if self.base.load(Ordering::Acquire) == 0 {
            if let Some(map) = ARENA_SIZES
                .iter()
                .find_map(|&len| sys::Mapping::anonymous(len))
            {
                self.size.store(map.len, Ordering::Relaxed);
                self.base.store(map.ptr as usize, Ordering::Release);
                // The arena lives as long as the process; later dumps reuse it.
                core::mem::forget(map);
            } else if let Some((base, len)) = sys::reserve::arena() {
                self.reserved.store(true, Ordering::Relaxed);
                self.size.store(len, Ordering::Relaxed);
                self.base.store(base, Ordering::Release);
            } else {
                return false;
            }
        }
        self.open();
        true
    }

    /// Serves the calling thread from `len` bytes at `base` until `end`.
    pub fn begin_in(&self, base: usize, len: usize) {
        self.size.store(len, Ordering::Relaxed);
        self.base.store(base, Ordering::Release);
        self.open();
    }

    /// Whether this arena is the small one reserved at start-up.
    pub fn is_reserved(&self) -> bool {
        self.reserved.load(Ordering::Relaxed)
    }

    fn open(&self) {
        self.next.store(0, Ordering::Relaxed);
        self.peak.store(0, Ordering::Relaxed);
        self.last.store(usize::MAX, Ordering::Relaxed);
        self.owner.store(self_id(), Ordering::Release);
    }

    /// Gives the calling thread back to the system allocator. Everything the
    /// dump allocated must be gone (dropped or forgotten) by now.
    pub fn end(&self) {
        self.owner.store(0, Ordering::Release);
    }

    /// Bytes of arena in use by the current or last dump.
    pub fn used(&self) -> usize {
        self.next.load(Ordering::Relaxed)
    }

    /// Highest arena use of the current or last dump.
    pub fn peak(&self) -> usize {
        self.peak.load(Ordering::Relaxed)
    }

    fn serves_caller(&self) -> bool {
        let owner = self.owner.load(Ordering::Acquire);
        owner != 0
            && owner == self_id()
            && (!self.dump_stack_only || sys::reserve::on_stack_or_none())
    }

    fn contains(&self, ptr: *mut u8) -> bool {
        let base = self.base.load(Ordering::Acquire);
        let addr = ptr as usize;
        base != 0 && addr >= base && addr < base + self.size.load(Ordering::Relaxed)
    }

    /// Only the owning thread calls this, so plain loads and stores suffice.
    fn bump(&self, layout: Layout) -> *mut u8 {
        let base = self.base.load(Ordering::Relaxed);
        let next = self.next.load(Ordering::Relaxed);
        let start = (base + next).next_multiple_of(layout.align()) - base;
        let Some(end) = start.checked_add(layout.size()) else {
            return core::ptr::null_mut();
        };
        if end > self.size.load(Ordering::Relaxed) {
            return core::ptr::null_mut();
        }
        self.next.store(end, Ordering::Relaxed);
        self.last.store(start, Ordering::Relaxed);
        self.peak.fetch_max(end, Ordering::Relaxed);
        (base + start) as *mut u8
    }

    fn release(&self, ptr: *mut u8) {
        let offset = ptr as usize - self.base.load(Ordering::Relaxed);
        if self.last.load(Ordering::Relaxed) == offset {
            self.next.store(offset, Ordering::Relaxed);
            self.last.store(usize::MAX, Ordering::Relaxed);
        }
    }

    fn grow(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let base = self.base.load(Ordering::Relaxed);
        let offset = ptr as usize - base;
        if self.last.load(Ordering::Relaxed) == offset
            && offset + new_size <= self.size.load(Ordering::Relaxed)
        {
            self.next.store(offset + new_size, Ordering::Relaxed);
            self.peak.fetch_max(offset + new_size, Ordering::Relaxed);
            return ptr;
        }
        self.moved(ptr, layout, new_size)
    }

    fn moved(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: align comes from a valid layout and new_size is non-zero
        // per GlobalAlloc::realloc's contract.
        let new_layout = unsafe { Layout::from_size_align_unchecked(new_size, layout.align()) };
        let new = self.bump(new_layout);
        if !new.is_null() {
            // SAFETY: both blocks are valid for the smaller of the two sizes
            // and do not overlap (the new one was just bumped past the old).
            unsafe { core::ptr::copy_nonoverlapping(ptr, new, layout.size().min(new_size)) };
        }
        new
    }
}

/// The arena that serves the calling thread, if any.
fn serving() -> Option<&'static Arena> {
    [&ARENA, &STARTUP].into_iter().find(|a| a.serves_caller())
}

/// The library's allocator: the arena for the dumping thread (and the
/// start-up area for the constructor), the system allocator for everything
/// else.
pub struct DumpAwareAllocator;

// SAFETY: every block is either from System (and returned to it, except the
// leaks described in the module documentation) or from the arena, which is
// never unmapped and whose bump pointer only the owning thread moves.
unsafe impl GlobalAlloc for DumpAwareAllocator {
    #[unsafe(link_section = ".text.faultdump.startup")]
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if let Some(arena) = serving() {
            arena.bump(layout)
        } else {
            // SAFETY: forwarded with the caller's layout.
            unsafe { System.alloc(layout) }
        }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if ARENA.contains(ptr) {
            if ARENA.serves_caller() {
                ARENA.release(ptr);
            }
        } else if STARTUP.contains(ptr) {
            // Kept: the area is sealed read-only after start-up.
            if STARTUP.serves_caller() {
                STARTUP.release(ptr);
            }
        } else if !ARENA.serves_caller() {
            // SAFETY: ptr came from System.alloc with this layout.
            unsafe { System.dealloc(ptr, layout) }
        }
        // A system block freed while dumping is leaked: free() may be the
        // function that crashed or holds the arena lock.
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if let Some(arena) = serving() {
            if arena.contains(ptr) {
                arena.grow(ptr, layout, new_size)
            } else {
                arena.moved(ptr, layout, new_size)
            }
        } else if STARTUP.contains(ptr) {
            // A start-up block grown later: copied out to the system
            // allocator, the sealed original kept.
            // SAFETY: forwarded with a valid layout of the new size.
            let new = unsafe {
                System.alloc(Layout::from_size_align_unchecked(new_size, layout.align()))
            };
            if !new.is_null() {
                // SAFETY: both blocks are valid for the smaller size.
                unsafe { core::ptr::copy_nonoverlapping(ptr, new, layout.size().min(new_size)) };
            }
            new
        } else {
            // SAFETY: ptr came from System with this layout (arena blocks
            // never outlive their dump, see Arena::end).
            unsafe { System.realloc(ptr, layout, new_size) }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arena_serves_only_the_owner_and_resets() {
        assert!(ARENA.begin());
        let v: Vec<u64> = (0..1000).collect();
        assert!(ARENA.contains(v.as_ptr() as *mut u8));
        let used = ARENA.used();
        assert!(used >= 8000);
        let other = std::thread::spawn(|| {
            let w = [1u8; 64].to_vec();
            ARENA.contains(w.as_ptr() as *mut u8)
        })
        .join()
        .unwrap();
        assert!(!other, "another thread must get system memory");
        drop(v);
        ARENA.end();
        let after = [0u8; 16].to_vec();
        assert!(!ARENA.contains(after.as_ptr() as *mut u8));
    }
}
