#!/usr/bin/env bash
# Installs libfaultdump.so, optionally for every process of a system or image.
#
#   scripts/install.sh [--prefix DIR] [--root DIR] [--global] [--library FILE]
#   scripts/install.sh [--prefix DIR] [--root DIR] --uninstall
#
#   --prefix DIR    directory the library goes to, as seen inside the root
#                   (default /usr/local/lib)
#   --root DIR      the system or image root to install into (default /): an
#                   unpacked image or a build stage's root file system
#   --global        also register the library in ROOT/etc/ld.so.preload, so
#                   that every dynamically linked process loads it
#   --library FILE  the library to install (default: what
#                   scripts/build-release.sh made beside this script,
#                   dist/libfaultdump.so, for glibc 2.17 and later; without
#                   dist/, target/release/libfaultdump.so)
#   --uninstall     undo what earlier runs did under this prefix and root,
#                   and nothing else
#
# Running it twice changes nothing. Everything it does is recorded in
# ROOT/PREFIX/libfaultdump.so.manifest (directories it created, the library
# with its checksum, the ld.so.preload line and whether it created that
# file); --uninstall reads the manifest and undoes exactly that: lines other
# programs put into ld.so.preload stay, the file is removed only if this
# script created it and it is empty again, and a library that was changed
# since is kept (with a warning).
#
# Registering a library that cannot be loaded in ld.so.preload makes the
# loader print an error in every process, so with --root / the library is
# first loaded into /bin/true. Install it only into x86_64 glibc systems: on
# musl (Alpine) and other architectures the loader rejects it.
set -euo pipefail

usage() {
  sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0" >&2
  exit "${1:-2}"
}

here=$(cd "$(dirname "$(readlink -f "$0")")" && pwd)
prefix=/usr/local/lib
root=/
global=0
uninstall=0
library=
while [ $# -gt 0 ]; do
  case $1 in
    --prefix) [ $# -ge 2 ] || usage; prefix=$2; shift 2 ;;
    --prefix=*) prefix=${1#*=}; shift ;;
    --root) [ $# -ge 2 ] || usage; root=$2; shift 2 ;;
    --root=*) root=${1#*=}; shift ;;
    --library) [ $# -ge 2 ] || usage; library=$2; shift 2 ;;
    --library=*) library=${1#*=}; shift ;;
    --global) global=1; shift ;;
    --uninstall) uninstall=1; shift ;;
    -h|--help) usage 0 ;;
    *) echo "install.sh: unknown argument '$1'" >&2; usage ;;
  esac
done

