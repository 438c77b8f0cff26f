#!/usr/bin/env bash
# Builds the release library, stripped: dist/libfaultdump.so, linked against
# glibc 2.17's symbol versions. It loads on every x86_64 glibc distribution
# from glibc 2.17 on (CentOS 7, Amazon Linux 2, RHEL 8, Ubuntu 20.04, ...
# Debian 13) and needs only libc.so.6 and the loader, ld-linux-x86-64.so.2,
# on all of them: the same two files every dynamically linked program
# already has, so preloading it opens no other file in any process and costs
# what the development build costs (scripts/bench-startup.sh with
# FAULTDUMP_LIB=dist/libfaultdump.so).
#
# A library linked on this Debian 12 machine (cargo build --release) would
# require GLIBC_2.34 or later plus whatever the machine's glibc added since,
# and be rejected by the loader of older systems, in every process.
#
# Why it needs no libpthread.so.0 or libdl.so.2: below glibc 2.34 the
# pthread and dl functions live in those two files (from 2.34 on they are
# empty stubs, still opened and mapped by the loader when a library names
# them: about +4% on the start-up of /bin/true). So the library names none
# of their functions: it finds the thread functions it calls by name at run
# time in the modules already loaded (src/sys/libpthread.rs), and it has no
# unwinder, which would need them (panic=abort; stand-ins in src/sys/arch/).
#
# How: cargo-zigbuild, which links with zig's toolchain against stub copies
# of glibc's libraries for the version asked for (target
# x86_64-unknown-linux-gnu.2.17), through scripts/zig-link.sh. Below 2.34,
# zig's libpthread.so.0 stub also defines read, write, sigaction, ... and
# zig puts it before libc.so.6's, so with --as-needed it would become a
# NEEDED entry for those alone. zig-link.sh therefore drops the -lpthread,
# -ldl, -lrt, -lutil and -lgcc_s that Rust's standard library asks for and
# puts zig's libc.so.6 stub for 2.17 first on the link line (the stub in
# zig's cache whose newest symbol version is GLIBC_2.17, found below; a
# probe link makes zig create it), so every C library function binds to
# libc.so.6. A function that only libpthread or libdl defines would still
# link, against zig's stub of that file, and bring back its NEEDED entry, so
# tests/ship/portable.rs checks the result: symbol versions no newer than
# 2.17, no NEEDED entry beyond libc.so.6 and ld-linux-x86-64.so.2, the
# exports, and a crash and a thread's stack overflow dumped under Debian
# 11's glibc 2.31, where libpthread.so.0 is still a library of its own.
#
# zig and cargo-zigbuild come from PyPI and are installed here, into
# target/release-tools/ (a virtual environment, zig's cache and
# cargo-zigbuild's wrappers), so a second run installs nothing and rebuilds
# only what changed (a second run leaves dist/ as it was). The build has its
# own target directory (target/portable/glibc-2.17/), so the development
# build in target/release/ is never invalidated.
#
# Usage: scripts/build-release.sh        (prints the file's path, size, the
#                                         libraries it needs and the newest
#                                         glibc symbol version it requires)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

ZIGLANG_VERSION=0.15.2
CARGO_ZIGBUILD_VERSION=0.24.1
TARGET=x86_64-unknown-linux-gnu
GLIBC=2.17
tools=$root/target/release-tools

mkdir -p "$tools" "$root/dist"
# One build at a time (tests may run this concurrently with a person).
exec 9>"$tools/lock"
flock 9

# ---- The tools --------------------------------------------------------------
stamp=$tools/venv/.installed-ziglang-$ZIGLANG_VERSION-cargo-zigbuild-$CARGO_ZIGBUILD_VERSION
if [ ! -e "$stamp" ]; then
  echo "build-release: installing ziglang $ZIGLANG_VERSION and cargo-zigbuild $CARGO_ZIGBUILD_VERSION (PyPI) into $tools/venv" >&2
  rm -rf "$tools/venv"
  if ! python3 -m venv "$tools/venv" 2>/dev/null; then
    # Debian's python3 without its venv module.
    rm -rf "$tools/venv"
    if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null
      python3 -m venv "$tools/venv"
    else
      echo "build-release: python3 -m venv failed; install python3-venv" >&2
      exit 1
    fi
  fi
  "$tools/venv/bin/pip" install --quiet --disable-pip-version-check \
    "ziglang==$ZIGLANG_VERSION" "cargo-zigbuild==$CARGO_ZIGBUILD_VERSION"
  touch "$stamp"
