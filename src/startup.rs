//! Start-up: the constructor every process runs.
//!
//! Reads the configuration once, installs the handlers, and does nothing
//! else: no module scan, no symbol work, no thread (unless a timeout asks
//! for the watchdog). Every process of a container pays for this, so it is
//! kept to a handful of system calls.

use crate::config::{self, Config, Environment, Process};
use crate::{arena, modules, output, signals, snapshot, stacks, sys, usersignal, watchdog};
use core::sync::atomic::{AtomicPtr, Ordering};

unsafe extern "C" {
    /// The process's environment (`<unistd.h>`).
    static environ: *const *const libc::c_char;
}

/// The `FAULTHANDLER*` variables, read straight from `environ` in one pass:
/// no copy, and not std's environment lock.
#[cfg_attr(test, allow(dead_code))]
fn environment() -> Environment<'static> {
    let mut env = Environment::default();
    // SAFETY: environ is the NULL-terminated array of NUL-terminated
    // strings; nothing changes it while the constructor runs.
    let mut at = unsafe { environ };
    while !at.is_null() {
        // SAFETY: at points into the array, which ends with NULL.
        let entry = unsafe { *at };
        if entry.is_null() {
            break;
        }
        // SAFETY: each entry is a NUL-terminated string that lives as long
        // as the process, unless the program changes it later (the
        // configuration keeps no reference to it past the constructor).
        let bytes = unsafe { core::ffi::CStr::from_ptr(entry) }.to_bytes();
        if let Some(rest) = bytes.strip_prefix(b"FAULTHANDLER")
            && let Some(eq) = rest.iter().position(|&b| b == b'=')
        {
            let value = Some(&rest[eq + 1..]);
            match &rest[..eq] {
                b"" => env.faulthandler = value,
                b"_TIMEOUT" => env.timeout = value,
                b"_SIGNAL" => env.signal = value,
                b"_FORMAT" => env.format = value,
                b"_MAX_FRAMES" => env.max_frames = value,
                b"_MAX_THREADS" => env.max_threads = value,
                b"_DEADLINE" => env.deadline = value,
                b"_DWARF_BUDGET" => env.dwarf_budget = value,
                b"_STATS" => env.stats = value,
                _ => {}
            }
        }
        // SAFETY: still inside the array (its NULL end not yet reached).
        at = unsafe { at.add(1) };
    }
    env
}

static CONFIG: AtomicPtr<Config> = AtomicPtr::new(core::ptr::null_mut());

/// The configuration read at start-up; `None` before the constructor ran.
pub fn config() -> Option<&'static Config> {
    // SAFETY: the pointer is null or a leaked Box that is never freed.
    unsafe { CONFIG.load(Ordering::Acquire).as_ref() }
}

// The unit-test binary does not run the constructor (it would install the
// handlers in the test harness), so what only it calls is unused there.
#[cfg(not(test))]
#[ctor::ctor(unsafe)]
fn faultdump_init() {
    init();
}

#[cfg_attr(test, allow(dead_code))]
fn init() {
    // Every allocation of the constructor goes to the library's own area
    // (no host malloc: a process that never mallocs keeps no heap), and
    // the area is sealed read-only before anything else runs.
    let area = snapshot::reserve();
    if let Some((base, len)) = area {
        arena::STARTUP.begin_in(base, len);
    }
    let secure = modules::auxv(libc::AT_SECURE) != 0 || !sys::is_dumpable();
    let env = environment();
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
    let config = Box::leak(Box::new(parsed.config));
    let taken = snapshot::take();
    if area.is_some() {
        arena::STARTUP.end();
    }
    snapshot::seal(taken);
    output::record_stderr_identity();
    CONFIG.store(config, Ordering::Release);
    std::panic::set_hook(Box::new(on_internal_panic));
    if config.fatal {
        stacks::ensure_altstack();
        signals::install_fatal();
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
    let mut line = output::Line::new();
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
