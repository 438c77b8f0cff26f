/* faultdump: Python's faulthandler for native programs.
 *
 * The C API of libfaultdump.so, mirroring Python's faulthandler module.
 * Link with -lfaultdump, or, when the library is preloaded (LD_PRELOAD or
 * /etc/ld.so.preload), look the functions up at run time with
 * dlsym(RTLD_DEFAULT, "faultdump_enable") and so on, so that the program
 * also runs where the library is absent.
 *
 * Every function returns 0 on success and -1 with errno set on error:
 * EINVAL for a bad argument (a negative fd, a timeout that is not a
 * positive number of seconds of at most a year, a signal that is fatal,
 * cannot be caught, is reserved by the C library or is the one faultdump
 * uses to stop threads during a dump), EBADF for a descriptor that is not
 * open. faultdump_unregister returns 1 or 0 instead, as Python's
 * unregister() returns True or False.
 *
 * Dumps follow FORMAT.md: the calling or faulting thread first as
 * "Current thread", then every other thread unless all_threads is 0.
 *
 * The descriptor issue, as in Python: enable(), dump_traceback_later() and
 * register() keep the descriptor number they are given and write to
 * whatever it refers to when the dump happens. If the file is closed and
 * its descriptor number reused by another file, or replaced with dup2(),
 * the dump goes into that other file. Call the function again whenever
 * the file changes.
 *
 * Only faultdump_dump_traceback may be called from a signal handler. */
#ifndef FAULTDUMP_H
#define FAULTDUMP_H

#ifdef __cplusplus
extern "C" {
#endif

/* Dump on SIGSEGV, SIGFPE, SIGABRT, SIGBUS, SIGILL, SIGSYS and SIGTRAP to
 * fd (all threads, or only the faulting one when all_threads is 0), then
 * die by the signal as the process would have. The handlers are installed
 * at start-up unless FAULTHANDLER=0; this call (re)installs them and
 * chooses the descriptor. */
int faultdump_enable(int fd, int all_threads);

/* Put back the dispositions found when the fatal handlers were installed. */
int faultdump_disable(void);

/* 1 if the fatal handlers are installed, 0 if not. */
int faultdump_is_enabled(void);

/* Dump now to fd: the calling thread, and every other one unless
 * all_threads is 0. Async-signal-safe. */
int faultdump_dump_traceback(int fd, int all_threads);

/* Dump all threads to fd after timeout_s seconds (a watchdog thread);
 * again every timeout_s seconds if repeat; then _exit(1) if exit. A new
 * call replaces the previous one and starts the time again. */
int faultdump_dump_traceback_later(double timeout_s, int repeat, int fd, int exit);

/* Cancel faultdump_dump_traceback_later (or FAULTHANDLER_TIMEOUT). The
 * watchdog thread has ended when this returns. */
int faultdump_cancel_dump_traceback_later(void);

/* Dump to fd (all threads unless all_threads is 0) whenever signum arrives,
 * and let the program carry on. With chain, the disposition signum had
 * before is applied afterwards too: its handler is called; SIG_DFL does
 * the default action, which for most signals ends the process. */
int faultdump_register(int signum, int fd, int all_threads, int chain);

/* Put back the disposition signum had before faultdump_register: 1 if it
 * was registered, 0 if not. */
int faultdump_unregister(int signum);

#ifdef __cplusplus
}
#endif

#endif /* FAULTDUMP_H */
