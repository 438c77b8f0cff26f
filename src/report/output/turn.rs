//! Taking turns on a destination that many processes write dumps to.
//!
//! Signal-safe: raw system calls only (`openat`, `flock`, `fstat`, ...), fixed
//! buffers. When many processes crash at once onto one stderr pipe or one
//! `FAULTHANDLER` file, each dump is written while holding an exclusive
//! `flock`, so no two dumps of processes that use this library mix. A
//! `flock` belongs to an open file description, and the kernel drops it when
//! the last descriptor of that description closes, even when its holder is
//! SIGKILLed: a dead holder never blocks anyone.
//!
//! The processes that share a stderr usually share its open file
//! description too (a container runtime made one), so a lock on the
//! inherited descriptor itself would serialise nothing. The lock is taken
//! instead on a description of our own:
//! - pipes (FIFOs), terminals and regular files are opened again through
//!   `/proc/self/fd/N`, which gives a new description of the same object;
//!   for a pipe or a terminal that description is also non-blocking, so a
//!   whole dump can be written through it in one `write(2)` without ever
//!   blocking past the deadline;
//! - where that is not possible (sockets, no `/proc`, a pipe another user
//!   created), a lock file chosen by the destination's device and inode
//!   among [`LOCK_FILES`], `faultdump-NN.lock` in `/dev/shm` or else
//!   `/tmp`: a bounded set, since every pipe is a new inode and a file per
//!   inode would fill `/dev/shm` under a crash-looping service. Two outputs
//!   that share a file only take turns they did not need. A process that
//!   has a description of its own also takes the lock file, making it if
//!   needed (after its own: one order for all), so that it waits for
//!   processes of other users that could only take the file. It is opened read-only, never through a
//!   symbolic link (`O_NOFOLLOW`), only ever created with `O_EXCL` (which
//!   does not follow a link either), only in a directory owned by root and
//!   sticky if anyone may write there, and must be a regular file; created,
//!   it is made readable by everyone (`0444`) so that processes of other
//!   users, set-uid ones included, lock the same file. Nothing is ever
//!   written to it and it is never removed (removing a lock file lets two
//!   processes hold "the" lock on two different files).
//!
//! Why `flock`: `fcntl` record locks also go when their holder dies, but
//! belong to the process, and any `close` of any descriptor of the same
//! file by the program drops them; a semaphore or futex in shared memory
//! stays locked when its holder dies in the middle of a dump.
//!
//! The turn is waited for with `LOCK_NB` attempts a few milliseconds apart,
//! up to a point well before the dump's deadline (see [`give_up_at`]); a dump
//! that did not get its turn by then is written anyway and says so in a note.
//! Other character devices (`/dev/null`, a console), block devices and
//! record sockets (datagram, seqpacket: each chunk arrives as one record,
//! whole) are written without a lock, in line-aligned chunks, as before.

use core::fmt::Write as _;

use crate::format::line::{Line, decimal};
use crate::report::sink::Sink;
use crate::sys;
use crate::sys::fstat;

/// Pause between two attempts at the lock.
const RETRY_NS: u64 = 2_000_000;
/// At most this much of the time left is kept for writing after the wait.
const WRITE_RESERVE_NS: u64 = 500_000_000;
/// Where lock files go, in order of preference.
const LOCK_DIRS: [&[u8]; 2] = [b"/dev/shm", b"/tmp"];
/// How many lock files there can be in a directory.
const LOCK_FILES: u64 = 64;

/// The lock file's number for the object `st` describes: the same in
/// every process, and below [`LOCK_FILES`].
fn lock_file_number(st: &libc::stat) -> u64 {
    (st.st_dev ^ st.st_ino) % LOCK_FILES
}

