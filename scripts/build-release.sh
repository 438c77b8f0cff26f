#!/usr/bin/env bash
# Builds the release library, stripped, in two variants:
#
#   dist/libfaultdump.so             linked against glibc 2.17's symbol
#       versions: loads on every x86_64 glibc distribution from 2014 on (CentOS
#       7, Amazon Linux 2, RHEL 8, Ubuntu 20.04, ... Debian 13). Below glibc
#       2.34 the pthread and dl functions live in libpthread.so.0 and
#       libdl.so.2, so this variant needs those two files too; on glibc 2.34
#       and later they are empty stubs that the loader still opens and maps in
#       every process (measured: about +4% on the start-up of /bin/true).
#   dist/glibc-2.34/libfaultdump.so  linked against glibc 2.34: needs only
#       libc.so.6 and the loader, and costs what the development build costs;
#       for systems with glibc 2.34 or later (RHEL 9, Ubuntu 22.04, Debian 12,
#       Amazon Linux 2023, ...). scripts/install.sh and faultdump-run pick it
#       where the glibc is new enough.
#
# A library linked on this Debian 12 machine (cargo build --release) would
# require GLIBC_2.34 or later plus whatever the machine's glibc added since,
# and be rejected by the loader of older systems, in every process.
#
# How: cargo-zigbuild, which links with zig's toolchain against glibc stubs
# of the version asked for (target x86_64-unknown-linux-gnu.2.17). Both come
# from PyPI and are installed here, into target/release-tools/ (a virtual
# environment, zig's cache and cargo-zigbuild's wrappers), so a second run
# installs nothing and rebuilds only what changed. Each variant has its own
# target directory (target/portable/glibc-X.Y/), so the development build in
# target/release/ is never invalidated.
#
# Usage: scripts/build-release.sh        (prints each file's path, size and
#                                         the newest glibc version it needs)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

ZIGLANG_VERSION=0.15.2
CARGO_ZIGBUILD_VERSION=0.24.1
TARGET=x86_64-unknown-linux-gnu
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

# ---- The builds -------------------------------------------------------------
# zig's link stub of libc.so.6 for a glibc version: the one in zig's cache
# whose newest symbol version is that one (zig makes it at its first link
# for the target; a probe link makes sure it exists). See scripts/zig-link.sh.
libc_stub() {
  local glibc=$1 probe=$tools/probe-$1
  if [ ! -e "$probe.so" ]; then
    echo 'int probe(void) { return 0; }' >"$probe.c"
    PATH=$tools/venv/bin:$PATH ZIG_GLOBAL_CACHE_DIR=$tools/zig-cache \
      python3 -m ziglang cc -target "x86_64-linux-gnu.$glibc" -shared -o "$probe.so" "$probe.c"
  fi
  local f
  for f in "$tools"/zig-cache/o/*/libc.so.6; do
    if [ "$(objdump -p "$f" | grep -o 'GLIBC_2\.[0-9]*' | sort -uV | tail -n 1)" = "GLIBC_$glibc" ]; then
      echo "$f"
      return
    fi
  done
  echo "build-release: zig's libc.so.6 stub for glibc $glibc not found" >&2
  exit 1
}

# build GLIBC OUTPUT: links for that glibc, strips into OUTPUT.
build() {
  local glibc=$1 out=$2 dir=$root/target/portable/glibc-$1
  # cargo-zigbuild runs zig as `python3 -m ziglang` from the environment's
  # python3, first on PATH; its wrappers go under XDG_CACHE_HOME.
  PATH=$tools/venv/bin:$PATH \
  ZIG_GLOBAL_CACHE_DIR=$tools/zig-cache \
  XDG_CACHE_HOME=$tools/cache \
  FAULTDUMP_GLIBC=$glibc \
  FAULTDUMP_LIBC_STUB=$(libc_stub "$glibc") \
  CARGO_ZIGBUILD_ZIG_VERSION=$ZIGLANG_VERSION \
  CARGO_ZIGBUILD_ZIG_COMMAND=$tools/venv/bin/python3 \
  CARGO_ZIGBUILD_ZIG_COMMAND_ARGS='-m ziglang' \
  RUSTFLAGS="-C linker=$root/scripts/zig-link.sh" \
    cargo zigbuild --quiet --release --lib --target "$TARGET.$glibc" --target-dir "$dir"
  mkdir -p "$(dirname "$out")"
  local tmp=$out.tmp.$$
  strip --strip-all -o "$tmp" "$dir/$TARGET/release/libfaultdump.so"
  chmod 0755 "$tmp"
  # Replaced only when it changed: a second run leaves dist/ as it was.
  if cmp -s "$tmp" "$out"; then
    rm -f "$tmp"
  else
    mv -f "$tmp" "$out"
  fi
  local newest
  newest=$(objdump -T "$out" | grep -o 'GLIBC_[0-9.]*' | sort -uV | tail -n 1)
  echo "$out: $(stat -c %s "$out") bytes, needs ${newest:-no versioned glibc symbol} at most"
}
trap 'rm -f "$root"/dist/libfaultdump.so.tmp.$$ "$root"/dist/glibc-2.34/libfaultdump.so.tmp.$$' EXIT
build 2.17 "$root/dist/libfaultdump.so"
build 2.34 "$root/dist/glibc-2.34/libfaultdump.so"
