//! The system layer: thin wrappers over the system calls the signal-safe
//! core uses (this file, on the direct system calls of [`raw`], which says
//! why the C library's wrappers are not imported), fault-safe reads of the
//! process's memory ([`memory`]), the crash arena and the library's
//! allocator ([`arena`]), the processor-specific code ([`arch`]), and the
//! thread functions found by name ([`libpthread`]).
//!
//! Async-signal-safe, except [`libpthread`]'s look-ups (start-up and the
//! C API only; they take the loader lock): each function here is one or a
//! few system calls (or a vDSO call for clocks), with no allocation, no lock
//! and no loader call. Code that runs in a signal handler reaches the kernel
//! only through this folder, which is why the list of the system calls a
//! dump makes (the crate's documentation) can be read off it.

pub mod arch;
pub mod arena;
pub mod dispositions;
pub mod files;
pub mod hostalloc;
pub mod libpthread;
pub mod memory;
pub mod raw;
pub mod realsig;
pub mod recover;
pub mod reserve;

use core::ffi::CStr;

/// Saves `errno` on creation and restores it on drop: every handler holds one,
/// so the interrupted code never sees an `errno` it did not set.
pub struct ErrnoGuard(i32);

impl ErrnoGuard {
    pub fn save() -> Self {
        // SAFETY: __errno_location returns the calling thread's errno slot.
        ErrnoGuard(unsafe { *libc::__errno_location() })
    }
}

impl Drop for ErrnoGuard {
    fn drop(&mut self) {
        set_errno(self.0);
    }
}

pub fn errno() -> i32 {
    // SAFETY: __errno_location returns the calling thread's errno slot.
    unsafe { *libc::__errno_location() }
}

/// Sets the calling thread's `errno`.
pub fn set_errno(e: i32) {
    // SAFETY: __errno_location returns the calling thread's errno slot.
    unsafe { *libc::__errno_location() = e };
}

pub fn gettid() -> i32 {
    // SAFETY: gettid takes no arguments and cannot fail.
    unsafe { libc::syscall(libc::SYS_gettid) as i32 }
}

pub use raw::getpid;

/// `kill` of the own process: the kernel gives the signal to one thread
/// that does not block it.
pub fn kill_own_process(sig: i32) -> bool {
    // SAFETY: kill only takes integers.
    unsafe { libc::syscall(libc::SYS_kill, getpid(), sig) == 0 }
}

/// Sends `sig` to one thread of this process.
pub fn tgkill(tid: i32, sig: i32) -> bool {
    // SAFETY: tgkill only takes integers.
    unsafe { libc::syscall(libc::SYS_tgkill, getpid(), tid, sig) == 0 }
}

/// Whether `tid` is a thread of process `pid` (signal 0 is only checked).
pub fn thread_exists(pid: i32, tid: i32) -> bool {
    // SAFETY: tgkill only takes integers; signal 0 sends nothing.
    unsafe { libc::syscall(libc::SYS_tgkill, pid, tid, 0) == 0 || errno() != libc::ESRCH }
}

/// Whether process `pid` shares this process's memory (a `vfork` parent
/// or child), by `kcmp(KCMP_VM)`. Where the kernel cannot say (no
/// `kcmp`, not permitted), it is assumed to: the caller then leaves alone
/// what that process may be using.
pub fn shares_memory_with(pid: i32) -> bool {
    const KCMP_VM: i32 = 1;
    // SAFETY: kcmp only compares kernel objects of two processes.
    let r = unsafe { libc::syscall(libc::SYS_kcmp, getpid(), pid, KCMP_VM, 0, 0) };
    // 0: the same; 1, 2, 3: different (ordered or not); -1: unknown.
    !(1..=3).contains(&r)
}

/// Nanoseconds on the monotonic clock (a vDSO call, no system call).
pub fn monotonic_ns() -> u64 {
    clock_ns(libc::CLOCK_MONOTONIC)
}

/// Nanoseconds since the Unix epoch.
pub fn realtime_ns() -> u64 {
    clock_ns(libc::CLOCK_REALTIME)
}

