/* One million sigaction calls (scripts/bench-sigaction.sh): on SIG, each
 * installing a handler or SIG_DFL in turn and reading back the old action.
 * Usage: sigaction1m SIG [COUNT] */
#include <signal.h>
#include <stdlib.h>
#include <string.h>

static void handler(int sig) { (void)sig; }

int main(int argc, char **argv) {
  int sig = argc > 1 ? atoi(argv[1]) : SIGSEGV;
  long count = argc > 2 ? atol(argv[2]) : 1000000;
  struct sigaction act, old;
  memset(&act, 0, sizeof act);
  sigemptyset(&act.sa_mask);
  long wrong = 0;
  for (long i = 0; i < count; i++) {
    act.sa_handler = (i & 1) ? SIG_DFL : handler;
    if (sigaction(sig, &act, &old) != 0) return 2;
    /* What was installed by the previous call. */
    wrong += i > 0 && old.sa_handler != ((i & 1) ? handler : SIG_DFL);
  }
  return wrong != 0;
}
