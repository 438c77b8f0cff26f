/* Threads that cannot answer the park signal: one blocks every signal and
 * spins in user code (never in a system call); with argv[1] = "traced",
 * another spins while a child process holds it in a ptrace stop. A third
 * sleeps normally. main then sends itself SIGUSR1 (registered through
 * FAULTHANDLER_SIGNAL), prints how long the dump took, and exits 0. */
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static atomic_int ready;
static atomic_int stop;
static atomic_int traced_tid;
static volatile unsigned long spins;

__attribute__((noinline)) void deaf_spin(void) {
  sigset_t all;
  sigfillset(&all);
  pthread_sigmask(SIG_BLOCK, &all, NULL);
  atomic_fetch_add(&ready, 1);
  while (!atomic_load(&stop)) spins++;
}
__attribute__((noinline)) void *deaf_main(void *arg) { deaf_spin(); return arg; }

__attribute__((noinline)) void traced_spin(void) {
  atomic_store(&traced_tid, (int)syscall(SYS_gettid));
  atomic_fetch_add(&ready, 1);
  while (!atomic_load(&stop)) spins++;
}
__attribute__((noinline)) void *traced_main(void *arg) { traced_spin(); return arg; }

__attribute__((noinline)) void sleeper_wait(void) {
  atomic_fetch_add(&ready, 1);
  while (!atomic_load(&stop)) usleep(10000);
}
__attribute__((noinline)) void *sleeper_main(void *arg) { sleeper_wait(); return arg; }

int main(int argc, char **argv) {
  int traced = argc > 1 && strcmp(argv[1], "traced") == 0;
  pthread_t t[3];
  int n = 0;
  pthread_create(&t[n], NULL, deaf_main, NULL);
  pthread_setname_np(t[n++], "deaf");
  pthread_create(&t[n], NULL, sleeper_main, NULL);
  pthread_setname_np(t[n++], "sleeper");
  if (traced) {
    pthread_create(&t[n], NULL, traced_main, NULL);
    pthread_setname_np(t[n++], "traced");
  }
  while (atomic_load(&ready) < n) usleep(1000);
  pid_t tracer = -1;
  int to_parent[2];
  if (traced) {
    prctl(PR_SET_PTRACER, PR_SET_PTRACER_ANY, 0, 0, 0);
    if (pipe(to_parent) != 0) return 2;
    tracer = fork();
    if (tracer == 0) {
      int tid = atomic_load(&traced_tid);
      char ok = 'n';
      if (ptrace(PTRACE_SEIZE, tid, 0, 0) == 0 && ptrace(PTRACE_INTERRUPT, tid, 0, 0) == 0) {
        int status;
        if (waitpid(tid, &status, __WALL) == tid) ok = 'y';
      }
      if (write(to_parent[1], &ok, 1) != 1) _exit(3);
      pause(); /* killed by the parent; the tracee is released */
      _exit(0);
    }
    char ok;
    if (read(to_parent[0], &ok, 1) != 1 || ok != 'y') {
      printf("ptrace unavailable\n");
      fflush(stdout);
      kill(tracer, SIGKILL);
      waitpid(tracer, NULL, 0);
      tracer = -1;
    }
  }
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  kill(getpid(), SIGUSR1);
  clock_gettime(CLOCK_MONOTONIC, &t1);
  printf("dump took %ld ms\n", (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000);
  printf("after the dump\n");
  fflush(stdout);
  if (tracer > 0) {
    kill(tracer, SIGKILL);
    waitpid(tracer, NULL, 0);
  }
  atomic_store(&stop, 1);
  for (int i = 0; i < n; i++) pthread_join(t[i], NULL);
  return 0;
}
