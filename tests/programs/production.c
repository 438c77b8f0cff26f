/* A crash as production builds have it, for symbolizing afterwards: at -O2,
 * in a static function (no exported name: a stripped file names it
 * nothing) called back from the C library's qsort, whose own static
 * functions (msort_with_tmp) and __libc_start_call_main are on the stack
 * too, through an inlined helper. */
#include <stdlib.h>

static volatile int sink;

static inline __attribute__((always_inline)) void store(int *p, int v) {
  sink = v;
  *p = v;
}

static __attribute__((noinline)) int compare_records(const void *a, const void *b) {
  store(sink > 100 ? (int *)a : NULL, *(const int *)b);
  return *(const int *)a - *(const int *)b;
}

__attribute__((noinline)) void sort_records(int *v, int n) {
  qsort(v, n, sizeof v[0], compare_records);
  sink = 1;
}

static __attribute__((noinline)) void handle_request(int n) {
  int v[8] = {5, 3, 7, 1, 2, 8, 6, 4};
  sort_records(v, n);
  sink = 2;
}

int main(int argc, char **argv) {
  (void)argv;
  handle_request(argc + 7);
  return 0;
}
