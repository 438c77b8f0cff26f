/* A vfork child crashes while a thread of its parent writes a dump. The
 * parent's dump (SIGUSR1, registered with faultdump_register onto a pipe
 * that is full and never read) holds the dump lock until its deadline,
 * blocked in the middle of writing, on the dump stack. The child shares
 * the parent's memory, the dump stack and arena included: it must wait for
 * the parent's dump to end instead of taking the lock from a thread it
 * cannot see. Prints the child's death signal, then "parent survived". */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static void *dumping_thread(void *arg) {
  raise(SIGUSR1);
  return arg;
}

__attribute__((noinline)) void vfork_child_crash(void) {
  volatile int *volatile p = NULL;
  *p = 1;
}

int main(void) {
  int full[2];
  if (pipe(full) != 0) return 2;
  fcntl(full[1], F_SETFL, O_NONBLOCK);
  char block[4096];
  memset(block, 'x', sizeof block);
  while (write(full[1], block, sizeof block) > 0) {
  }
  int (*reg)(int, int, int, int) =
      (int (*)(int, int, int, int))dlsym(RTLD_DEFAULT, "faultdump_register");
  if (!reg || reg(SIGUSR1, full[1], 0, 0) != 0) return 3;
  pthread_t t;
  pthread_create(&t, NULL, dumping_thread, NULL);
  /* Well inside the dump, which waits for the full pipe until its
   * deadline (FAULTHANDLER_DEADLINE=3). */
  struct timespec ts = {0, 500 * 1000 * 1000};
  nanosleep(&ts, NULL);
  pid_t child = vfork();
  if (child == 0) {
    vfork_child_crash();
    _exit(0);
  }
  int status = 0;
  waitpid(child, &status, 0);
  printf("child signal %d\n", WIFSIGNALED(status) ? WTERMSIG(status) : 0);
  fflush(stdout);
  pthread_join(t, NULL);
  printf("parent survived\n");
  return 0;
}
