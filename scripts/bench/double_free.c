/* Aborts inside libc: a double free that glibc's tcache check catches
 * (free -> _int_free -> malloc_printerr -> abort -> raise). */
#include <stdlib.h>

__attribute__((noipa)) void free_twice(void *p) {
  free(p);
  free(p);
}

int main(void) {
  void *p = malloc(32);
  free_twice(p);
  return 0;
}
