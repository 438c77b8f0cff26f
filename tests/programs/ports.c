/* The port tests' victim (tests/ports.rs): portable C, built for each
 * target's own C library (arm64 and x86_64, glibc and musl).
 *   `ports MODE`:
 *   segv     main -> crash_outer -> crash_middle -> crash_inner -> do_segv,
 *            a null write
 *   abort    the same chain to do_abort, which calls abort()
 *   thread   three sleeping workers (idle_worker), then crash_worker crashes
 *            through worker_outer -> worker_inner -> do_segv
 *   timeout  main -> wait_outer -> wait_inner, which spins in its own code
 *            (the timeout dumps; not asleep in a system call, where qemu-user
 *            shows its own state and musl's libc stops the walk)
 * Every function of a chain is exported and kept as its own frame. */
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define KEEP __attribute__((noipa, used))
#define NOT_TAIL() __asm__ volatile("" ::: "memory")

volatile int sink;

KEEP void do_segv(void) {
  *(volatile int *)NULL = 42;
  NOT_TAIL();
}

KEEP void do_abort(void) {
  abort();
}

static void (*action)(void);

KEEP void crash_inner(void) {
  action();
  NOT_TAIL();
}
KEEP void crash_middle(void) {
  crash_inner();
  NOT_TAIL();
}
KEEP void crash_outer(void) {
  crash_middle();
  NOT_TAIL();
}

static void sleep_ms(long ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

KEEP void *idle_worker(void *arg) {
  for (;;) sleep_ms(1000);
  return arg;
}

KEEP void worker_inner(void) {
  sleep_ms(100);
  do_segv();
  NOT_TAIL();
}
KEEP void worker_outer(void) {
  worker_inner();
  NOT_TAIL();
}
KEEP void *crash_worker(void *arg) {
  worker_outer();
  return arg;
}

KEEP void wait_inner(void) {
  for (;;) sink++;
}
KEEP void wait_outer(void) {
  wait_inner();
  NOT_TAIL();
}

int main(int argc, char **argv) {
  const char *mode = argc > 1 ? argv[1] : "segv";
  setvbuf(stdout, NULL, _IONBF, 0);
  if (!strcmp(mode, "segv") || !strcmp(mode, "abort")) {
    action = !strcmp(mode, "segv") ? do_segv : do_abort;
    crash_outer();
  } else if (!strcmp(mode, "thread")) {
    pthread_t t;
    for (int i = 0; i < 3; i++) pthread_create(&t, NULL, idle_worker, NULL);
    pthread_create(&t, NULL, crash_worker, NULL);
    pthread_join(t, NULL);
  } else if (!strcmp(mode, "timeout")) {
    wait_outer();
  } else {
    fprintf(stderr, "unknown mode %s\n", mode);
    return 2;
  }
  printf("not reached\n");
  return 0;
}
