/* Unbounded recursion in a worker thread with a 256 KiB stack: the thread
 * has an alternate signal stack only because the library wraps
 * pthread_create. recurse -> recurse -> ... -> overflow_main -> start_thread. */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>

__attribute__((noinline)) int recurse(volatile char *prev, int depth) {
  volatile char pad[64];
  pad[0] = (char)depth;
  pad[63] = prev ? prev[0] : 0;
  return recurse(pad, depth + 1) + pad[1];
}
__attribute__((noinline)) void *overflow_main(void *arg) {
  pthread_setname_np(pthread_self(), "deep");
  recurse(NULL, 0);
  return arg;
}

int main(void) {
  pthread_attr_t attr;
  pthread_t t;
  pthread_attr_init(&attr);
  pthread_attr_setstacksize(&attr, 256 * 1024);
  pthread_create(&t, &attr, overflow_main, NULL);
  pthread_join(t, NULL);
  printf("not reached\n");
  return 0;
}
