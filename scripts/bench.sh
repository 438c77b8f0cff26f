#!/usr/bin/env bash
# Runs every benchmark (start-up, fatal dumps, threads, DWARF, Python, crash storms,
# minidumps, start-up with the origin and minidump variables set,
# sigaction) against the
# empty preload and prints a summary table (markdown) with PASS/FAIL per
# target. Takes the library through FAULTDUMP_LIB (default
# target/release/libfaultdump.so) and BENCH_SCALE (run counts, default 1).
# Exits 1 if a target was missed.
#
# Usage: [FAULTDUMP_LIB=FILE] [BENCH_SCALE=N] scripts/bench.sh [startup|crash|threads|dwarf|python|storm|sigaction|minidump|origin]...
#        (none: all of them; scripts/bench-NAME.sh --help says what each measures)
set -euo pipefail
case "${1:-}" in -h | --help) awk 'NR == 1 && /^#!/ { next } /^#/ { sub(/^# ?/, ""); print; next } { exit }' "$0"; exit 0 ;; esac
cd "$(dirname "$0")/.."

results=$(mktemp "${TMPDIR:-/tmp}/faultdump-bench-results.XXXXXX")
trap 'rm -f "$results"' EXIT
export BENCH_RESULTS=$results
if [ "${BENCH_RT:-auto}" = auto ]; then
  if [ "$(id -u)" -eq 0 ] && command -v chrt >/dev/null; then BENCH_RT=1; else BENCH_RT=0; fi
fi
export BENCH_RT

parts=("$@")
[ ${#parts[@]} -gt 0 ] || parts=(startup crash threads dwarf python storm sigaction minidump origin)
for part in "${parts[@]}"; do
  scripts/bench-"$part".sh
  echo
done

echo "## Summary: ${FAULTDUMP_LIB:-target/release/libfaultdump.so}"
echo "($(uname -srm), $(nproc) cores, glibc $(ldd --version | head -1 | sed 's/.* //')," \
  "BENCH_RT=${BENCH_RT:-auto} (1: timed under chrt -f 10, threads excepted), $(date -u +%Y-%m-%dT%H:%MZ))"
echo
echo "| scenario | empty preload | faultdump | ratio / delta | target | result | command |"
echo "|---|---|---|---|---|---|---|"
awk -F'\t' '{ printf "| %s | %s | %s | %s | %s | %s | %s |\n", $1, $2, $3, $4, $5, $6, $7 }' "$results"
echo
echo "Means ± standard deviation of single runs (medians in brackets); ratios and deltas"
echo "± their standard error, of the medians (the verdict) and of the means."
! grep -q $'\tFAIL' "$results"
