// A Rust program overflowing its main thread's stack (tests/runtimes.rs):
// Rust's own handler prints "has overflowed its stack" and aborts.
fn recurse(n: u64) -> u64 {
    let a = [n; 64];
    std::hint::black_box(&a);
    if n == u64::MAX { 0 } else { recurse(n + 1) + a[3] }
}

fn main() {
    println!("{}", recurse(0));
}
