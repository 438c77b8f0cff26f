/* A fault of the same signal inside the dump. bus_with_frame_past_eof
 * (assembly) points its frame pointer, and its stack pointer, into a page
 * of a file mapping that lies past the end of the file, then reads there:
 * SIGBUS. Its call frame information says the caller's frame is found
 * through the frame pointer, so the dump's unwinder reads that page too,
 * which /proc/self/maps lists as readable: a second SIGBUS, inside the
 * SIGBUS dump. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

void bus_with_frame_past_eof(char *past_eof);
__asm__(".text\n"
        ".globl bus_with_frame_past_eof\n"
        ".type bus_with_frame_past_eof,@function\n"
        "bus_with_frame_past_eof:\n"
        ".cfi_startproc\n"
        "push %rbp\n"
        ".cfi_def_cfa_offset 16\n"
        ".cfi_offset %rbp, -16\n"
        "mov %rsp, %rbp\n"
        ".cfi_def_cfa_register %rbp\n"
        "mov %rdi, %rbp\n"
        "lea -64(%rdi), %rsp\n"
        "mov (%rbp), %eax\n"
        "ud2\n"
        ".cfi_endproc\n"
        ".size bus_with_frame_past_eof, .-bus_with_frame_past_eof\n");

int main(void) {
  char path[] = "/tmp/faultdump-nested-XXXXXX";
  int fd = mkstemp(path);
  if (fd < 0 || write(fd, "x", 1) != 1) return 2;
  unlink(path);
  long page = sysconf(_SC_PAGESIZE);
  char *map = mmap(NULL, 2 * page, PROT_READ, MAP_PRIVATE, fd, 0);
  if (map == MAP_FAILED) return 2;
  bus_with_frame_past_eof(map + page + 256);
  fprintf(stderr, "no fault\n");
  return 1;
}
