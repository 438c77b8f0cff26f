#!/usr/bin/env bash
# Dumps with source file, line and inlined frames from DWARF, against the
# empty preload (extra wall time from start to death; dump to /dev/null):
#  - a small C program built with -O2 -g, faulting inside inlined functions:
#    < 5 ms;
#  - CPython with Debian's python3-dbg (libpython's debug info found by
#    build-id): < 25 ms;
#  - an abort inside libc (a double free), resolved through libc6-dbg's
#    compressed separate debug file: < 20 ms.
# Start-up with DWARF support is measured by scripts/bench-startup.sh (same
# targets). Each program is first run once and its dump checked for ` at
# FILE:LINE` frames; a build without DWARF support is reported as SKIP.
# The spawn loop's peak RSS at death is printed too: the arena, the dump
# stack and the debug-file pages a dump touches all count there.
source "$(dirname "$0")/bench-common.sh"

echo "== DWARF: $LIB"
unset FAULTHANDLER_DWARF_BUDGET

# dwarf_case NAME SCENARIO TARGET SIGNAL DUMP-CHECK-REGEX RUNS PROGRAM [ARG...]
dwarf_case() {
  local name=$1 scenario=$2 target=$3 sig=$4 check=$5 n=$6
  shift 6
  dump_of "$BENCH_TMP/$name.dump" "$@"
  require_dump "$BENCH_TMP/$name.dump" "$name"
  if ! grep -qE "$check" "$BENCH_TMP/$name.dump"; then
    skip "$scenario" "< $target ms" "no frame matching /$check/ in the dump"
    sed -n '/^Current thread/,/^$/p' "$BENCH_TMP/$name.dump" | head -12 | sed 's/^/    /'
    return
  fi
  echo "$name: $(grep -cE '^  #[0-9]+ .* at ' "$BENCH_TMP/$name.dump") frames with file and line," \
    "$(grep -c '(inlined)' "$BENCH_TMP/$name.dump" || true) inlined"
  local cmd
  cmd=$(printf "'%s' " "$@")
  hf "$name" "$n" "$((n / 10))" -i -- "env LD_PRELOAD=$FLOOR ${cmd% }" "env LD_PRELOAD=$LIB ${cmd% }"
  judge delta "$target" "$scenario (hyperfine)" "$name"
  sl "${name}_sl" "$n" "$((n / 10))" "$sig" "$FLOOR" "$LIB" -- "$@"
  judge delta "$target" "$scenario (spawn loop)" "${name}_sl"
  rss_of "${name}_sl"
  judge kib - "extra peak RSS at death, $scenario" "${name}_sl_rss"
}

$CC -O2 -g -o "$BENCH_TMP/dwarf_o2" "$BENCH_SRC/dwarf_o2.c"
dwarf_case dwarf_o2 "DWARF dump, small -O2 C program" 5 11 \
  ' in leaf_store\+0x[0-9a-f]+ \(inlined\) at .*dwarf_o2\.c:[0-9]+' 300 "$BENCH_TMP/dwarf_o2"

if dpkg -s python3-dbg >/dev/null 2>&1; then
  dwarf_case python_dwarf "DWARF dump, CPython (python3-dbg)" 25 11 \
    ' in faulthandler_sigsegv.* at .*faulthandler\.c:[0-9]+' 100 \
    /usr/bin/python3 -c 'import faulthandler; faulthandler._sigsegv()'
else
  skip "DWARF dump, CPython" "< 25 ms" "python3-dbg not installed (scripts/install-test-deps.sh)"
fi

if dpkg -s libc6-dbg >/dev/null 2>&1; then
  $CC -O2 -o "$BENCH_TMP/double_free" "$BENCH_SRC/double_free.c"
  dwarf_case double_free "DWARF dump, abort inside libc (libc6-dbg)" 20 6 \
    ' in (__GI_)?abort\+0x[0-9a-f]+ at .*abort\.c:[0-9]+' 300 "$BENCH_TMP/double_free"
else
  skip "DWARF dump, abort inside libc" "< 20 ms" "libc6-dbg not installed (scripts/install-test-deps.sh)"
fi
