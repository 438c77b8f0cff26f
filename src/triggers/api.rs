//! The C API's dump call, `faultdump_dump_traceback`: async-signal-safe,
//! so a program may call it from its own signal handler. It dumps from the
//! caller's registers, so the library's own frames never show. The other
//! entry points of the C API are start-up code (`startup/capi.rs`, in [`crate::startup`]).

use core::ffi::c_int;

use crate::dump::{self, Claim, Trigger};
use crate::sys::arch::Registers;

pub fn fail(errno: c_int) -> c_int {
    crate::sys::set_errno(errno);
    -1
}

/// `Err(errno)` unless `fd` is an open descriptor.
pub fn check_fd(fd: c_int) -> Result<(), c_int> {
    if fd < 0 {
        return Err(libc::EINVAL);
    }
    // SAFETY: F_GETFD on any integer is safe; failure is reported.
    if unsafe { crate::sys::raw::fcntl(fd, libc::F_GETFD, 0) } < 0 {
        return Err(libc::EBADF);
    }
    Ok(())
}

/// Dumps the calling thread (first, as the current thread) and, with
/// `all_threads`, every other thread, to `fd`. Async-signal-safe.
#[unsafe(no_mangle)]
pub extern "C" fn faultdump_dump_traceback(fd: c_int, all_threads: c_int) -> c_int {
    let regs = Registers::here();
    if let Err(e) = check_fd(fd) {
        return fail(e);
    }
    let Some(config) = crate::settings::get() else {
        return fail(libc::EAGAIN);
    };
    let wait = config.deadline.as_nanos() as u64 + 1_000_000_000;
    match dump::claim(None, wait) {
        Claim::Acquired => {
            let options = super::options(Some(fd), all_threads != 0);
            dump::run(config, Trigger::Api { regs }, options);
            dump::release();
            0
        }
        // Called from a handler that interrupted a dump on this thread.
        Claim::Reentered => fail(libc::EDEADLK),
        Claim::Declined => fail(libc::EBUSY),
    }
}
