/* Threads asleep in the calls that fail with EINTR when any signal handler
 * runs on their thread, even with SA_RESTART: nanosleep, poll, epoll_wait,
 * select, sigtimedwait and pause. main raises SIGUSR1 on itself
 * (registered through FAULTHANDLER_SIGNAL), waits a little, and prints
 * each thread's count of early returns: a dump the process survives must
 * not interrupt threads that sleep. */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <sys/epoll.h>
#include <sys/select.h>
#include <time.h>
#include <unistd.h>

static int pipe_fds[2];
static int epoll_fd;
static atomic_int interrupted[6];
static atomic_int ready;

#define SLEEPER(NAME, INDEX, CALL)                                   \
  __attribute__((noinline)) void NAME##_sleep(void) {                \
    atomic_fetch_add(&ready, 1);                                     \
    for (;;)                                                         \
      if ((CALL) < 0 && errno == EINTR) atomic_fetch_add(&interrupted[INDEX], 1); \
  }                                                                  \
  __attribute__((noinline)) void *NAME##_main(void *arg) {           \
    NAME##_sleep();                                                  \
    return arg;                                                      \
  }

static struct timespec ten_s = {10, 0};
static struct pollfd pollfd;
static struct epoll_event event;
static long do_select(void) {
  fd_set set;
  struct timeval tv = {10, 0};
  FD_ZERO(&set);
  FD_SET(pipe_fds[0], &set);
  return select(pipe_fds[0] + 1, &set, NULL, NULL, &tv);
}
static long do_sigtimedwait(void) {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGUSR2);
  pthread_sigmask(SIG_BLOCK, &set, NULL);
  return sigtimedwait(&set, NULL, &ten_s);
}

SLEEPER(nano, 0, nanosleep(&ten_s, NULL))
SLEEPER(poll, 1, poll(&pollfd, 1, 10000))
SLEEPER(epoll, 2, epoll_wait(epoll_fd, &event, 1, 10000))
SLEEPER(select, 3, do_select())
SLEEPER(sigwait, 4, do_sigtimedwait())
SLEEPER(pause, 5, pause())

int main(void) {
  void *(*mains[])(void *) = {nano_main, poll_main, epoll_main, select_main, sigwait_main, pause_main};
  const char *names[] = {"nanosleep", "poll", "epoll_wait", "select", "sigtimedwait", "pause"};
  if (pipe(pipe_fds) != 0) return 2;
  pollfd.fd = pipe_fds[0];
  pollfd.events = POLLIN;
  epoll_fd = epoll_create1(0);
  event.events = EPOLLIN;
  epoll_ctl(epoll_fd, EPOLL_CTL_ADD, pipe_fds[0], &event);
  for (int i = 0; i < 6; i++) {
    pthread_t t;
    pthread_create(&t, NULL, mains[i], NULL);
    pthread_setname_np(t, names[i]);
  }
  while (atomic_load(&ready) < 6) usleep(1000);
  usleep(50 * 1000);
  raise(SIGUSR1);
  usleep(100 * 1000);
  for (int i = 0; i < 6; i++) printf("%s %d\n", names[i], atomic_load(&interrupted[i]));
  fflush(stdout);
  _exit(0);
}