fn clock_ns(clock: libc::clockid_t) -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: ts is a valid, writable timespec.
    unsafe { libc::clock_gettime(clock, &mut ts) };
    (ts.tv_sec as u64)
        .saturating_mul(1_000_000_000)
        .saturating_add(ts.tv_nsec as u64)
}

pub fn sleep_ns(ns: u64) {
    let ts = libc::timespec {
        tv_sec: (ns / 1_000_000_000) as _,
        tv_nsec: (ns % 1_000_000_000) as libc::c_long,
    };
    raw::nanosleep(&ts);
}

/// Opens a file read-only; `None` on failure. Without waiting: a FIFO
/// planted where a module or debug file is looked for would otherwise
/// block the open (and the dump, whose deadline only covers writing) until
/// a writer comes. Regular files ignore `O_NONBLOCK`; what maps a file
/// checks that it is one ([`Mapping::file`]).
pub fn open_read(path: &CStr) -> Option<Fd> {
    let flags = libc::O_RDONLY | libc::O_CLOEXEC | libc::O_NONBLOCK;
    // SAFETY: path is NUL-terminated.
    let fd = unsafe { raw::open(path.as_ptr(), flags, 0) };
    (fd >= 0).then(|| Fd(fd))
}

/// Opens a directory for [`Fd::getdents64`]; `None` on failure.
pub fn open_dir(path: &CStr) -> Option<Fd> {
    // SAFETY: path is NUL-terminated.
    let fd = unsafe {
        raw::open(
            path.as_ptr(),
            libc::O_RDONLY | libc::O_DIRECTORY | libc::O_CLOEXEC,
            0,
        )
    };
    (fd >= 0).then(|| Fd(fd))
}

/// The `d_name` of each `struct linux_dirent64` record in `buf`.
pub fn dirent_names(buf: &[u8]) -> impl Iterator<Item = &[u8]> {
    // struct linux_dirent64 { u64 d_ino; i64 d_off; u16 d_reclen;
    //                         u8 d_type; char d_name[]; }
    const NAME: usize = 19;
    let mut at = 0;
    core::iter::from_fn(move || {
        if at + NAME > buf.len() {
            return None;
        }
        let reclen = u16::from_ne_bytes([buf[at + 16], buf[at + 17]]) as usize;
        if reclen < NAME || at + reclen > buf.len() {
            return None;
        }
        let name = &buf[at + NAME..at + reclen];
        at += reclen;
        let len = name.iter().position(|&b| b == 0).unwrap_or(name.len());
        Some(&name[..len])
    })
}

/// A file descriptor this code opened and closes on drop.
pub struct Fd(pub i32);

impl Fd {
    /// The next directory records (`struct linux_dirent64`) into `buf`;
    /// returns the bytes filled, 0 at the end or on error.
    pub fn getdents64(&self, buf: &mut [u8]) -> usize {
        // SAFETY: buf is writable for its length; the kernel fills records.
        let n = unsafe { libc::syscall(libc::SYS_getdents64, self.0, buf.as_mut_ptr(), buf.len()) };
        n.max(0) as usize
    }

    /// Reads exactly `buf.len()` bytes at `offset` (`pread`); false if the
    /// file is shorter or on error.
    pub fn pread_exact(&self, buf: &mut [u8], offset: u64) -> bool {
        let mut done = 0;
        while done < buf.len() {
            // SAFETY: the pointer and length describe the unfilled part of buf.
            let n = unsafe {
                raw::pread(
                    self.0,
                    buf[done..].as_mut_ptr().cast(),
                    buf.len() - done,
                    (offset + done as u64) as libc::off_t,
                )
            };
            if n > 0 {
                done += n as usize;
            } else if n == 0 || errno() != libc::EINTR {
                return false;
            }
        }
        true
    }

    /// Reads until `buf` is full or end of file; returns the bytes read.
    pub fn read_full(&self, buf: &mut [u8]) -> usize {
        let mut done = 0;
        while done < buf.len() {
            // SAFETY: the pointer and length describe the unfilled part of buf.
            let n = unsafe { raw::read(self.0, buf[done..].as_mut_ptr().cast(), buf.len() - done) };
            if n > 0 {
                done += n as usize;
            } else if n == 0 || errno() != libc::EINTR {
                break;
            }
        }
        done
    }
}