case $prefix in
  /*) ;;
  *) echo "install.sh: --prefix must be an absolute path (as seen inside the root)" >&2; exit 2 ;;
esac
prefix=/${prefix#"${prefix%%[!/]*}"}  # one leading slash
prefix=${prefix%/}
[ -n "$prefix" ] || prefix=/
[ -d "$root" ] || { echo "install.sh: root '$root' is not a directory" >&2; exit 2; }
root=$(cd "$root" && pwd -P)
[ "$root" = / ] && root=

name=libfaultdump.so
lib_in_root=${prefix%/}/$name            # the path processes see
dest=$root$lib_in_root                    # where the file is written
manifest=$dest.manifest
preload=$root/etc/ld.so.preload

say() { echo "install.sh: $*"; }

# ---- The manifest ----------------------------------------------------------
# One record per line: `dir PATH` (created by install), `library PATH SHA256`,
# `preload-line PATH` (the line added to etc/ld.so.preload),
# `preload-file-created`. Paths are as seen inside the root.
declare -a created_dirs=()
lib_sum=
preload_line=0
preload_created=0
if [ -f "$manifest" ]; then
  while read -r kind a b; do
    case $kind in
      dir) created_dirs+=("$a") ;;
      library) lib_sum=$b ;;
      preload-line) preload_line=1 ;;
      preload-file-created) preload_created=1 ;;
    esac
  done <"$manifest"
fi

write_manifest() {
  local text d
  text=$(
    echo "# Written by faultdump's scripts/install.sh; 'install.sh --uninstall' with the same"
    echo "# --prefix and --root reads it to undo exactly what was done. Paths are inside the root."
    for d in ${created_dirs[@]+"${created_dirs[@]}"}; do echo "dir $d"; done
    echo "library $lib_in_root $lib_sum"
    [ "$preload_line" = 1 ] && echo "preload-line $lib_in_root"
    [ "$preload_created" = 1 ] && echo "preload-file-created"
    true
  )
  # Written only when it changes (not even a temporary file otherwise: a
  # second run leaves every file and directory as it was).
  if [ ! -f "$manifest" ] || [ "$(cat "$manifest")" != "$text" ]; then
    printf '%s\n' "$text" >"$manifest.tmp.$$"
    mv -f "$manifest.tmp.$$" "$manifest"
  fi
}

# Whether etc/ld.so.preload lists the library (entries are separated by
# white space or colons, as the loader reads them).
preload_has_line() {
  [ -f "$preload" ] && tr -s ' \t:' '\n\n\n' <"$preload" | grep -qxF "$lib_in_root"
}

# Replaces a file's content atomically, keeping its mode (the loader reads
# etc/ld.so.preload in every process start: never let it see half a file).
replace_file() {
  local file=$1 tmp=$1.faultdump-tmp.$$
  cat >"$tmp"
  chmod --reference="$file" "$tmp" 2>/dev/null || chmod 0644 "$tmp"
  mv -f "$tmp" "$file"
}

# ---- Uninstall ---------------------------------------------------------------
if [ "$uninstall" = 1 ]; then
  if [ ! -f "$manifest" ]; then
    say "nothing to undo: no $manifest"
    exit 0
  fi
  if [ "$preload_line" = 1 ] && preload_has_line; then
    # Drop our entry once; everything else stays as it is.
    awk -v lib="$lib_in_root" '
      !done && $0 == lib { done = 1; next }
      { print }' "$preload" | replace_file "$preload"
    say "removed $lib_in_root from $preload"
  fi
  if [ "$preload_created" = 1 ] && [ -f "$preload" ] && ! grep -q '[^[:space:]]' "$preload"; then
    rm -f "$preload"
    say "removed $preload (created at install, empty now)"
  fi
  if [ -f "$dest" ]; then
    if [ "$(sha256sum <"$dest" | cut -d' ' -f1)" = "$lib_sum" ]; then
      rm -f "$dest"
      say "removed $dest"
    else
      say "warning: $dest changed since it was installed; kept"
    fi
  fi
  rm -f "$manifest"
  # The directories install created, deepest first, if nothing else is in them.
  for ((i = ${#created_dirs[@]} - 1; i >= 0; i--)); do
    rmdir "$root${created_dirs[i]}" 2>/dev/null && say "removed $root${created_dirs[i]}"
  done
  exit 0
fi

# ---- Install ----------------------------------------------------------------
if [ -z "$library" ]; then
  for candidate in "$here/../dist/$name" "$here/../target/release/$name"; do
    if [ -f "$candidate" ]; then library=$candidate; break; fi
  done
  [ -n "$library" ] || {
    echo "install.sh: no library found: run scripts/build-release.sh, or pass --library FILE" >&2
    exit 1
  }
fi
[ -f "$library" ] || { echo "install.sh: $library: no such file" >&2; exit 1; }
library=$(cd "$(dirname "$library")" && pwd)/$(basename "$library")
say "library: $library"

if [ -e "$dest" ] && [ ! -f "$manifest" ]; then
  echo "install.sh: $dest exists and was not installed by this script; remove it first" >&2
  exit 1
fi

if [ "$global" = 1 ] && [ -z "$root" ]; then
  # The live system: a library the loader rejects would break every process.
  if out=$(LD_PRELOAD=$library /bin/true 2>&1) && [ -z "$out" ]; then :; else
    echo "install.sh: $library does not load here; not registering it: $out" >&2
    exit 1
  fi
fi

# Creates a directory (a path inside the root) and the missing ones above it,
# remembering which it created.
ensure_dir() {
  local d=$1 missing=()
  while [ -n "$d" ] && [ ! -d "$root$d" ]; do
    missing=("$d" ${missing[@]+"${missing[@]}"})
    d=${d%/*}
  done
  for d in ${missing[@]+"${missing[@]}"}; do
    mkdir -m 0755 "$root$d"
    created_dirs+=("$d")
  done
}

ensure_dir "${prefix%/}"

new_sum=$(sha256sum <"$library" | cut -d' ' -f1)
if [ -f "$dest" ] && cmp -s "$library" "$dest"; then
  say "$dest is up to date"
else
  tmp=$dest.faultdump-tmp.$$
  cp "$library" "$tmp"
  chmod 0755 "$tmp"
  mv -f "$tmp" "$dest"
  say "installed $dest"
fi
lib_sum=$new_sum
write_manifest

if [ "$global" = 1 ]; then
  ensure_dir /etc
  if preload_has_line; then
    say "$preload already lists $lib_in_root"
  else
    if [ ! -e "$preload" ]; then
      : >"$preload"
      chmod 0644 "$preload"
      preload_created=1
    fi
    # Recorded before the change, so that an interruption leaves it undoable.
    preload_line=1
    write_manifest
    { cat "$preload"; [ -s "$preload" ] && [ -n "$(tail -c 1 "$preload")" ] && echo; echo "$lib_in_root"; } \
      | replace_file "$preload"
    say "registered $lib_in_root in $preload"
  fi
fi
