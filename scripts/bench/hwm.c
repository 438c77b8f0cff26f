/* hwm: a /bin/true that reports its own peak resident set size.
 * Prints VmHWM (the peak RSS, KiB) from /proc/self/status, read with plain
 * open/read at the end of main, when every constructor has run. */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int main(void) {
  char buf[4096];
  int fd = open("/proc/self/status", O_RDONLY);
  ssize_t n = fd < 0 ? -1 : read(fd, buf, sizeof buf - 1);
  if (n <= 0) return 1;
  buf[n] = 0;
  char *hwm = strstr(buf, "VmHWM:");
  if (!hwm) return 1;
  long kib = 0;
  sscanf(hwm + 6, "%ld", &kib);
  printf("%ld\n", kib);
  return 0;
}