/// Takes the exclusive `flock` of `fd`'s open file description, without
/// waiting; false if another description holds it (or on error). The kernel
/// drops it when the last descriptor of the description closes, so a holder
/// that dies never leaves it taken.
pub fn try_flock(fd: i32) -> bool {
    // SAFETY: flock on any integer is safe; failure is reported.
    unsafe { libc::syscall(libc::SYS_flock, fd, libc::LOCK_EX | libc::LOCK_NB) == 0 }
}

impl Drop for Fd {
    fn drop(&mut self) {
        // SAFETY: the descriptor was opened by this code and is closed once.
        unsafe { raw::close(self.0) };
    }
}

/// Reads a whole small file (a /proc entry) into `buf`; returns the length.
pub fn read_file(path: &CStr, buf: &mut [u8]) -> Option<usize> {
    open_read(path).map(|fd| fd.read_full(buf))
}

/// The status of an open file, by the `fstat` system call itself: the C
/// library's `fstat` is `fstatat(fd, "", ..., AT_EMPTY_PATH)`, whose empty
/// path the kernel reads from a page of the C library that nothing else in
/// a short process touches (one page fault more at start-up).
pub fn fstat(fd: i32) -> Option<libc::stat> {
    // SAFETY: st is plain data the kernel fills in.
    let mut st: libc::stat = unsafe { core::mem::zeroed() };
    // SAFETY: fstat on any integer is safe; failure is reported. The C
    // library's `struct stat` is the kernel's on x86_64 and aarch64.
    (unsafe { libc::syscall(libc::SYS_fstat, fd, &mut st) } == 0).then_some(st)
}

/// The system's page size (arm64 kernels may use 16 or 64 KiB pages), at
/// least 4 KiB.
pub fn page_size() -> usize {
    // SAFETY: getauxval reads the saved auxiliary vector; no lock.
    (unsafe { libc::getauxval(libc::AT_PAGESZ) } as usize).max(4096)
}

/// An anonymous private mapping, unmapped on drop.
pub struct Mapping {
    pub ptr: *mut u8,
    pub len: usize,
}

impl Mapping {
    /// Maps `len` bytes of fresh zeroed memory with no swap reservation, so
    /// that only the pages touched cost anything.
    pub fn anonymous(len: usize) -> Option<Mapping> {
        // SAFETY: an anonymous mapping with no fixed address has no
        // preconditions; failure is reported as MAP_FAILED.
        let ptr = unsafe {
            raw::mmap(
                core::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
                -1,
                0,
            )
        };
        (ptr != libc::MAP_FAILED).then(|| Mapping {
            ptr: ptr.cast(),
            len,
        })
    }

    /// Maps a whole file read-only; `None` if it is empty or cannot be mapped.
    pub fn file(fd: &Fd) -> Option<Mapping> {
        let st = fstat(fd.0)?;
        if st.st_mode & libc::S_IFMT != libc::S_IFREG || st.st_size <= 0 {
            return None;
        }
        let len = st.st_size as usize;
        // SAFETY: mapping an open regular file read-only and private.
        let ptr = unsafe {
            raw::mmap(
                core::ptr::null_mut(),
                len,
                libc::PROT_READ,
                libc::MAP_PRIVATE,
                fd.0,
                0,
            )
        };
        (ptr != libc::MAP_FAILED).then(|| Mapping {
            ptr: ptr.cast(),
            len,
        })
    }

