/* A pthread_create preloaded after faultdump, as ASan's interceptor is:
 * from its own frame it walks the frame-pointer chain up (as ASan's fast
 * unwinder and perf --call-graph fp do) and prints, on one line to stderr,
 * `fp chain: NAME NAME ...` (dladdr's names of the return addresses, `?`
 * where it has none), then creates the thread with the next
 * pthread_create. With FPWALK_SPIN set, it first spins in spin_in_create
 * for 300 ms of CPU, for a profiler's samples to land there (perf record
 * --call-graph fp). Built -O1 -fno-omit-frame-pointer. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

__attribute__((noinline)) void spin_in_create(void) {
  struct timespec start, now;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &start);
  do {
    for (volatile int i = 0; i < 10000; i++) {
    }
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &now);
  } while ((now.tv_sec - start.tv_sec) * 1000000000L + (now.tv_nsec - start.tv_nsec) < 300000000L);
  __asm__ volatile("" ::: "memory");
}

typedef int (*create_fn)(pthread_t *, const pthread_attr_t *, void *(*)(void *), void *);

__attribute__((noinline)) int pthread_create(pthread_t *t, const pthread_attr_t *attr,
                                             void *(*routine)(void *), void *arg) {
  create_fn next = (create_fn)dlsym(RTLD_NEXT, "pthread_create");
  char line[1024];
  int len = snprintf(line, sizeof line, "fp chain:");
  void **fp = __builtin_frame_address(0);
  for (int depth = 0; fp && depth < 8 && len < (int)sizeof line - 64; depth++) {
    Dl_info info;
    void *ret = fp[1];
    const char *name = dladdr(ret, &info) && info.dli_sname ? info.dli_sname : "?";
    len += snprintf(line + len, sizeof line - len, " %s", name);
    void **up = fp[0];
    if (up <= fp || (char *)up - (char *)fp > (1 << 20)) break;
    fp = up;
  }
  fprintf(stderr, "%s\n", line);
  if (getenv("FPWALK_SPIN")) spin_in_create();
  return next(t, attr, routine, arg);
}
