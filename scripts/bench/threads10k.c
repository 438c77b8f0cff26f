/* threads10k N BATCH: creates and joins N threads (default 10000), BATCH at
 * a time (default 1: create one, join it, repeat). Each thread does nothing.
 * threads10k check: prints the alternate signal stack size a new thread
 * starts with ("none" if it has none). */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void *nothing(void *arg) { return arg; }

static void *report_altstack(void *arg) {
  stack_t ss;
  if (sigaltstack(NULL, &ss) != 0 || (ss.ss_flags & SS_DISABLE)) printf("none\n");
  else printf("%zu\n", ss.ss_size);
  return arg;
}

int main(int argc, char **argv) {
  pthread_t t[1000];
  if (argc > 1 && strcmp(argv[1], "check") == 0) {
    if (pthread_create(&t[0], NULL, report_altstack, NULL) != 0) return 1;
    return pthread_join(t[0], NULL) != 0;
  }
  long n = argc > 1 ? atol(argv[1]) : 10000, batch = argc > 2 ? atol(argv[2]) : 1;
  if (batch < 1 || batch > 1000) return 2;
  for (long done = 0; done < n; done += batch) {
    for (long i = 0; i < batch; i++)
      if (pthread_create(&t[i], NULL, nothing, NULL) != 0) return 1;
    for (long i = 0; i < batch; i++)
      if (pthread_join(t[i], NULL) != 0) return 1;
  }
  return 0;
}
