//! Link settings for the preloaded library (see DESIGN-NOTES and README):
//! - `-z now`: every symbol is bound at load time, so no lazy PLT resolution
//!   (which takes the loader lock and may allocate) ever runs in a handler;
//! - libgcc's unwinder linked in statically (`libgcc_eh.a`), so that the
//!   library needs no `libgcc_s.so.1`: loading that one extra shared object
//!   in every process costs more than the rest of our start-up together;
//! - a 20-byte build-id, which the portable build's linker (zig's lld, see
//!   scripts/build-release.sh) does not add by itself, so that dumps and
//!   symbolizers can name the library's build like any other module.
//!
//! Each argument is passed on its own: zig's `cc` accepts `-l` only as an
//! argument of its own, not inside `-Wl,`. There `-lgcc_eh` means zig's own
//! static unwinder, and rustc's `-lgcc_s` does not become a NEEDED entry
//! either (tests/ship.rs checks the NEEDED list of the portable build).
fn main() {
    for arg in ["-Wl,-z,now", "-Wl,--build-id=sha1", "-Wl,--as-needed"] {
        println!("cargo:rustc-cdylib-link-arg={arg}");
    }
    // The C library first among the libraries: below glibc 2.34,
    // libpthread.so.0 defines read, write, open, sigaction, ... as well, and
    // whichever comes first on the line (std puts -lpthread before -lc)
    // becomes a NEEDED entry (see src/libpthread.rs).
    println!("cargo:rustc-link-lib=dylib=c");
    println!("cargo:rerun-if-changed=build.rs");
}
