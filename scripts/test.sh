#!/usr/bin/env bash
# Usage: scripts/test.sh [TEST-FILTER]...
#        (arguments go to the test binaries: cargo test --release -- ARGS)
#
# Runs every test: installs the test dependencies, builds the library, then
# cargo's unit tests and the integration tests (real processes, real crashes).
set -euo pipefail
case "${1:-}" in -h | --help) awk 'NR == 1 && /^#!/ { next } /^#/ { sub(/^# ?/, ""); print; next } { exit }' "$0"; exit 0 ;; esac
cd "$(dirname "$0")/.."
scripts/install-test-deps.sh
cargo build --release
cargo test --release -- "$@"
