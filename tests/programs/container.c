/* The situations of a container: `container MODE`.
 *   pid1          run as the init of a PID namespace: another process of
 *                 the namespace sends it SIGSEGV, it sends itself one (both
 *                 dropped by the kernel without a handler), prints "alive",
 *                 then writes through NULL (main -> crash_outer ->
 *                 crash_inner -> null_write).
 *   pid1-wait     as pid1, but between the two it prints "ready" and
 *                 waits for a line on stdin (the test sends SIGSEGV from
 *                 the parent namespace meanwhile).
 *   crash         writes through NULL through the same chain.
 *   abort         abort().
 *   raise-after-child  a child that exits 0 is reaped, then
 *                 raise(SIGSEGV) through raise_segv: the program's own.
 *   abort-after-child  a child that aborts is reaped, and the program then
 *                 asserts that it did not: its own abort().
 *   cancel-wait   a thread blocked in waitpid is cancelled: prints
 *                 "canceled" when it ends as PTHREAD_CANCELED.
 *   thread        main -> create_caller -> pthread_create, joined.
 *   asan-thread   as thread, and the thread overflows a heap block (built
 *                 with -fsanitize=address: ASan reports where the thread
 *                 was created).
 */
#define _GNU_SOURCE
#include <assert.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define KEEP __attribute__((noipa, used))
#define NOT_TAIL() __asm__ volatile("" ::: "memory")

KEEP void null_write(void) {
  *(volatile int *)NULL = 42;
  NOT_TAIL();
}

KEEP void crash_inner(void) {
  null_write();
  NOT_TAIL();
}

KEEP void crash_outer(void) {
  crash_inner();
  NOT_TAIL();
}

KEEP void raise_segv(void) {
  raise(SIGSEGV);
  NOT_TAIL();
}

static void reap(pid_t child, int expect_exit) {
  int status;
  if (waitpid(child, &status, 0) != child || !WIFEXITED(status) ||
      WEXITSTATUS(status) != expect_exit) {
    fprintf(stderr, "child %d: status %#x\n", (int)child, status);
    exit(3);
  }
}

static void sent_while_pid1(int wait_for_parent) {
  if (getpid() != 1) {
    fprintf(stderr, "not pid 1 but %d\n", (int)getpid());
    exit(3);
  }
  pid_t child = fork();
  if (child == 0) {
    /* From inside the namespace: dropped without a handler. */
    _exit(kill(1, SIGSEGV) == 0 ? 0 : 4);
  }
  /* The signal is delivered (and dropped) before waitpid returns. */
  reap(child, 0);
  raise(SIGSEGV);
  kill(getpid(), SIGSEGV);
  if (wait_for_parent) {
    printf("ready\n");
    fflush(stdout);
    char line[16];
    if (!fgets(line, sizeof line, stdin)) exit(3);
  }
  printf("alive\n");
  fflush(stdout);
}

static void *blocked_in_waitpid(void *arg) {
  pid_t child = *(pid_t *)arg;
  int status;
  waitpid(child, &status, 0);
  return NULL;
}

static void *nothing(void *arg) { return arg; }

/* A heap overflow ASan reports, with where the thread was created. */
static void *overflow(void *arg) {
  volatile char *p = malloc(8);
  p[8 + (arg != NULL)] = 1;
  free((void *)p);
  return NULL;
}

/* The thread is created here: a frame-pointer walk from pthread_create's
 * callees (ASan's interceptor, a profiler, tests/programs/fpwalk.c) must
 * get back here and to main, whatever lies between. */
KEEP void create_caller(void *(*routine)(void *)) {
  pthread_t t;
  if (pthread_create(&t, NULL, routine, NULL) != 0) exit(3);
  pthread_join(t, NULL);
  NOT_TAIL();
}

int main(int argc, char **argv) {
  const char *mode = argc > 1 ? argv[1] : "";
  if (!strcmp(mode, "pid1") || !strcmp(mode, "pid1-wait")) {
    sent_while_pid1(!strcmp(mode, "pid1-wait"));
    crash_outer();
  } else if (!strcmp(mode, "crash")) {
    crash_outer();
  } else if (!strcmp(mode, "abort")) {
    abort();
  } else if (!strcmp(mode, "raise-after-child")) {
    pid_t child = fork();
    if (child == 0) _exit(0);
    reap(child, 0);
    raise_segv();
  } else if (!strcmp(mode, "abort-after-child")) {
    pid_t child = fork();
    if (child == 0) abort();
    int status;
    waitpid(child, &status, 0);
    assert(!WIFSIGNALED(status));
  } else if (!strcmp(mode, "cancel-wait")) {
    pid_t child = fork();
    if (child == 0) {
      pause();
      _exit(0);
    }
    pthread_t t;
    void *result;
    pthread_create(&t, NULL, blocked_in_waitpid, &child);
    usleep(100000);
    pthread_cancel(t);
    pthread_join(t, &result);
    kill(child, SIGKILL);
    printf("%s\n", result == PTHREAD_CANCELED ? "canceled" : "not canceled");
    return 0;
  } else if (!strcmp(mode, "thread")) {
    create_caller(nothing);
    printf("joined\n");
    return 0;
  } else if (!strcmp(mode, "asan-thread")) {
    create_caller(overflow);
    return 0;
  } else {
    fprintf(stderr, "unknown mode '%s'\n", mode);
    return 2;
  }
  fprintf(stderr, "still running after the crash\n");
  return 1;
}
