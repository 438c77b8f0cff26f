//! Output: choosing where a dump goes and writing it, bounded in time.
//!
//! Signal-safe: fixed buffers or a mapping of the dump's own, raw system
//! calls. A dump is built whole in memory and written at its end in as few
//! `write(2)` calls as the destination allows, while holding its turn on
//! the destination, a lock shared with every other process that dumps to it
//! ([`turn`]); so when many processes crash at once onto one pipe or file,
//! every dump arrives whole. Without the memory for that, a dump is written
//! in chunks of at most [`CHUNK`] bytes that end at line boundaries, so that
//! on a pipe shared by many processes no line is interleaved with another
//! writer's (writes of up to PIPE_BUF bytes are atomic). Every write first
//! waits for the descriptor with `poll` and the time left before the dump's
//! deadline: a stopped reader or a full pipe ends the dump instead of hanging
//! it. SIGPIPE is blocked while writing, and a SIGPIPE the dump itself caused
//! is taken off the thread again, so a closed reader never changes how the
//! process dies.

pub mod buffer;
pub mod turn;

use core::sync::atomic::{AtomicPtr, AtomicU64, Ordering};

use buffer::Pending;
pub use turn::TurnReport;
use turn::{Route, Turn};

use crate::format::line::Line;
use crate::format::names;
use crate::report::path::expand_path;
use crate::settings::Output;
use crate::sys;

/// PIPE_BUF on Linux: the largest write that is atomic on a pipe.
pub const CHUNK: usize = 4096;

/// Device and inode of fd 2 when the process started, so that a dump can tell
/// the program's stderr from a data file that later took its number.
static STDERR_IDENTITY: AtomicU64 = AtomicU64::new(0);

fn file_identity(st: &libc::stat) -> u64 {
    (st.st_dev.rotate_left(32)) ^ st.st_ino ^ 1
}

/// Start-up: remembers what fd 2 is.
#[cfg_attr(test, allow(dead_code))] // called by the constructor only
pub fn record_stderr_identity() {
    if let Some(st) = sys::fstat(2) {
        STDERR_IDENTITY.store(file_identity(&st), Ordering::Relaxed);
    }
}

/// Most pieces a [`say_on_stderr`] line is made of.
const MAX_PIECES: usize = 8;

/// Writes one line made of `pieces` to fd 2, in one `writev` (no buffer:
/// the caller may be on a program's small signal stack), if fd 2 may
/// receive it ([`stderr_usable`]). Pieces past [`MAX_PIECES`] are left out.
pub fn say_on_stderr(pieces: &[&[u8]]) {
    if !stderr_usable() {
        return;
    }
    let mut iov = [libc::iovec {
        iov_base: core::ptr::null_mut(),
        iov_len: 0,
    }; MAX_PIECES];
    for (v, p) in iov.iter_mut().zip(pieces) {
        *v = libc::iovec {
            iov_base: p.as_ptr().cast_mut().cast(),
            iov_len: p.len(),
        };
    }
    let n = pieces.len().min(MAX_PIECES);
    // SAFETY: the first n iovecs describe the caller's bytes, which live
    // across the call; failure is irrelevant here.
    unsafe { sys::raw::writev(2, iov.as_ptr(), n as i32) };
}

/// Whether fd 2 may receive a dump now: open for writing, and not a regular
/// file written without `O_APPEND` that was not fd 2 at start (a program that
/// closed stderr and reused the number for its data must not get a dump
/// written into that data).
pub fn stderr_usable() -> bool {
    // SAFETY: F_GETFL on any integer is safe; failure is reported.
    let flags = unsafe { sys::raw::fcntl(2, libc::F_GETFL, 0) };
    if flags < 0 || flags & libc::O_ACCMODE == libc::O_RDONLY {
        return false;
    }
    let Some(st) = sys::fstat(2) else {
        return false;
    };
    let regular = st.st_mode & libc::S_IFMT == libc::S_IFREG;
    !(regular
        && flags & libc::O_APPEND == 0
        && file_identity(&st) != STDERR_IDENTITY.load(Ordering::Relaxed))
}

/// Where one dump goes.
pub struct Target {
    pub fd: i32,
    owned: bool,
    /// Why the configured file could not be used, reported in the dump.
    pub fallback_note: Option<(i32, [u8; 512], usize)>,
}

impl Drop for Target {
    fn drop(&mut self) {
        if self.owned {
            // SAFETY: the descriptor was opened for this dump.
            unsafe { sys::raw::close(self.fd) };
        }
    }
}

impl Target {
    /// An explicit descriptor (the C API), used as given.
    pub fn fd(fd: i32) -> Target {
        Target {
            fd,
            owned: false,
            fallback_note: None,
        }
    }

