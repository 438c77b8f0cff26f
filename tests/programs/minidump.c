/* Crashes for the minidump tests: `minidump MODE`.
 *   crash       three named waiting threads (sleep, condition variable,
 *               read of a pipe), then a null write through
 *               crash_inner <- crash_middle <- crash_outer <- main;
 *   hundred     the same with 99 waiting threads (100 in all);
 *   in-handler  the null write inside a SIGUSR1 handler
 *               (on_usr1 -> crash_inner ...);
 *   overflow    unbounded recursion (recurse) on the main thread;
 *   hang        three waiting threads, then main sleeps (for timeouts);
 *   simd        a thread "simd" computing with SIMD_MARK in its vector
 *               register 7 (xmm7, v7) when main crashes as in `crash`.
 * Every function of a chain is exported and kept as its own frame. */
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define KEEP __attribute__((noipa, used))
#define NOT_TAIL() __asm__ volatile("" ::: "memory")

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
static pthread_barrier_t started;
static int pipe_fds[2];
static volatile int *volatile target;

KEEP void sleeper_wait(void) {
  for (;;) sleep(1000);
  NOT_TAIL();
}
KEEP void *sleeper_main(void *arg) {
  (void)arg;
  pthread_barrier_wait(&started);
  sleeper_wait();
  return NULL;
}
KEEP void condvar_wait(void) {
  pthread_mutex_lock(&lock);
  for (;;) pthread_cond_wait(&cond, &lock);
  NOT_TAIL();
}
KEEP void *condvar_main(void *arg) {
  (void)arg;
  pthread_barrier_wait(&started);
  condvar_wait();
  return NULL;
}
KEEP void reader_wait(void) {
  char c;
  for (;;) (void)!read(pipe_fds[0], &c, 1);
  NOT_TAIL();
}
KEEP void *reader_main(void *arg) {
  (void)arg;
  pthread_barrier_wait(&started);
  reader_wait();
  return NULL;
}

static void start_waiters(int count) {
  void *(*mains[3])(void *) = {sleeper_main, condvar_main, reader_main};
  const char *names[3] = {"sleeper", "condvar", "reader"};
  if (pipe(pipe_fds) != 0) exit(3);
  pthread_barrier_init(&started, NULL, count + 1);
  for (int i = 0; i < count; i++) {
    pthread_t t;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, 256 * 1024);
    if (pthread_create(&t, &attr, mains[i % 3], NULL) != 0) exit(3);
    pthread_setname_np(t, names[i % 3]);
  }
  pthread_barrier_wait(&started);
  /* Let them reach their system calls. */
  usleep(100 * 1000);
}

/* What the computing thread keeps in its vector register 7. */
#define SIMD_MARK 0x4d4152434b455237ULL
static pthread_barrier_t simd_started;

KEEP void *simd_main(void *arg) {
  (void)arg;
  pthread_barrier_wait(&simd_started);
  for (;;) {
#if defined(__x86_64__)
    __asm__ volatile("movq %0, %%xmm7" ::"r"(SIMD_MARK) : "xmm7");
#elif defined(__aarch64__)
    __asm__ volatile("fmov d7, %0" ::"r"(SIMD_MARK) : "v7");
#endif
  }
  return NULL;
}

static void start_simd(void) {
  pthread_t t;
  pthread_barrier_init(&simd_started, NULL, 2);
  if (pthread_create(&t, NULL, simd_main, NULL) != 0) exit(3);
  pthread_setname_np(t, "simd");
  pthread_barrier_wait(&simd_started);
  usleep(50 * 1000);
}

KEEP void crash_inner(void) {
  *target = 42;
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

KEEP void on_usr1(int sig) {
  (void)sig;
  crash_inner();
  NOT_TAIL();
}

KEEP int recurse(int depth) {
  volatile char pad[256];
  pad[0] = (char)depth;
  return recurse(depth + 1) + pad[0];
}

int main(int argc, char **argv) {
  if (argc < 2) return 2;
  const char *mode = argv[1];
  if (strcmp(mode, "crash") == 0) {
    start_waiters(3);
    crash_outer();
  } else if (strcmp(mode, "hundred") == 0) {
    start_waiters(99);
    crash_outer();
  } else if (strcmp(mode, "in-handler") == 0) {
    start_waiters(3);
    signal(SIGUSR1, on_usr1);
    raise(SIGUSR1);
  } else if (strcmp(mode, "overflow") == 0) {
    return recurse(0);
  } else if (strcmp(mode, "simd") == 0) {
    start_simd();
    crash_outer();
  } else if (strcmp(mode, "hang") == 0) {
    start_waiters(3);
    for (;;) sleep(1000);
  } else {
    return 2;
  }
  fprintf(stderr, "the fault did not happen\n");
  return 1;
}
