/* Deaths with and without a C library abort message:
 *   assert      an assert() that fails
 *   double_free free() of the same block twice (glibc's heap check aborts)
 *   abort       a plain abort(): no message
 *   segv        a write through a null pointer: not an abort at all */
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

__attribute__((noinline)) static void check_order(int n) { assert(n == 42); }

__attribute__((noinline)) static void release_twice(void) {
  char *volatile p = malloc(32);
  free(p);
  free(p);
}

__attribute__((noinline)) static void give_up(void) { abort(); }

__attribute__((noinline)) static void write_null(void) {
  volatile int *volatile p = NULL;
  *p = 1;
}

int main(int argc, char **argv) {
  const char *mode = argc > 1 ? argv[1] : "";
  if (!strcmp(mode, "assert"))
    check_order(argc);
  else if (!strcmp(mode, "double_free"))
    release_twice();
  else if (!strcmp(mode, "abort"))
    give_up();
  else if (!strcmp(mode, "segv"))
    write_null();
  printf("still alive after %s\n", mode);
  return 0;
}
