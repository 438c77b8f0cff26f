/* A program with a huge symbol table (linked with the object of many
 * one-instruction functions that tests/trouble.rs generates), out of
 * address space: RLIMIT_AS is set to what it maps plus 4 MiB, so that a
 * dump gets only the arena reserved at start-up and cannot map the
 * executable's file. Then a NULL write: big_crash <- big_outer <- main. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#define KEEP __attribute__((noinline, used))

static long vm_size_kib(void) {
  FILE *f = fopen("/proc/self/status", "r");
  char line[256];
  long kib = -1;
  while (f && fgets(line, sizeof line, f))
    if (strncmp(line, "VmSize:", 7) == 0) kib = atol(line + 7);
  if (f) fclose(f);
  return kib;
}

KEEP void big_crash(volatile int *p) {
  *p = 1;
  __asm__ volatile("");
}

KEEP void big_outer(void) {
  big_crash((volatile int *)(long)(getenv("BIG_NEVER_SET") != NULL));
  __asm__ volatile("");
}

int main(void) {
  long kib = vm_size_kib();
  if (kib <= 0) return 2;
  struct rlimit rl = {(kib + 4096) << 10, (kib + 4096) << 10};
  if (setrlimit(RLIMIT_AS, &rl) != 0) return 2;
  big_outer();
  return 0;
}
