//! System calls made directly, through the one import `syscall`, where the
//! C library's wrapper adds nothing.
//!
//! Every function the library imports from the C library is a symbol
//! lookup by the dynamic loader when the library is loaded (`-z now`), and
//! the library is preloaded into every process: each import costs every
//! process on the machine a lookup at start-up, whether a dump ever happens
//! or not. These wrappers keep the C library's contract (-1 and `errno` on
//! failure: `syscall` sets `errno`), so callers read as before. Each uses
//! the system call both x86_64 and aarch64 have (aarch64 has no `open`,
//! `poll` or `readlink`: `openat(AT_FDCWD, ..)`, `ppoll` and
//! `readlinkat(AT_FDCWD, ..)` everywhere, one code path).
//!
//! What stays the C library's, and why:
//! - `sigprocmask`/`pthread_sigmask` (where the program's mask is set on
//!   its behalf): glibc's leaves its internal signals (`SIGCANCEL`,
//!   `SIGSETXID`) out of any blocked set; a thread that blocked `SIGSETXID`
//!   deadlocks another thread's `setuid()`. (`super::sigmask` makes the
//!   system call and leaves them out itself.)
//! - the `sigaction` family: [`super::realsig`] resolves the next
//!   `sigaction` after the library on purpose;
//! - `clock_gettime`: a vDSO call, no system call at all;
//! - `malloc`, `free`, `realloc`, `posix_memalign`: the host's allocator;
//! - `memcpy`, `memmove`, `memset`, `bcmp`, `strlen`: the compiler's calls;
//! - `__errno_location`, `abort`, `_exit`, `dl_iterate_phdr`, `getauxval`,
//!   `environ`, `_r_debug`, the `pthread_*` functions, `__register_atfork`,
//!   `__libc_current_sigrtmin`/`max`: the C library's own state;
//! - `syscall` itself.
//!
//! The pure signal-set functions (`sigemptyset` and the like) are bit
//! operations in [`super`] (`sigset_of`, `sigset_full`, `sigaddset`, ...).

use libc::{c_char, c_int, c_long, c_void, size_t, ssize_t};

/// `close(2)`.
///
/// # Safety
///
/// `fd` must be a descriptor the caller owns (no one else uses it after).
pub unsafe fn close(fd: c_int) -> c_int {
    // SAFETY: the caller owns fd.
    unsafe { libc::syscall(libc::SYS_close, fd) as c_int }
}

/// `read(2)`.
///
/// # Safety
///
/// `buf` must be writable for `count` bytes.
pub unsafe fn read(fd: c_int, buf: *mut c_void, count: size_t) -> ssize_t {
    // SAFETY: the caller guarantees buf is writable for count bytes.
    unsafe { libc::syscall(libc::SYS_read, fd, buf, count) as ssize_t }
}

/// `write(2)`.
///
/// # Safety
///
/// `buf` must be readable for `count` bytes.
pub unsafe fn write(fd: c_int, buf: *const c_void, count: size_t) -> ssize_t {
    // SAFETY: the caller guarantees buf is readable for count bytes.
    unsafe { libc::syscall(libc::SYS_write, fd, buf, count) as ssize_t }
}

/// `pread(2)` (`pread64`).
///
/// # Safety
///
/// `buf` must be writable for `count` bytes.
pub unsafe fn pread(fd: c_int, buf: *mut c_void, count: size_t, offset: libc::off_t) -> ssize_t {
    // SAFETY: the caller guarantees buf is writable for count bytes.
    unsafe { libc::syscall(libc::SYS_pread64, fd, buf, count, offset) as ssize_t }
}

/// `writev(2)`.
///
/// # Safety
///
/// `iov` must point to `iovcnt` iovecs, each readable for its length.
pub unsafe fn writev(fd: c_int, iov: *const libc::iovec, iovcnt: c_int) -> ssize_t {
    // SAFETY: the caller guarantees iov and the buffers it names.
    unsafe { libc::syscall(libc::SYS_writev, fd, iov, iovcnt) as ssize_t }
}

