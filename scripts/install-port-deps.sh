#!/usr/bin/env bash
# Usage: scripts/install-port-deps.sh (as root)
#
# Installs what the port tests (tests/ports.rs) and scripts/build-release.sh
# need for the arm64 and musl libraries, beyond scripts/install-test-deps.sh:
# Debian's arm64 cross gcc, qemu-user (runs arm64 programs on x86_64),
# gdb-multiarch (reference backtraces through qemu's gdb stub), musl for
# x86_64 and arm64, multiarch arm64 glibc with its debug files, and the three
# Rust targets (rustup's own server; not every machine reaches it).
# Installs only what is missing; a second run does nothing.
#
# Exit status 0 even when the Rust targets cannot be added: it prints
# `install-port-deps: no Rust target <t>: <why>` and the port tests then
# print `SKIPPED: <t>: <why>`. Anything else missing is an error.
set -euo pipefail
case "${1:-}" in -h | --help) awk 'NR == 1 && /^#!/ { next } /^#/ { sub(/^# ?/, ""); print; next } { exit }' "$0"; exit 0 ;; esac
export DEBIAN_FRONTEND=noninteractive
apt_need=()
command -v aarch64-linux-gnu-gcc >/dev/null || apt_need+=(gcc-aarch64-linux-gnu libc6-dev-arm64-cross)
command -v qemu-aarch64 >/dev/null || apt_need+=(qemu-user)
command -v gdb-multiarch >/dev/null || apt_need+=(gdb-multiarch)
command -v musl-gcc >/dev/null || apt_need+=(musl musl-tools musl-dev)
arm64_need=()
[ -e /lib/ld-linux-aarch64.so.1 ] || arm64_need+=(libc6:arm64 libgcc-s1:arm64)
dpkg -s libc6-dbg:arm64 >/dev/null 2>&1 || arm64_need+=(libc6-dbg:arm64)
[ -e /usr/lib/aarch64-linux-musl/musl-gcc.specs ] || arm64_need+=(musl:arm64 musl-dev:arm64)
if [ ${#apt_need[@]} -gt 0 ] || [ ${#arm64_need[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "install-port-deps: missing ${apt_need[*]} ${arm64_need[*]}; run as root or install them" >&2
    exit 1
  fi
  echo "install-port-deps: installing ${apt_need[*]} ${arm64_need[*]}"
  if [ ${#arm64_need[@]} -gt 0 ] && ! dpkg --print-foreign-architectures | grep -qx arm64; then
    dpkg --add-architecture arm64
  fi
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends ${apt_need[@]+"${apt_need[@]}"} \
    ${arm64_need[@]+"${arm64_need[@]}"} >/dev/null
fi
installed=$(rustup target list --installed 2>/dev/null || true)
for t in aarch64-unknown-linux-gnu x86_64-unknown-linux-musl aarch64-unknown-linux-musl; do
  grep -qx "$t" <<<"$installed" && continue
  if ! command -v rustup >/dev/null; then
    echo "install-port-deps: no Rust target $t: rustup is not installed" >&2
  elif ! err=$(rustup target add "$t" 2>&1); then
    echo "install-port-deps: no Rust target $t: $(tail -n 1 <<<"$err")" >&2
  fi
done
