#!/usr/bin/env bash
# What FAULTHANDLER_MINIDUMP adds to a fatal dump, against the same dump
# without it:
#  - one thread faulting 50 frames deep (scripts/bench/deep50.c): target
#    <= 5 ms more;
#  - 100 threads (99 idle in nanosleep, a condition variable and a pipe
#    read, scripts/bench/threads100.c): target <= 30 ms more;
#  - the minidump's file size for each;
#  - start-up with the variable unset and set (/bin/true): unchanged.
# The dump's own time is what FAULTHANDLER_STATS=1 reports ("dump written
# in X ms", measured inside the process from the signal to the last line),
# and the minidump's part of it ("minidump written in X ms", from the
# collected threads to the renamed file); the median of RUNS runs each way
# (default 21). On a busy machine the whole dump's times vary with the
# other jobs far more than by the minidump's part: that part is the figure
# to trust.
#
# Usage: scripts/bench-minidump.sh [--help]
# Environment: FAULTDUMP_LIB (default target/release/libfaultdump.so),
#              RUNS, CC (default gcc).
set -euo pipefail
if [ "${1:-}" = --help ] || [ "${1:-}" = -h ]; then
  sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'
  exit 0
fi
root=$(cd "$(dirname "$0")/.." && pwd)
LIB=$(realpath "${FAULTDUMP_LIB:-$root/target/release/libfaultdump.so}")
CC=${CC:-gcc}
RUNS=${RUNS:-21}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/faultdump-bench-minidump.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
ulimit -c 0

$CC -O2 -g -o "$tmp/deep50" "$root/scripts/bench/deep50.c"
$CC -O2 -g -pthread -o "$tmp/threads100" "$root/scripts/bench/threads100.c"

# The time in ms a stats line says (WHAT: dump or minidump), for one run.
stat_ms() {
  local what=$1 out
  shift
  out=$(env LD_PRELOAD="$LIB" FAULTHANDLER_STATS=1 "$@" 2>&1 >/dev/null || true)
  sed -n "s/^faultdump: $what written in \([0-9.]*\) ms.*/\1/p" <<<"$out"
}

median() { sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }

measure() {
  local name=$1 target=$2
  shift 2
  local dir=$tmp/dumps-$name
  mkdir -p "$dir"
  local without with part size
  without=$(for _ in $(seq "$RUNS"); do stat_ms dump "$@"; done | median)
  with=$(for _ in $(seq "$RUNS"); do
    rm -f "$dir"/*.dmp
    stat_ms dump env FAULTHANDLER_MINIDUMP="$dir" "$@"
  done | median)
  part=$(for _ in $(seq "$RUNS"); do
    rm -f "$dir"/*.dmp
    stat_ms minidump env FAULTHANDLER_MINIDUMP="$dir" "$@"
  done | median)
  size=$(stat -c %s "$dir"/*.dmp | head -1)
  awk -v n="$name" -v a="$without" -v b="$with" -v p="$part" -v s="$size" -v t="$target" 'BEGIN {
    printf "%-10s dump %7.2f ms, with minidump %7.2f ms (%+.2f); the minidump part %.2f ms (target <= %d ms: %s); file %d bytes (%.0f KiB)\n",
      n, a, b, b - a, p, t, (p <= t) ? "PASS" : "FAIL", s, s / 1024 }'
}

echo "== minidump: $LIB ($RUNS runs each, medians)"
measure deep50 5 "$tmp/deep50"
measure threads100 30 "$tmp/threads100" 99

if command -v hyperfine >/dev/null; then
  echo "== start-up (/bin/true), FAULTHANDLER_MINIDUMP unset and set"
  hyperfine -N --warmup 50 --runs 1000 --style basic \
    "env LD_PRELOAD=$LIB /bin/true" \
    "env LD_PRELOAD=$LIB FAULTHANDLER_MINIDUMP=$tmp /bin/true" 2>&1 |
    grep -E 'Time|±|faster' || true
fi
