/* Threads that install an alternate signal stack of their own, then
 * disable and free it before they end (argv[1] of them, created and joined
 * one after another). Prints the number of mappings before and after:
 * "maps BEFORE AFTER". */
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>

static int count_maps(void) {
  FILE *f = fopen("/proc/self/maps", "r");
  if (!f) return -1;
  int n = 0, c;
  while ((c = fgetc(f)) != EOF) n += c == '\n';
  fclose(f);
  return n;
}

static void *own_altstack(void *arg) {
  stack_t st = {.ss_sp = malloc(SIGSTKSZ), .ss_size = SIGSTKSZ, .ss_flags = 0};
  if (!st.ss_sp || sigaltstack(&st, NULL) != 0) abort();
  stack_t off = {.ss_flags = SS_DISABLE};
  if (sigaltstack(&off, NULL) != 0) abort();
  free(st.ss_sp);
  return arg;
}

int main(int argc, char **argv) {
  int threads = argc > 1 ? atoi(argv[1]) : 2000;
  /* One thread first: the C library's and the allocator's first-thread
   * mappings are then in both counts. */
  pthread_t t;
  pthread_create(&t, NULL, own_altstack, NULL);
  pthread_join(t, NULL);
  int before = count_maps();
  for (int i = 0; i < threads; i++) {
    if (pthread_create(&t, NULL, own_altstack, NULL) != 0) return 2;
    pthread_join(t, NULL);
  }
  printf("maps %d %d\n", before, count_maps());
  return 0;
}
