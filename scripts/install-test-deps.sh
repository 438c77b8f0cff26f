#!/usr/bin/env bash
# Usage: scripts/install-test-deps.sh (as root)
#
# Installs what the tests need beyond a new Debian 12 machine with Rust, gcc,
# g++ and python3: gdb (the reference backtraces), libc6-dbg and python3-dbg
# (separate debug files for the DWARF tests), dwz (supplementary debug
# files), debuginfod and elfutils (a real debuginfod server and elfutils'
# addr2line for faultdump-symbolize, tests/dwarf/debuginfod.rs), linux-perf
# (tests/container.rs), CPython's test suites, and the language runtimes of
# tests/runtimes.rs (a headless OpenJDK with javac, ruby, Go with cgo; node
# and python3 as above). Installs only what is missing.
set -euo pipefail
case "${1:-}" in -h | --help) awk 'NR == 1 && /^#!/ { next } /^#/ { sub(/^# ?/, ""); print; next } { exit }' "$0"; exit 0 ;; esac
need=()
command -v gdb >/dev/null || need+=(gdb)
[ -d /usr/lib/debug/.build-id ] && dpkg -s "libc6-dbg:$(dpkg --print-architecture)" >/dev/null 2>&1 || need+=(libc6-dbg)
dpkg -s python3-dbg >/dev/null 2>&1 || need+=(python3-dbg)
command -v dwz >/dev/null || need+=(dwz)
command -v debuginfod >/dev/null || need+=(debuginfod)
command -v eu-addr2line >/dev/null && command -v debuginfod-find >/dev/null || need+=(elfutils)
[ -x /usr/bin/python3 ] || need+=(python3)
# perf record --call-graph fp through the interposed pthread_create
# (tests/container.rs).
command -v perf >/dev/null || need+=(linux-perf)
# The language runtimes whose own crash reports tests/runtimes.rs compares.
command -v javac >/dev/null || need+=(openjdk-17-jdk-headless)
command -v ruby >/dev/null || need+=(ruby)
command -v go >/dev/null || need+=(golang-go)
command -v node >/dev/null || need+=(nodejs)
# CPython's own test suites (tests/cpython.rs): Debian ships them apart.
if [ -x /usr/bin/python3 ] && ! /usr/bin/python3 -c 'import test.test_faulthandler' 2>/dev/null; then
  need+=("libpython$(/usr/bin/python3 -c 'import sys; print("%d.%d" % sys.version_info[:2])')-testsuite")
fi
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "install-test-deps: missing ${need[*]}; run as root or install them" >&2
    exit 1
  fi
  echo "install-test-deps: installing ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${need[@]}" >/dev/null
fi
