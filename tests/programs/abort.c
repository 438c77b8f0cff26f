/* An abort inside libc: frames in libc resolved through its separate
 * (compressed) debug file, then the program's own. */
#include <stdlib.h>

__attribute__((noinline)) void die(void) { abort(); }

int main(void) {
  die();
  return 0;
}
