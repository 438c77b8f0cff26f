/* Raises SIGPIPE: survives only if a constructor ignored it
 * (tests/programs/sigpipe_pre.c). */
#include <signal.h>
#include <unistd.h>

int main(void) {
  raise(SIGPIPE);
  write(1, "SIGPIPE ignored\n", 16);
  return 0;
}
