/* Threads waiting in the usual places: a sleep, a condition variable, a
 * mutex held by main, a pipe read, and a busy loop. Once all are in place,
 * main either crashes (argv[1] = "fatal") or sends itself SIGUSR1
 * ("signal", registered through FAULTHANDLER_SIGNAL), then lets every
 * thread finish and exits 0. Each thread's own functions come in pairs
 * (X_wait called by X_main) so that a dump must show both, in order.
 * Built -O0 -g: every function keeps its frame. */
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static atomic_int ready;
static atomic_int stop;
static pthread_mutex_t cond_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
static int cond_done;
static pthread_mutex_t held = PTHREAD_MUTEX_INITIALIZER;
static int pipe_fds[2];
static volatile unsigned long spins;

__attribute__((noinline)) void sleeper_wait(void) {
  atomic_fetch_add(&ready, 1);
  while (!atomic_load(&stop)) {
    struct timespec ts = {0, 20 * 1000 * 1000};
    nanosleep(&ts, NULL);
  }
}
__attribute__((noinline)) void *sleeper_main(void *arg) { sleeper_wait(); return arg; }

__attribute__((noinline)) void condvar_wait(void) {
  pthread_mutex_lock(&cond_lock);
  atomic_fetch_add(&ready, 1);
  while (!cond_done) pthread_cond_wait(&cond, &cond_lock);
  pthread_mutex_unlock(&cond_lock);
}
__attribute__((noinline)) void *condvar_main(void *arg) { condvar_wait(); return arg; }

__attribute__((noinline)) void mutex_wait(void) {
  atomic_fetch_add(&ready, 1);
  pthread_mutex_lock(&held);
  pthread_mutex_unlock(&held);
}
__attribute__((noinline)) void *mutex_main(void *arg) { mutex_wait(); return arg; }

__attribute__((noinline)) void pipe_wait(void) {
  char c;
  atomic_fetch_add(&ready, 1);
  while (read(pipe_fds[0], &c, 1) < 0) {}
}
__attribute__((noinline)) void *pipe_main(void *arg) { pipe_wait(); return arg; }

__attribute__((noinline)) void busy_loop(void) {
  atomic_fetch_add(&ready, 1);
  while (!atomic_load(&stop)) spins++;
}
__attribute__((noinline)) void *busy_main(void *arg) { busy_loop(); return arg; }

__attribute__((noinline)) void crash_now(void) { *(volatile int *)0 = 1; }

int main(int argc, char **argv) {
  const char *mode = argc > 1 ? argv[1] : "fatal";
  void *(*mains[])(void *) = {sleeper_main, condvar_main, mutex_main, pipe_main, busy_main};
  const char *names[] = {"sleeper", "condvar", "mutex", "piper", "busy"};
  pthread_t threads[5];
  if (pipe(pipe_fds) != 0) return 2;
  pthread_mutex_lock(&held);
  for (int i = 0; i < 5; i++) {
    pthread_create(&threads[i], NULL, mains[i], NULL);
    pthread_setname_np(threads[i], names[i]);
  }
  while (atomic_load(&ready) < 5) usleep(1000);
  usleep(50 * 1000); /* let each one reach its wait */
  if (strcmp(mode, "fatal") == 0) crash_now();
  kill(getpid(), SIGUSR1);
  printf("after the dump\n");
  fflush(stdout);
  atomic_store(&stop, 1);
  pthread_mutex_lock(&cond_lock);
  cond_done = 1;
  pthread_cond_signal(&cond);
  pthread_mutex_unlock(&cond_lock);
  pthread_mutex_unlock(&held);
  if (write(pipe_fds[1], "x", 1) != 1) return 3;
  for (int i = 0; i < 5; i++) pthread_join(threads[i], NULL);
  printf("all joined\n");
  return 0;
}