    /// A second mapping of the file pages mapped at `start` (`len` bytes,
    /// page-aligned: one private mapping of a file from its offset 0), grown
    /// to `file_len` bytes of that file, without a descriptor: the file's
    /// symbol tables when it cannot be opened. `MREMAP_DONTUNMAP` (file
    /// mappings from Linux 5.13; before, EINVAL) moves the range's pages to
    /// a new address and leaves the range mapped, empty, so the program's
    /// next access refaults the same pages from the page cache; the second
    /// `mremap` grows the new mapping over the following file offsets (a
    /// file mapping may extend past what the loader mapped). `None` if
    /// either call fails (then nothing is left mapped). `file_len` is what
    /// the file's header claims, not the file's size (no descriptor to ask
    /// `fstat`): pages past the file's real end would fault (`SIGBUS`) when
    /// read, so the mapping is cut back to the last page the kernel can
    /// copy (`process_vm_readv` fails on such a page instead of faulting).
    ///
    /// # Safety
    ///
    /// Every page of the old range must hold exactly the file's bytes (no
    /// copy-on-write page: never written, by the loader or anyone else),
    /// since what the program reads there afterwards comes from the file.
    pub unsafe fn remap_file(start: usize, len: usize, file_len: usize) -> Option<Mapping> {
        // SAFETY: the caller guarantees the range is a private file mapping
        // whose pages equal the file's; the kernel picks the new address (no
        // MREMAP_FIXED), so no other mapping is touched.
        let moved = unsafe {
            libc::syscall(
                libc::SYS_mremap,
                start,
                len,
                len,
                libc::MREMAP_MAYMOVE | libc::MREMAP_DONTUNMAP,
                0usize,
            )
        };
        if moved == -1 {
            return None;
        }
        let mapping = Mapping {
            ptr: moved as *mut u8,
            len,
        };
        if file_len <= len {
            return Some(mapping);
        }
        // SAFETY: growing the mapping just made, which nothing else refers
        // to; if it moves, the kernel unmaps the old place. On failure it is
        // unmapped by `mapping`'s drop.
        let grown = unsafe {
            libc::syscall(
                libc::SYS_mremap,
                mapping.ptr,
                len,
                file_len,
                libc::MREMAP_MAYMOVE,
                0usize,
            )
        };
        if grown == -1 {
            return None;
        }
        core::mem::forget(mapping);
        let mut grown = Mapping {
            ptr: grown as *mut u8,
            len: file_len,
        };
        grown.cut_to_readable(len);
        Some(grown)
    }

