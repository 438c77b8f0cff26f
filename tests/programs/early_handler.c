/* A library whose constructor installs a SIGSEGV handler before
 * libfaultdump's is installed (LD_PRELOAD="libfaultdump.so this.so": the
 * later preload is initialised first). The handler reports what it got and
 * exits with status 42. */
#define _GNU_SOURCE
#include <signal.h>
#include <string.h>
#include <unistd.h>

static void early_handler(int sig, siginfo_t *info, void *uc) {
  (void)sig;
  (void)uc;
  char line[64] = "early handler: si_code ";
  size_t n = strlen(line);
  int code = info->si_code;
  if (code < 0) {
    line[n++] = '-';
    code = -code;
  }
  char digits[12];
  int d = 0;
  do digits[d++] = (char)('0' + code % 10);
  while ((code /= 10) && d < 11);
  while (d) line[n++] = digits[--d];
  line[n++] = '\n';
  if (write(2, line, n) < 0) _exit(43);
  _exit(42);
}

__attribute__((constructor)) static void install_early(void) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = early_handler;
  sa.sa_flags = SA_SIGINFO;
  sigaction(SIGSEGV, &sa, NULL);
}
