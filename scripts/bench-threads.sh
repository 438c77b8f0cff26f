#!/usr/bin/env bash
# Usage: [FAULTDUMP_LIB=FILE] [BENCH_SCALE=N] scripts/bench-threads.sh
#
# Threads, against the empty preload:
#  - the text dump of 100 live idle threads as it is by default (all threads
#    dumped, C-library frames with file and line from DWARF, libc6-dbg's
#    compressed debug file where installed): at most 20 ms more than the
#    empty preload's run;
#  - the same with symbol names only (no DWARF): < 100 ms more;
#  - creating and joining 10,000 threads, each given its alternate signal
#    stack by the library's pthread_create wrapper: at most 1.2x. Measured
#    one thread at a time (create, join, repeat: glibc reuses the cached
#    stack, so the wrapper's own cost shows most) and 100 at a time.
# Needs the all-threads dump and the pthread_create wrapper; a build without
# them is reported as SKIP, with the reason.
source "$(dirname "$0")/bench-common.sh"
# Never under SCHED_FIFO (BENCH_RT): threads parked by a dump wait for their
# release, and FIFO threads of equal priority are not preempted for one
# another; and real-time threads are created and woken differently (10,000
# threads took 1.7x as long under chrt -f here, with or without the library).
# On a busy machine, wall time here varies with the other jobs (thread
# creation waits for a CPU): the spawn loop's interleaved figures, and its
# CPU time (user + system, which waiting does not count), are the ones to
# trust.
RT=()

echo "== threads: $LIB"
$CC -O2 -pthread -o "$BENCH_TMP/threads100" "$BENCH_SRC/threads100.c"

# As a user gets it: DWARF on (the first C-library frame inflates the part
# of libc's compressed debug sections that its unit needs).
dump_of "$BENCH_TMP/threads100_dwarf.dump" "$BENCH_TMP/threads100" 100
require_dump "$BENCH_TMP/threads100_dwarf.dump" threads100_dwarf
shown=$(grep -cE '^(Current thread|Thread) [0-9]+ ' "$BENCH_TMP/threads100_dwarf.dump" || true)
lines=$(grep -cE '^  #[0-9]+ .* at [^ ]+:[0-9]+ \(' "$BENCH_TMP/threads100_dwarf.dump" || true)
echo "threads100 (DWARF): the dump shows $shown threads, $lines frames with file and line"
if [ "$shown" -ge 100 ] && [ "$lines" -gt 0 ]; then
  hf threads100_dwarf 100 10 -i -- "env LD_PRELOAD=$FLOOR $BENCH_TMP/threads100 100" \
    "env LD_PRELOAD=$LIB $BENCH_TMP/threads100 100"
  judge delta 20 "fatal dump, 100 threads, with DWARF (hyperfine)" threads100_dwarf
else
  skip "fatal dump, 100 threads, with DWARF" "<= 20 ms" \
    "this build dumped $shown of 101 threads, $lines frames with a line (no libc6-dbg?)"
fi

# Symbol names only: a DWARF budget of 1 ns ends DWARF work at the first
# frame that would need it (the library has no switch to turn DWARF off).
export FAULTHANDLER_DWARF_BUDGET=0.000000001

$CC -O2 -pthread -o "$BENCH_TMP/threads10k" "$BENCH_SRC/threads10k.c"

dump_of "$BENCH_TMP/threads100.dump" "$BENCH_TMP/threads100" 100
require_dump "$BENCH_TMP/threads100.dump" threads100
shown=$(grep -cE '^(Current thread|Thread) [0-9]+ ' "$BENCH_TMP/threads100.dump" || true)
echo "threads100: the dump shows $shown threads"
if [ "$shown" -ge 100 ]; then
  hf threads100 100 10 -i -- "env LD_PRELOAD=$FLOOR $BENCH_TMP/threads100 100" \
    "env LD_PRELOAD=$LIB $BENCH_TMP/threads100 100"
  judge delta 100 "fatal dump, 100 threads (hyperfine)" threads100
  sl threads100_sl 100 10 11 "$FLOOR" "$LIB" -- "$BENCH_TMP/threads100" 100
  judge delta 100 "fatal dump, 100 threads (spawn loop)" threads100_sl
else
  skip "fatal dump, 100 threads" "< 100 ms" "this build dumped $shown of 101 threads"
fi

altstack=$(env LD_PRELOAD="$LIB" "$BENCH_TMP/threads10k" check)
echo "threads10k: a new thread's alternate signal stack: $altstack"
if [ "$altstack" != none ]; then
  for batch in 1 100; do
    hf "threads10k_$batch" 30 3 -- "env LD_PRELOAD=$FLOOR $BENCH_TMP/threads10k 10000 $batch" \
      "env LD_PRELOAD=$LIB $BENCH_TMP/threads10k 10000 $batch"
    judge ratio 1.2 "10,000 threads, $batch at a time (hyperfine)" "threads10k_$batch"
    sl "threads10k_${batch}_sl" 30 3 0 "$FLOOR" "$LIB" -- "$BENCH_TMP/threads10k" 10000 "$batch"
    judge ratio 1.2 "10,000 threads, $batch at a time (spawn loop)" "threads10k_${batch}_sl"
    cpu_of "threads10k_${batch}_sl"
    judge ratio 1.2 "10,000 threads, $batch at a time (spawn loop, CPU time)" "threads10k_${batch}_sl_cpu"
  done
else
  skip "10,000 threads" "<= 1.2x" "this build gives new threads no alternate signal stack"
fi
