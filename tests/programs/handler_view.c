/* What a program sees of the signals faultdump handles (tests/runtimes.rs).
 *
 *   handler_view view        every disposition call of the C library on
 *                            SIGSEGV, SIGABRT, SIGUSR1 and SIGRTMAX, with
 *                            what each returns (compared with and without
 *                            the library: the output must be identical),
 *                            one-shot (SA_RESETHAND) handlers after firing
 *   handler_view recover     installs a SIGSEGV handler (printing the old
 *                            one), recovers from 1000 faults with
 *                            siglongjmp, exits 0
 *   handler_view dfl-crash   installs a handler, sets SIG_DFL back, faults
 *   handler_view concurrent  four threads and a signal handler install
 *                            SIGSEGV handlers at once; then the last one
 *                            installed must be what runs, and SIG_DFL back
 *                            must be the default (a fault then kills)
 *   handler_view api         registers SIGUSR1 with faultdump_register,
 *                            installs its own handler on it: its own runs
 *   handler_view park        after a dump that parked a thread, the
 *                            real-time signal used looks untouched, and a
 *                            handler installed on it is what runs
 *   handler_view plain-call  reads the kernel's SIGSEGV handler with the
 *                            raw system call (faultdump's, if preloaded)
 *                            and calls it as void (*)(int) and with
 *                            made-up siginfo and ucontext pointers, then
 *                            aborts
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

/* Exported by glibc, declared by its headers only for old standards. */
extern __sighandler_t bsd_signal(int, __sighandler_t);

#pragma GCC diagnostic ignored "-Wdeprecated-declarations"

static void h(int s) { (void)s; }
static void h2(int s) { (void)s; }

static const char *name(void (*f)(int)) {
  if (f == SIG_DFL) return "SIG_DFL";
  if (f == SIG_IGN) return "SIG_IGN";
  if (f == SIG_HOLD) return "SIG_HOLD";
  if (f == SIG_ERR) return "SIG_ERR";
  if (f == h) return "h";
  if (f == h2) return "h2";
  return "OTHER";
}

static void show(const char *what, int sig) {
  struct sigaction a;
  memset(&a, 0, sizeof a);
  int r = sigaction(sig, NULL, &a);
  printf("%-18s sig %2d: rc %d handler %s flags %#x mask %#lx\n", what, sig, r,
         name(a.sa_handler), (unsigned)a.sa_flags,
         ((unsigned long *)&a.sa_mask)[0]);
}

static void view(void) {
  int sigs[] = {SIGSEGV, SIGABRT, SIGUSR1, SIGRTMAX};
  for (int i = 0; i < 4; i++) {
    int s = sigs[i];
    show("start", s);
    printf("signal -> %s\n", name(signal(s, h)));
    show("signal", s);
    printf("sysv_signal -> %s\n", name(sysv_signal(s, SIG_IGN)));
    show("sysv_signal", s);
    printf("bsd_signal -> %s\n", name(bsd_signal(s, h2)));
    printf("sigset hold -> %s\n", name(sigset(s, SIG_HOLD)));
    printf("sigset dfl -> %s\n", name(sigset(s, SIG_DFL)));
    show("sigset", s);
    printf("siginterrupt -> %d\n", siginterrupt(s, 1));
    printf("signal -> %s\n", name(signal(s, h)));
    show("after siginterrupt", s);
    siginterrupt(s, 0);
    printf("sigignore -> %d\n", sigignore(s));
    show("sigignore", s);
    struct sigaction a, old;
    memset(&a, 0, sizeof a);
    a.sa_handler = SIG_DFL;
    a.sa_flags = SA_NODEFER;
    sigaddset(&a.sa_mask, SIGINT);
    memset(&old, 0, sizeof old);
    printf("sigaction -> %d old %s\n", sigaction(s, &a, &old), name(old.sa_handler));
    show("sigaction dfl", s);
  }
  /* A one-shot handler that has run: the kernel reset it to SIG_DFL, and
   * the old action of the next call says so (issue 17, item 6). */
  for (int i = 0; i < 4; i++) {
    int s = sigs[i];
    struct sigaction a, old;
    memset(&a, 0, sizeof a);
    a.sa_handler = h;
    a.sa_flags = SA_RESETHAND;
    sigaction(s, &a, NULL);
    raise(s);
    memset(&old, 0, sizeof old);
    a.sa_handler = h2;
    a.sa_flags = 0;
    int r = sigaction(s, &a, &old);
    printf("one-shot fired, sigaction -> %d old %s flags %#x\n", r, name(old.sa_handler),
           (unsigned)old.sa_flags);
    a.sa_handler = h;
    a.sa_flags = SA_RESETHAND;
    sigaction(s, &a, NULL);
    raise(s);
    printf("one-shot fired, signal -> %s\n", name(signal(s, SIG_DFL)));
    show("after one-shot", s);
  }
  int bad[] = {0, -1, 65, SIGKILL, SIGSTOP, 32, 33};
  for (int i = 0; i < 7; i++) {
    struct sigaction a;
    memset(&a, 0, sizeof a);
    a.sa_handler = h;
    errno = 0;
    int r = sigaction(bad[i], &a, NULL);
    int e = errno;
    errno = 0;
    void (*f)(int) = signal(bad[i], h);
    int e2 = errno;
    printf("bad %d: sigaction %d errno %d, signal %s errno %d\n", bad[i], r, e, name(f), e2);
  }
  errno = 0;
  void (*f)(int) = signal(SIGUSR2, SIG_ERR);
  printf("signal SIG_ERR: %s errno %d\n", name(f), errno);
}

