# Sourced by the scripts/bench-*.sh benchmarks (usage: scripts/bench-NAME.sh;
# -h or --help shows a benchmark's own header). Sets up what every benchmark
# needs and measures against: the floor, an empty preloaded library (a C
# file with one empty constructor) built here and measured in the same run.
#
# Environment:
#   FAULTDUMP_LIB  the library to measure (default target/release/libfaultdump.so;
#                  dist/libfaultdump.so for the portable build)
#   BENCH_SCALE    multiplies every run count (default 1; 0.2 for a quick look)
#   BENCH_ROUNDS   rounds each hyperfine measurement is split into (default 5)
#   BENCH_RESULTS  a file that collects one tab-separated row per figure
#                  (scripts/bench.sh sets it to print its summary table)
#   CC             the C compiler for the benchmark programs (default gcc)
#   BENCH_RT       1: the timed processes run under SCHED_FIFO (chrt -f 10), so
#                  that other jobs on the machine do not preempt them; 0: plain
#                  scheduling. Default 1 as root, else 0. (Real-time priority
#                  is bounded by the kernel's RT throttling, 95% by default.)
set -euo pipefail

# -h / --help of every benchmark (each sources this file first): its own
# header, which says what it measures and how it is run, then the
# environment above.
case "${1:-}" in
  -h | --help)
    awk 'NR == 1 && /^#!/ { next } /^#/ { sub(/^# ?/, ""); print; next } { exit }' "$0"
    if [ "$0" != "${BASH_SOURCE[0]}" ]; then
      echo
      awk '/^#/ { sub(/^# ?/, ""); print; next } { exit }' "${BASH_SOURCE[0]}" | sed -n '/^Environment:/,$p'
    fi
    exit 0
    ;;
esac

BENCH_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BENCH_SRC=$BENCH_ROOT/scripts/bench
CC=${CC:-gcc}

bench_die() {
  echo "${0##*/}: $*" >&2
  exit 2
}

LIB=${FAULTDUMP_LIB:-$BENCH_ROOT/target/release/libfaultdump.so}
[ -f "$LIB" ] || bench_die "$LIB missing: run \`cargo build --release\` first (or set FAULTDUMP_LIB)"
LIB=$(realpath "$LIB")

BENCH_TMP=$(mktemp -d "${TMPDIR:-/tmp}/faultdump-bench.XXXXXX")
trap 'rm -rf "$BENCH_TMP"' EXIT

# Core files would be written after each crash (by the kernel, outside the
# measured process's own time but inside the measured wall time): off.
ulimit -c 0

# The dynamic loader of this machine, for `ld.so --preload LIB PROGRAM`.
LDSO=$(readelf -lW /bin/true | sed -n 's/.*interpreter: \(.*\)\]/\1/p')
[ -x "$LDSO" ] || bench_die "cannot find the dynamic loader"

# Debian's hyperfine, installed if missing.
if ! command -v hyperfine >/dev/null; then
  [ "$(id -u)" -eq 0 ] || bench_die "hyperfine missing: apt-get install hyperfine (as root)"
  echo "${0##*/}: installing hyperfine" >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq hyperfine >/dev/null ||
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq hyperfine >/dev/null; }
fi

if [ "${BENCH_RT:-auto}" = auto ]; then
  if [ "$(id -u)" -eq 0 ] && command -v chrt >/dev/null; then BENCH_RT=1; else BENCH_RT=0; fi
fi
RT=()
[ "$BENCH_RT" != 1 ] || RT=(chrt -f 10)
export BENCH_RT

# The floor.
FLOOR=$BENCH_TMP/libempty.so
printf '__attribute__((constructor)) static void empty_init(void) {}\n' >"$BENCH_TMP/empty.c"
$CC -shared -fPIC -O2 -o "$FLOOR" "$BENCH_TMP/empty.c"

# For compare.py: readable commands in the summary.
export BENCH_LIB=$LIB BENCH_FLOOR=$FLOOR BENCH_TMP BENCH_SCRIPT="scripts/${0##*/}"

SPAWNLOOP=$BENCH_TMP/spawnloop
$CC -O2 -o "$SPAWNLOOP" "$BENCH_SRC/spawnloop.c" -lm

# runs N: N scaled by BENCH_SCALE, at least 3.
runs() {
  awk -v n="$1" -v s="${BENCH_SCALE:-1}" 'BEGIN { r = int(n * s); print (r < 3 ? 3 : r) }'
}

