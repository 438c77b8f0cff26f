/* A library the test programs load with dlopen after start:
 * plugin_crash -> plugin_inner -> null write, all inside this library.
 * With PLUGIN_CRASH_IN_CTOR set, its constructor faults instead (while the
 * loader holds its lock). */
#include <stddef.h>
#include <stdlib.h>

#define KEEP __attribute__((noipa, used))
#define NOT_TAIL() __asm__ volatile("" ::: "memory")

KEEP void plugin_inner(volatile int *p) {
  *p = 42;
  NOT_TAIL();
}

KEEP void plugin_crash(void) {
  plugin_inner(NULL);
  NOT_TAIL();
}

KEEP void plugin_ctor_inner(void) {
  plugin_inner(NULL);
  NOT_TAIL();
}

__attribute__((constructor)) static void plugin_ctor(void) {
  if (getenv("PLUGIN_CRASH_IN_CTOR")) plugin_ctor_inner();
}