    /// The configured output, opened now. `None` if the dump must be skipped.
    pub fn open(output: &Output, exe_base: &[u8]) -> Option<Target> {
        let template = match output {
            Output::Stderr => return stderr_usable().then(|| Target::fd(2)),
            Output::File(template) => template,
        };
        let mut path = [0u8; 512];
        let len = expand_path(
            template,
            sys::getpid(),
            exe_base,
            sys::realtime_ns() / 1_000_000_000,
            &mut path,
        );
        let Some(len) = len else {
            return Target::stderr_because(libc::ENAMETOOLONG, &path, 0);
        };
        // SAFETY: expand_path NUL-terminated the path.
        let fd = unsafe {
            sys::raw::open(
                path.as_ptr().cast(),
                libc::O_WRONLY
                    | libc::O_APPEND
                    | libc::O_CREAT
                    | libc::O_CLOEXEC
                    | libc::O_NOFOLLOW
                    | libc::O_NONBLOCK,
                0o600,
            )
        };
        if fd < 0 {
            return Target::stderr_because(sys::errno(), &path, len);
        }
        Some(Target {
            fd,
            owned: true,
            fallback_note: None,
        })
    }

    fn stderr_because(errno: i32, path: &[u8; 512], len: usize) -> Option<Target> {
        stderr_usable().then(|| Target {
            fd: 2,
            owned: false,
            fallback_note: Some((errno, *path, len)),
        })
    }

    /// The line a dump starts with when the configured file could not be
    /// used; false when there is none.
    pub fn fallback_note(&self, line: &mut Line) -> bool {
        let Some((errno, path, len)) = &self.fallback_note else {
            return false;
        };
        line.push(b"faultdump: cannot open '");
        line.push(&path[..*len]);
        line.push(b"': ");
        line.push(names::errno_name(*errno).as_bytes());
        line.push(b"; writing to stderr");
        true
    }
}

/// Writes one dump to a descriptor: built whole and written in as few
/// calls as the destination allows, in turn with other processes (see
/// [`buffer`] and [`turn`]); else in line-aligned chunks as it is produced.
pub struct Writer {
    fd: i32,
    pending: Pending,
    started_ns: u64,
    deadline_ns: u64,
    /// A write failed or the deadline passed: the rest of the dump is dropped.
    pub stopped: bool,
    /// How to write and the lock, from the first write on.
    turn: Option<Turn>,
    /// Every [`Writer::flush`] writes out what is pending: the dump is built
    /// a chunk at a time, or has taken half of its time already.
    streaming: bool,
    old_mask: libc::sigset_t,
    sigpipe_was_pending: bool,
}

/// The writer whose whole dump is not written yet, for
/// [`write_pending_after_fault`].
static PENDING_WRITER: AtomicPtr<Writer> = AtomicPtr::new(core::ptr::null_mut());

/// A fault inside the dump ends the process: writes out what the dump had
/// built so far, as the chunked writer would have. Called on the dumping
/// thread only.
pub fn write_pending_after_fault() {
    let writer = PENDING_WRITER.swap(core::ptr::null_mut(), Ordering::AcqRel);
    if !writer.is_null() {
        // SAFETY: the pointer was registered by a writer on this thread's
        // dump stack (the dump faulted inside it, so it is still there), and
        // the interrupted dump never resumes: the process dies next.
        unsafe { (*writer).emit() };
    }
}

impl Writer {
    pub fn new(fd: i32, deadline_ns: u64) -> Writer {
        Writer::with(fd, deadline_ns, Pending::new(true))
    }

    fn with(fd: i32, deadline_ns: u64, pending: Pending) -> Writer {
        let sigpipe_was_pending = sys::sigismember(&sys::sigpending(), libc::SIGPIPE);
        let old_mask = sys::sigmask(libc::SIG_BLOCK, &sys::sigset_of(&[libc::SIGPIPE]));
        Writer {
            fd,
            streaming: !pending.is_whole(),
            pending,
            started_ns: sys::monotonic_ns(),
            deadline_ns,
            stopped: false,
            turn: None,
            old_mask,
            sigpipe_was_pending,
        }
    }

    /// Appends a complete line (a newline is added).
    pub fn line(&mut self, line: &Line) {
        self.line_bytes(line.as_bytes());
    }

    pub fn line_bytes(&mut self, bytes: &[u8]) {
        let capacity = self.pending.capacity();
        if self.pending.len() + bytes.len() + 1 > capacity {
            self.emit();
        }
        if bytes.len() + 1 > capacity {
            // Longer than the buffer: it cannot be written whole anyway.
            self.raw(bytes);
            self.raw(b"\n");
            return;
        }
        self.pending.push(bytes);
        self.pending.push(b"\n");
    }

