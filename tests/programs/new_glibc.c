/* A shared library that needs a glibc newer than 2.17 (fstat has been a
 * symbol of its own since glibc 2.33; before, an inline wrapper of
 * __fxstat): the negative control of tests/ship/portable.rs's glibc checks,
 * built on this machine the ordinary way. */
#include <sys/stat.h>

int new_glibc_fstat(int fd) {
  struct stat st;
  return fstat(fd, &st);
}
