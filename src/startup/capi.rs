//! The C API (`include/faultdump.h`), mirroring Python's `faulthandler`:
//! `enable`/`disable`/`is_enabled`, `dump_traceback`,
//! `dump_traceback_later`/`cancel_dump_traceback_later`, and
//! `register`/`unregister`.
//!
//! Each function returns 0 on success and -1 with `errno` set on error
//! (`EINVAL` for a bad argument, `EBADF` for a descriptor that is not open);
//! `faultdump_unregister` returns 1 or 0 as Python's `unregister` returns
//! True or False. These install handlers or start and join a thread: never
//! called from a handler. The one async-signal-safe entry point,
//! `faultdump_dump_traceback`, is a trigger: [`crate::triggers::api`].
//!
//! The descriptors given are kept and used as they are when a dump happens:
//! as with Python, a descriptor closed and reused for another file in the
//! meantime receives the dump.

use core::ffi::c_int;
use core::time::Duration;

use crate::dump::stacks;
use crate::settings::FATAL_SIGNALS;
use crate::sys;
use crate::triggers::api::{check_fd, fail};
use crate::triggers::{dispositions, fatal, usersignal, watchdog};

/// The longest timeout `faultdump_dump_traceback_later` accepts.
const MAX_TIMEOUT_S: f64 = 86_400.0 * 365.0;

/// Installs the fatal handlers (if they are not) and sends their dumps to
/// `fd`, with all threads or only the faulting one.
#[unsafe(no_mangle)]
pub extern "C" fn faultdump_enable(fd: c_int, all_threads: c_int) -> c_int {
    if let Err(e) = check_fd(fd) {
        return fail(e);
    }
    fatal::set_options(fd, all_threads != 0);
    stacks::ensure_altstack();
    sys::realsig::resolve();
    fatal::install_fatal();
    if faultdump_is_enabled() == 0 {
        return fail(libc::EINVAL);
    }
    0
}

/// Puts back the dispositions found when the fatal handlers were installed.
#[unsafe(no_mangle)]
pub extern "C" fn faultdump_disable() -> c_int {
    for sig in FATAL_SIGNALS {
        dispositions::uninstall(sig);
    }
    0
}

#[unsafe(no_mangle)]
pub extern "C" fn faultdump_is_enabled() -> c_int {
    c_int::from(dispositions::previous(libc::SIGSEGV).is_some())
}

/// Dumps all threads to `fd` after `timeout_s` seconds (every `timeout_s`
/// with `repeat`), then `_exit(1)` with `exit`. Replaces an earlier call.
#[unsafe(no_mangle)]
pub extern "C" fn faultdump_dump_traceback_later(
    timeout_s: f64,
    repeat: c_int,
    fd: c_int,
    exit: c_int,
) -> c_int {
    if !(timeout_s > 0.0 && timeout_s <= MAX_TIMEOUT_S) {
        return fail(libc::EINVAL);
    }
    if let Err(e) = check_fd(fd) {
        return fail(e);
    }
    let period = Duration::from_secs_f64(timeout_s);
    if !watchdog::arm(period, repeat != 0, exit != 0, Some(fd)) {
        return fail(libc::EAGAIN);
    }
    0
}

/// Cancels `faultdump_dump_traceback_later` (and `FAULTHANDLER_TIMEOUT`);
/// the watchdog thread has ended when this returns.
#[unsafe(no_mangle)]
pub extern "C" fn faultdump_cancel_dump_traceback_later() -> c_int {
    watchdog::cancel();
    0
}

/// Dumps to `fd` when `signum` arrives, and carries on (calling the
/// previous handler too with `chain`).
#[unsafe(no_mangle)]
pub extern "C" fn faultdump_register(
    signum: c_int,
    fd: c_int,
    all_threads: c_int,
    chain: c_int,
) -> c_int {
    if usersignal::refusal(signum).is_some() {
        return fail(libc::EINVAL);
    }
    if let Err(e) = check_fd(fd) {
        return fail(e);
    }
    sys::realsig::resolve();
    if !usersignal::register(signum, Some(fd), all_threads != 0, chain != 0) {
        return fail(libc::EINVAL);
    }
    0
}

/// 1 if `signum` was registered (its previous disposition is back), 0 if
/// it was not.
#[unsafe(no_mangle)]
pub extern "C" fn faultdump_unregister(signum: c_int) -> c_int {
    if signum < 1
        || signum > libc::SIGRTMAX()
        || signum == libc::SIGKILL
        || signum == libc::SIGSTOP
        || FATAL_SIGNALS.contains(&signum)
    {
        return fail(libc::EINVAL);
    }
    c_int::from(usersignal::unregister(signum))
}