    /// Appends bytes with no regard to lines (JSON, one long line).
    pub fn raw(&mut self, mut bytes: &[u8]) {
        while !bytes.is_empty() {
            if self.pending.is_full() {
                self.emit();
            }
            let n = self.pending.push(bytes);
            bytes = &bytes[n..];
        }
    }

    /// A point where what was produced should survive a later fault: written
    /// out when the dump goes out as it is produced, else kept whole (and
    /// written by [`write_pending_after_fault`] if the dump faults).
    pub fn flush(&mut self) {
        let now = sys::monotonic_ns();
        let half = self.started_ns + self.deadline_ns.saturating_sub(self.started_ns) / 2;
        if self.streaming || now >= half {
            // A slow dump writes what it has while there is time.
            self.streaming = true;
            self.emit();
        } else {
            PENDING_WRITER.store(self as *mut Writer, Ordering::Release);
        }
    }

    /// The turn on the destination, taken now if it was not yet (waiting for
    /// it within the deadline): how long that took and whether it came.
    pub fn turn(&mut self) -> TurnReport {
        let turn = self.take_turn();
        TurnReport {
            waited_ns: turn.waited_ns,
            late: turn.late,
        }
    }

    fn take_turn(&mut self) -> &Turn {
        let (fd, deadline_ns) = (self.fd, self.deadline_ns);
        self.turn.get_or_insert_with(|| Turn::take(fd, deadline_ns))
    }

    /// Writes out everything pending, the way the destination allows.
    fn emit(&mut self) {
        if !self.stopped && self.pending.len() > 0 {
            let route = self.take_turn().route;
            let mut bytes = self.pending.bytes();
            while !bytes.is_empty() && !self.stopped {
                let (fd, n) = match route {
                    Route::Whole(fd) | Route::Send(fd) => (fd, bytes.len()),
                    Route::Chunks(fd) => (fd, buffer::chunk_len(bytes)),
                };
                let done = write_all(
                    fd,
                    &bytes[..n],
                    matches!(route, Route::Send(_)),
                    !matches!(route, Route::Chunks(_)),
                    self.deadline_ns,
                );
                self.stopped = done < n;
                bytes = &bytes[n..];
            }
        }
        self.pending.clear();
    }
}

/// Writes `bytes` to `fd` (with `send(2)` and `MSG_DONTWAIT` if `send`),
/// each call after `poll` says the descriptor is ready, until all is written,
/// a write fails or the deadline passes. Returns the bytes written. A
/// descriptor that never blocks (`nonblocking`) gets one more write when the
/// wait is over: it costs no time, and a dump whose making overran its
/// deadline still arrives.
fn write_all(fd: i32, bytes: &[u8], send: bool, nonblocking: bool, deadline_ns: u64) -> usize {
    let mut done = 0;
    let mut last_try = nonblocking;
    while done < bytes.len() {
        if !wait_writable(fd, deadline_ns) {
            if !last_try {
                break;
            }
            last_try = false;
        }
        let rest = &bytes[done..];
        let n = if send {
            // SAFETY: the pointer and length describe rest; no address.
            unsafe {
                libc::syscall(
                    libc::SYS_sendto,
                    fd,
                    rest.as_ptr(),
                    rest.len(),
                    libc::MSG_DONTWAIT | libc::MSG_NOSIGNAL,
                    core::ptr::null::<libc::sockaddr>(),
                    0,
                ) as isize
            }
        } else {
            // SAFETY: the pointer and length describe rest.
            unsafe { sys::raw::write(fd, rest.as_ptr().cast(), rest.len()) }
        };
        if n > 0 {
            done += n as usize;
        } else if n < 0 && sys::errno() == libc::EINTR
            || n < 0 && sys::errno() == libc::EAGAIN && sys::monotonic_ns() < deadline_ns
        {
            continue;
        } else {
            break;
        }
    }
    done
}

