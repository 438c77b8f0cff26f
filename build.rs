//! Link settings for the preloaded library (see DESIGN-NOTES and README):
//! - `-z now`: every symbol is bound at load time, so no lazy PLT resolution
//!   (which takes the loader lock and may allocate) ever runs in a handler;
//! - libgcc's unwinder linked in statically (`libgcc_eh.a`), so that the
//!   library needs no `libgcc_s.so.1`: loading that one extra shared object
//!   in every process costs more than the rest of our start-up together.
fn main() {
    println!("cargo:rustc-cdylib-link-arg=-Wl,-z,now");
    println!(
        "cargo:rustc-cdylib-link-arg=-Wl,--whole-archive,-lgcc_eh,--no-whole-archive,--as-needed"
    );
    println!("cargo:rerun-if-changed=build.rs");
}
