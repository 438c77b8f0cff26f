/* Fatal signals raised through a named call chain:
 *   main -> crash_outer -> crash_middle -> crash_inner -> do_MODE
 * `faults MODE`; see the table at the end for the modes. Every function of
 * the chain is exported (for the stripped build, linked with -rdynamic) and
 * kept as its own frame (noipa: not inlined, not cloned, no sibling call).
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <setjmp.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define KEEP __attribute__((noipa, used))
/* Keeps a call from becoming a jump (a tail call has no frame of its own). */
#define NOT_TAIL() __asm__ volatile("" ::: "memory")

volatile int sink;

KEEP void do_segv(void) {
  *(volatile int *)NULL = 42;
  NOT_TAIL();
}

KEEP void do_fpe(void) {
  volatile int zero = 0;
  sink = 42 / zero;
  NOT_TAIL();
}

KEEP void do_abrt(void) {
  abort();
}

/* A read past the end of a mapped file that has no page there. */
KEEP void do_bus(void) {
  char path[] = "/tmp/faultdump-bus-XXXXXX";
  int fd = mkstemp(path);
  unlink(path);
  if (fd < 0 || ftruncate(fd, 4096) != 0) {
    perror("bus setup");
    exit(3);
  }
  volatile char *p = mmap(NULL, 8192, PROT_READ, MAP_SHARED, fd, 0);
  sink = p[4096];
  NOT_TAIL();
}

KEEP void do_ill(void) {
  __asm__ volatile("ud2");
  NOT_TAIL();
}

KEEP void do_trap(void) {
  __asm__ volatile("int3");
  NOT_TAIL();
}

/* seccomp: getppid traps (SIGSYS, SYS_SECCOMP); everything else is allowed. */
KEEP void do_sys(void) {
  struct sock_filter filter[] = {
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_getppid, 0, 1),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_TRAP),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
  };
  struct sock_fprog prog = {.len = sizeof filter / sizeof filter[0], .filter = filter};
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 ||
      syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) != 0) {
    perror("seccomp");
    exit(3);
  }
  sink = (int)syscall(SYS_getppid);
  NOT_TAIL();
}

/* kill(getpid(), SIG) for the signal named in $FAULTS_SIGNAL (a number). */
KEEP void do_kill(void) {
  const char *s = getenv("FAULTS_SIGNAL");
  kill(getpid(), s ? atoi(s) : SIGSEGV);
  NOT_TAIL();
}

/* The signal comes from another process: a child sends it while we wait
 * in sigsuspend (blocked until then, so where it lands is known). */
KEEP void do_kill_from_child(void) {
  sigset_t block, old;
  sigemptyset(&block);
  sigaddset(&block, SIGSEGV);
  sigprocmask(SIG_BLOCK, &block, &old);
  pid_t parent = getpid();
  pid_t child = fork();
  if (child == 0) {
    kill(parent, SIGSEGV);
    _exit(0);
  }
  printf("sender %d\n", (int)child);
  fflush(stdout);
  waitpid(child, NULL, 0);
  sigsuspend(&old);
  NOT_TAIL();
}

/* Stack and frame pointer set to garbage, then a null write. With
 * FAULTS_SMASH=readable, they point at readable memory full of junk. */
static unsigned long junk[4096];
KEEP void do_smash(void) {
  unsigned long bad = 0x00007ba5e0000000UL;
  if (getenv("FAULTS_SMASH")) {
    for (size_t i = 0; i < sizeof junk / sizeof junk[0]; i++) junk[i] = 0x4141414141414141UL + i;
    bad = (unsigned long)&junk[2048];
  }
  __asm__ volatile(
      "mov %0, %%rsp\n\t"
      "mov %0, %%rbp\n\t"
      "movl $1, 0\n\t" ::"r"(bad)
      : "memory");
  NOT_TAIL();
}

/* A call through a garbage function pointer. */
KEEP void do_bad_pointer(void) {
  void (*volatile fp)(void) = (void (*)(void))0xdead0000UL;
  fp();
  NOT_TAIL();
}

