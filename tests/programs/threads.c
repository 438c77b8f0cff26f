/* Crashes that involve threads, locks or the loader:
 *   `threads MODE [PLUGIN]`, see the table at the end.
 * Every function of a chain is exported and kept as its own frame. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define KEEP __attribute__((noipa, used))
#define NOT_TAIL() __asm__ volatile("" ::: "memory")

static const char *plugin_path;
static atomic_int worker_tid;
static atomic_long iterations;

static void sleep_ms(long ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

static int gettid_(void) { return (int)syscall(SYS_gettid); }

KEEP void thread_null_write(void) {
  *(volatile int *)NULL = 42;
  NOT_TAIL();
}

/* --- eight threads fault at the same moment ------------------------------ */
static pthread_barrier_t barrier;
KEEP void *faulting_thread(void *arg) {
  (void)arg;
  pthread_barrier_wait(&barrier);
  thread_null_write();
  NOT_TAIL();
  return NULL;
}
KEEP void run_eight(void) {
  pthread_t t[8];
  pthread_barrier_init(&barrier, NULL, 8);
  for (int i = 0; i < 8; i++) pthread_create(&t[i], NULL, faulting_thread, NULL);
  for (int i = 0; i < 8; i++) pthread_join(t[i], NULL);
}

/* --- a forked child crashes; the parent reports and exits 0 --------------- */
KEEP void child_crash(void) {
  thread_null_write();
  NOT_TAIL();
}
KEEP void run_fork(void) {
  pid_t child = fork();
  if (child == 0) {
    child_crash();
    _exit(0);
  }
  int status = 0;
  waitpid(child, &status, 0);
  printf("child %d signal %d\n", (int)child, WIFSIGNALED(status) ? WTERMSIG(status) : 0);
  exit(0);
}

/* --- glibc aborts inside free() with the arena lock held ------------------ */
static void *idle_thread(void *arg) {
  (void)arg;
  for (;;) pause();
  return NULL;
}
KEEP void double_free(void *p) {
  free(p);
  NOT_TAIL();
}
KEEP void run_locked_malloc(void) {
  pthread_t t;
  pthread_create(&t, NULL, idle_thread, NULL); /* free() now takes the lock */
  void *fill[7];
  for (int i = 0; i < 7; i++) fill[i] = malloc(512);
  void *victim = malloc(512);
  void *guard = malloc(512); /* keeps victim away from the top chunk */
  for (int i = 0; i < 7; i++) free(fill[i]); /* tcache for 512 now full */
  free(victim);                              /* into the unsorted bin */
  double_free(victim);                       /* "double free or corruption (!prev)" */
  printf("not reached %p\n", guard);
}

/* --- SIGSEGV sent to a thread that loops while holding a lock ------------- */
KEEP void malloc_loop(void) {
  void *keep[16] = {0};
  for (long i = 0;; i++) {
    free(keep[i & 15]);
    keep[i & 15] = malloc(32 + (i & 255) * 8);
    atomic_fetch_add(&iterations, 1);
  }
}
KEEP void stdio_loop(void) {
  FILE *f = fopen("/dev/null", "w");
  for (;;) {
    fprintf(f, "%s %d %f\n", "line", 42, 3.5);
    fflush(f);
    atomic_fetch_add(&iterations, 1);
  }
}
KEEP void dlopen_loop(void) {
  for (;;) {
    void *h = dlopen(plugin_path, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
      fprintf(stderr, "dlopen: %s\n", dlerror());
      _exit(3);
    }
    dlclose(h);
    atomic_fetch_add(&iterations, 1);
  }
}
KEEP void *looping_thread(void *arg) {
  worker_tid = gettid_();
  ((void (*)(void))arg)();
  NOT_TAIL();
  return NULL;
}
/* Starts the loop in a thread, lets it run, then sends it SIGSEGV. */
KEEP void interrupt_loop(void (*loop)(void)) {
  pthread_t t;
  pthread_create(&t, NULL, looping_thread, (void *)loop);
  while (atomic_load(&iterations) < 1000) sleep_ms(1);
  sleep_ms(20);
  syscall(SYS_tgkill, getpid(), worker_tid, SIGSEGV);
  pthread_join(t, NULL);
}
KEEP void run_malloc_loop(void) { interrupt_loop(malloc_loop); }
KEEP void run_stdio_loop(void) { interrupt_loop(stdio_loop); }
KEEP void run_dlopen_loop(void) { interrupt_loop(dlopen_loop); }

/* --- crashes in a library loaded after start ------------------------------ */
KEEP void load_plugin(void) {
  void *h = dlopen(plugin_path, RTLD_NOW);
  if (!h) {
    fprintf(stderr, "dlopen: %s\n", dlerror());
    exit(3);
  }
  void (*crash)(void) = (void (*)(void))dlsym(h, "plugin_crash");
  crash();
  NOT_TAIL();
}
KEEP void run_plugin(void) { load_plugin(); }

struct mode {
  const char *name;
  void (*run)(void);
};
static const struct mode modes[] = {
    {"eight", run_eight},
    {"fork", run_fork},
    {"locked-malloc", run_locked_malloc},
    {"malloc-loop", run_malloc_loop},
    {"stdio-loop", run_stdio_loop},
    {"dlopen-loop", run_dlopen_loop},
    {"plugin", run_plugin},
};

int main(int argc, char **argv) {
  if (argc < 2) return 2;
  plugin_path = argc > 2 ? argv[2] : NULL;
  for (size_t i = 0; i < sizeof modes / sizeof modes[0]; i++) {
    if (strcmp(argv[1], modes[i].name) == 0) {
      modes[i].run();
      NOT_TAIL();
      return 0;
    }
  }
  fprintf(stderr, "unknown mode %s\n", argv[1]);
  return 2;
}
