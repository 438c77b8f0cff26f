/* FAULTHANDLER_TIMEOUT across fork: the parent forks after 0.3 s; the child
 * sleeps 1.5 s in child_sleep and exits 0; the parent waits for it and
 * exits 0. With a 0.5 s timeout the parent dumps at 0.5 s, and the child,
 * whose watchdog starts again at the fork, at about 0.8 s. Prints the
 * child's pid. */
#define _GNU_SOURCE
#include <stdio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static void sleep_ms(long ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  while (nanosleep(&ts, &ts) != 0) {}
}
__attribute__((noinline)) void child_sleep(void) { sleep_ms(1500); }
__attribute__((noinline)) void parent_wait(pid_t child) { waitpid(child, NULL, 0); }

int main(void) {
  sleep_ms(300);
  fflush(stdout);
  pid_t child = fork();
  if (child == 0) {
    child_sleep();
    _exit(0);
  }
  printf("child %d\n", (int)child);
  fflush(stdout);
  parent_wait(child);
  return 0;
}
