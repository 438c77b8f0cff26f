#!/usr/bin/env bash
# Builds the release libraries, stripped, one per architecture and C
# library, named for what they load on:
#
#   dist/libfaultdump-x86_64-glibc.so   x86_64, glibc 2.17 and later
#   dist/libfaultdump-aarch64-glibc.so  arm64, glibc 2.17 and later
#   dist/libfaultdump-x86_64-musl.so    x86_64, musl (Alpine)
#   dist/libfaultdump-aarch64-musl.so   arm64, musl (Alpine)
#
# and dist/libfaultdump.so, a link to the x86_64 glibc one (its name before
# the ports). scripts/install.sh picks the one that fits a system or image.
#
# Usage: scripts/build-release.sh [x86_64-glibc|aarch64-glibc|x86_64-musl|aarch64-musl]...
#        (none: all four; prints each file's path, size, the libraries it
#        needs and the newest glibc symbol version it requires)
#
# The glibc builds load on every glibc distribution from 2.17 on (CentOS 7,
# Amazon Linux 2, RHEL 8, Ubuntu 20.04, ... Debian 13) and need only
# libc.so.6 and the loader (ld-linux-x86-64.so.2, ld-linux-aarch64.so.1):
# the same two files every dynamically linked program already has, so
# preloading it opens no other file in any process and costs what the
# development build costs (scripts/bench-startup.sh with
# FAULTDUMP_LIB=dist/libfaultdump.so). The musl builds need only libc.so,
# which on musl is the loader itself.
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
# How (glibc): cargo-zigbuild, which links with zig's toolchain against stub
# copies of glibc's libraries for the version asked for (target
# <arch>-unknown-linux-gnu.2.17), through scripts/zig-link.sh. Below 2.34,
# zig's libpthread.so.0 stub also defines read, write, sigaction, ... and
# zig puts it before libc.so.6's, so with --as-needed it would become a
# NEEDED entry for those alone. zig-link.sh therefore drops the -lpthread,
# -ldl, -lrt, -lutil and -lgcc_s that Rust's standard library asks for and
# puts zig's libc.so.6 stub for 2.17 first on the link line (the stub in
# zig's cache for the architecture whose newest symbol version is
# GLIBC_2.17, found below; a probe link makes zig create it), so every C
# library function binds to libc.so.6. A function that only libpthread or
# libdl defines would still link, against zig's stub of that file, and
# bring back its NEEDED entry, so tests/ship/portable.rs checks the result: symbol
# versions no newer than 2.17, no NEEDED entry beyond libc.so.6 and
# ld-linux-x86-64.so.2, the exports, and a crash and a thread's stack
# overflow dumped under Debian 11's glibc 2.31, where libpthread.so.0 is
# still a library of its own (tests/ports.rs checks the aarch64 one).
#
# Both builds pass -C force-frame-pointers=yes, as .cargo/config.toml does
# for cargo build (their RUSTFLAGS replace it): see there why.
#
# How (musl): cargo with the Rust target <arch>-unknown-linux-musl, C
# runtime not static (-C target-feature=-crt-static: a shared library),
# linked by scripts/musl-link.sh (Debian's musl-gcc, or the arm64 cross gcc
# with musl's specs; scripts/install-port-deps.sh installs them), which
# drops -lgcc_s: Alpine has no libgcc_s, and the library has no unwinder.
#
# zig and cargo-zigbuild come from PyPI and are installed here, into
# target/release-tools/ (a virtual environment, zig's cache and
# cargo-zigbuild's wrappers), so a second run installs nothing and rebuilds
# only what changed (a second run leaves dist/ as it was). Each build has
# its own target directory (target/portable/<name>/), so the development
# build in target/release/ is never invalidated. The Rust targets other
# than the host's come from rustup (`rustup target add`).
set -euo pipefail
case "${1:-}" in -h | --help) awk 'NR == 1 && /^#!/ { next } /^#/ { sub(/^# ?/, ""); print; next } { exit }' "$0"; exit 0 ;; esac
cd "$(dirname "$0")/.."
root=$PWD

ZIGLANG_VERSION=0.15.2
CARGO_ZIGBUILD_VERSION=0.24.1
GLIBC=2.17
tools=$root/target/release-tools
ALL=(x86_64-glibc aarch64-glibc x86_64-musl aarch64-musl)
if [ $# -eq 0 ]; then set -- "${ALL[@]}"; fi
for name in "$@"; do
  case " ${ALL[*]} " in
    *" $name "*) ;;
    *) echo "build-release: unknown build '$name' (one of: ${ALL[*]})" >&2; exit 2 ;;
  esac
done

mkdir -p "$tools" "$root/dist"
# One build at a time (tests may run this concurrently with a person).
exec 9>"$tools/lock"
flock 9

# ---- The tools --------------------------------------------------------------
need_zig() {
  local stamp=$tools/venv/.installed-ziglang-$ZIGLANG_VERSION-cargo-zigbuild-$CARGO_ZIGBUILD_VERSION
  [ -e "$stamp" ] && return
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
}

need_target() {
  if command -v rustup >/dev/null && ! rustup target list --installed | grep -qx "$1"; then
    rustup target add "$1"
  fi
}

