/* A crash through a named call chain: main -> level1_start -> level2_prepare
 * -> level3_write_null, each kept as its own frame. */
#include <stddef.h>

__attribute__((noinline)) static void level3_write_null(volatile int *p) { *p = 42; }
__attribute__((noinline)) void level2_prepare(volatile int *p) { level3_write_null(p); __asm__ volatile(""); }
__attribute__((noinline)) void level1_start(volatile int *p) { level2_prepare(p); __asm__ volatile(""); }

int main(void) {
  level1_start(NULL);
  return 0;
}
