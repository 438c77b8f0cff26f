/* A library whose constructor ignores SIGPIPE, as many do, preloaded before
 * faultdump so that its constructor runs first: its signal() call reaches
 * faultdump's interposed signal() before faultdump's own start-up has
 * run (tests/ports.rs, musl). */
#include <signal.h>
#include <unistd.h>

__attribute__((constructor)) static void ignore_sigpipe(void) {
  if (signal(SIGPIPE, SIG_IGN) == SIG_ERR)
    write(1, "pre: signal() failed\n", 21);
  else
    write(1, "pre: signal() worked\n", 21);
}
