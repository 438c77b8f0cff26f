//! Output: choosing where a dump goes and writing it, bounded in time.
//!
//! Signal-safe: fixed buffers, `write(2)`, `poll(2)`. A dump is written in
//! chunks of at most [`CHUNK`] bytes that end at line boundaries, so that on a
//! pipe shared by many processes no line is interleaved with another writer's
//! (writes of up to PIPE_BUF bytes are atomic). Every write first waits for
//! the descriptor with `poll` and the time left before the dump's deadline: a
//! stopped reader or a full pipe ends the dump instead of hanging it. SIGPIPE
//! is blocked while writing, and a SIGPIPE the dump itself caused is taken off
//! the thread again, so a closed reader never changes how the process dies.

use core::sync::atomic::{AtomicU64, Ordering};

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

fn fstat(fd: i32) -> Option<libc::stat> {
    // SAFETY: st is plain data written by fstat.
    let mut st: libc::stat = unsafe { core::mem::zeroed() };
    // SAFETY: fstat on any integer is safe; failure is reported.
    (unsafe { libc::fstat(fd, &mut st) } == 0).then_some(st)
}

/// Start-up: remembers what fd 2 is.
#[cfg_attr(test, allow(dead_code))] // called by the constructor only
pub fn record_stderr_identity() {
    if let Some(st) = fstat(2) {
        STDERR_IDENTITY.store(file_identity(&st), Ordering::Relaxed);
    }
}

/// Whether fd 2 may receive a dump now: open for writing, and not a regular
/// file written without `O_APPEND` that was not fd 2 at start (a program that
/// closed stderr and reused the number for its data must not get a dump
/// written into that data).
pub fn stderr_usable() -> bool {
    // SAFETY: F_GETFL on any integer is safe; failure is reported.
    let flags = unsafe { libc::fcntl(2, libc::F_GETFL) };
    if flags < 0 || flags & libc::O_ACCMODE == libc::O_RDONLY {
        return false;
    }
    let Some(st) = fstat(2) else { return false };
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
            unsafe { libc::close(self.fd) };
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
            libc::open(
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

/// Writes one dump to a descriptor in atomic, line-aligned chunks.
pub struct Writer {
    fd: i32,
    buf: [u8; CHUNK],
    len: usize,
    deadline_ns: u64,
    /// A write failed or the deadline passed: the rest of the dump is dropped.
    pub stopped: bool,
    old_mask: libc::sigset_t,
    sigpipe_was_pending: bool,
}

impl Writer {
    pub fn new(fd: i32, deadline_ns: u64) -> Writer {
        let sigpipe_was_pending = sys::sigismember(&sys::sigpending(), libc::SIGPIPE);
        let old_mask = sys::sigmask(libc::SIG_BLOCK, &sys::sigset_of(&[libc::SIGPIPE]));
        Writer {
            fd,
            buf: [0; CHUNK],
            len: 0,
            deadline_ns,
            stopped: false,
            old_mask,
            sigpipe_was_pending,
        }
    }

    /// Appends a complete line (a newline is added).
    pub fn line(&mut self, line: &Line) {
        self.line_bytes(line.as_bytes());
    }

    pub fn line_bytes(&mut self, bytes: &[u8]) {
        if self.len + bytes.len() + 1 > CHUNK {
            self.flush();
        }
        if bytes.len() + 1 > CHUNK {
            // Longer than a chunk: it cannot be atomic anyway.
            self.raw(bytes);
            self.raw(b"\n");
            return;
        }
        self.buf[self.len..self.len + bytes.len()].copy_from_slice(bytes);
        self.buf[self.len + bytes.len()] = b'\n';
        self.len += bytes.len() + 1;
    }

    /// Appends bytes with no regard to lines (JSON, one long line).
    pub fn raw(&mut self, mut bytes: &[u8]) {
        while !bytes.is_empty() {
            if self.len == CHUNK {
                self.flush();
            }
            let n = bytes.len().min(CHUNK - self.len);
            self.buf[self.len..self.len + n].copy_from_slice(&bytes[..n]);
            self.len += n;
            bytes = &bytes[n..];
        }
    }

    pub fn flush(&mut self) {
        let mut done = 0;
        while done < self.len && !self.stopped {
            if !self.wait_writable() {
                self.stopped = true;
                break;
            }
            // SAFETY: the pointer and length describe the unwritten part of buf.
            let n = unsafe {
                libc::write(
                    self.fd,
                    self.buf[done..self.len].as_ptr().cast(),
                    self.len - done,
                )
            };
            if n > 0 {
                done += n as usize;
            } else if n < 0 && matches!(sys::errno(), libc::EINTR | libc::EAGAIN) {
                continue;
            } else {
                self.stopped = true;
            }
        }
        self.len = 0;
    }

    fn wait_writable(&self) -> bool {
        let now = sys::monotonic_ns();
        if now >= self.deadline_ns {
            return false;
        }
        let mut pfd = libc::pollfd {
            fd: self.fd,
            events: libc::POLLOUT,
            revents: 0,
        };
        let ms = ((self.deadline_ns - now) / 1_000_000).clamp(1, i32::MAX as u64) as i32;
        loop {
            // SAFETY: pfd is one valid pollfd.
            let r = unsafe { libc::poll(&mut pfd, 1, ms) };
            if r > 0 {
                // POLLERR/POLLHUP: let write report the error.
                return true;
            }
            if r == 0 || sys::errno() != libc::EINTR || sys::monotonic_ns() >= self.deadline_ns {
                return false;
            }
        }
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        self.flush();
        if !self.sigpipe_was_pending && sys::sigismember(&sys::sigpending(), libc::SIGPIPE) {
            sys::consume_pending(libc::SIGPIPE);
        }
        sys::sigmask(libc::SIG_SETMASK, &self.old_mask);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writer_chunks_end_at_lines() {
        // A datagram socket keeps every write(2) apart on the reading side.
        let mut fds = [0; 2];
        // SAFETY: fds is writable for two descriptors.
        let r =
            unsafe { libc::socketpair(libc::AF_UNIX, libc::SOCK_SEQPACKET, 0, fds.as_mut_ptr()) };
        assert_eq!(r, 0);
        let mut w = Writer::new(fds[1], sys::monotonic_ns() + 1_000_000_000);
        let line = [b'a'; 1000];
        for _ in 0..5 {
            w.line_bytes(&line);
        }
        drop(w);
        let mut sizes = Vec::new();
        let mut buf = [0u8; 8192];
        // SAFETY: closing our own write end, then reading our own socket.
        unsafe { libc::close(fds[1]) };
        loop {
            // SAFETY: buf is writable for its length.
            let n = unsafe { libc::read(fds[0], buf.as_mut_ptr().cast(), buf.len()) };
            if n <= 0 {
                break;
            }
            assert_eq!(buf[n as usize - 1], b'\n', "every chunk ends a line");
            sizes.push(n);
        }
        // SAFETY: closing our own read end.
        unsafe { libc::close(fds[0]) };
        assert_eq!(sizes, vec![4004, 1001]);
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