# zig's link stub of libc.so.6 for glibc $GLIBC on architecture $1: the one
# in zig's cache for that machine whose newest symbol version is that one
# (zig makes it at its first link for the target; a probe link makes sure
# it exists). See scripts/zig-link.sh.
libc_stub() {
  local arch=$1 machine probe=$tools/probe-$1-$GLIBC
  case $arch in
    x86_64) machine='X86-64' ;;
    aarch64) machine='AArch64' ;;
  esac
  if [ ! -e "$probe.so" ]; then
    echo 'int probe(void) { return 0; }' >"$probe.c"
    PATH=$tools/venv/bin:$PATH ZIG_GLOBAL_CACHE_DIR=$tools/zig-cache \
      python3 -m ziglang cc -target "$arch-linux-gnu.$GLIBC" -shared -o "$probe.so" "$probe.c"
  fi
  local f
  for f in "$tools"/zig-cache/o/*/libc.so.6; do
    if readelf -h "$f" | grep -q "Machine:.*$machine" &&
      [ "$(readelf -V "$f" | grep -o 'GLIBC_2\.[0-9]*' | sort -uV | tail -n 1)" = "GLIBC_$GLIBC" ]; then
      echo "$f"
      return
    fi
  done
  echo "build-release: zig's $arch libc.so.6 stub for glibc $GLIBC not found" >&2
  exit 1
}

# ---- The builds -------------------------------------------------------------
build_glibc() {
  local arch=$1 dir=$2 stub
  local target=$arch-unknown-linux-gnu
  need_zig
  need_target "$target"
  stub=$(libc_stub "$arch")
  # cargo-zigbuild runs zig as `python3 -m ziglang` from the environment's
  # python3, first on PATH; its wrappers go under XDG_CACHE_HOME.
  PATH=$tools/venv/bin:$PATH \
  ZIG_GLOBAL_CACHE_DIR=$tools/zig-cache \
  XDG_CACHE_HOME=$tools/cache \
  FAULTDUMP_GLIBC=$GLIBC \
  FAULTDUMP_ZIG_ARCH=$arch \
  FAULTDUMP_LIBC_STUB=$stub \
  CARGO_ZIGBUILD_ZIG_VERSION=$ZIGLANG_VERSION \
  CARGO_ZIGBUILD_ZIG_COMMAND=$tools/venv/bin/python3 \
  CARGO_ZIGBUILD_ZIG_COMMAND_ARGS='-m ziglang' \
  RUSTFLAGS="-C linker=$root/scripts/zig-link.sh -C force-frame-pointers=yes" \
    cargo zigbuild --quiet --release --lib --target "$target.$GLIBC" --target-dir "$dir"
  built=$dir/$target/release/libfaultdump.so
}

build_musl() {
  local arch=$1 dir=$2 linker=$root/scripts/musl-link.sh
  local target=$arch-unknown-linux-musl
  [ "$arch" = aarch64 ] && linker=$root/scripts/musl-link-aarch64.sh
  need_target "$target"
  local var
  var=CARGO_TARGET_$(echo "$target" | tr 'a-z-' 'A-Z_')_LINKER
  env "$var=$linker" RUSTFLAGS="-C target-feature=-crt-static -C force-frame-pointers=yes" \
    cargo build --quiet --release --lib --target "$target" --target-dir "$dir"
  built=$dir/$target/release/libfaultdump.so
}

for name in "$@"; do
  arch=${name%-*}
  libc=${name#*-}
  dir=$root/target/portable/$name
  out=$root/dist/libfaultdump-$name.so
  case $libc in
    glibc) build_glibc "$arch" "$dir" ;;
    musl) build_musl "$arch" "$dir" ;;
  esac
  strip_tool=strip
  [ "$arch" = aarch64 ] && strip_tool=aarch64-linux-gnu-strip
  tmp=$out.tmp.$$
  trap 'rm -f "$tmp"' EXIT
  "$strip_tool" --strip-all -o "$tmp" "$built"
  chmod 0755 "$tmp"
  # Replaced only when it changed: a second run leaves dist/ as it was.
  if cmp -s "$tmp" "$out"; then
    rm -f "$tmp"
  else
    mv -f "$tmp" "$out"
  fi
  if [ "$name" = x86_64-glibc ] && [ "$(readlink "$root/dist/libfaultdump.so" 2>/dev/null)" != "libfaultdump-$name.so" ]; then
    ln -sfn "libfaultdump-$name.so" "$root/dist/libfaultdump.so"
  fi
  newest=$(readelf -W --dyn-syms "$out" | { grep -o 'GLIBC_[0-9.]*' || true; } | sort -uV | tail -n 1)
  needs=$(readelf -d "$out" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' | paste -sd, - | sed 's/,/, /g')
  echo "$out: $(stat -c %s "$out") bytes, needs $needs${newest:+ and $newest at most}"
done
# Earlier versions of this script also built dist/glibc-2.34/libfaultdump.so;
# a copy left from then would be out of date, and install.sh or
# faultdump-run must not find it.
rm -f "$root/dist/glibc-2.34/libfaultdump.so"
rmdir "$root/dist/glibc-2.34" 2>/dev/null || true
