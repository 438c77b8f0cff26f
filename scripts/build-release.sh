#!/usr/bin/env bash
# Builds dist/libfaultdump.so: the release library, stripped, linked against
# glibc 2.17's symbol versions so that it loads on every x86_64 glibc
# distribution from 2014 on (CentOS 7, Amazon Linux 2, RHEL 8, Ubuntu 20.04,
# ... Debian 13). A library linked on this Debian 12 machine would require
# GLIBC_2.34 and be rejected by the loader of older systems, in every process.
#
# How: cargo-zigbuild, which links with zig's toolchain against glibc stubs
# of the version asked for (target x86_64-unknown-linux-gnu.2.17). Both come
# from PyPI and are installed here, into target/release-tools/ (a virtual
# environment, zig's cache and cargo-zigbuild's wrappers), so a second run
# installs nothing and rebuilds only what changed. The build has its own
# target directory (target/portable/), so it never invalidates the
# development build in target/release/.
#
# Usage: scripts/build-release.sh        (prints the path, size and the
#                                         newest glibc version it needs)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

ZIGLANG_VERSION=0.15.2
CARGO_ZIGBUILD_VERSION=0.24.1
TARGET=x86_64-unknown-linux-gnu
GLIBC=2.17
tools=$root/target/release-tools
out=$root/dist/libfaultdump.so

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
# cargo-zigbuild runs zig as `python3 -m ziglang` from the environment's
# python3, first on PATH; its wrappers go under XDG_CACHE_HOME.
PATH=$tools/venv/bin:$PATH \
ZIG_GLOBAL_CACHE_DIR=$tools/zig-cache \
XDG_CACHE_HOME=$tools/cache \
  cargo zigbuild --quiet --release --lib --target "$TARGET.$GLIBC" \
  --target-dir "$root/target/portable"

built=$root/target/portable/$TARGET/release/libfaultdump.so
tmp=$out.tmp.$$
trap 'rm -f "$tmp"' EXIT
strip --strip-all -o "$tmp" "$built"
chmod 0755 "$tmp"
# Replaced only when it changed: a second run leaves dist/ as it was.
if cmp -s "$tmp" "$out"; then
  rm -f "$tmp"
else
  mv -f "$tmp" "$out"
fi

newest=$(objdump -T "$out" | grep -o 'GLIBC_[0-9.]*' | sort -uV | tail -n 1)
echo "$out: $(stat -c %s "$out") bytes, needs ${newest:-no versioned glibc symbol} at most"
