//! Files a dump creates in a directory (the minidump): the directory held
//! open, a file created in it with no symlink followed, positioned writes
//! that may take their bytes straight from process memory, the rename that
//! publishes it, and what the directory's file system has left.
//!
//! Each function is one system call; failures give `errno`.

use core::ffi::CStr;

use super::{Fd, errno};

/// Opens the directory `path` for `*_in` calls; its last component is not
/// followed if it is a symlink (`O_NOFOLLOW`), so a link planted in its
/// place cannot send the file elsewhere.
pub fn open_dir_nofollow(path: &CStr) -> Result<Fd, i32> {
    // SAFETY: path is NUL-terminated.
    let fd = unsafe {
        super::raw::open(
            path.as_ptr(),
            libc::O_RDONLY | libc::O_DIRECTORY | libc::O_NOFOLLOW | libc::O_CLOEXEC,
            0,
        )
    };
    if fd >= 0 { Ok(Fd(fd)) } else { Err(errno()) }
}

impl Fd {
    /// Creates `name` in this directory for writing, mode 0600: it must not
    /// exist (`O_EXCL`, which also refuses a symlink in its place).
    pub fn create_in(&self, name: &CStr) -> Result<Fd, i32> {
        let flags =
            libc::O_WRONLY | libc::O_CREAT | libc::O_EXCL | libc::O_NOFOLLOW | libc::O_CLOEXEC;
        // SAFETY: name is NUL-terminated; the kernel checks the rest.
        let fd = unsafe { libc::syscall(libc::SYS_openat, self.0, name.as_ptr(), flags, 0o600) };
        if fd >= 0 {
            Ok(Fd(fd as i32))
        } else {
            Err(errno())
        }
    }

    /// Renames `from` to `to`, both in this directory (a symlink at `to`
    /// is replaced, not followed).
    pub fn rename_in(&self, from: &CStr, to: &CStr) -> Result<(), i32> {
        // SAFETY: both names are NUL-terminated.
        let r = unsafe {
            libc::syscall(
                libc::SYS_renameat,
                self.0,
                from.as_ptr(),
                self.0,
                to.as_ptr(),
            )
        };
        if r == 0 { Ok(()) } else { Err(errno()) }
    }

    /// Removes `name` from this directory.
    pub fn unlink_in(&self, name: &CStr) {
        // SAFETY: name is NUL-terminated.
        unsafe { libc::syscall(libc::SYS_unlinkat, self.0, name.as_ptr(), 0) };
    }

    /// Bytes an unprivileged writer may still use on this file's file
    /// system (`fstatfs`: `f_bavail * f_bsize`).
    pub fn free_bytes(&self) -> Option<u64> {
        // SAFETY: plain data the kernel fills in.
        let mut st: libc::statfs = unsafe { core::mem::zeroed() };
        // SAFETY: st is writable; failure is reported.
        let r = unsafe { libc::syscall(libc::SYS_fstatfs, self.0, &mut st as *mut libc::statfs) };
        (r == 0).then(|| (st.f_bavail as u64).saturating_mul(st.f_bsize as u64))
    }

    /// Writes `len` bytes from address `addr` at `offset`. The kernel
    /// copies them, so an address that is not (or no longer) readable
    /// fails with `EFAULT` instead of faulting: this is how memory of the
    /// process (stacks, code) goes into a file with no copy of our own.
    /// Returns the bytes written, which may be fewer (the end of the
    /// readable memory, a full disk); `Err(errno)` if none.
    pub fn pwrite_from(&self, addr: u64, len: usize, offset: u64) -> Result<usize, i32> {
        let mut done = 0;
        while done < len {
            // SAFETY: the kernel validates the source range itself
            // (copy_from_user); a bad address fails with EFAULT.
            let n = unsafe {
                libc::syscall(
                    libc::SYS_pwrite64,
                    self.0,
                    (addr + done as u64) as *const u8,
                    len - done,
                    (offset + done as u64) as libc::off_t,
                )
            };
            if n > 0 {
                done += n as usize;
            } else if n == 0 {
                break;
            } else if errno() != libc::EINTR {
                return if done > 0 { Ok(done) } else { Err(errno()) };
            }
        }
        Ok(done)
    }

    /// Writes all of `buf` at `offset`.
    pub fn pwrite_all(&self, buf: &[u8], offset: u64) -> Result<(), i32> {
        match self.pwrite_from(buf.as_ptr() as u64, buf.len(), offset) {
            Ok(n) if n == buf.len() => Ok(()),
            Ok(_) => Err(libc::ENOSPC),
            Err(e) => Err(e),
        }
    }
}

/// The processors this process may run on (`sched_getaffinity`), at least 1.
pub fn cpu_count() -> u32 {
    let mut set = [0u64; 16];
    // SAFETY: set is writable for its length; the kernel returns the bytes
    // it filled.
    let n = unsafe {
        libc::syscall(
            libc::SYS_sched_getaffinity,
            0,
            core::mem::size_of_val(&set),
            set.as_mut_ptr(),
        )
    };
    let words = (n.max(0) as usize / 8).min(set.len());
    set[..words]
        .iter()
        .map(|w| w.count_ones())
        .sum::<u32>()
        .max(1)
}
