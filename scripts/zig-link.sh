#!/bin/sh
# Usage: FAULTDUMP_GLIBC=2.17 FAULTDUMP_LIBC_STUB=FILE [FAULTDUMP_ZIG_ARCH=ARCH] scripts/zig-link.sh LINKER-ARGUMENTS...
#        (run by cargo-zigbuild as the linker, from scripts/build-release.sh)
#
# The linker of the portable glibc builds (scripts/build-release.sh): zig's cc
# for ${FAULTDUMP_ZIG_ARCH:-x86_64} and
# glibc $FAULTDUMP_GLIBC, as cargo-zigbuild runs it, with the C library's
# extra parts left out. Rust's standard library asks for -lpthread, -ldl,
# -lrt and -lutil; below glibc 2.34 libpthread.so.0 also defines read,
# write, open, sigaction, ..., and zig puts its stub before libc.so.6's (with
# or without -lpthread), so the library would get a NEEDED entry for a file
# every process then opens (src/sys/libpthread.rs). zig's libc.so.6 stub for
# this glibc ($FAULTDUMP_LIBC_STUB, found by build-release.sh) goes first.
# --no-undefined makes a function found in no library a link error, not a
# library that fails to load. A function only libpthread.so.0 or libdl.so.2
# defines still links (zig adds their stubs by itself) and brings its file
# back as a NEEDED entry: the NEEDED check of tests/ship/portable.rs is what
# catches that.
# -lgcc_s: the library has no unwinder (the _Unwind_* stand-ins in src/sys/arch/).
set -eu
case "${1:-}" in -h | --help) sed -n '2,/^[^#]/s/^# \{0,1\}//p' "$0"; exit 0 ;; esac
. "$(dirname "$0")/link-drop-libs.sh"
exec cargo-zigbuild zig cc -- -g -fno-sanitize=all -target "${FAULTDUMP_ZIG_ARCH:-x86_64}-linux-gnu.$FAULTDUMP_GLIBC" \
  -Wl,--no-undefined "$FAULTDUMP_LIBC_STUB" "$@"
