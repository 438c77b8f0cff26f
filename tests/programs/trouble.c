/* A process in trouble, then a crash (tests/trouble.rs). Modes:
 *   oom        RLIMIT_AS lowered, malloc until NULL, then a write through
 *              the NULL it got: oom_write <- exhaust_memory <- main
 *   noproc     a private mount namespace without /proc (needs root), then
 *              exec of itself in mode `nested`, which crashes: the library
 *              starts and dumps with no /proc. Exits 77 if the namespace
 *              cannot be made.
 *   nested     nested_inner <- nested_outer <- main
 *   seccomp    a seccomp filter answering EPERM to open and openat, then
 *              nested_inner <- nested_outer <- main
 *   replaced [NEW]  argv[0] replaced by the file NEW (renamed over it), or
 *              deleted without NEW; then as seccomp
 *   cutlist    the loader's list cut after the executable, then a crash in
 *              a qsort callback: compare_and_fault <- (libc) <- sort_them
 *   vfork      a vfork child crashes (child_crash), then the parent
 *              (parent_crash), after printing the child's death signal
 *   dlopen     argv[2] dlopen'ed after start; its plugin_crash called
 * Every mode first prints "fds: N", the descriptors open above 2. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <link.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define KEEP __attribute__((noipa, used))
#define NOT_TAIL() __asm__ volatile("" ::: "memory")

KEEP void oom_write(volatile int *p) {
  *p = 1;
  NOT_TAIL();
}

KEEP void exhaust_memory(void) {
  struct rlimit rl = {256 << 20, 256 << 20};
  if (setrlimit(RLIMIT_AS, &rl) != 0) {
    perror("setrlimit");
    exit(2);
  }
  void *p;
  size_t size = 64 << 20;
  for (;;) {
    p = malloc(size);
    if (p == NULL) {
      if (size <= 16) break;
      size /= 2;
      continue;
    }
    memset(p, 1, size < 4096 ? size : 4096);
  }
  /* Everything is taken: check that not even a page can be mapped. */
  if (malloc(4096) != NULL) {
    fprintf(stderr, "memory not exhausted\n");
    exit(3);
  }
  oom_write(p);
  NOT_TAIL();
}

KEEP void nested_inner(volatile int *p) {
  *p = 2;
  NOT_TAIL();
}

KEEP void nested_outer(void) {
  nested_inner(NULL);
  NOT_TAIL();
}

static void no_proc(char **argv) {
  if (unshare(CLONE_NEWNS) != 0 ||
      mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0 ||
      umount2("/proc", MNT_DETACH) != 0) {
    printf("SKIP %s\n", strerror(errno));
    exit(77);
  }
  if (access("/proc/self/maps", R_OK) == 0) {
    printf("SKIP /proc still mounted\n");
    exit(77);
  }
  char *args[] = {argv[0], "nested", NULL};
  execv(argv[0], args);
  perror("execv");
  exit(2);
}

static void deny_open(void) {
  struct sock_filter filter[] = {
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_open, 2, 0),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_openat, 1, 0),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (EPERM & SECCOMP_RET_DATA)),
  };
  struct sock_fprog prog = {sizeof filter / sizeof filter[0], filter};
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 ||
      prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) != 0) {
    perror("seccomp");
    exit(2);
  }
  if (open("/proc/self/maps", O_RDONLY) >= 0 || errno != EPERM) {
    fprintf(stderr, "open not denied\n");
    exit(2);
  }
}

KEEP int compare_and_fault(const void *a, const void *b) {
  *(volatile int *)NULL = *(const int *)a - *(const int *)b;
  return 0;
}

KEEP void sort_them(void) {
  int v[8] = {5, 3, 7, 1, 2, 8, 6, 4};
  qsort(v, 8, sizeof v[0], compare_and_fault);
  NOT_TAIL();
}

static void cut_loader_list(void) {
  /* A wild write: the executable's entry no longer leads anywhere. */
  _r_debug.r_map->l_next = NULL;
}

KEEP void child_crash(volatile int *p) {
  *p = 3;
  NOT_TAIL();
}

KEEP void parent_crash(volatile int *p) {
  *p = 4;
  NOT_TAIL();
}

static void vfork_then_crash(void) {
  pid_t pid = vfork();
  if (pid == 0) {
    child_crash(NULL);
    _exit(0);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  printf("child: %s %d\n", WIFSIGNALED(status) ? "signal" : "exit",
         WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
  fflush(stdout);
  parent_crash(NULL);
}

static void dlopen_then_crash(const char *path) {
  void *h = dlopen(path, RTLD_NOW);
  if (!h) {
    fprintf(stderr, "dlopen: %s\n", dlerror());
    exit(2);
  }
  void (*crash)(void) = (void (*)(void))dlsym(h, "plugin_crash");
  crash();
}

static int open_descriptors(void) {
  int n = 0;
  for (int fd = 3; fd < 1024; fd++)
    if (fcntl(fd, F_GETFD) != -1) n++;
  return n;
}

int main(int argc, char **argv) {
  const char *mode = argc > 1 ? argv[1] : "";
  printf("fds: %d\n", open_descriptors());
  fflush(stdout);
  if (!strcmp(mode, "oom")) {
    exhaust_memory();
  } else if (!strcmp(mode, "noproc")) {
    no_proc(argv);
  } else if (!strcmp(mode, "nested")) {
    nested_outer();
  } else if (!strcmp(mode, "seccomp")) {
    deny_open();
    nested_outer();
  } else if (!strcmp(mode, "replaced")) {
    if (argc > 2 ? rename(argv[2], argv[0]) : unlink(argv[0])) {
      perror("replace");
      return 2;
    }
    deny_open();
    nested_outer();
  } else if (!strcmp(mode, "cutlist")) {
    cut_loader_list();
    sort_them();
  } else if (!strcmp(mode, "vfork")) {
    vfork_then_crash();
  } else if (!strcmp(mode, "dlopen") && argc > 2) {
    dlopen_then_crash(argv[2]);
  } else {
    fprintf(stderr, "usage: trouble oom|noproc|nested|seccomp|replaced [NEW]|cutlist|vfork|dlopen LIB\n");
    return 2;
  }
  return 1;
}