/// `open(2)`, as `openat(AT_FDCWD, ..)`.
///
/// # Safety
///
/// `path` must be NUL-terminated.
pub unsafe fn open(path: *const c_char, flags: c_int, mode: libc::mode_t) -> c_int {
    // SAFETY: the caller guarantees path is NUL-terminated.
    unsafe { libc::syscall(libc::SYS_openat, libc::AT_FDCWD, path, flags, mode) as c_int }
}

/// `readlink(2)`, as `readlinkat(AT_FDCWD, ..)`.
///
/// # Safety
///
/// `path` must be NUL-terminated and `buf` writable for `size` bytes.
pub unsafe fn readlink(path: *const c_char, buf: *mut c_char, size: size_t) -> ssize_t {
    // SAFETY: the caller guarantees path and buf.
    unsafe { libc::syscall(libc::SYS_readlinkat, libc::AT_FDCWD, path, buf, size) as ssize_t }
}

/// `mmap(2)`; `MAP_FAILED` on failure.
///
/// # Safety
///
/// As `mmap`: with `MAP_FIXED`, whatever was mapped at `addr` is replaced.
pub unsafe fn mmap(
    addr: *mut c_void,
    len: size_t,
    prot: c_int,
    flags: c_int,
    fd: c_int,
    offset: libc::off_t,
) -> *mut c_void {
    // SAFETY: the caller guarantees the range may be (re)mapped.
    unsafe { libc::syscall(libc::SYS_mmap, addr, len, prot, flags, fd, offset) as *mut c_void }
}

/// `munmap(2)`.
///
/// # Safety
///
/// Nothing may use the range afterwards.
pub unsafe fn munmap(addr: *mut c_void, len: size_t) -> c_int {
    // SAFETY: the caller guarantees the range is no longer used.
    unsafe { libc::syscall(libc::SYS_munmap, addr, len) as c_int }
}

/// `mprotect(2)`.
///
/// # Safety
///
/// Nothing may access the range in a way the new protection forbids.
pub unsafe fn mprotect(addr: *mut c_void, len: size_t, prot: c_int) -> c_int {
    // SAFETY: the caller guarantees the range's users respect prot.
    unsafe { libc::syscall(libc::SYS_mprotect, addr, len, prot) as c_int }
}

/// `nanosleep(2)`; the time left is not reported.
pub fn nanosleep(req: &libc::timespec) -> c_int {
    // SAFETY: req is a valid timespec; a null remainder is allowed.
    unsafe { libc::syscall(libc::SYS_nanosleep, req, core::ptr::null_mut::<c_void>()) as c_int }
}

/// `poll(2)`, as `ppoll` with no signal mask; a negative `timeout_ms`
/// waits without end.
pub fn poll(fds: &mut [libc::pollfd], timeout_ms: c_int) -> c_int {
    let mut ts = libc::timespec {
        tv_sec: (timeout_ms / 1000) as _,
        tv_nsec: (timeout_ms % 1000) as c_long * 1_000_000,
    };
    let ts = if timeout_ms < 0 {
        core::ptr::null_mut()
    } else {
        &mut ts as *mut libc::timespec
    };
    // SAFETY: fds is writable for its length; ts is null or a timespec the
    // kernel may update; with a null mask the size is not read.
    unsafe {
        libc::syscall(
            libc::SYS_ppoll,
            fds.as_mut_ptr(),
            fds.len(),
            ts,
            0usize,
            8usize,
        ) as c_int
    }
}

/// `prctl(2)` with one argument (the others zero).
///
/// # Safety
///
/// `arg2` must be what `option` expects (for some options, a pointer).
pub unsafe fn prctl(option: c_int, arg2: libc::c_ulong) -> c_int {
    // SAFETY: the caller guarantees arg2 for option.
    unsafe { libc::syscall(libc::SYS_prctl, option, arg2, 0usize, 0usize, 0usize) as c_int }
}