/// How a buffered dump is written to its destination.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Route {
    /// As few `write(2)` calls as possible to this descriptor: a regular
    /// file (never blocks), or our own non-blocking description of a pipe or
    /// terminal.
    Whole(i32),
    /// As few `send(2)` calls as possible with `MSG_DONTWAIT` (a stream
    /// socket, whose description may be blocking and is not ours to change).
    Send(i32),
    /// Line-aligned chunks of at most PIPE_BUF bytes, each after `poll`.
    Chunks(i32),
}

/// The destination of one dump, once it has been looked at: how to write to
/// it, and the lock that serialises it with other processes.
pub struct Turn {
    pub route: Route,
    /// The descriptors the lock is taken on, in this order (ours, closed on
    /// drop; -1 where none): a description of our own of the output, then
    /// the output's lock file.
    locks: [i32; 2],
    /// Nanoseconds spent waiting for the lock.
    pub waited_ns: u64,
    /// The lock was not had before the wait's end: written without it.
    pub late: bool,
}

impl Drop for Turn {
    fn drop(&mut self) {
        // Closing the only descriptor of a description drops its lock.
        for fd in self.locks.into_iter().filter(|&fd| fd >= 0) {
            close(fd);
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    Regular,
    Pipe,
    Terminal,
    StreamSocket,
    /// Another socket (datagram, seqpacket: every write is a record).
    RecordSocket,
    /// `/dev/null`, a console, a block device, or what `fstat` refused.
    Other,
}

fn kind(fd: i32, st: &libc::stat) -> Kind {
    match st.st_mode & libc::S_IFMT {
        libc::S_IFREG => Kind::Regular,
        libc::S_IFIFO => Kind::Pipe,
        libc::S_IFCHR if is_terminal(fd) => Kind::Terminal,
        libc::S_IFSOCK if socket_type(fd) == Some(libc::SOCK_STREAM) => Kind::StreamSocket,
        libc::S_IFSOCK => Kind::RecordSocket,
        _ => Kind::Other,
    }
}

fn is_terminal(fd: i32) -> bool {
    // SAFETY: termios is plain data the kernel fills in.
    let mut t: libc::termios = unsafe { core::mem::zeroed() };
    // SAFETY: TCGETS writes one termios; failure (not a tty) is reported.
    unsafe { libc::syscall(libc::SYS_ioctl, fd, libc::TCGETS, &mut t) == 0 }
}

fn socket_type(fd: i32) -> Option<i32> {
    let mut ty: i32 = 0;
    let mut len = core::mem::size_of::<i32>() as libc::socklen_t;
    // SAFETY: ty and len are valid for the option's size.
    let r = unsafe {
        libc::syscall(
            libc::SYS_getsockopt,
            fd,
            libc::SOL_SOCKET,
            libc::SO_TYPE,
            &mut ty as *mut i32,
            &mut len as *mut libc::socklen_t,
        )
    };
    (r == 0).then_some(ty)
}

/// `open(path, flags, mode)`, close-on-exec and never a controlling
/// terminal; `path` must end with a NUL byte. Returns the descriptor or -1
/// (errno set).
fn open_raw(path: &[u8], flags: i32, mode: u32) -> i32 {
    debug_assert_eq!(path.last(), Some(&0));
    // SAFETY: path is NUL-terminated.
    unsafe {
        sys::raw::open(
            path.as_ptr().cast(),
            flags | libc::O_CLOEXEC | libc::O_NOCTTY,
            mode,
        )
    }
}

fn close(fd: i32) {
    // SAFETY: only descriptors this module opened are closed.
    unsafe { sys::raw::close(fd) };
}

fn same_object(a: &libc::stat, b: &libc::stat) -> bool {
    a.st_dev == b.st_dev && a.st_ino == b.st_ino
}

/// Appends `parts` to `buf` and a NUL; `None` if it does not fit.
fn path_of<'b>(parts: &[&[u8]], buf: &'b mut [u8; 96]) -> Option<&'b [u8]> {
    let mut len = 0;
    for p in parts {
        buf.get_mut(len..len + p.len())?.copy_from_slice(p);
        len += p.len();
    }
    *buf.get_mut(len)? = 0;
    Some(&buf[..=len])
}

