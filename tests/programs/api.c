/* Every function of include/faultdump.h. Dumps go to the file argv[1];
 * results go to stdout as "name: value" lines; the last step is a fatal
 * dump after faultdump_enable(fd, 0), so the process dies of SIGSEGV.
 * Built twice: linked with -lfaultdump, and with -DUSE_DLSYM, finding the
 * functions at run time in the preloaded library. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <dirent.h>

#ifdef USE_DLSYM
#define F(ret, name, args) static ret(*name) args;
F(int, faultdump_enable, (int, int))
F(int, faultdump_disable, (void))
F(int, faultdump_is_enabled, (void))
F(int, faultdump_dump_traceback, (int, int))
F(int, faultdump_dump_traceback_later, (double, int, int, int))
F(int, faultdump_cancel_dump_traceback_later, (void))
F(int, faultdump_register, (int, int, int, int))
F(int, faultdump_unregister, (int))
#define LOOKUP(name)                                  \
  do {                                                \
    *(void **)&name = dlsym(RTLD_DEFAULT, #name);     \
    if (!name) {                                      \
      printf("missing %s\n", #name);                  \
      return 2;                                       \
    }                                                 \
  } while (0)
#else
#include <faultdump.h>
#endif

static const char *path;
static int fd;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
static atomic_int helper_ready;
static volatile sig_atomic_t own_handler_calls;

__attribute__((noinline)) void helper_wait(void) {
  pthread_mutex_lock(&lock);
  atomic_store(&helper_ready, 1);
  for (;;) pthread_cond_wait(&cond, &lock);
}
__attribute__((noinline)) void *helper_main(void *arg) { helper_wait(); return arg; }

static void check(const char *what, int got, int want_ret, int want_errno) {
  int ok = got == want_ret && (want_ret != -1 || errno == want_errno);
  printf("%s: %s (%d, errno %d)\n", what, ok ? "ok" : "WRONG", got, got == -1 ? errno : 0);
}

static void sleep_ms(long ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {}
}

static int count_in_file(const char *needle) {
  FILE *f = fopen(path, "r");
  char line[4096];
  int n = 0;
  if (!f) return -1;
  while (fgets(line, sizeof line, f)) n += strstr(line, needle) == line;
  fclose(f);
  return n;
}

static int tasks(void) {
  DIR *d = opendir("/proc/self/task");
  struct dirent *e;
  int n = 0;
  while ((e = readdir(d))) n += e->d_name[0] != '.';
  closedir(d);
  return n;
}

static void own_handler(int sig) { (void)sig; own_handler_calls++; }

__attribute__((noinline)) int api_dump_all(void) { return faultdump_dump_traceback(fd, 1); }
__attribute__((noinline)) int api_dump_one(void) { return faultdump_dump_traceback(fd, 0); }
__attribute__((noinline)) void raise_usr1(void) { raise(SIGUSR1); }
__attribute__((noinline)) void crash_now(void) { *(volatile int *)0 = 1; }

int main(int argc, char **argv) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  if (argc < 2) return 2;
#ifdef USE_DLSYM
  LOOKUP(faultdump_enable);
  LOOKUP(faultdump_disable);
  LOOKUP(faultdump_is_enabled);
  LOOKUP(faultdump_dump_traceback);
  LOOKUP(faultdump_dump_traceback_later);
  LOOKUP(faultdump_cancel_dump_traceback_later);
  LOOKUP(faultdump_register);
  LOOKUP(faultdump_unregister);
#endif
  path = argv[1];
  fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND, 0600);
  if (fd < 0) return 2;

  check("is_enabled at start", faultdump_is_enabled(), 1, 0);
  check("enable bad fd", faultdump_enable(-1, 1), -1, EINVAL);
  check("enable closed fd", faultdump_enable(999, 1), -1, EBADF);
  check("dump bad fd", faultdump_dump_traceback(-1, 1), -1, EINVAL);
  check("later zero", faultdump_dump_traceback_later(0, 0, fd, 0), -1, EINVAL);
  check("later negative", faultdump_dump_traceback_later(-1, 0, fd, 0), -1, EINVAL);
  check("later nan", faultdump_dump_traceback_later(NAN, 0, fd, 0), -1, EINVAL);
  check("later huge", faultdump_dump_traceback_later(1e12, 0, fd, 0), -1, EINVAL);
  check("later bad fd", faultdump_dump_traceback_later(1, 0, -1, 0), -1, EINVAL);
  check("register SIGSEGV", faultdump_register(SIGSEGV, fd, 1, 0), -1, EINVAL);
  check("register SIGKILL", faultdump_register(SIGKILL, fd, 1, 0), -1, EINVAL);
  check("register 0", faultdump_register(0, fd, 1, 0), -1, EINVAL);
  check("register 65", faultdump_register(65, fd, 1, 0), -1, EINVAL);
  check("register 32", faultdump_register(32, fd, 1, 0), -1, EINVAL);
  check("register bad fd", faultdump_register(SIGUSR1, -5, 1, 0), -1, EINVAL);
  check("unregister SIGSEGV", faultdump_unregister(SIGSEGV), -1, EINVAL);
  check("unregister unregistered", faultdump_unregister(SIGUSR2), 0, 0);

  pthread_t helper;
  pthread_create(&helper, NULL, helper_main, NULL);
  pthread_setname_np(helper, "helper");
  while (!atomic_load(&helper_ready)) sleep_ms(1);
  sleep_ms(20);

  check("dump all", api_dump_all(), 0, 0);   /* dump 1 */
  check("dump one", api_dump_one(), 0, 0);   /* dump 2 */

  check("register SIGUSR1", faultdump_register(SIGUSR1, fd, 1, 0), 0, 0);
  raise_usr1();                               /* dump 3 */
  check("unregister SIGUSR1", faultdump_unregister(SIGUSR1), 1, 0);
  check("unregister SIGUSR1 again", faultdump_unregister(SIGUSR1), 0, 0);

  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = own_handler;
  sigaction(SIGUSR2, &sa, NULL);
  check("register SIGUSR2 chained", faultdump_register(SIGUSR2, fd, 0, 1), 0, 0);
  raise(SIGUSR2);                             /* dump 4, then own_handler */
  printf("own handler calls: %d\n", (int)own_handler_calls);
  check("unregister SIGUSR2", faultdump_unregister(SIGUSR2), 1, 0);
  raise(SIGUSR2);                             /* own_handler only */
  printf("own handler calls: %d\n", (int)own_handler_calls);

  int before = tasks();
  check("later", faultdump_dump_traceback_later(0.2, 0, fd, 0), 0, 0);
  printf("watchdog started: %d\n", tasks() == before + 1);
  for (int i = 0; i < 500 && count_in_file("Timeout (") < 1; i++) sleep_ms(10); /* dump 5 */
  printf("timeouts: %d\n", count_in_file("Timeout ("));

  check("later again", faultdump_dump_traceback_later(0.3, 0, fd, 0), 0, 0);
  check("cancel", faultdump_cancel_dump_traceback_later(), 0, 0);
  printf("watchdog ended: %d\n", tasks() == before);
  sleep_ms(500);
  printf("timeouts after cancel: %d\n", count_in_file("Timeout ("));

  check("later repeat", faultdump_dump_traceback_later(0.05, 1, fd, 0), 0, 0);
  for (int i = 0; i < 500 && count_in_file("Timeout (") < 3; i++) sleep_ms(10);
  check("cancel repeat", faultdump_cancel_dump_traceback_later(), 0, 0);
  printf("timeouts with repeat: %d\n", count_in_file("Timeout ("));

  check("disable", faultdump_disable(), 0, 0);
  check("is_enabled after disable", faultdump_is_enabled(), 0, 0);
  check("enable", faultdump_enable(fd, 0), 0, 0);
  check("is_enabled after enable", faultdump_is_enabled(), 1, 0);
  printf("crashing\n");
  crash_now();                                /* last dump: one thread */
  return 0;
}
