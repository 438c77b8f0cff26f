// A crash in Rust code built with debug info (rustc emits no
// .debug_aranges): a null write through a chain of named functions, one of
// them inlined.
use std::hint::black_box;

#[inline(never)]
fn level3(p: *mut u32) {
    unsafe { std::ptr::write_volatile(p, 42) };
}

#[inline(always)]
fn level2(p: *mut u32) {
    level3(black_box(p));
    black_box(());
}

#[inline(never)]
fn level1(p: *mut u32) {
    level2(p);
    black_box(());
}

fn main() {
    level1(black_box(std::ptr::null_mut()));
}
