/* One process of a crash storm (tests/storm.rs, scripts/bench-storm.sh).
 *
 *   storm crash N   start N-1 threads named "s<pid>-<i>", wait until all are
 *                   named, write one byte to stdout (ready), wait for end of file on stdin (the
 *                   barrier every process of the storm shares), then fault
 *                   in the main thread.
 *   storm hold [PATH]
 *                   take the lock faultdump takes for its output (stderr, or
 *                   the file PATH): an exclusive flock on a description of
 *                   its own, write one byte to stdout, and wait forever.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

static int gate[2];
/* Every thread has its name before the process says it is ready. */
static pthread_barrier_t named;

static void *worker(void *arg) {
  char name[16];
  snprintf(name, sizeof name, "s%d-%d", (int)getpid(), (int)(long)arg);
  pthread_setname_np(pthread_self(), name);
  pthread_barrier_wait(&named);
  char c;
  while (read(gate[0], &c, 1) != 0) {
  }
  return NULL;
}

__attribute__((noinline)) static void storm_crash(volatile int *p) { *p = 1; }

static void ready(void) {
  if (write(1, "r", 1) != 1) exit(3);
}

int main(int argc, char **argv) {
  if (argc >= 3 && strcmp(argv[1], "crash") == 0) {
    int n = atoi(argv[2]);
    if (n < 1 || pipe(gate) != 0 || pthread_barrier_init(&named, NULL, n) != 0) return 2;
    for (long i = 1; i < n; i++) {
      pthread_t t;
      if (pthread_create(&t, NULL, worker, (void *)i) != 0) return 2;
    }
    char name[16];
    snprintf(name, sizeof name, "s%d-0", (int)getpid());
    pthread_setname_np(pthread_self(), name);
    pthread_barrier_wait(&named);
    ready();
    char c;
    while (read(0, &c, 1) > 0) {
    }
    storm_crash(NULL);
    return 1;
  }
  if (argc >= 2 && strcmp(argv[1], "hold") == 0) {
    int fd = argc >= 3 ? open(argv[2], O_RDONLY | O_CLOEXEC)
                       : open("/proc/self/fd/2", O_WRONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0 || flock(fd, LOCK_EX) != 0) return 2;
    ready();
    for (;;) pause();
  }
  fprintf(stderr, "usage: storm crash N | storm hold [PATH]\n");
  return 2;
}
