//! Start-up: the constructor every process runs, the configuration parser
//! ([`config`]), the C API's entry points that install handlers and threads
//! ([`capi`]) and the interposed `pthread_create` ([`threadstart`]).
//!
//! Ordinary code: std, malloc and locks are allowed, and nothing here is
//! ever reached from a signal handler. The constructor reads the
//! configuration once, installs the handlers, and does nothing else: no
//! module scan, no symbol work, no thread (unless a timeout asks for the
//! watchdog). Every process of a container pays for it, so it is kept to a
//! handful of system calls.

mod capi;
mod config;
mod threadstart;

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;

use crate::dump::stacks;
use crate::format::line::Line;
use crate::report::output;
use crate::symbolize::modules;
use crate::sys;
use crate::triggers::{fatal, usersignal, watchdog};
use config::{Environment, Process};

// The unit-test binary does not run the constructor (it would install the
// handlers in the test harness), so what only it calls is unused there.
#[cfg(not(test))]
#[ctor::ctor(unsafe)]
fn faultdump_init() {
    init();
}

#[cfg_attr(test, allow(dead_code))]
fn init() {
    let secure = modules::auxv(libc::AT_SECURE) != 0 || !sys::is_dumpable();
    let var = |name: &str| std::env::var_os(name);
    let values = [
        var("FAULTHANDLER"),
        var("FAULTHANDLER_TIMEOUT"),
        var("FAULTHANDLER_SIGNAL"),
        var("FAULTHANDLER_FORMAT"),
        var("FAULTHANDLER_MAX_FRAMES"),
        var("FAULTHANDLER_MAX_THREADS"),
        var("FAULTHANDLER_DEADLINE"),
        var("FAULTHANDLER_DWARF_BUDGET"),
        var("FAULTHANDLER_STATS"),
        var("FAULTHANDLER_PYTHON"),
    ];
    let bytes = |i: usize| values[i].as_deref().map(OsStr::as_bytes);
    let env = Environment {
        faulthandler: bytes(0),
        timeout: bytes(1),
        signal: bytes(2),
        format: bytes(3),
        max_frames: bytes(4),
        max_threads: bytes(5),
        deadline: bytes(6),
        dwarf_budget: bytes(7),
        stats: bytes(8),
        python: bytes(9),
    };
    let parsed = config::parse(
        &env,
        Process {
            secure,
            sigrtmin: libc::SIGRTMIN(),
            sigrtmax: libc::SIGRTMAX(),
        },
    );
    for warning in &parsed.warnings {
        let line = format!("{warning}\n");
        // SAFETY: writing our own buffer to fd 2.
        unsafe { libc::write(2, line.as_ptr().cast(), line.len()) };
    }
    output::record_stderr_identity();
    let config = Box::leak(Box::new(parsed.config));
    crate::settings::publish(config);
    std::panic::set_hook(Box::new(on_internal_panic));
    if config.fatal {
        stacks::ensure_altstack();
        fatal::install_fatal();
    }
    for s in &config.signals {
        let refused = usersignal::refusal(s.signum).or_else(|| {
            (!usersignal::register(s.signum, None, true, s.chain))
                .then_some("the handler could not be installed")
        });
        if let Some(why) = refused {
            warn_signal(s.signum, why);
        }
    }
    if let Some(t) = config.timeout
        && !watchdog::arm(t.period, t.repeat, t.exit, None)
    {
        let line = "faultdump: FAULTHANDLER_TIMEOUT: the watchdog thread could not be created\n";
        // SAFETY: writing our own buffer to fd 2.
        unsafe { libc::write(2, line.as_ptr().cast(), line.len()) };
    }
}

#[cfg_attr(test, allow(dead_code))]
fn warn_signal(signum: i32, why: &str) {
    let line = format!("faultdump: ignoring FAULTHANDLER_SIGNAL='{signum}': {why}\n");
    // SAFETY: writing our own buffer to fd 2.
    unsafe { libc::write(2, line.as_ptr().cast(), line.len()) };
}

/// A panic in this library is a bug; in the middle of a dump it must not run
/// std's default hook (which may capture a backtrace through the loader).
/// After this, panic=abort raises SIGABRT, which ends a dump through
/// `fault_in_dump`.
#[cfg_attr(test, allow(dead_code))]
fn on_internal_panic(info: &std::panic::PanicHookInfo) {
    let mut line = Line::new();
    line.push(b"faultdump: internal error");
    if let Some(location) = info.location() {
        let _ = core::fmt::Write::write_fmt(
            &mut line,
            format_args!(" at {}:{}", location.file(), location.line()),
        );
    }
    line.byte(b'\n');
    // SAFETY: writing our own buffer to fd 2.
    unsafe { libc::write(2, line.as_bytes().as_ptr().cast(), line.as_bytes().len()) };
}
