#!/usr/bin/env bash
# Usage: [FAULTDUMP_LIB=FILE] [BENCH_SCALE=N] scripts/bench-sigaction.sh
#
# The interposed sigaction, against the empty preload: one million calls,
# each installing a handler or SIG_DFL in turn and reading back the old
# action, at most 1.1x:
#  - on SIGSEGV, a signal the library handles (the program's view is
#    updated and the kernel brought in line: one rt_sigaction per call, as
#    without the library);
#  - on SIGUSR1, a signal it does not handle (passed to the C library).
# The program checks every old action it gets back (exit status 1 if one
# is wrong).
source "$(dirname "$0")/bench-common.sh"

echo "== sigaction: $LIB"
$CC -O2 -o "$BENCH_TMP/sigaction1m" "$BENCH_SRC/sigaction1m.c"
for sig in 11 10; do
  env LD_PRELOAD="$LIB" "$BENCH_TMP/sigaction1m" "$sig" ||
    bench_die "sigaction1m $sig: wrong old actions under the library"
  hf "sigaction_$sig" 30 3 -- "env LD_PRELOAD=$FLOOR $BENCH_TMP/sigaction1m $sig" \
    "env LD_PRELOAD=$LIB $BENCH_TMP/sigaction1m $sig"
  judge ratio 1.1 "1,000,000 sigaction calls on signal $sig (hyperfine)" "sigaction_$sig"
  sl "sigaction_${sig}_sl" 30 3 0 "$FLOOR" "$LIB" -- "$BENCH_TMP/sigaction1m" "$sig"
  judge ratio 1.1 "1,000,000 sigaction calls on signal $sig (spawn loop)" "sigaction_${sig}_sl"
done
