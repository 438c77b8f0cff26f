/* A one-shot (SA_RESETHAND) handler on SIGUSR2, then SIGUSR2 registered
 * with faultdump_register(..., chain = 1) (looked up with dlsym when the
 * library is preloaded), then SIGUSR2 raised twice. The one-shot handler
 * runs on the first delivery only; the second meets the default action
 * and ends the process, as it does without faultdump. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

static volatile sig_atomic_t calls;

static void once(int sig) {
  (void)sig;
  calls++;
}

int main(void) {
  struct sigaction a;
  memset(&a, 0, sizeof a);
  a.sa_handler = once;
  a.sa_flags = SA_RESETHAND;
  sigaction(SIGUSR2, &a, NULL);
  int (*reg)(int, int, int, int) =
      (int (*)(int, int, int, int))dlsym(RTLD_DEFAULT, "faultdump_register");
  printf("registered: %d\n", reg ? reg(SIGUSR2, 2, 0, 1) : -1);
  for (int i = 1; i <= 2; i++) {
    raise(SIGUSR2);
    printf("after raise %d: calls %d\n", i, (int)calls);
    fflush(stdout);
  }
  return 0;
}
