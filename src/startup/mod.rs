//! Start-up: the constructor every process runs, the configuration parser
//! ([`config`]), the C API's entry points that install handlers and threads
//! ([`capi`]), the interposed `pthread_create` ([`threadstart`]), the
//! interposed `sigaction` family ([`interpose`]) and `wait` family
//! ([`reap`]).
//!
//! Ordinary code: malloc and locks are allowed, and nothing here is
//! ever reached from a signal handler, except [`interpose`] and [`reap`]:
//! programs install handlers and reap children from handlers, so they are
//! async-signal-safe, as the C library's functions they replace are. The
//! constructor first makes its one search of the loaded modules (the
//! functions the interposed ones forward to, and whether another copy of
//! the library acts, see [`first_copy`]), reserves the
//! library's own memory ([`crate::sys::reserve`]), reads the configuration
//! once (from `environ`, allocating only in that memory: the host's heap is
//! never initialised by us), takes the module snapshot
//! ([`crate::symbolize::snapshot`]), installs the handlers, and does
//! nothing else: no symbol work, no thread (unless a timeout asks for the
//! watchdog). Every process of a container pays for it, so it is kept to a
//! handful of system calls.

pub mod capi;
pub mod config;
pub mod interpose;
pub mod reap;
pub mod threadstart;

use crate::dump::stacks;
use crate::report::output;
use crate::symbolize::{modules, snapshot};
use crate::sys::libpthread::{self, Function};
use crate::sys::{self, arena, realsig, reserve};
use crate::triggers::{fatal, usersignal, watchdog};
use alloc::boxed::Box;
use alloc::format;
use config::{Environment, Process};

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
                b"_PYTHON" => env.python = value,
                _ => {}
            }
        }
        // SAFETY: still inside the array (its NULL end not yet reached).
        at = unsafe { at.add(1) };
    }
    env
}

// The unit-test binary does not run the constructor (it would install the
// handlers in the test harness), so what only it calls is unused there.
// The one constructor: ctor's `naked` form is a single `.init_array` entry
// that the loader calls directly (no priority table, no guard), and
// `body(link_section)` puts the generated entry with the rest of the code
// start-up runs (build.rs's `.text.faultdump.startup`), as `init` itself.
#[cfg_attr(
    not(test),
    ctor::ctor(unsafe, naked, body(link_section = ".text.faultdump.startup"))
)]
#[cfg_attr(test, allow(dead_code))]
#[unsafe(link_section = ".text.faultdump.startup")]
fn init() {
    if !first_copy() {
        return;
    }
    // Every allocation of the constructor goes to the library's own area
    // (no host malloc: a process that never mallocs keeps no heap), and
    // the area is sealed read-only before anything else runs.
    let area = reserve::reserve();
    if let Some(r) = &area {
        stacks::adopt_dump_stack(r.stack_top);
        stacks::adopt_altstack(r.altstack);
        arena::STARTUP.begin_in(r.area, reserve::AREA_SIZE);
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
        unsafe { sys::raw::write(2, line.as_ptr().cast(), line.len()) };
    }
    let config = Box::leak(Box::new(parsed.config));
    let taken = snapshot::take();
    if area.is_some() {
        arena::STARTUP.end();
    }
    snapshot::seal(taken);
    output::record_stderr_identity();
    crate::settings::publish(config);
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
        unsafe { sys::raw::write(2, line.as_ptr().cast(), line.len()) };
    }
}

/// The first definition of this name in the load order is the copy of the
/// library that acts: it is also the copy whose interposed functions the
/// program reaches. `faultdump_enable`, exported by every version.
static ACTING_COPY: Function = Function::new(c"faultdump_enable");

/// Start-up's one search of the loaded modules: the functions the
/// interposed ones forward to, and whether this copy of the library is the
/// one that acts. Another copy loaded earlier in the lookup order (two
/// paths, two versions, `LD_PRELOAD` and `/etc/ld.so.preload`) acts, and
/// this one stands aside entirely: no handler, no watchdog, no dump, its
/// interposed functions only forwarding (the other copy's reach them as
/// the next definition). Whichever constructor runs first, both copies
/// agree on which is first.
#[cfg_attr(test, allow(dead_code))]
#[unsafe(link_section = ".text.faultdump.startup")]
fn first_copy() -> bool {
    let [wait, waitpid, wait3, wait4, waitid] = reap::FUNCTIONS;
    let own = libpthread::find_all(&[
        &ACTING_COPY,
        &realsig::NEXT,
        wait,
        waitpid,
        wait3,
        wait4,
        waitid,
    ]);
    realsig::resolve();
    match ACTING_COPY.found() {
        Some(first) if !own.is_empty() => own.contains(&(first as u64)),
        _ => true,
    }
}

#[cfg_attr(test, allow(dead_code))]
fn warn_signal(signum: i32, why: &str) {
    let line = format!("faultdump: ignoring FAULTHANDLER_SIGNAL='{signum}': {why}\n");
    // SAFETY: writing our own buffer to fd 2.
    unsafe { sys::raw::write(2, line.as_ptr().cast(), line.len()) };
}
