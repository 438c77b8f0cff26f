/* Signal-safety checker, preloaded AFTER the library under test:
 *   LD_PRELOAD="libfaultdump.so sigsafety_interposer.so" SIGSAFETY_LOG=FILE
 *
 * It wraps `sigaction`: every handler the library installs (a function in
 * the object whose path contains $SIGSAFETY_LIBRARY, default "libfaultdump")
 * is replaced by `wrapper`, which marks the thread as "in the library's
 * handler" (a thread-local depth, so it also covers the library's own
 * dedicated dump stack and any other stack it switches to) and calls the
 * real handler. While the mark is set, every call of an allocator, stdio,
 * mutex, loader or backtrace function below is written to the log as
 *   unsafe NAME sig=N
 * The log also gets `wrapped SIG` for each handler wrapped and `entered SIG`
 * when one runs, so a test can tell "nothing unsafe happened" from "the
 * checker saw nothing". The library's own calls bind to these wrappers: an
 * object preloaded after it still comes before libc in the global scope.
 * Everything here that runs in a handler uses raw system calls only.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <execinfo.h>
#include <fcntl.h>
#include <link.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#define NSIG_MAX 65
#define TLS __attribute__((tls_model("initial-exec")))

static __thread int depth TLS;       /* > 0 while a wrapped handler runs */
static __thread int current_sig TLS; /* the signal it runs for */
static int log_fd = -1;
static void (*real_handler[NSIG_MAX])(int, siginfo_t *, void *);

/* glibc's own entry points: no dlsym needed, so no recursion at start-up. */
extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void *__libc_memalign(size_t, size_t);
extern void __libc_free(void *);

static void *(*real_dlsym)(void *, const char *);
static int (*real_sigaction)(int, const struct sigaction *, struct sigaction *);
static FILE *(*real_fopen)(const char *, const char *);
static int (*real_fclose)(FILE *);
static int (*real_vfprintf)(FILE *, const char *, va_list);
static size_t (*real_fwrite)(const void *, size_t, size_t, FILE *);
static int (*real_fputs)(const char *, FILE *);
static int (*real_puts)(const char *);
static int (*real_fflush)(FILE *);
static int (*real_mutex_lock)(pthread_mutex_t *);
static int (*real_dl_iterate_phdr)(int (*)(struct dl_phdr_info *, size_t, void *), void *);
static int (*real_dladdr)(const void *, Dl_info *);
static void *(*real_dlopen)(const char *, int);
static int (*real_backtrace)(void **, int);

/* --- writing the log with raw system calls ------------------------------ */
static size_t put_str(char *buf, size_t at, const char *s) {
  while (*s && at < 200) buf[at++] = *s++;
  return at;
}
static size_t put_int(char *buf, size_t at, long v) {
  char digits[24];
  int n = 0;
  if (v < 0) {
    buf[at++] = '-';
    v = -v;
  }
  do digits[n++] = (char)('0' + v % 10);
  while ((v /= 10) && n < 23);
  while (n && at < 220) buf[at++] = digits[--n];
  return at;
}
static void log_line(const char *what, const char *name, int sig) {
  if (log_fd < 0) return;
  int saved = errno;
  char buf[256];
  size_t at = put_str(buf, 0, what);
  at = put_str(buf, at, " ");
  at = put_str(buf, at, name);
  at = put_str(buf, at, " sig=");
  at = put_int(buf, at, sig);
  at = put_str(buf, at, " tid=");
  at = put_int(buf, at, syscall(SYS_gettid));
  buf[at++] = '\n';
  syscall(SYS_write, log_fd, buf, at);
  errno = saved;
}
static void note(const char *name) {
  if (depth > 0) log_line("unsafe", name, current_sig);
}

/* --- set-up, outside any handler ---------------------------------------- */
static void init(void) {
  static int done;
  if (done) return;
  done = 1;
  real_dlsym = dlvsym(RTLD_NEXT, "dlsym", "GLIBC_2.34");
  if (!real_dlsym) real_dlsym = dlvsym(RTLD_NEXT, "dlsym", "GLIBC_2.2.5");
#define RESOLVE(var, name) var = real_dlsym(RTLD_NEXT, name)
  RESOLVE(real_sigaction, "sigaction");
  RESOLVE(real_fopen, "fopen");
  RESOLVE(real_fclose, "fclose");
  RESOLVE(real_vfprintf, "vfprintf");
  RESOLVE(real_fwrite, "fwrite");
  RESOLVE(real_fputs, "fputs");
  RESOLVE(real_puts, "puts");
  RESOLVE(real_fflush, "fflush");
  RESOLVE(real_mutex_lock, "pthread_mutex_lock");
  RESOLVE(real_dl_iterate_phdr, "dl_iterate_phdr");
  RESOLVE(real_dladdr, "dladdr");
  RESOLVE(real_dlopen, "dlopen");
  RESOLVE(real_backtrace, "backtrace");
  const char *path = getenv("SIGSAFETY_LOG");
  if (path) log_fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
}

