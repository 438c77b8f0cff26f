#!/usr/bin/env bash
# Usage: [FAULTDUMP_LIB=FILE] [BENCH_SCALE=N] scripts/bench-startup.sh
#
# Start-up cost of the preloaded library, against the empty preload:
#  - /bin/true: at most 1.06x;
#  - a program linked against 200 shared libraries: at most 1.03x;
#  - python3 -c pass: at most 1.03x;
#  - extra peak RSS (VmHWM of a /bin/true-like program): at most 256 KiB.
# Times are taken twice: with hyperfine (no shell, -N; the preload given as
# `ld.so --preload LIB PROGRAM`, since hyperfine cannot set an environment
# variable per command) and with the spawn loop (LD_PRELOAD in the
# environment, exactly as users set it, variants interleaved run by run).
source "$(dirname "$0")/bench-common.sh"

echo "== start-up: $LIB"

# /bin/true.
hf true 2000 200 -- "$LDSO --preload $FLOOR /bin/true" "$LDSO --preload $LIB /bin/true" \
  "$LDSO /bin/true"
judge ratio 1.06 "start-up /bin/true (hyperfine)" true
sl true_sl 2000 200 0 "$FLOOR" "$LIB" -- /bin/true
judge ratio 1.06 "start-up /bin/true (spawn loop)" true_sl

# A program linked against 200 shared libraries, each with one function
# that main calls (so every library is needed and every call is bound).
many=$BENCH_TMP/many
mkdir -p "$many"
for i in $(seq -w 0 199); do
  printf 'int many_%s(int x) { return x + %d; }\n' "$i" "$((10#$i))" >"$many/lib$i.c"
done
(cd "$many" && ls lib*.c | sed 's/\.c$//' |
  xargs -P "$(nproc)" -I{} $CC -shared -fPIC -O2 -o {}.so {}.c)
{
  for i in $(seq -w 0 199); do printf 'int many_%s(int);\n' "$i"; done
  echo 'int main(void) { int x = 0;'
  for i in $(seq -w 0 199); do printf '  x = many_%s(x);\n' "$i"; done
  echo '  return x == 19900 ? 0 : 1; }'
} >"$many/main.c"
$CC -O2 -o "$many/main200" "$many/main.c" -L"$many" -Wl,-rpath,"$many" \
  $(for i in $(seq -w 0 199); do printf -- '-l:lib%s.so ' "$i"; done)
[ "$(readelf -d "$many/main200" | grep -c NEEDED)" -ge 200 ] || bench_die "main200 has too few NEEDED entries"
hf many 500 50 -- "$LDSO --preload $FLOOR $many/main200" "$LDSO --preload $LIB $many/main200"
judge ratio 1.03 "start-up, 200 shared libraries (hyperfine)" many
sl many_sl 500 50 0 "$FLOOR" "$LIB" -- "$many/main200"
judge ratio 1.03 "start-up, 200 shared libraries (spawn loop)" many_sl

# The interpreter most services are: python3 -c pass.
PY=/usr/bin/python3
[ -x "$PY" ] || PY=$(command -v python3)
sl python_sl 500 50 0 "$FLOOR" "$LIB" -- "$PY" -c pass
judge ratio 1.03 "start-up, python3 -c pass (spawn loop)" python_sl

# Peak RSS: VmHWM of a /bin/true-like program, interleaved runs; RssAnon
# (private memory) and RssFile (file pages, shared with the page cache)
# shown for information.
$CC -O2 -o "$BENCH_TMP/hwm" "$BENCH_SRC/hwm.c"
n=$(runs 50)
echo "+ LD_PRELOAD=\$X $BENCH_TMP/hwm (VmHWM RssAnon RssFile, $n runs each)"
for _ in $(seq "$n"); do
  echo "floor $(env LD_PRELOAD="$FLOOR" "$BENCH_TMP/hwm")"
  echo "lib $(env LD_PRELOAD="$LIB" "$BENCH_TMP/hwm")"
done >"$BENCH_TMP/hwm.txt"
for i in 0 1 2; do
  python3 -c '
import json, statistics, sys
column, what = int(sys.argv[1]), sys.argv[2]
v = {"floor": [], "lib": []}
for line in open(sys.argv[3]):
    k, *x = line.split()
    v[k].append(float(x[column]))
def res(k, preload):
    t = v[k]
    return {"command": f"LD_PRELOAD={preload} hwm ({what})", "mean": statistics.mean(t),
            "stddev": statistics.stdev(t), "median": statistics.median(t), "times": t}
json.dump({"results": [res("floor", sys.argv[4]), res("lib", sys.argv[5])]}, sys.stdout)
' "$i" "$(echo VmHWM RssAnon RssFile | cut -d' ' -f$((i + 1)))" "$BENCH_TMP/hwm.txt" "$FLOOR" "$LIB" >"$BENCH_TMP/rss$i.json"
done
judge kib 256 "extra peak RSS (VmHWM)" rss0
judge kib - "extra private memory (RssAnon)" rss1
judge kib - "extra file pages mapped (RssFile)" rss2