static sigjmp_buf jump;
static volatile sig_atomic_t faults;

static void recover(int sig) {
  (void)sig;
  faults++;
  siglongjmp(jump, 1);
}

static void fault(void) { *(volatile int *)(uintptr_t)16 = 1; }

static void do_recover(void) {
  struct sigaction a, old;
  memset(&a, 0, sizeof a);
  a.sa_handler = recover;
  sigemptyset(&a.sa_mask);
  sigaction(SIGSEGV, &a, &old);
  printf("old handler %s\n", name(old.sa_handler));
  for (int i = 0; i < 1000; i++)
    if (!sigsetjmp(jump, 1)) fault();
  printf("recovered %d\n", (int)faults);
}

static void *installer(void *arg) {
  void (*f)(int) = (long)arg & 1 ? h : SIG_DFL;
  for (int i = 0; i < 20000; i++) {
    struct sigaction a;
    memset(&a, 0, sizeof a);
    a.sa_handler = (i & 1) ? f : h2;
    sigaction(SIGSEGV, &a, NULL);
  }
  return NULL;
}

static void install_in_handler(int sig) {
  (void)sig;
  signal(SIGSEGV, SIG_DFL);
  signal(SIGSEGV, h);
}

static void do_concurrent(void) {
  signal(SIGUSR2, install_in_handler);
  pthread_t t[4];
  for (long i = 0; i < 4; i++) pthread_create(&t[i], NULL, installer, (void *)i);
  for (int i = 0; i < 2000; i++) raise(SIGUSR2);
  for (int i = 0; i < 4; i++) pthread_join(t[i], NULL);
  struct sigaction a, old;
  memset(&a, 0, sizeof a);
  a.sa_handler = recover;
  sigaction(SIGSEGV, &a, &old);
  struct sigaction now;
  sigaction(SIGSEGV, NULL, &now);
  printf("last installed runs: %s\n", now.sa_handler == recover ? "yes" : "no");
  if (!sigsetjmp(jump, 1)) fault();
  printf("recovered %d\n", (int)faults);
  signal(SIGSEGV, SIG_DFL);
  fflush(stdout);
  fault();
}

static volatile sig_atomic_t own;
static void own_handler(int sig) { (void)sig; own++; }

static void do_api(void) {
  int (*reg)(int, int, int, int) = (int (*)(int, int, int, int))dlsym(RTLD_DEFAULT, "faultdump_register");
  if (!reg) {
    printf("no faultdump\n");
    return;
  }
  printf("register -> %d\n", reg(SIGUSR1, 2, 1, 0));
  show("registered", SIGUSR1);
  signal(SIGUSR1, own_handler);
  raise(SIGUSR1);
  printf("own handler ran %d\n", (int)own);
  signal(SIGUSR1, SIG_DFL);
  fflush(stdout);
  raise(SIGUSR1);
  printf("survived the registered dump\n");
}

static volatile int spin;
static void *spinner(void *arg) {
  (void)arg;
  for (;;) spin++;
  return NULL;
}

static void do_park(void) {
  int (*dump)(int, int) = (int (*)(int, int))dlsym(RTLD_DEFAULT, "faultdump_dump_traceback");
  if (!dump) {
    printf("no faultdump\n");
    return;
  }
  pthread_t t;
  /* A thread running code, so that the dump parks it with a signal. */
  pthread_create(&t, NULL, spinner, NULL);
  usleep(50000);
  dump(2, 1);
  for (int s = SIGRTMIN; s <= SIGRTMAX; s++) {
    struct sigaction a;
    sigaction(s, NULL, &a);
    if (a.sa_handler != SIG_DFL) printf("signal %d shows %s\n", s, name(a.sa_handler));
  }
  signal(SIGRTMAX, own_handler);
  raise(SIGRTMAX);
  printf("own handler on SIGRTMAX ran %d\n", (int)own);
  dump(2, 1);
  printf("second dump done\n");
}

/* The kernel's struct sigaction on x86_64. */
struct kernel_sigaction {
  void *handler;
  unsigned long flags;
  void *restorer;
  unsigned long mask;
};

static void do_plain_call(void) {
  struct kernel_sigaction k;
  memset(&k, 0, sizeof k);
  syscall(SYS_rt_sigaction, SIGSEGV, NULL, &k, 8);
  if (k.handler != SIG_DFL && k.handler != SIG_IGN) {
    /* Ruby's way: the handler it found, called with the number only. */
    ((void (*)(int))k.handler)(SIGSEGV);
    /* Pointers to something that is not a signal frame. */
    unsigned long junk[256];
    memset(junk, 0x5a, sizeof junk);
    ((void (*)(int, void *, void *))k.handler)(SIGSEGV, &junk[38], &junk[0]);
    ((void (*)(int, void *, void *))k.handler)(SIGSEGV, (void *)16, (void *)8);
  }
  printf("returned\n");
  abort();
}

int main(int argc, char **argv) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  const char *mode = argc > 1 ? argv[1] : "view";
  if (!strcmp(mode, "view")) view();
  else if (!strcmp(mode, "recover")) do_recover();
  else if (!strcmp(mode, "dfl-crash")) {
    signal(SIGSEGV, h);
    signal(SIGSEGV, SIG_DFL);
    fault();
  } else if (!strcmp(mode, "concurrent")) do_concurrent();
  else if (!strcmp(mode, "api")) do_api();
  else if (!strcmp(mode, "park")) do_park();
  else if (!strcmp(mode, "plain-call")) do_plain_call();
  else return 2;
  return 0;
}
