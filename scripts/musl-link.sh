#!/bin/sh
# Usage: scripts/musl-link.sh LINKER-ARGUMENTS... (run by cargo as the linker)
#
# The linker of the musl builds (scripts/build-release.sh, tests/ports.rs):
# Debian's musl-gcc for x86_64, or the arm64 cross gcc with musl's specs
# (musl-dev:arm64) for aarch64, chosen by the name this script is run by
# (musl-link-aarch64.sh is a link to it). Rust's standard library asks for
# -lgcc_s, which musl-gcc's specs cannot find and which an Alpine image does
# not have: the library has no unwinder (src/sys/arch/*/asm.rs), so it is dropped,
# with -lpthread, -ldl, -lrt and -lutil (musl has them all in its one
# libc.so). --no-undefined makes a function musl lacks a link error, not a
# library the loader rejects. The result needs libc.so only.
set -eu
case "${1:-}" in -h | --help) sed -n '2,/^[^#]/s/^# \{0,1\}//p' "$0"; exit 0 ;; esac
. "$(dirname "$0")/link-drop-libs.sh"
case $(basename "$0") in
  musl-link-aarch64.sh)
    exec aarch64-linux-gnu-gcc -specs=/usr/lib/aarch64-linux-musl/musl-gcc.specs -Wl,--no-undefined "$@" ;;
  *)
    exec musl-gcc -Wl,--no-undefined "$@" ;;
esac
