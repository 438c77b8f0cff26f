//! The host's C allocator as a `GlobalAlloc`, what std's `System` is on
//! Unix (the library has no std, see `lib.rs`): `malloc` for alignments
//! `malloc` guarantees, `posix_memalign` above them. Never used while
//! dumping (see [`super::arena`]).

use core::alloc::{GlobalAlloc, Layout};

/// The alignment `malloc` guarantees on x86_64 and aarch64 (glibc and musl).
const MALLOC_ALIGN: usize = 16;

pub struct System;

/// Whether `malloc`/`realloc` give blocks aligned enough for `align`.
fn malloc_aligns(align: usize, size: usize) -> bool {
    align <= MALLOC_ALIGN && align <= size
}

// SAFETY: blocks come from the C allocator and go back to it; each function
// keeps the layout contract (posix_memalign where malloc's alignment is not
// enough, as std does).
unsafe impl GlobalAlloc for System {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if malloc_aligns(layout.align(), layout.size()) {
            // SAFETY: malloc has no preconditions.
            return unsafe { libc::malloc(layout.size()) }.cast();
        }
        let mut out = core::ptr::null_mut();
        // posix_memalign needs a multiple of the pointer size.
        let align = layout.align().max(core::mem::size_of::<usize>());
        // SAFETY: out is writable; align is a power of two.
        let ret = unsafe { libc::posix_memalign(&mut out, align, layout.size()) };
        if ret == 0 {
            out.cast()
        } else {
            core::ptr::null_mut()
        }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, _layout: Layout) {
        // SAFETY: ptr came from malloc, realloc or posix_memalign.
        unsafe { libc::free(ptr.cast()) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if malloc_aligns(layout.align(), new_size) {
            // SAFETY: ptr came from this allocator; realloc keeps its data.
            return unsafe { libc::realloc(ptr.cast(), new_size) }.cast();
        }
        // SAFETY: a valid layout of the new size (GlobalAlloc's contract).
        let new_layout = unsafe { Layout::from_size_align_unchecked(new_size, layout.align()) };
        // SAFETY: as alloc.
        let new = unsafe { self.alloc(new_layout) };
        if !new.is_null() {
            // SAFETY: both blocks hold at least the smaller size.
            unsafe { core::ptr::copy_nonoverlapping(ptr, new, layout.size().min(new_size)) };
            // SAFETY: the old block is no longer used.
            unsafe { self.dealloc(ptr, layout) };
        }
        new
    }
}
