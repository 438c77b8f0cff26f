/* argv[1] threads (default 200) wait on a condition variable; then main
 * dereferences NULL. With argv[2] = "exit", main exits 0 instead (for
 * timing the same program without a dump). */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
static atomic_int ready;
static int go;

__attribute__((noinline)) void idle_wait(void) {
  pthread_mutex_lock(&lock);
  atomic_fetch_add(&ready, 1);
  while (!go) pthread_cond_wait(&cond, &lock);
  pthread_mutex_unlock(&lock);
}
__attribute__((noinline)) void *idle_main(void *arg) { idle_wait(); return arg; }

__attribute__((noinline)) void crash_now(void) { *(volatile int *)0 = 1; }

int main(int argc, char **argv) {
  int n = argc > 1 ? atoi(argv[1]) : 200;
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setstacksize(&attr, 64 * 1024);
  for (int i = 0; i < n; i++) {
    pthread_t t;
    if (pthread_create(&t, &attr, idle_main, NULL) != 0) return 2;
  }
  while (atomic_load(&ready) < n) usleep(1000);
  if (argc > 2 && strcmp(argv[2], "exit") == 0) _exit(0);
  crash_now();
  return 0;
}