/* Infinite recursion on the main thread. */
KEEP int recurse(int depth) {
  volatile char pad[200];
  pad[0] = (char)depth;
  int r = recurse(depth + 1) + pad[0];
  NOT_TAIL();
  return r;
}
KEEP void do_overflow(void) {
  sink = recurse(0);
  NOT_TAIL();
}

/* The program's own alternate signal stack, of glibc's classic SIGSTKSZ
 * (8 KiB), replaces the library's; then the stack overflows, so the
 * handler must start on that small stack. */
KEEP void do_small_altstack(void) {
  static char small[8192];
  stack_t ss = {.ss_sp = small, .ss_size = sizeof small, .ss_flags = 0};
  if (sigaltstack(&ss, NULL) != 0) {
    perror("sigaltstack");
    exit(3);
  }
  do_overflow();
  NOT_TAIL();
}

/* stdout's lock is held when the fault happens. */
KEEP void do_flockfile(void) {
  flockfile(stdout);
  do_segv();
  NOT_TAIL();
}

/* stderr closed; fd 2 reused for a data file (regular, no O_APPEND). */
KEEP void do_stderr_data(void) {
  const char *path = getenv("FAULTS_DATA");
  close(2);
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd != 2) _exit(3);
  static const char data[] = "data line 1\ndata line 2\n";
  if (write(fd, data, sizeof data - 1) != (ssize_t)(sizeof data - 1)) _exit(3);
  do_segv();
  NOT_TAIL();
}

/* A handler of the program's own, installed after the library's, that
 * recovers with siglongjmp: no dump, normal exit. */
static sigjmp_buf recover_point;
static void recovering_handler(int sig) {
  (void)sig;
  siglongjmp(recover_point, 1);
}
KEEP void do_recover(void) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = recovering_handler;
  sigaction(SIGSEGV, &sa, NULL);
  int recovered = 0;
  for (int i = 0; i < 3; i++) {
    if (sigsetjmp(recover_point, 1) == 0)
      do_segv();
    else
      recovered++;
  }
  printf("recovered %d\n", recovered);
  exit(0);
}

/* A handler installed after the library's that puts the previous one back
 * and re-raises from inside itself (as Python's faulthandler does, with
 * SA_NODEFER so the signal is delivered at once). */
static struct sigaction previous_segv;
KEEP void reraising_handler(int sig) {
  sigaction(SIGSEGV, &previous_segv, NULL);
  raise(sig);
  NOT_TAIL();
}
KEEP void do_reraise(void) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = reraising_handler;
  sa.sa_flags = SA_NODEFER;
  sigaction(SIGSEGV, &sa, &previous_segv);
  do_segv();
  NOT_TAIL();
}

/* Exits normally (for the no-file-when-nothing-crashes check). */
KEEP void do_nothing(void) {
  printf("fine\n");
}

struct mode {
  const char *name;
  void (*run)(void);
};
static const struct mode modes[] = {
    {"segv", do_segv},         {"fpe", do_fpe},
    {"abrt", do_abrt},         {"bus", do_bus},
    {"ill", do_ill},           {"trap", do_trap},
    {"sys", do_sys},           {"kill", do_kill},
    {"kill-from-child", do_kill_from_child},
    {"smash", do_smash},       {"bad-pointer", do_bad_pointer},
    {"overflow", do_overflow}, {"flockfile", do_flockfile},
    {"small-altstack", do_small_altstack},
    {"stderr-data", do_stderr_data},
    {"recover", do_recover},   {"reraise", do_reraise},
    {"nothing", do_nothing},
};

KEEP void crash_inner(const struct mode *m) {
  m->run();
  NOT_TAIL();
}
KEEP void crash_middle(const struct mode *m) {
  crash_inner(m);
  NOT_TAIL();
}
KEEP void crash_outer(const struct mode *m) {
  crash_middle(m);
  NOT_TAIL();
}

int main(int argc, char **argv) {
  if (argc < 2) return 2;
  for (size_t i = 0; i < sizeof modes / sizeof modes[0]; i++) {
    if (strcmp(argv[1], modes[i].name) == 0) {
      crash_outer(&modes[i]);
      return 0;
    }
  }
  fprintf(stderr, "unknown mode %s\n", argv[1]);
  return 2;
}
