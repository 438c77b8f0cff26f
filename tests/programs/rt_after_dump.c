/* After a dump (SIGUSR1, registered through FAULTHANDLER_SIGNAL), which
 * installed the library's park signal (the highest free real-time signal),
 * the program sends itself that signal: it must end the process as it
 * would have without the library. A sleeping thread makes the dump park
 * something. */
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <unistd.h>

static void *idle(void *arg) {
  for (;;) pause();
  return arg;
}

int main(void) {
  pthread_t t;
  pthread_create(&t, NULL, idle, NULL);
  usleep(20 * 1000);
  kill(getpid(), SIGUSR1);
  printf("after the dump\n");
  fflush(stdout);
  kill(getpid(), SIGRTMAX);
  sleep(5);
  printf("not reached\n");
  return 0;
}
