#!/usr/bin/env bash
# Usage: [FAULTDUMP_LIB=FILE] [BENCH_SCALE=N] scripts/bench-dwarf.sh
#
# Dumps with source file, line and inlined frames from DWARF, against the
# empty preload (extra wall time from start to death; dump to /dev/null):
#  - a small C program built with -O2 -g, faulting inside inlined functions:
#    < 5 ms;
#  - CPython: < 25 ms; measured with a libpython that holds its own
#    uncompressed DWARF (libpython's 9 MB .debug_info, e.g. pyenv's build)
#    and with Debian's python3 + python3-dbg (separate, zlib-compressed);
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
  ' \(inlined\) at .*dwarf_o2\.c:[0-9]+' 300 "$BENCH_TMP/dwarf_o2"

# CPython whose libpython carries its own uncompressed DWARF (libpython's
# 9 MB .debug_info; a python built from source, as pyenv does), the
# `python3` on PATH unless BENCH_PYTHON_WITH_DWARF names another.
py=${BENCH_PYTHON_WITH_DWARF:-$(python3 -c 'import sys; print(sys.executable)' 2>/dev/null || true)}
libpy=$([ -z "$py" ] || ldd "$py" 2>/dev/null | awk '/libpython/ { print $3 }' || true)
if [ -n "$libpy" ] && readelf -SW "$libpy" | grep -q '\.debug_info' &&
  ! readelf -SW "$libpy" | grep '\.debug_info' | grep -q ' C '; then
  size=$(readelf -SW "$libpy" | sed -n 's/.*\] \.debug_info *PROGBITS *[0-9a-f]* [0-9a-f]* \([0-9a-f]*\).*/\1/p')
  echo "libpython: $libpy, .debug_info $((0x$size)) bytes"
  dwarf_case python_libpython "DWARF dump, CPython (libpython's own DWARF)" 25 11 \
    ' in faulthandler_sigsegv.* at .*faulthandler\.c:[0-9]+' 100 \
    "$py" -c 'import faulthandler; faulthandler._sigsegv()'
else
  skip "DWARF dump, CPython (libpython's own DWARF)" "< 25 ms" \
    "no python3 with a libpython holding uncompressed DWARF (set BENCH_PYTHON_WITH_DWARF)"
fi

# Debian's python3 with python3-dbg: the debug file is found by build-id and
# its sections are zlib-compressed (11 MB of .debug_info inflated from 5 MB).
# No target: issue 5's 25 ms is for libpython's own uncompressed DWARF (above).
# Here the unit needed sits 9.7 MB into a zlib stream, which cannot be
# entered in the middle; inflating that far alone takes ~30 ms (README,
# "Limits"). The figure is reported for information.
if dpkg -s python3-dbg >/dev/null 2>&1; then
  dwarf_case python_dbg "DWARF dump, CPython (Debian python3-dbg, compressed)" - 11 \
    ' in faulthandler_sigsegv.* at .*faulthandler\.c:[0-9]+' 100 \
    /usr/bin/python3 -c 'import faulthandler; faulthandler._sigsegv()'
else
  skip "DWARF dump, CPython (Debian python3-dbg)" "< 25 ms" "python3-dbg not installed (scripts/install-test-deps.sh)"
fi

if dpkg -s "libc6-dbg:$(dpkg --print-architecture)" >/dev/null 2>&1; then
  $CC -O2 -o "$BENCH_TMP/double_free" "$BENCH_SRC/double_free.c"
  dwarf_case double_free "DWARF dump, abort inside libc (libc6-dbg)" 20 6 \
    ' in (__GI_)?abort\+0x[0-9a-f]+ at .*abort\.c:[0-9]+' 300 "$BENCH_TMP/double_free"
else
  skip "DWARF dump, abort inside libc" "< 20 ms" "libc6-dbg not installed (scripts/install-test-deps.sh)"
fi
