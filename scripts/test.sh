#!/usr/bin/env bash
# Runs every test: installs the test dependencies, builds the library, then
# cargo's unit tests and the integration tests (real processes, real crashes).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-test-deps.sh
cargo build --release
cargo test --release -- "$@"
