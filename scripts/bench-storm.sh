#!/usr/bin/env bash
# Usage: [FAULTDUMP_LIB=FILE] [BENCH_SCALE=N] scripts/bench-storm.sh
#
# Crash storms (README "Crash storms"): 32 processes of 7 threads fault at the
# same instant with their stderr on one pipe (tests/programs/storm.c, released
# together by the end of their shared stdin). The figure is the wall time
# from their release until the pipe's last byte is read: the whole storm
# written. Target: at most 2 s (median of the rounds) on 2 cores, for JSON
# and for text. The same storm under the empty preload (no dumps: the
# processes just die) is measured beside it. Every dump of every round is
# checked to be there and whole (scripts/bench/storm.py). With BENCH_RT=1
# (the default as root) the storms run under SCHED_FIFO (chrt -f 10), so that
# other work on the machine does not stretch them; the machine may still be
# shared with other work: say so beside the figures. Exits 1 if a target was
# missed.
#   STORM_PROCESSES (32), STORM_THREADS (7), STORM_ROUNDS (5, scaled by
#   BENCH_SCALE).
source "$(dirname "$0")/bench-common.sh"

PROCESSES=${STORM_PROCESSES:-32}
THREADS=${STORM_THREADS:-7}
ROUNDS=$(runs "${STORM_ROUNDS:-5}")
echo "== crash storms: $LIB ($PROCESSES processes x $THREADS threads, $ROUNDS rounds)"
$CC -g -O0 -pthread -o "$BENCH_TMP/storm" "$BENCH_ROOT/tests/programs/storm.c"

status=0
for fmt in json text; do
  floor=$("${RT[@]}" python3 "$BENCH_SRC/storm.py" "$BENCH_TMP/storm" "$FLOOR" "$fmt" "$PROCESSES" "$THREADS" "$ROUNDS" 0)
  lib=$("${RT[@]}" python3 "$BENCH_SRC/storm.py" "$BENCH_TMP/storm" "$LIB" "$fmt" "$PROCESSES" "$THREADS" "$ROUNDS" 1)
  if python3 - "$fmt" "$floor" "$lib" "$PROCESSES" "$THREADS" <<'PY'
import json, os, statistics, sys
fmt, floor, lib, n, t = sys.argv[1], json.loads(sys.argv[2])["times"], json.loads(sys.argv[3])["times"], sys.argv[4], sys.argv[5]
med, mx, fmed = statistics.median(lib), max(lib), statistics.median(floor)
verdict = "PASS" if med <= 2.0 else "FAIL"
scenario = f"crash storm, {n} x {t} threads, {fmt} on one pipe"
print(f"{scenario}: whole storm written in {med:.3f} s median, {mx:.3f} s max "
      f"(runs: {', '.join(f'{x:.3f}' for x in lib)}); empty preload {fmed:.3f} s; target <= 2 s: {verdict}")
results = os.environ.get("BENCH_RESULTS")
if results:
    with open(results, "a") as f:
        f.write(f"{scenario}\t{fmed:.3f} s\t{med:.3f} s (max {mx:.3f} s)\t-\t<= 2 s\t{verdict}\t{os.environ['BENCH_SCRIPT']}\n")
sys.exit(0 if verdict == "PASS" else 1)
PY
  then :; else status=1; fi
done
exit $status