    /// Unmaps the pages past the last one the kernel can read, searching
    /// from `known` bytes (readable) on: a file mapping's pages are
    /// readable up to the file's end and fault after it.
    fn cut_to_readable(&mut self, known: usize) {
        let page = page_size();
        let readable = |at: usize| {
            let mut byte = [0u8; 1];
            memory::kernel_copy(self.ptr as u64 + at as u64, &mut byte)
        };
        // Pages [0, lo) are readable; pages from hi on are not.
        let (mut lo, mut hi) = (known.div_ceil(page), self.len.div_ceil(page));
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            if readable(mid * page) {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        let end = (lo * page).min(self.len);
        if end < self.len {
            // SAFETY: the tail of this mapping, which nothing refers to yet.
            unsafe { raw::munmap(self.ptr.add(end).cast(), self.len - end) };
            self.len = end;
        }
    }

    pub fn bytes(&self) -> &[u8] {
        // SAFETY: the mapping is readable for len bytes while self lives.
        unsafe { core::slice::from_raw_parts(self.ptr, self.len) }
    }
}

impl Drop for Mapping {
    fn drop(&mut self) {
        // SAFETY: ptr/len describe a mapping created by this type.
        unsafe { raw::munmap(self.ptr.cast(), self.len) };
    }
}

/// Whether the running kernel is at least `major.minor`, by `uname`'s
/// release ("6.1.0-13-amd64"); false if it cannot be read.
pub fn kernel_at_least(major: u32, minor: u32) -> bool {
    // SAFETY: a plain struct uname fills in.
    let mut uts: libc::utsname = unsafe { core::mem::zeroed() };
    if raw::uname(&mut uts) != 0 {
        return false;
    }
    // SAFETY: c_char (i8 or u8 by architecture) has u8's size and
    // alignment; the array lives in uts for the borrow.
    let release = unsafe {
        core::slice::from_raw_parts(uts.release.as_ptr().cast::<u8>(), uts.release.len())
    };
    release_at_least(release, major, minor)
}

/// Whether a kernel release string ("5.13.0-...", NUL-terminated or not)
/// is at least `major.minor`.
fn release_at_least(release: &[u8], major: u32, minor: u32) -> bool {
    let mut numbers = release.split(|&b| !b.is_ascii_digit()).map(|n| {
        (!n.is_empty() && n.len() <= 9)
            .then(|| n.iter().fold(0, |v, &d| v * 10 + u32::from(d - b'0')))
    });
    match (numbers.next().flatten(), numbers.next().flatten()) {
        (Some(a), Some(b)) => (a, b) >= (major, minor),
        _ => false,
    }
}

/// The signal mask of the calling thread, changed with rt_sigprocmask
/// (the system call: `pthread_sigmask` lives in libpthread below glibc
/// 2.32, see [`crate::sys::libpthread`]). As `pthread_sigmask` does, the C
/// library's own signals 32 and 33 are never blocked: glibc's `setuid` and
/// thread cancellation wait for every thread to take them.
pub fn sigmask(how: i32, set: &libc::sigset_t) -> libc::sigset_t {
    let mut set = *set;
    sigdelset(&mut set, 32);
    sigdelset(&mut set, 33);
    // SAFETY: old is written by the call.
    let mut old: libc::sigset_t = unsafe { core::mem::zeroed() };
    // SAFETY: both pointers are valid; the kernel's sigset is 8 bytes.
    unsafe { libc::syscall(libc::SYS_rt_sigprocmask, how, &set, &mut old, 8usize) };
    old
}

/// The bit of `sig` in the kernel's 64-bit mask; none for a number that
/// is not a signal (where the C library's functions fail with EINVAL).
fn sig_bit(sig: i32) -> u64 {
    if (1..=64).contains(&sig) {
        1 << (sig - 1)
    } else {
        0
    }
}

/// The 64 signals the kernel keeps of a C library signal set (its first
/// 64-bit word, in glibc's and musl's `sigset_t` alike).
pub fn mask_bits(set: &libc::sigset_t) -> u64 {
    // SAFETY: sigset_t starts with the kernel's 64-bit mask.
    unsafe { *(set as *const libc::sigset_t).cast::<u64>() }
}

fn set_mask_bits(set: &mut libc::sigset_t, bits: u64) {
    // SAFETY: as in mask_bits; only the first word is written.
    unsafe { *(set as *mut libc::sigset_t).cast::<u64>() = bits };
}

/// The signal set of the kernel's mask `bits`, the rest of `sigset_t` zero
/// (as `sigemptyset` and `sigaddset` would build it, with no call).
pub fn sigset_from_bits(bits: u64) -> libc::sigset_t {
    // SAFETY: an all-zero sigset_t is the empty set.
    let mut set: libc::sigset_t = unsafe { core::mem::zeroed() };
    set_mask_bits(&mut set, bits);
    set
}

pub fn sigset_of(signals: &[i32]) -> libc::sigset_t {
    sigset_from_bits(signals.iter().fold(0, |bits, &s| bits | sig_bit(s)))
}

/// What `sigfillset` gives: every signal but the C library's own, from 32
/// up to its `SIGRTMIN` (glibc: 32 and 33; musl: 32 to 34). 32 and 33 are
/// left out whatever `SIGRTMIN` says, as `sigmask` leaves them out anyway.
/// Computed from `SIGRTMIN` rather than fixed at 32..=34 so that under glibc
/// signal 34 (its `SIGRTMIN`, the program's) stays in the set, blocked by
/// the masks built from it as before.
pub fn sigset_full() -> libc::sigset_t {
    let reserved = (32..libc::SIGRTMIN().max(34)).fold(0, |bits, s| bits | sig_bit(s));
    sigset_from_bits(!reserved)
}

/// `sigaddset` on the kernel's part of `set`; the rest is left as it is.
pub fn sigaddset(set: &mut libc::sigset_t, sig: i32) {
    set_mask_bits(set, mask_bits(set) | sig_bit(sig));
}

/// `sigdelset` on the kernel's part of `set`; the rest is left as it is.
pub fn sigdelset(set: &mut libc::sigset_t, sig: i32) {
    set_mask_bits(set, mask_bits(set) & !sig_bit(sig));
}

pub fn sigismember(set: &libc::sigset_t, sig: i32) -> bool {
    mask_bits(set) & sig_bit(sig) != 0
}

/// Signals pending for the calling thread or the process.
pub fn sigpending() -> libc::sigset_t {
    let mut set = sigset_from_bits(0);
    raw::sigpending(&mut set);
    set
}

/// Takes a pending `sig` off the calling thread without running its handler.
pub fn consume_pending(sig: i32) {
    let set = sigset_of(&[sig]);
    let zero = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: a null siginfo is allowed.
    unsafe { raw::sigtimedwait(&set, core::ptr::null_mut(), &zero) };
}

/// Whether `sig` can be queued at all: under qemu-user the two highest
/// real-time signals are qemu's own (`sigaction` accepts them, queueing
/// fails with EINVAL). Probed on the calling thread with the signal
/// blocked, then taken back. A full queue (EAGAIN: `RLIMIT_SIGPENDING`,
/// shared by every process of the user) does not count against the
/// signal: it can still be sent without data (see `dump::threads::park`).
pub fn can_queue(sig: i32) -> bool {
    let old = sigmask(libc::SIG_BLOCK, &sigset_of(&[sig]));
    let queued = tgsigqueue(gettid(), sig, 0);
    let full = !queued && errno() == libc::EAGAIN;
    if queued {
        consume_pending(sig);
    }
    sigmask(libc::SIG_SETMASK, &old);
    queued || full
}

/// The current disposition of `sig`.
pub fn sigaction_get(sig: i32) -> libc::sigaction {
    // SAFETY: old is written by the call.
    let mut old: libc::sigaction = unsafe { core::mem::zeroed() };
    // SAFETY: a null new action only queries.
    unsafe { realsig::sigaction(sig, core::ptr::null(), &mut old) };
    old
}

/// Puts the kernel's default action back for `sig` (`SIG_DFL`, empty
/// mask, no flags).
pub fn set_default(sig: i32) {
    // SAFETY: an all-zero sigaction is SIG_DFL with an empty mask.
    let default: libc::sigaction = unsafe { core::mem::zeroed() };
    sigaction_set(sig, &default);
}

pub fn sigaction_set(sig: i32, action: &libc::sigaction) -> bool {
    // SAFETY: action is a valid sigaction; the old action is not wanted.
    unsafe { realsig::sigaction(sig, action, core::ptr::null_mut()) == 0 }
}

/// The kernel name of the calling thread (its comm), without allocation.
pub fn thread_name(out: &mut [u8; 16]) -> &[u8] {
    // SAFETY: PR_GET_NAME writes at most 16 bytes, NUL included.
    unsafe { raw::prctl(libc::PR_GET_NAME, out.as_mut_ptr() as libc::c_ulong) };
    let len = out.iter().position(|&b| b == 0).unwrap_or(out.len());
    &out[..len]
}

/// Whether the process may be inspected by its user: `AT_SECURE` (set-uid,
/// set-gid, file capabilities) at start, or not dumpable now.
pub fn is_dumpable() -> bool {
    // SAFETY: PR_GET_DUMPABLE takes no further arguments.
    unsafe { raw::prctl(libc::PR_GET_DUMPABLE, 0) > 0 }
}

/// `readlink` into `buf`; returns the target's bytes.
pub fn readlink<'a>(path: &CStr, buf: &'a mut [u8]) -> Option<&'a [u8]> {
    // SAFETY: path is NUL-terminated and buf is writable for its length.
    let n = unsafe { raw::readlink(path.as_ptr(), buf.as_mut_ptr().cast(), buf.len()) };
    (n > 0).then(|| &buf[..n as usize])
}

