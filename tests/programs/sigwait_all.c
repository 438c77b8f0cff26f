/* A server in the sigwait style: every signal is blocked in every thread
 * (main blocks them before creating any), and each thread waits in
 * sigwait. No thread can take the park signal; a dump must still show each
 * one's frames (from /proc/self/task/TID/syscall). The dump comes from the
 * watchdog (FAULTHANDLER_TIMEOUT=...:exit). Built -O0 -g: the frame pointer
 * has to be found on the stack. */
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <unistd.h>

static atomic_int ready;

__attribute__((noinline)) void waiter_wait(void) {
  sigset_t set;
  int sig;
  sigemptyset(&set);
  sigaddset(&set, SIGUSR2);
  atomic_fetch_add(&ready, 1);
  sigwait(&set, &sig);
}
__attribute__((noinline)) void *waiter_main(void *arg) { waiter_wait(); return arg; }

__attribute__((noinline)) void main_wait(void) {
  sigset_t set;
  int sig;
  sigemptyset(&set);
  sigaddset(&set, SIGUSR2);
  sigwait(&set, &sig);
}

int main(void) {
  sigset_t all;
  sigfillset(&all);
  pthread_sigmask(SIG_BLOCK, &all, NULL);
  pthread_t t[3];
  for (int i = 0; i < 3; i++) {
    pthread_create(&t[i], NULL, waiter_main, NULL);
    pthread_setname_np(t[i], "waiter");
  }
  while (atomic_load(&ready) < 3) usleep(1000);
  main_wait();
  return 0;
}