__attribute__((constructor)) static void interposer_init(void) { init(); }

/* Whether `fn` lies in the library under test. Called only outside
 * handlers (dladdr takes the loader lock). */
static int in_library(void *fn) {
  const char *want = getenv("SIGSAFETY_LIBRARY");
  Dl_info info;
  if (!real_dladdr(fn, &info) || !info.dli_fname) return 0;
  return strstr(info.dli_fname, want ? want : "libfaultdump") != NULL;
}

static void wrapper(int sig, siginfo_t *info, void *uc) {
  int outer_sig = current_sig;
  current_sig = sig;
  depth++;
  log_line("entered", "handler", sig);
  real_handler[sig](sig, info, uc);
  depth--;
  current_sig = outer_sig;
}

int sigaction(int sig, const struct sigaction *act, struct sigaction *old) {
  init();
  struct sigaction copy;
  if (act && depth == 0 && sig > 0 && sig < NSIG_MAX && (act->sa_flags & SA_SIGINFO) &&
      act->sa_sigaction && in_library((void *)act->sa_sigaction)) {
    copy = *act;
    real_handler[sig] = act->sa_sigaction;
    copy.sa_sigaction = wrapper;
    act = &copy;
    log_line("wrapped", "handler", sig);
  }
  int r = real_sigaction(sig, act, old);
  /* The library sees its own handler, never the wrapper. */
  if (r == 0 && old && sig > 0 && sig < NSIG_MAX && (old->sa_flags & SA_SIGINFO) &&
      old->sa_sigaction == wrapper)
    old->sa_sigaction = real_handler[sig];
  return r;
}

/* --- the recorded functions --------------------------------------------- */
void *malloc(size_t n) {
  note("malloc");
  return __libc_malloc(n);
}
void *calloc(size_t n, size_t size) {
  note("calloc");
  return __libc_calloc(n, size);
}
void *realloc(void *p, size_t n) {
  note("realloc");
  return __libc_realloc(p, n);
}
void free(void *p) {
  note("free");
  __libc_free(p);
}
void *memalign(size_t align, size_t n) {
  note("memalign");
  return __libc_memalign(align, n);
}
void *aligned_alloc(size_t align, size_t n) {
  note("aligned_alloc");
  return __libc_memalign(align, n);
}
int posix_memalign(void **out, size_t align, size_t n) {
  note("posix_memalign");
  if (align % sizeof(void *) != 0 || (align & (align - 1)) != 0) return EINVAL;
  void *p = __libc_memalign(align, n);
  if (!p) return ENOMEM;
  *out = p;
  return 0;
}
FILE *fopen(const char *path, const char *mode) {
  note("fopen");
  return real_fopen(path, mode);
}
int fclose(FILE *f) {
  note("fclose");
  return real_fclose(f);
}
int vfprintf(FILE *f, const char *fmt, va_list ap) {
  note("vfprintf");
  return real_vfprintf(f, fmt, ap);
}
int fprintf(FILE *f, const char *fmt, ...) {
  note("fprintf");
  va_list ap;
  va_start(ap, fmt);
  int r = real_vfprintf(f, fmt, ap);
  va_end(ap);
  return r;
}
int printf(const char *fmt, ...) {
  note("printf");
  va_list ap;
  va_start(ap, fmt);
  int r = real_vfprintf(stdout, fmt, ap);
  va_end(ap);
  return r;
}
size_t fwrite(const void *p, size_t size, size_t n, FILE *f) {
  note("fwrite");
  return real_fwrite(p, size, n, f);
}
int fputs(const char *s, FILE *f) {
  note("fputs");
  return real_fputs(s, f);
}
int puts(const char *s) {
  note("puts");
  return real_puts(s);
}
int fflush(FILE *f) {
  note("fflush");
  return real_fflush(f);
}
int pthread_mutex_lock(pthread_mutex_t *m) {
  note("pthread_mutex_lock");
  return real_mutex_lock(m);
}
int dl_iterate_phdr(int (*cb)(struct dl_phdr_info *, size_t, void *), void *data) {
  note("dl_iterate_phdr");
  return real_dl_iterate_phdr(cb, data);
}
int dladdr(const void *addr, Dl_info *info) {
  note("dladdr");
  return real_dladdr(addr, info);
}
void *dlsym(void *handle, const char *name) {
  note("dlsym");
  return real_dlsym(handle, name); /* (RTLD_NEXT: relative to this object) */
}
void *dlopen(const char *path, int flags) {
  note("dlopen");
  return real_dlopen(path, flags);
}
int backtrace(void **buf, int n) {
  note("backtrace");
  return real_backtrace(buf, n);
}
