/* threads100 [N]: N idle threads (default 100; a third each in nanosleep, a
 * condition variable and a pipe read), then the main thread faults through
 * a short named chain. For the all-threads fatal-dump benchmark. */
#include <pthread.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

static pthread_barrier_t started;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t never = PTHREAD_COND_INITIALIZER;
static int pipe_fds[2];
int *volatile null_pointer;
volatile int sink;

__attribute__((noipa)) static void idle_sleeping(void) {
  struct timespec t = {3600, 0};
  for (;;) nanosleep(&t, NULL);
}

__attribute__((noipa)) static void idle_waiting(void) {
  pthread_mutex_lock(&lock);
  for (;;) pthread_cond_wait(&never, &lock);
}

__attribute__((noipa)) static void idle_reading(void) {
  char c;
  for (;;) read(pipe_fds[0], &c, 1);
}

static void *idle_worker(void *arg) {
  pthread_barrier_wait(&started);
  switch ((long)arg % 3) {
  case 0: idle_sleeping(); break;
  case 1: idle_waiting(); break;
  default: idle_reading(); break;
  }
  return NULL;
}

__attribute__((noipa)) void crash_now(void) { *null_pointer = 1; }
__attribute__((noipa)) void crash_after_threads(void) { crash_now(); sink++; }

int main(int argc, char **argv) {
  long n = argc > 1 ? atol(argv[1]) : 100;
  if (pipe(pipe_fds) != 0) return 1;
  pthread_barrier_init(&started, NULL, n + 1);
  for (long i = 0; i < n; i++) {
    pthread_t t;
    if (pthread_create(&t, NULL, idle_worker, (void *)i) != 0) return 1;
  }
  pthread_barrier_wait(&started);
  crash_after_threads();
  return 0;
}