/// `n` in lower-case hexadecimal at the end of `buf`.
fn hex(mut n: u64, buf: &mut [u8; 16]) -> &[u8] {
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b"0123456789abcdef"[(n & 15) as usize];
        n >>= 4;
        if n == 0 {
            return &buf[i..];
        }
    }
}

/// Opens `fd`'s file again through `/proc/self/fd`: a new open file
/// description of the same object, checked to be that object.
fn reopen(fd: i32, st: &libc::stat, flags: i32) -> Option<i32> {
    let mut digits = [0u8; 20];
    let mut buf = [0u8; 96];
    let path = path_of(
        &[b"/proc/self/fd/", decimal(fd.max(0) as u64, &mut digits)],
        &mut buf,
    )?;
    let own = open_raw(path, flags, 0);
    if own < 0 {
        return None;
    }
    if fstat(own).is_some_and(|o| same_object(&o, st)) {
        Some(own)
    } else {
        close(own);
        None
    }
}

/// Whether a lock file may live in `dir`: a real directory (not a link)
/// owned by root, and sticky if others may write to it (so nobody can
/// replace a file of ours there).
fn safe_lock_dir(dir_path: &[u8]) -> bool {
    // SAFETY: st is plain data written by the call.
    let mut st: libc::stat = unsafe { core::mem::zeroed() };
    // SAFETY: the path is NUL-terminated and st is writable.
    let r = unsafe {
        libc::syscall(
            libc::SYS_newfstatat,
            libc::AT_FDCWD,
            dir_path.as_ptr(),
            &mut st as *mut libc::stat,
            libc::AT_SYMLINK_NOFOLLOW,
        )
    };
    r == 0 && dir_is_safe(&st)
}

fn dir_is_safe(st: &libc::stat) -> bool {
    st.st_mode & libc::S_IFMT == libc::S_IFDIR
        && st.st_uid == 0
        && (st.st_mode & 0o022 == 0 || st.st_mode & libc::S_ISVTX != 0)
}

/// The lock file for the object `st` describes, opened read-only (see the
/// module documentation for the rules), created if it is not there; -1 if
/// there is none to be had.
fn open_lock_file(st: &libc::stat) -> i32 {
    let mut number = [0u8; 16];
    let number = hex(lock_file_number(st), &mut number);
    for dir in LOCK_DIRS {
        let mut dir_buf = [0u8; 96];
        let mut buf = [0u8; 96];
        let (Some(dir_path), Some(path)) = (
            path_of(&[dir], &mut dir_buf),
            path_of(&[dir, b"/faultdump-", number, b".lock"], &mut buf),
        ) else {
            continue;
        };
        if !safe_lock_dir(dir_path) {
            continue;
        }
        let fd = open_lock_path(path);
        if fd >= 0 {
            return fd;
        }
    }
    -1
}

fn open_lock_path(path: &[u8]) -> i32 {
    let flags = libc::O_RDONLY | libc::O_NOFOLLOW | libc::O_NONBLOCK;
    // Twice: a file another process creates between our two calls is
    // opened on the second round.
    for _ in 0..2 {
        let fd = open_raw(path, flags, 0);
        if fd >= 0 {
            if fstat(fd).is_some_and(|s| s.st_mode & libc::S_IFMT == libc::S_IFREG) {
                return fd;
            }
            close(fd);
            return -1;
        }
        if sys::errno() != libc::ENOENT {
            return -1;
        }
        let fd = open_raw(path, flags | libc::O_CREAT | libc::O_EXCL, 0o444);
        if fd >= 0 {
            // Whatever the umask, every user must be able to open it.
            // SAFETY: fd is the file just created.
            unsafe { libc::syscall(libc::SYS_fchmod, fd, 0o444) };
            return fd;
        }
        if sys::errno() != libc::EEXIST {
            return -1;
        }
    }
    -1
}