fi
# The host's own target is part of every rustup toolchain; add it elsewhere.
if command -v rustup >/dev/null && ! rustup target list --installed | grep -qx "$TARGET"; then
  rustup target add "$TARGET"
fi

# ---- The build --------------------------------------------------------------
# zig's link stub of libc.so.6 for glibc $GLIBC: the one in zig's cache whose
# newest symbol version is that one (zig makes it at its first link for the
# target; a probe link makes sure it exists). See scripts/zig-link.sh.
libc_stub() {
  local probe=$tools/probe-$GLIBC
  if [ ! -e "$probe.so" ]; then
    echo 'int probe(void) { return 0; }' >"$probe.c"
    PATH=$tools/venv/bin:$PATH ZIG_GLOBAL_CACHE_DIR=$tools/zig-cache \
      python3 -m ziglang cc -target "x86_64-linux-gnu.$GLIBC" -shared -o "$probe.so" "$probe.c"
  fi
  local f
  for f in "$tools"/zig-cache/o/*/libc.so.6; do
    if [ "$(objdump -p "$f" | grep -o 'GLIBC_2\.[0-9]*' | sort -uV | tail -n 1)" = "GLIBC_$GLIBC" ]; then
      echo "$f"
      return
    fi
  done
  echo "build-release: zig's libc.so.6 stub for glibc $GLIBC not found" >&2
  exit 1
}

out=$root/dist/libfaultdump.so
dir=$root/target/portable/glibc-$GLIBC
stub=$(libc_stub)
# cargo-zigbuild runs zig as `python3 -m ziglang` from the environment's
# python3, first on PATH; its wrappers go under XDG_CACHE_HOME.
PATH=$tools/venv/bin:$PATH \
ZIG_GLOBAL_CACHE_DIR=$tools/zig-cache \
XDG_CACHE_HOME=$tools/cache \
FAULTDUMP_GLIBC=$GLIBC \
FAULTDUMP_LIBC_STUB=$stub \
CARGO_ZIGBUILD_ZIG_VERSION=$ZIGLANG_VERSION \
CARGO_ZIGBUILD_ZIG_COMMAND=$tools/venv/bin/python3 \
CARGO_ZIGBUILD_ZIG_COMMAND_ARGS='-m ziglang' \
RUSTFLAGS="-C linker=$root/scripts/zig-link.sh" \
  cargo zigbuild --quiet --release --lib --target "$TARGET.$GLIBC" --target-dir "$dir"

tmp=$out.tmp.$$
trap 'rm -f "$tmp"' EXIT
strip --strip-all -o "$tmp" "$dir/$TARGET/release/libfaultdump.so"
chmod 0755 "$tmp"
# Replaced only when it changed: a second run leaves dist/ as it was.
if cmp -s "$tmp" "$out"; then
  rm -f "$tmp"
else
  mv -f "$tmp" "$out"
fi
# Earlier versions of this script also built dist/glibc-2.34/libfaultdump.so;
# a copy left from then would be out of date, and install.sh or
# faultdump-run must not find it.
rm -f "$root/dist/glibc-2.34/libfaultdump.so"
rmdir "$root/dist/glibc-2.34" 2>/dev/null || true

newest=$(objdump -T "$out" | grep -o 'GLIBC_[0-9.]*' | sort -uV | tail -n 1)
needs=$(objdump -p "$out" | awk '$1 == "NEEDED" { printf "%s%s", sep, $2; sep = ", " }')
echo "$out: $(stat -c %s "$out") bytes, needs $needs and ${newest:-no versioned glibc symbol} at most"
