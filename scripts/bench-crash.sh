#!/usr/bin/env bash
# Usage: [FAULTDUMP_LIB=FILE] [BENCH_SCALE=N] scripts/bench-crash.sh
#
# Fatal dumps, against the empty preload (both die of SIGSEGV; the dump goes
# to /dev/null; the figure is the extra wall time from start to death):
#  - a C program that recurses through 50 named frames, then faults: < 2 ms;
#  - CPython, `python3 -c 'import faulthandler; faulthandler._sigsegv()'`
#    (large symbol tables): < 20 ms. Without DWARF (see the budget below);
#    scripts/bench-dwarf.sh measures with.
# Timed with hyperfine (-N, -i since the programs die of a signal; the
# preload set through `env LD_PRELOAD=...`, whose cost is the same on both
# sides) and with the spawn loop (LD_PRELOAD in the environment, variants
# interleaved run by run). The spawn loop also reports the peak RSS at
# death (ru_maxrss): what the dump adds there is the arena, the dump stack
# and the file pages it read. Each program is first run once and its dump
# checked, so that nothing is timed that did not dump.
source "$(dirname "$0")/bench-common.sh"

echo "== fatal dumps: $LIB"
# Symbol names only: a DWARF budget of 1 ns ends DWARF work at the first
# frame that would need it (the library has no switch to turn DWARF off).
export FAULTHANDLER_DWARF_BUDGET=0.000000001

# main -> frame01 -> ... -> frame50, which writes through a null pointer.
# -O2 without frame pointers: the unwinder works from CFI.
{
  echo '#define FRAME __attribute__((noipa))'
  echo 'volatile int sink;'
  echo 'int *volatile null_pointer;'
  echo 'FRAME void frame50(void) { *null_pointer = 1; }'
  for i in $(seq 49 -1 1); do
    printf 'FRAME void frame%02d(void) { frame%02d(); sink++; }\n' "$i" "$((i + 1))"
  done
  echo 'int main(void) { frame01(); return 0; }'
} >"$BENCH_TMP/crash50.c"
$CC -O2 -fomit-frame-pointer -o "$BENCH_TMP/crash50" "$BENCH_TMP/crash50.c"
dump_of "$BENCH_TMP/crash50.dump" "$BENCH_TMP/crash50"
require_dump "$BENCH_TMP/crash50.dump" crash50
n=$(frames "$BENCH_TMP/crash50.dump")
grep -q ' in frame01+' "$BENCH_TMP/crash50.dump" && [ "$n" -ge 52 ] ||
  bench_die "crash50: the dump has $n frames, expected frame50 .. frame01, main"
echo "crash50: the dump shows $n frames"

hf crash50 500 50 -i -- "env LD_PRELOAD=$FLOOR $BENCH_TMP/crash50" "env LD_PRELOAD=$LIB $BENCH_TMP/crash50"
judge delta 2 "fatal dump, 50 frames (hyperfine)" crash50
sl crash50_sl 500 50 11 "$FLOOR" "$LIB" -- "$BENCH_TMP/crash50"
judge delta 2 "fatal dump, 50 frames (spawn loop)" crash50_sl
rss_of crash50_sl
judge kib - "extra peak RSS at death, 50 frames" crash50_sl_rss

# CPython.
PY=/usr/bin/python3
PYCODE='import faulthandler; faulthandler._sigsegv()'
if [ -x $PY ]; then
  dump_of "$BENCH_TMP/python.dump" $PY -c "$PYCODE"
  require_dump "$BENCH_TMP/python.dump" python3
  echo "python3: the dump shows $(frames "$BENCH_TMP/python.dump") frames"
  hf python 100 10 -i -- "env LD_PRELOAD=$FLOOR $PY -c '$PYCODE'" "env LD_PRELOAD=$LIB $PY -c '$PYCODE'"
  judge delta 20 "fatal dump, CPython (hyperfine)" python
  sl python_sl 100 10 11 "$FLOOR" "$LIB" -- $PY -c "$PYCODE"
  judge delta 20 "fatal dump, CPython (spawn loop)" python_sl
  rss_of python_sl
  judge kib - "extra peak RSS at death, CPython" python_sl_rss
else
  skip "fatal dump, CPython" "< 20 ms" "$PY missing"
fi