fn wait_writable(fd: i32, deadline_ns: u64) -> bool {
    let now = sys::monotonic_ns();
    if now >= deadline_ns {
        return false;
    }
    let mut pfd = libc::pollfd {
        fd,
        events: libc::POLLOUT,
        revents: 0,
    };
    let ms = ((deadline_ns - now) / 1_000_000).clamp(1, i32::MAX as u64) as i32;
    loop {
        let r = sys::raw::poll(core::slice::from_mut(&mut pfd), ms);
        if r > 0 {
            // POLLERR/POLLHUP: let write report the error.
            return true;
        }
        if r == 0 || sys::errno() != libc::EINTR || sys::monotonic_ns() >= deadline_ns {
            return false;
        }
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        self.emit();
        let me: *mut Writer = self;
        let _ = PENDING_WRITER.compare_exchange(
            me,
            core::ptr::null_mut(),
            Ordering::AcqRel,
            Ordering::Relaxed,
        );
        // The lock goes only after the last byte.
        self.turn = None;
        if !self.sigpipe_was_pending && sys::sigismember(&sys::sigpending(), libc::SIGPIPE) {
            sys::consume_pending(libc::SIGPIPE);
        }
        sys::sigmask(libc::SIG_SETMASK, &self.old_mask);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The sizes of the records a SEQPACKET socket received from `w`
    /// (every write(2) stays one record), after `produce` and again after
    /// the writer is dropped.
    fn records(whole: bool, produce: impl FnOnce(&mut Writer)) -> (Vec<isize>, Vec<isize>) {
        let mut fds = [0; 2];
        // SAFETY: fds is writable for two descriptors.
        let r =
            unsafe { libc::socketpair(libc::AF_UNIX, libc::SOCK_SEQPACKET, 0, fds.as_mut_ptr()) };
        assert_eq!(r, 0);
        let read_all = || {
            let mut sizes = Vec::new();
            let mut buf = [0u8; 8192];
            loop {
                // SAFETY: buf is writable for its length.
                let n = unsafe {
                    libc::recv(
                        fds[0],
                        buf.as_mut_ptr().cast(),
                        buf.len(),
                        libc::MSG_DONTWAIT,
                    )
                };
                if n <= 0 {
                    return sizes;
                }
                assert_eq!(buf[n as usize - 1], b'\n', "every chunk ends a line");
                sizes.push(n);
            }
        };
        let deadline = sys::monotonic_ns() + 1_000_000_000;
        let mut w = Writer::with(fds[1], deadline, Pending::new(whole));
        produce(&mut w);
        let during = read_all();
        drop(w);
        let after = read_all();
        // SAFETY: closing our own descriptors.
        unsafe {
            libc::close(fds[0]);
            libc::close(fds[1]);
        }
        (during, after)
    }

    fn five_lines_and_a_flush(w: &mut Writer) {
        let line = [b'a'; 1000];
        for _ in 0..5 {
            w.line_bytes(&line);
        }
        w.flush();
    }

    #[test]
    fn writer_chunks_end_at_lines() {
        // A record socket takes a dump in line-aligned chunks: written at the
        // end when it is built whole, as it goes without the memory.
        let (during, after) = records(true, five_lines_and_a_flush);
        assert_eq!((during, after), (vec![], vec![4004, 1001]));
        let (during, after) = records(false, five_lines_and_a_flush);
        assert_eq!((during, after), (vec![4004, 1001], vec![]));
    }

    #[test]
    fn a_whole_dump_is_one_write_at_the_end() {
        let mut fds = [0; 2];
        // SAFETY: fds is writable for two descriptors.
        assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
        let queued = || {
            let mut n: libc::c_int = 0;
            // SAFETY: FIONREAD writes one int.
            unsafe { libc::ioctl(fds[0], libc::FIONREAD, &mut n) };
            n
        };
        let mut w = Writer::new(fds[1], sys::monotonic_ns() + 1_000_000_000);
        for _ in 0..20 {
            w.line_bytes(&[b'b'; 999]);
            w.flush();
        }
        assert_eq!(queued(), 0, "nothing written before the end");
        assert!(!w.turn().late);
        drop(w);
        assert_eq!(queued(), 20_000);
        // SAFETY: closing our own descriptors.
        unsafe {
            libc::close(fds[0]);
            libc::close(fds[1]);
        }
    }

    #[test]
    fn writer_gives_up_on_a_full_pipe() {
        let mut fds = [0; 2];
        // SAFETY: fds is writable for two descriptors.
        assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
        let start = sys::monotonic_ns();
        let mut w = Writer::new(fds[1], start + 200_000_000);
        let line = [b'a'; 1000];
        for _ in 0..200 {
            w.line_bytes(&line);
        }
        drop(w);
        let took = sys::monotonic_ns() - start;
        assert!(took < 2_000_000_000, "took {took} ns");
        // SAFETY: closing our own descriptors.
        unsafe {
            libc::close(fds[0]);
            libc::close(fds[1]);
        }
    }

    #[test]
    fn closed_reader_leaves_no_sigpipe() {
        let mut fds = [0; 2];
        // SAFETY: fds is writable for two descriptors.
        assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
        // SAFETY: closing our own read end.
        unsafe { libc::close(fds[0]) };
        let mut w = Writer::new(fds[1], sys::monotonic_ns() + 1_000_000_000);
        w.line_bytes(b"hello");
        drop(w);
        assert!(!sys::sigismember(&sys::sigpending(), libc::SIGPIPE));
        // SAFETY: closing our own write end.
        unsafe { libc::close(fds[1]) };
    }
}
