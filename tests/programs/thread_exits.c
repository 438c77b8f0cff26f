/* Threads that end by returning, by pthread_exit and by cancellation, under
 * the pthread_create wrapper, round after round. Each thread records the
 * alternate signal stack it was given. Prints:
 *   "alive GIVEN MAPPED"  for 100 threads still running (checks the check:
 *                         their stacks must be given and mapped);
 *   "ended DISTINCT MAPPED" after 4 rounds of 100 threads of each kind: how
 *                         many different stacks were ever given, and how
 *                         many of them are still mapped (msync: ENOMEM for
 *                         an unmapped range).
 * Leaked stacks would make both numbers grow with every round. */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define N 100
#define ROUNDS 4
#define MAX_SEEN (N * (3 * ROUNDS + 1))
static void *seen[MAX_SEEN];
static atomic_int nseen;
static atomic_int started;
static atomic_int release_alive;

static void record(void) {
  stack_t ss;
  if (sigaltstack(NULL, &ss) == 0 && !(ss.ss_flags & SS_DISABLE)) seen[atomic_fetch_add(&nseen, 1)] = ss.ss_sp;
  atomic_fetch_add(&started, 1);
}

__attribute__((noinline)) void *returns(void *arg) { record(); return arg; }
__attribute__((noinline)) void *exits(void *arg) {
  record();
  pthread_exit(arg);
}
__attribute__((noinline)) void *cancelled(void *arg) {
  record();
  for (;;) pause(); /* a cancellation point */
}
__attribute__((noinline)) void *alive(void *arg) {
  record();
  while (!atomic_load(&release_alive)) usleep(1000);
  return arg;
}

static int is_mapped(void *sp) {
  long page = sysconf(_SC_PAGESIZE);
  void *p = (void *)((unsigned long)sp & ~(page - 1));
  return msync(p, page, MS_ASYNC) == 0 || errno != ENOMEM;
}

/* Distinct stacks among seen[from..], and how many of those are mapped. */
static void count(int from, int *distinct, int *mapped) {
  *distinct = *mapped = 0;
  int n = atomic_load(&nseen);
  for (int i = from; i < n; i++) {
    int dup = 0;
    for (int j = from; j < i && !dup; j++) dup = seen[j] == seen[i];
    if (dup) continue;
    (*distinct)++;
    *mapped += is_mapped(seen[i]);
  }
}

static void run(void *(*fn)(void *), int cancel) {
  pthread_t t[N];
  atomic_store(&started, 0);
  for (int i = 0; i < N; i++) pthread_create(&t[i], NULL, fn, NULL);
  while (atomic_load(&started) < N) usleep(1000);
  if (fn == alive) {
    int distinct, mapped;
    count(0, &distinct, &mapped);
    printf("alive %d %d\n", distinct, mapped);
    atomic_store(&release_alive, 1);
  }
  for (int i = 0; i < N; i++) {
    void *ret;
    if (cancel) pthread_cancel(t[i]);
    pthread_join(t[i], &ret);
    if (cancel && ret != PTHREAD_CANCELED) printf("not cancelled\n");
  }
}

int main(void) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  run(alive, 0);
  int from = atomic_load(&nseen);
  for (int r = 0; r < ROUNDS; r++) {
    run(returns, 0);
    run(exits, 0);
    run(cancelled, 1);
  }
  int distinct, mapped;
  count(from, &distinct, &mapped);
  printf("ended %d %d\n", distinct, mapped);
  return 0;
}
