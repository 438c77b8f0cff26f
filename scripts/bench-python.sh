#!/usr/bin/env bash
# Usage: [FAULTDUMP_LIB=FILE] [BENCH_SCALE=N] scripts/bench-python.sh
#
# Python frames: the cost of reading and placing them, on a CPython process
# of 11 threads (10 workers and the main thread), each 50 Python calls deep,
# whose main thread crashes. The same crash is dumped with Python frames
# (FAULTHANDLER_PYTHON=1, the default) and without (FAULTHANDLER_PYTHON=0),
# runs interleaved; the figure is the dump's own time, as its
# FAULTHANDLER_STATS note gives it (process start-up and Python's own
# start-up do not count). Target: at most 5 ms more. In the summary table
# the "empty preload" column is the dump without Python frames, "faultdump"
# the one with them.
#
# PYTHON: the interpreters to measure (default: Debian's /usr/bin/python3
# and pyenv's 3.10, one of each frame layout family that differs most).
source "$(dirname "$0")/bench-common.sh"

PROGRAM=$BENCH_SRC/python_deep.py
N=$(runs 20)
# Every frame shown, so that all Python frames are placed (the default of
# 100 cuts 3.8-3.10 stacks, where each Python call takes ~6 native frames).
export FAULTHANDLER_MAX_FRAMES=2000 FAULTHANDLER_STATS=1
# Symbol names only: reading libpython's DWARF takes the same time with and
# without Python frames, hundreds of ms whose noise on a loaded machine
# would bury the difference (a DWARF budget of 1 ns ends DWARF work at the
# first frame that would need it).
export FAULTHANDLER_DWARF_BUDGET=0.000000001

pythons=${PYTHON:-"/usr/bin/python3 $(ls -d "${PYENV_ROOT:-/root/.pyenv}"/versions/3.10.*/bin/python3.10 2>/dev/null | head -1)"}
for python in $pythons; do
  [ -x "$python" ] || { skip "Python frames ($python)" "< 5 ms" "no such interpreter"; continue; }
  echo "== python: $python ($($python -c 'import sys; print(sys.version.split()[0])'))"
  dump_of "$BENCH_TMP/py.dump" env FAULTHANDLER_PYTHON=1 "$python" "$PROGRAM"
  require_dump "$BENCH_TMP/py.dump" python_deep
  placed=$(grep -c '^  #[0-9]* *\[python\]' "$BENCH_TMP/py.dump" || true)
  echo "the dump shows $placed Python frames; $(grep -c '^faultdump: the Python frames below' "$BENCH_TMP/py.dump" || true) threads' not placed"
  echo "+ $N x (FAULTHANDLER_PYTHON=0, FAULTHANDLER_PYTHON=1) $python $PROGRAM, dump times from FAULTHANDLER_STATS"
  for i in $(seq "$N"); do
    for on in 0 1; do
      dump_of "$BENCH_TMP/run.dump" env FAULTHANDLER_PYTHON=$on "$python" "$PROGRAM"
      sed -n "s/^faultdump: dump written in \([0-9.]*\) ms.*/$on \1/p" "$BENCH_TMP/run.dump" >>"$BENCH_TMP/times"
    done
  done 2>/dev/null
  name=python_$(basename "$python" | tr -c 'a-z0-9\n' _)
  python3 -c '
import json, statistics, sys
runs = {"0": [], "1": []}
for line in open(sys.argv[1]):
    on, ms = line.split()
    runs[on].append(float(ms) / 1e3)
out = []
for on in "01":
    t = runs[on]
    out.append({"command": "FAULTHANDLER_PYTHON=%s %s (dump time)" % (on, sys.argv[3]),
                "mean": statistics.mean(t), "stddev": statistics.stdev(t),
                "median": statistics.median(t), "times": t})
json.dump({"results": out}, open(sys.argv[2], "w"))
' "$BENCH_TMP/times" "$BENCH_TMP/$name.json" "$python"
  rm -f "$BENCH_TMP/times"
  judge delta 5 "Python frames, 11 threads x 50 deep ($(basename "$python"))" "$name"
done
