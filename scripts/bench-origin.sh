#!/usr/bin/env bash
# Usage: [FAULTDUMP_LIB=FILE] [BENCH_SCALE=N] scripts/bench-origin.sh
#
# Start-up cost of the reporting settings: /bin/true with FAULTHANDLER_TAGS,
# FAULTHANDLER_MINIDUMP and the Kubernetes downward-API variables set,
# against the library with them unset (target: at most 1.02x), and against
# the empty preload (for information). The variables are parsed by the
# constructor (the tags checked and copied into the library's own memory);
# nothing is read from files at start-up: the container id, host name and
# namespace are read only when a dump is written.
source "$(dirname "$0")/bench-common.sh"

echo "== start-up with the reporting settings: $LIB"
spool=$BENCH_TMP/spool
mkdir -p "$spool"
set_vars=(FAULTHANDLER_TAGS=service=shop-api,version=2.4.1,release=2024.12.08
  FAULTHANDLER_MINIDUMP=$spool POD_NAME=shop-api-7f9c4d-x2k8q POD_NAMESPACE=shop)
# `env` runs in every variant, so its own cost cancels out.
hf origin 2000 200 -- \
  "env LD_PRELOAD=$LIB /bin/true" \
  "env LD_PRELOAD=$LIB ${set_vars[*]} /bin/true" \
  "env LD_PRELOAD=$FLOOR ${set_vars[*]} /bin/true"
judge ratio 1.02 "start-up /bin/true, tags + minidump + pod variables set vs unset" origin 0 1
judge ratio - "start-up /bin/true, tags + minidump + pod variables set vs empty preload" origin 2 1