# hf NAME RUNS WARMUP [HYPERFINE-OPTION...] -- COMMAND...
# Runs hyperfine without a shell (-N); results in $BENCH_TMP/NAME.json.
# hyperfine times its commands one block after the other, so a change in
# the machine's load between blocks would show as a difference between the
# commands: the runs are split into $BENCH_ROUNDS rounds (default 5), every
# other round with the commands in reverse order, and merged.
hf() {
  local name=$1 n w rounds=${BENCH_ROUNDS:-5}
  n=$(runs "$2")
  w=$(runs "$3")
  shift 3
  local opts=()
  while [ "$1" != "--" ]; do
    opts+=("$1")
    shift
  done
  shift
  local per=$(((n + rounds - 1) / rounds)) round cmds=("$@") parts=()
  [ "$per" -ge 2 ] || per=2
  echo "+ ${RT[*]}${RT:+ }hyperfine -N --warmup $w --runs $per ${opts[*]} $(printf "'%s' " "$@")" \
    "(x $rounds rounds, order alternating)"
  for round in $(seq "$rounds"); do
    if [ $((round % 2)) -eq 0 ]; then
      cmds=()
      for ((i = $#; i >= 1; i--)); do cmds+=("${!i}"); done
    else
      cmds=("$@")
    fi
    "${RT[@]}" hyperfine -N --style none --warmup "$w" --runs "$per" "${opts[@]}" \
      --export-json "$BENCH_TMP/$name.$round.json" "${cmds[@]}" 2>/dev/null
    parts+=("$BENCH_TMP/$name.$round.json")
  done
  python3 -c '
import json, statistics, sys
out, order = {}, None
for path in sys.argv[1:]:
    results = json.load(open(path))["results"]
    order = order or [r["command"] for r in results]
    for r in results:
        out.setdefault(r["command"], []).extend(r["times"])
merged = []
for c in order:
    t = out[c]
    merged.append({"command": c, "mean": statistics.mean(t), "stddev": statistics.stdev(t),
                   "median": statistics.median(t), "min": min(t), "max": max(t), "times": t})
json.dump({"results": merged}, sys.stdout)
' "${parts[@]}" >"$BENCH_TMP/$name.json"
}

# sl NAME RUNS WARMUP SIGNAL PRELOAD... -- PROGRAM [ARG...]
# The spawn loop (scripts/bench/spawnloop.c): LD_PRELOAD set in the
# environment as a user sets it, variants interleaved run by run.
sl() {
  local name=$1 n w
  n=$(runs "$2")
  w=$(runs "$3")
  shift 3
  echo "+ ${RT[*]}${RT:+ }spawnloop $n $w $*"
  "${RT[@]}" "$SPAWNLOOP" "$n" "$w" "$@" >"$BENCH_TMP/$name.json"
}

# judge ratio|delta|kib TARGET SCENARIO NAME [FLOOR_INDEX LIB_INDEX]
judge() {
  local mode=$1 target=$2 scenario=$3 name=$4
  shift 4
  python3 "$BENCH_SRC/compare.py" "$mode" "$target" "$scenario" "$BENCH_TMP/$name.json" "$@"
}

# per_run_of NAME FIELD LABEL SUFFIX: NAME_SUFFIX, a result file for `judge`
# made of one per-run figure the spawn loop records in NAME (FIELD).
per_run_of() {
  python3 -c '
import json, statistics, sys
field, label = sys.argv[3], sys.argv[4]
results = json.load(open(sys.argv[1]))["results"]
out = []
for r in results:
    t = [float(x) for x in r[field]]
    out.append({"command": r["command"] + " (" + label + ")", "mean": statistics.mean(t),
                "stddev": statistics.stdev(t) if len(t) > 1 else 0.0,
                "median": statistics.median(t), "times": t})
json.dump({"results": out}, open(sys.argv[2], "w"))
' "$BENCH_TMP/$1.json" "$BENCH_TMP/${1}_$4.json" "$2" "$3"
}

# cpu_of NAME: NAME_cpu, the CPU time (user + system) of the spawn loop's
# runs in NAME, for `judge`.
cpu_of() { per_run_of "$1" cpu_s "CPU time" cpu; }

# rss_of NAME: NAME_rss, the peak RSS (ru_maxrss, KiB) of the spawn loop's
# runs in NAME, for `judge kib`.
rss_of() { per_run_of "$1" maxrss_kib ru_maxrss rss; }

# skip SCENARIO TARGET WHY: a figure that this build cannot give.
skip() {
  echo "$1: SKIP ($3)"
  if [ -n "${BENCH_RESULTS:-}" ]; then
    printf '%s\t-\t-\t-\t%s\tSKIP: %s\t%s\n' "$1" "$2" "$3" "$BENCH_SCRIPT" >>"$BENCH_RESULTS"
  fi
}

# dump_of FILE COMMAND...: runs COMMAND once with the library preloaded,
# its stderr (the dump) in FILE; the exit status is ignored (and the
# shell's "Segmentation fault" note about it silenced).
dump_of() {
  local file=$1
  shift
  (
    env LD_PRELOAD="$LIB" "$@" >/dev/null 2>"$file" || true
  ) 2>/dev/null
}

# frames FILE: the number of frame lines of the current thread's stack.
frames() {
  awk '/^Current thread/ { on = 1; next } on && /^  #[0-9]+ / { n++ } on && /^$/ { exit } END { print n + 0 }' "$1"
}

# require_dump FILE WHAT: fails the benchmark if FILE holds no complete dump,
# so that nothing is timed that did not dump.
require_dump() {
  grep -q '^faultdump: end of dump, pid ' "$1" ||
    { sed 's/^/    /' "$1" | head -20 >&2; bench_die "$2: no complete dump"; }
}