/// `process_vm_readv(2)`.
///
/// # Safety
///
/// `local` must name `liovcnt` writable buffers and `remote` `riovcnt`
/// iovecs.
pub unsafe fn process_vm_readv(
    pid: libc::pid_t,
    local: *const libc::iovec,
    liovcnt: libc::c_ulong,
    remote: *const libc::iovec,
    riovcnt: libc::c_ulong,
    flags: libc::c_ulong,
) -> ssize_t {
    // SAFETY: the caller guarantees both iovec arrays.
    unsafe {
        libc::syscall(
            libc::SYS_process_vm_readv,
            pid,
            local,
            liovcnt,
            remote,
            riovcnt,
            flags,
        ) as ssize_t
    }
}

/// `sched_yield(2)`.
pub fn sched_yield() {
    // SAFETY: sched_yield takes no arguments.
    unsafe { libc::syscall(libc::SYS_sched_yield) };
}

/// `sigaltstack(2)`.
///
/// # Safety
///
/// `ss` must be null or describe memory usable as the thread's signal
/// stack for as long as it is installed; `old` null or writable.
pub unsafe fn sigaltstack(ss: *const libc::stack_t, old: *mut libc::stack_t) -> c_int {
    // SAFETY: the caller guarantees ss and old.
    unsafe { libc::syscall(libc::SYS_sigaltstack, ss, old) as c_int }
}

/// `sigpending(2)` (`rt_sigpending`, the kernel's 8-byte set).
pub fn sigpending(set: &mut libc::sigset_t) -> c_int {
    // SAFETY: set is writable and larger than the kernel's 8 bytes.
    unsafe { libc::syscall(libc::SYS_rt_sigpending, set as *mut libc::sigset_t, 8usize) as c_int }
}

/// `sigtimedwait(2)` (`rt_sigtimedwait`, the kernel's 8-byte set).
///
/// # Safety
///
/// `info` must be null or writable.
pub unsafe fn sigtimedwait(
    set: &libc::sigset_t,
    info: *mut libc::siginfo_t,
    timeout: &libc::timespec,
) -> c_int {
    // SAFETY: set and timeout are valid; the caller guarantees info.
    unsafe {
        libc::syscall(
            libc::SYS_rt_sigtimedwait,
            set as *const libc::sigset_t,
            info,
            timeout as *const libc::timespec,
            8usize,
        ) as c_int
    }
}

/// `fcntl(2)`.
///
/// # Safety
///
/// `arg` must be what `cmd` expects (for some commands, a pointer).
pub unsafe fn fcntl(fd: c_int, cmd: c_int, arg: c_long) -> c_int {
    // SAFETY: the caller guarantees arg for cmd.
    unsafe { libc::syscall(libc::SYS_fcntl, fd, cmd, arg) as c_int }
}

/// `getcwd(2)`, the system call: the length of the path with its NUL, not
/// a pointer. The path does not start with '/' if the directory is not
/// reachable from the root (the C library then fails with ENOENT).
pub fn getcwd(buf: &mut [u8]) -> ssize_t {
    // SAFETY: buf is writable for its length.
    unsafe { libc::syscall(libc::SYS_getcwd, buf.as_mut_ptr(), buf.len()) as ssize_t }
}

/// `uname(2)`.
pub fn uname(buf: &mut libc::utsname) -> c_int {
    // SAFETY: buf is a writable utsname.
    unsafe { libc::syscall(libc::SYS_uname, buf as *mut libc::utsname) as c_int }
}

/// `getpid(2)`.
pub fn getpid() -> libc::pid_t {
    // SAFETY: getpid takes no arguments and cannot fail.
    unsafe { libc::syscall(libc::SYS_getpid) as libc::pid_t }
}

/// `getuid(2)`.
pub fn getuid() -> libc::uid_t {
    // SAFETY: getuid takes no arguments and cannot fail.
    unsafe { libc::syscall(libc::SYS_getuid) as libc::uid_t }
}
