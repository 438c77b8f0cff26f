//! Link settings for the preloaded library (the crate's documentation,
//! src/lib.rs, has the map; every process pays for what is here at load):
//! - `-z now`: every symbol is bound at load time, so no lazy PLT resolution
//!   (which takes the loader lock and may allocate) ever runs in a handler;
//! - `--as-needed`: libraries the standard library asks for but nothing uses
//!   are not NEEDED. The library carries no unwinder (the `_Unwind_*` stand-ins in src/sys/arch/), so
//!   rustc's `-lgcc_s` drops out: loading `libgcc_s.so.1` in every process
//!   would cost more than the rest of our start-up together;
//! - `-nostartfiles`: not the C compiler's start files (crti, crtbeginS,
//!   crtendS, crtn), whose `_init`/`_fini`, `frame_dummy` and transactional
//!   memory hooks serve C and C++ code with global constructors; this
//!   library has one `.init_array` entry of its own and no std. Without
//!   them the loader has four symbols fewer to look up (three of them weak
//!   and never found, which searches every object) and two calls fewer to
//!   make, in every process;
//! - a 20-byte build-id, which the portable build's linker (zig's lld, see
//!   scripts/build-release.sh and scripts/zig-link.sh) does not add by
//!   itself, so that dumps and symbolizers can name the library's build like
//!   any other module;
//! - a linker script that only adds output sections (`INSERT`, the default
//!   layout stays):
//!   - the code every process runs at start, gathered at the start of the
//!     code. The functions the constructor
//!     runs are put in `.text.faultdump.startup` (`#[unsafe(link_section)]`).
//!     Scattered over `.text`, they touched eight 64 KiB windows of it (the
//!     kernel maps a file's pages 64 KiB around each fault): eight page
//!     faults and 520 KiB of resident pages in every process; gathered, one;
//!   - `.bss.faultdump.cold` after `.bss`: the dispositions' 10 KiB pool of
//!     slots (`src/sys/dispositions.rs`), so that the small statics
//!     start-up writes are not pushed 10 KiB away from the data page.
//!
//! Tried and not kept (measured with scripts/bench-startup.sh):
//! - `--no-rosegment`, one `PT_LOAD` less: no time gained within the noise,
//!   and 12 more resident pages, since the code's first 64 KiB window is then
//!   no longer cut short by the start of its mapping; and it makes read-only
//!   data executable;
//! - starting `.data` and `.init_array` on page boundaries (4096-aligned
//!   empty statics) so that the loader writes the fewest pages: the segments
//!   then have holes between them, and glibc's loader makes the middle of the
//!   library `PROT_NONE` first, a `mprotect` and a mapping split that cost
//!   what the saved page faults gained (lld's `-z
//!   separate-loadable-segments` would align without holes, but zig's
//!   linker, which makes the glibc release builds, refuses it);
//! - `-z pack-relative-relocs` (`DT_RELR`) needs glibc 2.36; the release
//!   builds load under 2.17.
//!
//! Each argument is passed on its own: zig's `cc` takes `-l` only as an
//! argument of its own, not inside `-Wl,`.
use std::path::PathBuf;

const STARTUP_SCRIPT: &str = "\
SECTIONS {
  .text.faultdump.startup : {
    *(.text.faultdump.startup)
  }
} INSERT BEFORE .text;
SECTIONS {
  .bss.faultdump.cold (NOLOAD) : {
    *(.bss.faultdump.cold)
  }
} INSERT AFTER .bss;
";

fn main() {
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("OUT_DIR"));
    let script = out.join("startup.ld");
    std::fs::write(&script, STARTUP_SCRIPT).expect("write startup.ld");
    let script_arg = format!("-Wl,-T,{}", script.display());
    for arg in [
        "-Wl,-z,now",
        "-Wl,--build-id=sha1",
        "-Wl,--as-needed",
        "-nostartfiles",
        &script_arg,
    ] {
        println!("cargo:rustc-cdylib-link-arg={arg}");
    }
    // The C library, named here: without std nothing else asks for it (the
    // libc crate does not for musl targets), and the release builds link
    // with --no-undefined (scripts/musl-link.sh).
    println!("cargo:rustc-link-lib=c");
    println!("cargo:rerun-if-changed=build.rs");
}
