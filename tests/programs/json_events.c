/* Dumps that are not fatal signals, and one with many threads, for the JSON
 * format's tests. The mode is the first argument:
 *   timeout    waits in wait_for_watchdog() until FAULTHANDLER_TIMEOUT's
 *              watchdog ends the process
 *   signal     raise_user_signal() raises SIGUSR1 (FAULTHANDLER_SIGNAL), then
 *              the program carries on and exits 0
 *   api        call_api() calls faultdump_dump_traceback(2, 1), looked up at
 *              run time as a preloaded program would, then exits 0
 *   threads N  starts N threads parked in park_thread(), then main faults
 *              in crash_with_threads() */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
static int started;

__attribute__((noinline)) void wait_for_watchdog(void) {
  for (int i = 0; i < 300; i++) usleep(100000); /* 30 s at most */
  __asm__ volatile("");
}

__attribute__((noinline)) void raise_user_signal(void) {
  raise(SIGUSR1);
  __asm__ volatile("");
}

__attribute__((noinline)) int call_api(void) {
  int (*dump)(int, int) = (int (*)(int, int))dlsym(RTLD_DEFAULT, "faultdump_dump_traceback");
  if (!dump) {
    fprintf(stderr, "faultdump_dump_traceback not found\n");
    return -2;
  }
  int r = dump(2, 1);
  __asm__ volatile("");
  return r;
}

__attribute__((noinline)) void *park_thread(void *arg) {
  (void)arg;
  pthread_mutex_lock(&lock);
  started++;
  pthread_cond_broadcast(&cond);
  for (;;) pthread_cond_wait(&cond, &lock);
  return NULL;
}

__attribute__((noinline)) void crash_with_threads(volatile int *p) {
  *p = 1;
  __asm__ volatile("");
}

int main(int argc, char **argv) {
  const char *mode = argc > 1 ? argv[1] : "";
  if (!strcmp(mode, "timeout")) {
    wait_for_watchdog();
    return 0;
  }
  if (!strcmp(mode, "signal")) {
    raise_user_signal();
    printf("carried on\n");
    return 0;
  }
  if (!strcmp(mode, "api")) {
    int r = call_api();
    printf("api returned %d\n", r);
    return r == 0 ? 0 : 1;
  }
  if (!strcmp(mode, "threads") && argc > 2) {
    int n = atoi(argv[2]);
    for (int i = 0; i < n; i++) {
      pthread_t t;
      pthread_attr_t attr;
      pthread_attr_init(&attr);
      pthread_attr_setstacksize(&attr, 64 * 1024);
      if (pthread_create(&t, &attr, park_thread, NULL) != 0) return 2;
    }
    pthread_mutex_lock(&lock);
    while (started < n) pthread_cond_wait(&cond, &lock);
    pthread_mutex_unlock(&lock);
    crash_with_threads(NULL);
    return 0;
  }
  fprintf(stderr, "usage: json_events timeout|signal|api|threads N\n");
  return 2;
}
