# Sourced by the release builds' linkers (scripts/zig-link.sh,
# scripts/musl-link.sh) with the linker's arguments as its own: drops the
# -lpthread, -ldl, -lrt, -lutil and -lgcc_s that Rust's standard library
# asks for (each linker says why it does without them).
n=$#
i=0
while [ "$i" -lt "$n" ]; do
  arg=$1
  shift
  i=$((i + 1))
  case $arg in
    -lpthread | -ldl | -lrt | -lutil | -lgcc_s) ;;
    *) set -- "$@" "$arg" ;;
  esac
done
