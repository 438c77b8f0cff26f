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
#   --library FILE  the library to install (default: the one of
#                   scripts/build-release.sh's four, beside this script in
#                   dist/, that fits the root: libfaultdump-ARCH-LIBC.so;
#                   for x86_64 glibc without dist/,
#                   target/release/libfaultdump.so)
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
# The root's architecture (x86_64 or aarch64) and C library (glibc or
# musl) are read from its /bin/sh (machine and program interpreter,
# symbolic links followed inside the root), else from the one loader it
# has; a library for another architecture or C library is refused with one
# line, before anything is written. Registering a library that cannot be
# loaded in ld.so.preload makes the loader print an error in every process,
# so with --root / the library is first loaded into /bin/true. musl's
# loader has no ld.so.preload (it reads LD_PRELOAD only): --global is
# refused there, with the LD_PRELOAD setting to use instead.
set -euo pipefail

usage() {
  [ "${1:-2}" = 0 ] || exec >&2 # asked for: stdout; a wrong call: stderr
  sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"
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

# ---- What fits the root -------------------------------------------------------
# The file a path inside the root names, symbolic links resolved inside the
# root (an image's /bin/sh -> /bin/busybox must not lead to the host's).
resolve_in_root() {
  local root=$2 rest=${1#/} out= comp target n=0
  while [ -n "$rest" ]; do
    comp=${rest%%/*}
    if [ "$comp" = "$rest" ]; then rest=; else rest=${rest#*/}; fi
    case $comp in
      '' | .) continue ;;
      ..) out=${out%/*}; continue ;;
    esac
    if [ -L "$root$out/$comp" ]; then
      n=$((n + 1))
      [ "$n" -le 40 ] || return 1
      target=$(readlink "$root$out/$comp")
      case $target in /*) out= ;; esac
      rest=${target#/}${rest:+/$rest}
    else
      out=$out/$comp
    fi
  done
  printf '%s\n' "$root$out"
}

# `ARCH LIBC` of an ELF file: ARCH from e_machine, LIBC from the C library
# or loader it names (a program's interpreter, a library's NEEDED entry).
elf_platform() {
  local file=$1 arch libc
  [ "$(head -c 4 "$file" 2>/dev/null)" = $'\x7fELF' ] || return 1
  case $(od -An -tu2 -j18 -N2 "$file" | tr -d ' ') in
    62) arch=x86_64 ;;
    183) arch=aarch64 ;;
    *) arch=unknown ;;
  esac
  if LC_ALL=C grep -aqE 'ld-musl-[a-z0-9_]+\.so\.1|libc\.musl-|(^|[^.a-z])libc\.so($|[^.])' "$file"; then
    libc=musl
  elif LC_ALL=C grep -aqE 'ld-linux-[a-z0-9_-]+\.so\.[0-9]|libc\.so\.6' "$file"; then
    libc=glibc
  else
    return 1
  fi
  echo "$arch $libc"
}

# `ARCH LIBC FILE` of the root $1: what its /bin/sh runs on, else its one
# loader. Nothing if neither tells.
root_platform() {
  local sh loader found=() platform
  if sh=$(resolve_in_root /bin/sh "$1") && [ -f "$sh" ] && platform=$(elf_platform "$sh"); then
    echo "$platform /bin/sh"
    return
  fi
  for loader in /lib/ld-musl-x86_64.so.1:"x86_64 musl" /lib/ld-musl-aarch64.so.1:"aarch64 musl" \
    /lib64/ld-linux-x86-64.so.2:"x86_64 glibc" /lib/ld-linux-aarch64.so.1:"aarch64 glibc"; do
    if [ -e "$(resolve_in_root "${loader%%:*}" "$1")" ]; then found+=("${loader#*:} ${loader%%:*}"); fi
  done
  if [ ${#found[@]} -eq 1 ]; then echo "${found[0]}"; fi
}

# ---- Install ----------------------------------------------------------------
read -r want_arch want_libc seen_in < <(root_platform "$root") || true
if [ -z "${want_arch:-}" ] && [ -n "$root" ]; then
  # A root still empty (a stage being prepared): this system's platform.
  read -r want_arch want_libc seen_in < <(root_platform "") || true
  [ -n "${want_arch:-}" ] && seen_in="own /bin/sh: nothing there tells; this system's $seen_in"
fi
if [ -z "${want_arch:-}" ]; then
  echo "install.sh: cannot tell the architecture and C library of ${root:-/}: no dynamically linked /bin/sh and not exactly one loader" >&2
  exit 1
fi
if [ -z "$library" ]; then
  candidates=("$here/../dist/libfaultdump-$want_arch-$want_libc.so")
  [ "$want_arch $want_libc" = "x86_64 glibc" ] && candidates+=("$here/../dist/$name" "$here/../target/release/$name")
  for candidate in "${candidates[@]}"; do
    if [ -f "$candidate" ]; then library=$candidate; break; fi
  done
  [ -n "$library" ] || {
    echo "install.sh: no library for $want_arch $want_libc (${root:-/} has $want_arch $want_libc, from its $seen_in): run scripts/build-release.sh $want_arch-$want_libc, or pass --library FILE" >&2
    exit 1
  }
fi
[ -f "$library" ] || { echo "install.sh: $library: no such file" >&2; exit 1; }
have=$(elf_platform "$library") || have="not a library faultdump builds"
if [ "$have" != "$want_arch $want_libc" ]; then
  echo "install.sh: $library is for $have, but ${root:-/} is $want_arch $want_libc (its $seen_in); not installing" >&2
  exit 1
fi
if [ "$global" = 1 ] && [ "$want_libc" = musl ]; then
  echo "install.sh: musl's loader has no ld.so.preload (it reads only LD_PRELOAD): not installing with --global; install without it and set LD_PRELOAD=${prefix%/}/$name in the image's environment (ENV in a Dockerfile)" >&2
  exit 1
fi
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
