/* A crash at -O2 through calls the compiler inlines: always_inline helpers
 * between noinline functions, so that both the faulting frame and a caller
 * frame hold inlined calls. gdb shows each inlined call as a frame. */
#include <stddef.h>

static volatile int sink;

static inline __attribute__((always_inline)) void store(int *p, int v) {
  sink = v;
  *p = v;
}

static inline __attribute__((always_inline)) void prepare(int *p, int v) {
  store(p, v + 1);
  sink = v;
}

__attribute__((noinline)) void crash_here(int *p, int v) {
  prepare(p, v * 2);
  sink = 0;
}

static inline __attribute__((always_inline)) void forward(int *p) {
  crash_here(p, sink);
  sink = 2;
}

__attribute__((noinline)) void entry_point(int *p) {
  forward(p);
  sink = 1;
}

int main(int argc, char **argv) {
  (void)argv;
  entry_point(argc > 5 ? &argc : NULL);
  return 0;
}
