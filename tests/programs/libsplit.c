/* A shared library whose debug information is moved to a separate file:
 * a crash inside it, through an inlined helper. */
volatile int split_sink;

static inline __attribute__((always_inline)) void split_store(int *p, int v) {
  split_sink = v;
  *p = v;
}

__attribute__((noinline)) void split_crash(int *p) {
  split_store(p, 7);
  split_sink = 0;
}
