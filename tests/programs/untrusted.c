/* Reads a dump cannot trust the maps for (issue 17, finding 3): a frame
 * pointer into a guard region (MADV_GUARD_INSTALL, Linux 6.13+) or into a
 * file page past the end of its file, and a thread that overflows its
 * stack into a guard region. Modes:
 *   guard-fp   the frame pointer in a guard region, then a NULL read (SIGSEGV)
 *   trunc-fp   the frame pointer past EOF, then a NULL read (SIGSEGV)
 *   trunc-bus  the frame pointer past EOF, then a read past EOF (SIGBUS:
 *              the dump's own fault is of the signal being handled)
 *   overflow   a thread recurses into a guard region below its stack
 *   trunc-lib LIB  loads LIB (tests/programs/libcallback.c), whose
 *              callback cuts LIB's file to its first page (pages past it
 *              fault when read), then faults (SIGSEGV)
 * Exits 77 with a line on stdout when the kernel has no MADV_GUARD_INSTALL. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#ifndef MADV_GUARD_INSTALL
#define MADV_GUARD_INSTALL 102
#endif

/* bad_frame(fp, addr): sets the frame pointer to fp and the stack pointer
 * below it, then reads *addr (and never returns: the read faults). Its CFI
 * says the caller's frame is at fp, so an unwinder reads there. */
void bad_frame(void *fp, volatile long *addr);
#if defined(__x86_64__)
__asm__(".globl bad_frame\n.type bad_frame,@function\nbad_frame:\n"
        ".cfi_startproc\n"
        "push %rbp\n.cfi_def_cfa_offset 16\n.cfi_offset rbp, -16\n"
        "mov %rsp, %rbp\n.cfi_def_cfa_register rbp\n"
        "mov %rdi, %rbp\n"
        "lea -256(%rdi), %rsp\n"
        "mov (%rsi), %rax\n"
        "ud2\n.cfi_endproc\n"
        ".size bad_frame, . - bad_frame\n");
#elif defined(__aarch64__)
__asm__(".globl bad_frame\n.type bad_frame,%function\nbad_frame:\n"
        ".cfi_startproc\n"
        "stp x29, x30, [sp, #-16]!\n.cfi_def_cfa_offset 16\n"
        ".cfi_offset x29, -16\n.cfi_offset x30, -8\n"
        "mov x29, sp\n.cfi_def_cfa x29, 16\n"
        "mov x29, x0\n"
        "sub x9, x0, #256\nmov sp, x9\n"
        "ldr x2, [x1]\n"
        "brk #0\n.cfi_endproc\n.size bad_frame, . - bad_frame\n");
#endif

static long page;

static char *guard_region(size_t len) {
  char *p = mmap(0, len + 2 * page, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) {
    perror("mmap");
    exit(2);
  }
  if (madvise(p + page, len, MADV_GUARD_INSTALL) != 0) {
    printf("no MADV_GUARD_INSTALL: %s\n", strerror(errno));
    fflush(stdout);
    exit(77);
  }
  return p + page;
}

/* A page of a one-page file mapped three pages long: the last two are past
 * the end of the file. */
static char *past_eof(void) {
  char path[] = "/tmp/untrusted-XXXXXX";
  int fd = mkstemp(path);
  if (fd < 0 || ftruncate(fd, page) != 0) {
    perror("file");
    exit(2);
  }
  char *p = mmap(0, 3 * page, PROT_READ, MAP_PRIVATE, fd, 0);
  unlink(path);
  if (p == MAP_FAILED) {
    perror("mmap file");
    exit(2);
  }
  return p + 2 * page;
}

__attribute__((noinline)) void fault_with_bad_frame(char *fp, volatile long *addr) {
  bad_frame(fp + 512, addr);
  __asm__ volatile("" ::: "memory");
}

__attribute__((noinline)) int recurse(int n) {
  volatile char buf[512];
  buf[0] = (char)n;
  return recurse(n + 1) + buf[0];
}

static void *overflow_thread(void *arg) {
  (void)arg;
  return (void *)(long)recurse(0);
}

static void overflow(void) {
  size_t size = 1 << 20, guard = 16 * page;
  /* The stack's lowest pages become a guard region inside its mapping. */
  char *stack = mmap(0, size, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
  if (stack == MAP_FAILED) {
    perror("mmap");
    exit(2);
  }
  if (madvise(stack, guard, MADV_GUARD_INSTALL) != 0) {
    printf("no MADV_GUARD_INSTALL: %s\n", strerror(errno));
    fflush(stdout);
    exit(77);
  }
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setstack(&attr, stack, size);
  pthread_t t;
  pthread_create(&t, &attr, overflow_thread, 0);
  pthread_join(t, 0);
}

static const char *lib_path;

__attribute__((noinline)) void cut_and_crash(void) {
  if (truncate(lib_path, page) != 0) {
    perror("truncate");
    exit(2);
  }
  *(volatile int *)(lib_path[0] == 0 ? (void *)&page : 0) = 1;
}

static void trunc_lib(const char *path) {
  lib_path = path;
  void *lib = dlopen(path, RTLD_NOW);
  void (*calls_back)(void (*)(void)) = lib ? dlsym(lib, "lib_calls_back") : 0;
  if (!calls_back) {
    fprintf(stderr, "dlopen %s: %s\n", path, dlerror());
    exit(2);
  }
  calls_back(cut_and_crash);
}

int main(int argc, char **argv) {
  page = sysconf(_SC_PAGESIZE);
  const char *mode = argc > 1 ? argv[1] : "";
  volatile long *null = (volatile long *)(argc > 99 ? argv : 0);
  if (!strcmp(mode, "guard-fp"))
    fault_with_bad_frame(guard_region(page), null);
  else if (!strcmp(mode, "trunc-fp"))
    fault_with_bad_frame(past_eof(), null);
  else if (!strcmp(mode, "trunc-bus")) {
    char *eof = past_eof();
    fault_with_bad_frame(eof, (volatile long *)(eof + 128));
  } else if (!strcmp(mode, "overflow"))
    overflow();
  else if (!strcmp(mode, "trunc-lib") && argc > 2)
    trunc_lib(argv[2]);
  fprintf(stderr, "untrusted: mode %s did not crash\n", mode);
  return 3;
}
