/* A library that calls back into its caller (tests/programs/untrusted.c
 * truncates this library's file from inside the callback). */
#define KEEP __attribute__((noipa, used))
#define NOT_TAIL() __asm__ volatile("" ::: "memory")

KEEP void lib_calls_back(void (*f)(void)) {
  f();
  NOT_TAIL();
}
