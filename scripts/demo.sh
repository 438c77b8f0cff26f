#!/usr/bin/env bash
# Usage: scripts/demo.sh
#
# Builds the library and shows a real crash dump: a small C program that
# dereferences a null pointer four calls deep, run with the library
# preloaded. The program dies by SIGSEGV, as it would without the library.
set -uo pipefail
case "${1:-}" in -h | --help) awk 'NR == 1 && /^#!/ { next } /^#/ { sub(/^# ?/, ""); print; next } { exit }' "$0"; exit 0 ;; esac
cd "$(dirname "$0")/.."
cargo build --release --quiet || exit 1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
gcc -O2 -g -o "$work/demo" tests/programs/faults.c || exit 1
echo "\$ LD_PRELOAD=$PWD/target/release/libfaultdump.so $work/demo segv"
LD_PRELOAD="$PWD/target/release/libfaultdump.so" "$work/demo" segv
status=$?
echo "exit status $status (128 + $((status - 128)): killed by signal $((status - 128)))"
