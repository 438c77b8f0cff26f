#!/usr/bin/env bash
# Usage: scripts/fetch-old-glibc.sh [amd64|arm64]
#
# Unpacks an older glibc (Debian 11's 2.31, the level of Ubuntu 20.04 and
# RHEL 8's era, with libpthread and libdl still separate libraries) into
# target/old-glibc/root, for tests/ship/portable.rs to run the portable build
# under a real old loader. Uses apt with its own lists and cache under
# target/, so the system's apt configuration is not touched. Prints the
# directory that holds ld-linux-x86-64.so.2 and libc.so.6.
#
# `fetch-old-glibc.sh arm64`: the same for arm64 (Debian's libc6:arm64),
# into target/old-glibc-arm64/root, for tests/ports.rs (run under
# `qemu-aarch64 -L`).
#
# Exit status 77: the old glibc could not be had (Debian no longer serves
# that release, or no network); the caller decides what that means.
set -euo pipefail
case "${1:-}" in -h | --help) awk 'NR == 1 && /^#!/ { next } /^#/ { sub(/^# ?/, ""); print; next } { exit }' "$0"; exit 0 ;; esac
cd "$(dirname "$0")/.."
arch=${1:-amd64}
case $arch in
  amd64) dir=$PWD/target/old-glibc libdir=$dir/root/lib/x86_64-linux-gnu loader=ld-linux-x86-64.so.2 ;;
  arm64) dir=$PWD/target/old-glibc-arm64 libdir=$dir/root/lib/aarch64-linux-gnu loader=ld-linux-aarch64.so.1 ;;
  *) echo "fetch-old-glibc: unknown architecture '$arch' (amd64 or arm64)" >&2; exit 2 ;;
esac
if [ -x "$libdir/$loader" ]; then
  echo "$libdir"
  exit 0
fi
mkdir -p "$dir/lists/partial" "$dir/cache/archives/partial"
exec 9>"$dir/lock"
flock 9
cat >"$dir/sources.list" <<'EOF'
deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian bullseye main
EOF
apt_opts=(
  -o "Dir::Etc::sourcelist=$dir/sources.list"
  -o "Dir::Etc::sourceparts=/nonexistent"
  -o "Dir::State::Lists=$dir/lists"
  -o "Dir::Cache=$dir/cache"
  -o "APT::Sandbox::User=root"
  -o "Acquire::IndexTargets::deb::DEP-11::DefaultEnabled=false"
  -o "Acquire::IndexTargets::deb::DEP-11-icons::DefaultEnabled=false"
  -o "Acquire::IndexTargets::deb::DEP-11-icons-small::DefaultEnabled=false"
  -o "Acquire::Languages=none"
  -o "APT::Architectures::=$arch"
  -o "APT::Architecture=$arch"
)
if ! apt-get "${apt_opts[@]}" -qq update >&2 ||
  ! (cd "$dir" && apt-get "${apt_opts[@]}" -qq download "libc6:$arch/bullseye" >&2); then
  echo "fetch-old-glibc: Debian 11's libc6 could not be downloaded" >&2
  exit 77
fi
rm -rf "$dir/root"
dpkg-deb -x "$dir"/libc6_2.31-*_"$arch".deb "$dir/root"
echo "$libdir"
