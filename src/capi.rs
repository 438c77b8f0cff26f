//! The C API (`include/faultdump.h`), mirroring Python's `faulthandler`:
//! `enable`/`disable`/`is_enabled`, `dump_traceback`,
//! `dump_traceback_later`/`cancel_dump_traceback_later`, and
//! `register`/`unregister`.
//!
//! Each function returns 0 on success and -1 with `errno` set on error
//! (`EINVAL` for a bad argument, `EBADF` for a descriptor that is not open);
//! `faultdump_unregister` returns 1 or 0 as Python's `unregister` returns
//! True or False. Only `faultdump_dump_traceback` is async-signal-safe; the
//! others install handlers or start and join a thread.
//!
//! The descriptors given are kept and used as they are when a dump happens:
//! as with Python, a descriptor closed and reused for another file in the
//! meantime receives the dump.

use core::ffi::c_int;
use core::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use core::time::Duration;

use crate::config::FATAL_SIGNALS;
use crate::dump::{self, Claim, Options, Trigger};
use crate::unwind::Registers;
use crate::{signals, stacks, usersignal, watchdog};

/// Where fatal dumps go after `faultdump_enable`: -1 for the configured
/// output (`FAULTHANDLER`).
static FATAL_FD: AtomicI32 = AtomicI32::new(-1);
static FATAL_ALL_THREADS: AtomicBool = AtomicBool::new(true);

/// The longest timeout `faultdump_dump_traceback_later` accepts.
const MAX_TIMEOUT_S: f64 = 86_400.0 * 365.0;

/// The fatal handler's output and thread choice, as `faultdump_enable` set
/// them (the configured output and all threads until then).
pub fn fatal_options() -> Options {
    let fd = FATAL_FD.load(Ordering::Acquire);
    Options {
        fd: (fd >= 0).then_some(fd),
        all_threads: FATAL_ALL_THREADS.load(Ordering::Acquire),
    }
}

fn fail(errno: c_int) -> c_int {
    // SAFETY: __errno_location returns the calling thread's errno slot.
    unsafe { *libc::__errno_location() = errno };
    -1
}

/// `Err(errno)` unless `fd` is an open descriptor.
fn check_fd(fd: c_int) -> Result<(), c_int> {
    if fd < 0 {
        return Err(libc::EINVAL);
    }
    // SAFETY: F_GETFD on any integer is safe; failure is reported.
    if unsafe { libc::fcntl(fd, libc::F_GETFD) } < 0 {
        return Err(libc::EBADF);
    }
    Ok(())
}

/// The caller's registers, taken here: an API dump starts from this point
/// and leaves out the library's own frames.
#[inline(always)]
fn here() -> Registers {
    #[cfg(target_arch = "aarch64")]
    let (pc, sp, bp) = crate::arch_aarch64::here();
    #[cfg(target_arch = "x86_64")]
    let (pc, sp, bp): (u64, u64, u64);
    #[cfg(target_arch = "x86_64")]
    // SAFETY: reads three registers; touches no memory.
    unsafe {
        core::arch::asm!(
            "lea {pc}, [rip]",
            "mov {sp}, rsp",
            "mov {bp}, rbp",
            pc = out(reg) pc,
            sp = out(reg) sp,
            bp = out(reg) bp,
            options(nomem, nostack, preserves_flags),
        );
    }
    Registers::from_pc_sp_bp(pc, sp, bp)
}

/// Installs the fatal handlers (if they are not) and sends their dumps to
/// `fd`, with all threads or only the faulting one.
#[unsafe(no_mangle)]
pub extern "C" fn faultdump_enable(fd: c_int, all_threads: c_int) -> c_int {
    if let Err(e) = check_fd(fd) {
        return fail(e);
    }
    FATAL_FD.store(fd, Ordering::Release);
    FATAL_ALL_THREADS.store(all_threads != 0, Ordering::Release);
    stacks::ensure_altstack();
    signals::install_fatal();
    if faultdump_is_enabled() == 0 {
        return fail(libc::EINVAL);
    }
    0
}

/// Puts back the dispositions found when the fatal handlers were installed.
#[unsafe(no_mangle)]
pub extern "C" fn faultdump_disable() -> c_int {
    for sig in FATAL_SIGNALS {
        signals::uninstall(sig);
    }
    0
}

#[unsafe(no_mangle)]
pub extern "C" fn faultdump_is_enabled() -> c_int {
    c_int::from(signals::previous(libc::SIGSEGV).is_some())
}

/// Dumps the calling thread (first, as the current thread) and, with
/// `all_threads`, every other thread, to `fd`. Async-signal-safe.
#[unsafe(no_mangle)]
pub extern "C" fn faultdump_dump_traceback(fd: c_int, all_threads: c_int) -> c_int {
    let regs = here();
    if let Err(e) = check_fd(fd) {
        return fail(e);
    }
    let Some(config) = crate::startup::config() else {
        return fail(libc::EAGAIN);
    };
    let wait = config.deadline.as_nanos() as u64 + 1_000_000_000;
    match dump::claim(None, wait) {
        Claim::Acquired => {
            let options = Options {
                fd: Some(fd),
                all_threads: all_threads != 0,
            };
            dump::run(config, Trigger::Api { regs }, options);
            dump::release();
            0
        }
        // Called from a handler that interrupted a dump on this thread.
        Claim::Reentered => fail(libc::EDEADLK),
        Claim::Declined => fail(libc::EBUSY),
    }
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
