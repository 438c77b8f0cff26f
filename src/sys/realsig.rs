//! The C library's `sigaction`, for the library's own installs, now that
//! the library exports a `sigaction` of its own (`startup::interpose`): a
//! call to `libc::sigaction` from inside the library would reach that one.
//!
//! Which function: the next definition of `sigaction` after this library,
//! as `dlsym(RTLD_NEXT)` would find it ([`super::libpthread::Function`]), so
//! that what is preloaded after the library (another interposer, the
//! signal-safety spy of tests/safety.rs) sees the library's installs as it
//! did before. The search visits the loaded modules under the loader lock,
//! so it is done once, outside any handler: [`NEXT`] is one of the
//! functions start-up's one search of the modules looks up, before anything
//! is installed (the next module after the library is normally libc
//! itself), and [`resolve`] takes it from there. Until then, and wherever
//! the search finds nothing, the C library's `__sigaction` (an alias it
//! exports in every version, bound like any other libc function) is used.
//! Async-signal-safe once resolved: a load and a call.

use core::sync::atomic::{AtomicUsize, Ordering};

use super::libpthread::Function;

type SigactionFn =
    unsafe extern "C" fn(i32, *const libc::sigaction, *mut libc::sigaction) -> libc::c_int;

#[cfg(target_env = "gnu")]
unsafe extern "C" {
    /// glibc's own name for `sigaction` (GLIBC_2.2.5), which this library
    /// does not define.
    fn __sigaction(sig: i32, act: *const libc::sigaction, old: *mut libc::sigaction)
    -> libc::c_int;
}

/// musl exports no other name for `sigaction` (its `__sigaction` is
/// hidden), and its libc.so, always loaded, is where the search finds it.
/// This stand-in is reached only before [`resolve`] ran, that is while the
/// constructors of the objects loaded before ours run (a library that
/// ignores SIGPIPE in its constructor calls the interposed `signal`):
/// single-threaded, with no handler of ours installed, so the search is
/// made here. It fails (EINVAL) only if there is no `sigaction` to find,
/// rather than reach the library's own.
#[cfg(target_env = "musl")]
unsafe extern "C" fn __sigaction(
    sig: i32,
    act: *const libc::sigaction,
    old: *mut libc::sigaction,
) -> libc::c_int {
    let Some(addr) = NEXT.get() else {
        super::set_errno(libc::EINVAL);
        return -1;
    };
    // SAFETY: a `sigaction` found by name has this type; forwarded as called.
    unsafe { core::mem::transmute::<usize, SigactionFn>(addr)(sig, act, old) }
}

/// The next `sigaction`, found by start-up's one search of the modules.
pub static NEXT: Function = Function::next(c"sigaction");
/// The function resolved by [`resolve`]; 0 before.
static RESOLVED: AtomicUsize = AtomicUsize::new(0);

/// Looks up the next `sigaction`. Not signal-safe (the loader lock): called
/// by start-up and by the C API before they install handlers.
pub fn resolve() {
    if RESOLVED.load(Ordering::Acquire) != 0 {
        return;
    }
    let found = NEXT.get().unwrap_or(__sigaction as SigactionFn as usize);
    RESOLVED.store(found, Ordering::Release);
}

/// `sigaction` as the C library (or what is preloaded after this library)
/// does it. Async-signal-safe.
///
/// # Safety
/// As `sigaction`: `act` and `old` are null or valid.
pub unsafe fn sigaction(
    sig: i32,
    act: *const libc::sigaction,
    old: *mut libc::sigaction,
) -> libc::c_int {
    let f = match RESOLVED.load(Ordering::Acquire) {
        0 => __sigaction as SigactionFn,
        // SAFETY: a `sigaction` found by name has this type.
        addr => unsafe { core::mem::transmute::<usize, SigactionFn>(addr) },
    };
    // SAFETY: forwarded as the caller guarantees.
    unsafe { f(sig, act, old) }
}