/// When to stop waiting for the lock: at most [`WRITE_RESERVE_NS`], or half
/// of the time left, before the deadline, so that the dump is still written
/// in time after a wait that came to nothing.
pub fn give_up_at(now_ns: u64, deadline_ns: u64) -> u64 {
    let left = deadline_ns.saturating_sub(now_ns);
    deadline_ns - (left / 2).min(WRITE_RESERVE_NS)
}

impl Turn {
    /// Looks at `fd`, finds how to write to it and its lock, and waits for
    /// the lock until [`give_up_at`].
    pub fn take(fd: i32, deadline_ns: u64) -> Turn {
        let mut turn = Turn::prepare(fd);
        turn.wait(deadline_ns);
        turn
    }

    fn prepare(fd: i32) -> Turn {
        let unlocked = |route| Turn {
            route,
            locks: [-1, -1],
            waited_ns: 0,
            late: false,
        };
        let Some(st) = fstat(fd) else {
            return unlocked(Route::Chunks(fd));
        };
        // A description of our own where one can be had, and the lock file
        // in any case (made by whoever comes first): a process that cannot
        // have a description (another user's, without `/proc`) has only the
        // file, and waiting for the file to exist before taking it too
        // would let the first two such dumps write at once.
        let own_or_file = |own: Option<i32>| [own.unwrap_or(-1), open_lock_file(&st)];
        let (route, locks) = match kind(fd, &st) {
            Kind::Pipe | Kind::Terminal => {
                match reopen(fd, &st, libc::O_WRONLY | libc::O_NONBLOCK) {
                    Some(own) => (Route::Whole(own), own_or_file(Some(own))),
                    // No reader: nothing will be written anyway.
                    None if sys::errno() == libc::ENXIO => (Route::Chunks(fd), [-1, -1]),
                    None => (Route::Chunks(fd), own_or_file(None)),
                }
            }
            Kind::Regular => {
                // Written through the program's descriptor (its offset is
                // shared with the program's own writes); locked through ours.
                let own = reopen(fd, &st, libc::O_RDONLY | libc::O_NONBLOCK)
                    .or_else(|| reopen(fd, &st, libc::O_WRONLY | libc::O_APPEND));
                (Route::Whole(fd), own_or_file(own))
            }
            Kind::StreamSocket => (Route::Send(fd), own_or_file(None)),
            Kind::RecordSocket | Kind::Other => (Route::Chunks(fd), [-1, -1]),
        };
        Turn {
            locks,
            ..unlocked(route)
        }
    }

    /// Takes the locks in order (every process takes them in the same
    /// order, so two never wait for each other), until [`give_up_at`].
    fn wait(&mut self, deadline_ns: u64) {
        let start = sys::monotonic_ns();
        let give_up = give_up_at(start, deadline_ns);
        for fd in self.locks.into_iter().filter(|&fd| fd >= 0) {
            while !sys::try_flock(fd) {
                let now = sys::monotonic_ns();
                if now >= give_up {
                    self.late = true;
                    break;
                }
                sys::sleep_ns(RETRY_NS.min(give_up - now));
            }
            if self.late {
                break;
            }
        }
        self.waited_ns = sys::monotonic_ns() - start;
    }

    /// Whether the dump holds the lock (false without one).
    #[cfg(test)]
    fn held(&self) -> bool {
        self.locks.iter().any(|&fd| fd >= 0) && !self.late
    }
}

/// What a dump's turn cost, for its notes.
#[derive(Clone, Copy)]
pub struct TurnReport {
    pub waited_ns: u64,
    pub late: bool,
}

