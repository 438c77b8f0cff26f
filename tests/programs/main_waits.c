/* A worker thread dereferences NULL while the main thread waits in a
 * system call that a signal interrupts whatever SA_RESTART says
 * (argv[1]: sleep, poll, pause, epoll, sigsuspend). Without faultdump the
 * process dies of SIGSEGV; if the main thread ever returns from its wait it
 * says so and exits 0 (or 3 on an error): a crash turned into an exit.
 * The worker crashes only once the main thread sleeps in its call. */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

static pid_t main_tid;
static int fds[2];

/* Whether the main thread sleeps in the kernel (state S). */
static int main_sleeps(void) {
  char path[64], buf[512];
  snprintf(path, sizeof path, "/proc/self/task/%d/stat", (int)main_tid);
  FILE *f = fopen(path, "r");
  if (!f) return 0;
  size_t n = fread(buf, 1, sizeof buf - 1, f);
  fclose(f);
  buf[n] = 0;
  char *p = strrchr(buf, ')');
  return p && p[1] == ' ' && p[2] == 'S';
}

__attribute__((noinline)) void worker_crash(void) {
  volatile int *volatile p = NULL;
  *p = 42;
}

__attribute__((noinline)) void *worker_main(void *arg) {
  while (!main_sleeps()) {
    struct timespec ts = {0, 1000 * 1000};
    nanosleep(&ts, NULL);
  }
  struct timespec ts = {0, 20 * 1000 * 1000};
  nanosleep(&ts, NULL);
  worker_crash();
  return arg;
}

static void on_usr1(int sig) { (void)sig; }

int main(int argc, char **argv) {
  const char *mode = argc > 1 ? argv[1] : "sleep";
  main_tid = getpid();
  if (pipe(fds) != 0) return 2;
  /* sigsuspend returns only after a handler ran: give it one to wait for. */
  signal(SIGUSR1, on_usr1);
  pthread_t t;
  pthread_create(&t, NULL, worker_main, NULL);
  int r = 0;
  if (strcmp(mode, "sleep") == 0) {
    unsigned left = sleep(10);
    fprintf(stderr, "main: sleep returned early (%u s left)\n", left);
  } else if (strcmp(mode, "poll") == 0) {
    struct pollfd p = {fds[0], POLLIN, 0};
    r = poll(&p, 1, 10000);
  } else if (strcmp(mode, "pause") == 0) {
    r = pause();
  } else if (strcmp(mode, "epoll") == 0) {
    int ep = epoll_create1(0);
    struct epoll_event ev = {.events = EPOLLIN};
    epoll_ctl(ep, EPOLL_CTL_ADD, fds[0], &ev);
    r = epoll_wait(ep, &ev, 1, 10000);
  } else if (strcmp(mode, "sigsuspend") == 0) {
    sigset_t none;
    sigemptyset(&none);
    r = sigsuspend(&none);
  } else {
    return 2;
  }
  if (r < 0) {
    fprintf(stderr, "main: %s: %s\n", mode, strerror(errno));
    return 3;
  }
  fprintf(stderr, "main: %s returned, exiting 0\n", mode);
  return 0;
}