/// Waits while `word` holds `expected`, at most `timeout_ns`; returns early
/// on a wake-up, a signal or a spurious wake (callers re-check).
pub fn futex_wait(word: &core::sync::atomic::AtomicU32, expected: u32, timeout_ns: u64) {
    let ts = libc::timespec {
        tv_sec: (timeout_ns / 1_000_000_000) as _,
        tv_nsec: (timeout_ns % 1_000_000_000) as libc::c_long,
    };
    // SAFETY: word is a valid, aligned u32 for the duration of the call;
    // the timeout is relative and valid.
    unsafe {
        libc::syscall(
            libc::SYS_futex,
            word.as_ptr(),
            libc::FUTEX_WAIT | libc::FUTEX_PRIVATE_FLAG,
            expected,
            &ts as *const libc::timespec,
        )
    };
}

/// Wakes up to `count` waiters of `word`.
pub fn futex_wake(word: &core::sync::atomic::AtomicU32, count: i32) {
    // SAFETY: word is a valid, aligned u32; waking has no other effect.
    unsafe {
        libc::syscall(
            libc::SYS_futex,
            word.as_ptr(),
            libc::FUTEX_WAKE | libc::FUTEX_PRIVATE_FLAG,
            count,
        )
    };
}

/// Queues `sig` to thread `tid` of this process with `value` in
/// `si_value` and `si_code` SI_QUEUE (`rt_tgsigqueueinfo`). False if the
/// thread is gone or the signal could not be queued.
pub fn tgsigqueue(tid: i32, sig: i32, value: u64) -> bool {
    // SAFETY: an all-zero siginfo_t is valid; the fields are set below.
    let mut info: libc::siginfo_t = unsafe { core::mem::zeroed() };
    info.si_signo = sig;
    info.si_code = libc::SI_QUEUE;
    let base = (&mut info as *mut libc::siginfo_t).cast::<u8>();
    // SAFETY: siginfo_t is 128 bytes; for SI_QUEUE the union after the
    // three leading ints (offset 16) is { pid_t si_pid; uid_t si_uid;
    // sigval_t si_value; } at offsets 16, 20 and 24.
    unsafe {
        base.add(16).cast::<i32>().write_unaligned(getpid());
        base.add(20).cast::<u32>().write_unaligned(raw::getuid());
        base.add(24).cast::<u64>().write_unaligned(value);
    }
    // SAFETY: info is a valid siginfo_t for the duration of the call.
    unsafe {
        libc::syscall(
            libc::SYS_rt_tgsigqueueinfo,
            getpid(),
            tid,
            sig,
            &info as *const libc::siginfo_t,
        ) == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kernel_releases() {
        assert!(release_at_least(b"6.1.0-13-amd64\0\0", 5, 13));
        assert!(release_at_least(b"5.13.0", 5, 13));
        assert!(!release_at_least(b"5.12.19-generic", 5, 13));
        assert!(!release_at_least(b"4.19.0", 5, 13));
        assert!(release_at_least(b"10.0", 5, 13));
        assert!(!release_at_least(b"", 5, 13));
        assert!(!release_at_least(b"x5.13", 5, 13));
    }

    fn words(set: &libc::sigset_t) -> [u64; 16] {
        // SAFETY: sigset_t is 128 bytes of plain data in glibc and musl.
        unsafe { core::mem::transmute_copy(set) }
    }

    #[test]
    fn signal_sets_as_the_c_library_builds_them() {
        // SAFETY: the C library's functions on valid sets, as a reference.
        let (full, two) = unsafe {
            let mut full: libc::sigset_t = core::mem::zeroed();
            libc::sigfillset(&mut full);
            let mut two: libc::sigset_t = core::mem::zeroed();
            libc::sigemptyset(&mut two);
            libc::sigaddset(&mut two, libc::SIGSEGV);
            libc::sigaddset(&mut two, 64);
            (full, two)
        };
        assert_eq!(words(&sigset_full()), words(&full));
        assert_eq!(words(&sigset_of(&[libc::SIGSEGV, 64, 0, 65])), words(&two));
        let mut set = sigset_of(&[1]);
        sigaddset(&mut set, 64);
        sigdelset(&mut set, 1);
        assert_eq!(mask_bits(&set), 1 << 63);
        assert!(sigismember(&set, 64) && !sigismember(&set, 1) && !sigismember(&set, 0));
    }
}
