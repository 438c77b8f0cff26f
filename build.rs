//! Link settings for the preloaded library (see README, "Design"):
//! - `-z now`: every symbol is bound at load time, so no lazy PLT resolution
//!   (which takes the loader lock and may allocate) ever runs in a handler;
//! - `--as-needed`: libraries the standard library asks for but nothing uses
//!   are not NEEDED. The library carries no unwinder (the `_Unwind_*` stand-ins in src/sys/arch/), so
//!   rustc's `-lgcc_s` drops out: loading `libgcc_s.so.1` in every process
//!   would cost more than the rest of our start-up together;
//! - a 20-byte build-id, which the portable build's linker (zig's lld, see
//!   scripts/build-release.sh and scripts/zig-link.sh) does not add by
//!   itself, so that dumps and symbolizers can name the library's build like
//!   any other module.
//!
//! Each argument is passed on its own: zig's `cc` takes `-l` only as an
//! argument of its own, not inside `-Wl,`.
fn main() {
    for arg in ["-Wl,-z,now", "-Wl,--build-id=sha1", "-Wl,--as-needed"] {
        println!("cargo:rustc-cdylib-link-arg={arg}");
    }
    println!("cargo:rerun-if-changed=build.rs");
}
