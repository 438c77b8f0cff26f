/* Threads stopped for a dump when real-time signals are scarce (issue 22):
 *   full        RLIMIT_SIGPENDING at 0 (the queue is full for every
 *               signal with data), three threads computing, then a crash
 *   owned       a handler on every real-time signal, three threads
 *               computing and one queueing signals to the process, then
 *               a crash
 *   owned-user  the same, with three SIGUSR1 dumps (FAULTHANDLER_SIGNAL)
 *               instead of a crash; then every signal queued is counted
 *               as delivered: prints "sent N delivered N" and exits 0 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

static volatile long spin;
static atomic_int computing;
static atomic_long delivered, sent;
static atomic_int stop_sending;

__attribute__((noinline)) void compute_forever(void) {
  atomic_fetch_add(&computing, 1);
  for (;;)
    spin++;
}

static void *worker(void *arg) {
  (void)arg;
  compute_forever();
  return 0;
}

static void on_rt(int sig, siginfo_t *info, void *uc) {
  (void)sig, (void)info, (void)uc;
  atomic_fetch_add(&delivered, 1);
}

__attribute__((noinline)) void queue_signals(void) {
  int n = 0;
  while (!atomic_load(&stop_sending)) {
    int sig = SIGRTMIN + n % (SIGRTMAX - SIGRTMIN + 1);
    union sigval v = {.sival_int = n};
    if (sigqueue(getpid(), sig, v) == 0) {
      atomic_fetch_add(&sent, 1);
      n++;
    }
    if (n % 64 == 0)
      usleep(100);
  }
}

static void *sender(void *arg) {
  (void)arg;
  queue_signals();
  return 0;
}

static void crash(char **argv) {
  *(volatile int *)(argv[0][0] == 0 ? (void *)argv : 0) = 1;
}

int main(int argc, char **argv) {
  const char *mode = argc > 1 ? argv[1] : "";
  int own = !strcmp(mode, "owned") || !strcmp(mode, "owned-user");
  if (!strcmp(mode, "full")) {
    struct rlimit r;
    getrlimit(RLIMIT_SIGPENDING, &r);
    r.rlim_cur = 0;
    if (setrlimit(RLIMIT_SIGPENDING, &r) != 0) {
      perror("setrlimit");
      return 2;
    }
  } else if (own) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_rt;
    sa.sa_flags = SA_SIGINFO | SA_RESTART;
    for (int s = SIGRTMIN; s <= SIGRTMAX; s++)
      if (sigaction(s, &sa, 0) != 0) {
        perror("sigaction");
        return 2;
      }
  } else {
    fprintf(stderr, "usage: signal_queue full|owned|owned-user\n");
    return 2;
  }
  pthread_t t;
  for (int i = 0; i < 3; i++)
    pthread_create(&t, 0, worker, 0);
  pthread_t s;
  if (own)
    pthread_create(&s, 0, sender, 0);
  while (atomic_load(&computing) < 3)
    ;
  if (strcmp(mode, "owned-user") != 0) {
    usleep(20000);
    crash(argv);
    return 3;
  }
  for (int i = 0; i < 3; i++) {
    usleep(20000);
    raise(SIGUSR1);
  }
  atomic_store(&stop_sending, 1);
  pthread_join(s, 0);
  for (int i = 0; i < 500 && atomic_load(&delivered) < atomic_load(&sent); i++)
    usleep(10000);
  printf("sent %ld delivered %ld\n", atomic_load(&sent), atomic_load(&delivered));
  fflush(stdout);
  _exit(0);
}