impl TurnReport {
    /// The dump's notes about its turn: one if it is written without it,
    /// and with `stats` how long it waited.
    pub fn notes(&self, stats: bool, sink: &mut dyn Sink) {
        let ms = self.waited_ns as f64 / 1e6;
        let mut line = Line::new();
        if self.late {
            let _ = write!(
                line,
                "faultdump: another process's dump held this output for {ms:.3} ms; written without waiting for it"
            );
            sink.note(line.as_bytes());
            line.clear();
        }
        if stats {
            let _ = write!(
                line,
                "faultdump: waited {ms:.3} ms for its turn on the output"
            );
            sink.note(line.as_bytes());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pipe() -> [i32; 2] {
        let mut fds = [0; 2];
        // SAFETY: fds is writable for two descriptors.
        assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
        fds
    }

    #[test]
    fn the_wait_leaves_time_to_write() {
        let s = 1_000_000_000;
        assert_eq!(give_up_at(0, 5 * s), 5 * s - s / 2);
        assert_eq!(give_up_at(0, s / 2), s / 4);
        assert_eq!(give_up_at(2 * s, s), s, "deadline passed: no wait");
    }

    #[test]
    fn paths_and_hex() {
        let mut b = [0u8; 16];
        assert_eq!(hex(0, &mut b), b"0");
        assert_eq!(hex(0xfd01, &mut b), b"fd01");
        let mut buf = [0u8; 96];
        assert_eq!(path_of(&[b"/tmp", b"/x"], &mut buf), Some(&b"/tmp/x\0"[..]));
        assert_eq!(path_of(&[&[b'a'; 96]], &mut buf), None);
    }

    #[test]
    fn lock_directories_must_be_roots_and_sticky() {
        // SAFETY: plain data.
        let mut st: libc::stat = unsafe { core::mem::zeroed() };
        st.st_mode = libc::S_IFDIR | 0o1777;
        assert!(dir_is_safe(&st));
        st.st_mode = libc::S_IFDIR | 0o777;
        assert!(!dir_is_safe(&st), "world-writable without sticky bit");
        st.st_mode = libc::S_IFDIR | 0o755;
        assert!(dir_is_safe(&st));
        st.st_uid = 1000;
        assert!(!dir_is_safe(&st), "owned by a user");
        st.st_uid = 0;
        st.st_mode = libc::S_IFLNK | 0o777;
        assert!(!dir_is_safe(&st));
    }

    #[test]
    fn pipes_are_locked_on_a_description_of_our_own() {
        let [r, w] = pipe();
        let a = Turn::take(w, sys::monotonic_ns() + 1_000_000_000);
        assert!(matches!(a.route, Route::Whole(fd) if fd != w));
        assert!(a.held() && !a.late);
        // A second process would reopen too; a second description in this
        // process stands for it: it cannot have the lock while `a` lives.
        let start = sys::monotonic_ns();
        let b = Turn::take(w, start + 200_000_000);
        assert!(!b.held() && b.late);
        let waited = sys::monotonic_ns() - start;
        assert!((90_000_000..200_000_000).contains(&waited), "{waited}");
        drop(b);
        drop(a);
        let c = Turn::take(w, sys::monotonic_ns() + 1_000_000_000);
        assert!(c.held(), "the lock goes with the description");
        drop(c);
        close(r);
        close(w);
    }

    #[test]
    fn lock_files_are_created_once_and_never_through_links() {
        let dir = std::env::temp_dir().join(format!("faultdump-turn-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("x.lock\0");
        let p = path.as_os_str().as_encoded_bytes();
        let a = open_lock_path(p);
        assert!(a >= 0);
        let b = open_lock_path(p);
        assert!(b >= 0, "the existing file is opened");
        assert!(sys::try_flock(a) && !sys::try_flock(b));
        close(a);
        close(b);
        let meta = std::fs::metadata(dir.join("x.lock")).unwrap();
        assert_eq!(
            std::os::unix::fs::PermissionsExt::mode(&meta.permissions()) & 0o777,
            0o444
        );
        let link = dir.join("link.lock\0");
        std::os::unix::fs::symlink(dir.join("target"), dir.join("link.lock")).unwrap();
        assert_eq!(open_lock_path(link.as_os_str().as_encoded_bytes()), -1);
        assert!(
            !dir.join("target").exists(),
            "nothing created through a link"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
