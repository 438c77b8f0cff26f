//! The C library's `wait` family, interposed to note how the last child
//! this process reaped died: a wrapper (`timeout`, `unshare --fork`, an init
//! shim) that then sends itself the signal its child died of is passing the
//! child's crash on, not crashing ([`crate::triggers::verdict`]).
//!
//! Each forwards to the next definition after this library, found by
//! start-up's one search ([`FUNCTIONS`]), since `waitpid` is called from
//! `SIGCHLD` handlers and the search takes the loader lock: looked up here
//! only when called before that search, by the constructor of a module
//! loaded before ours (single-threaded, no handler of ours yet), or in the
//! unit tests, which run no constructor. Only what the call returned is
//! read, so the program gets exactly the C library's result, `errno` and
//! cancellation point.

use core::ffi::c_int;

use crate::sys::libpthread::Function;
use crate::triggers::verdict;

static WAIT: Function = Function::next(c"wait");
static WAITPID: Function = Function::next(c"waitpid");
static WAIT3: Function = Function::next(c"wait3");
static WAIT4: Function = Function::next(c"wait4");
static WAITID: Function = Function::next(c"waitid");

/// The functions start-up looks up for this module.
pub static FUNCTIONS: [&Function; 5] = [&WAIT, &WAITPID, &WAIT3, &WAIT4, &WAITID];

/// The next definition of `f`, as type `T`; `None` if there is none.
fn next<T: Copy>(f: &Function) -> Option<T> {
    let addr = f.get()?;
    // SAFETY: T is the function pointer type of the C function named by
    // `f`, the same size as an address.
    Some(unsafe { core::mem::transmute_copy::<usize, T>(&addr) })
}

fn unavailable() -> libc::pid_t {
    crate::sys::set_errno(libc::ENOSYS);
    -1
}

/// Notes a `wait`-style result: `pid` reaped with `status`.
fn note_status(pid: libc::pid_t, status: c_int) {
    if libc::WIFSIGNALED(status) {
        verdict::reaped(pid, libc::WTERMSIG(status));
    } else if libc::WIFEXITED(status) {
        verdict::reaped(pid, 0);
    }
}

/// Calls `call` with `status`, or with a status of our own where the
/// caller passed none, and notes what it reaped.
fn reaping(status: *mut c_int, call: impl FnOnce(*mut c_int) -> libc::pid_t) -> libc::pid_t {
    let mut own = 0;
    let out = if status.is_null() { &mut own } else { status };
    let reaped = call(out);
    if reaped > 0 {
        // SAFETY: written by the call, which returned a pid.
        note_status(reaped, unsafe { *out });
    }
    reaped
}

/// # Safety
/// As `wait`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wait(status: *mut c_int) -> libc::pid_t {
    type F = unsafe extern "C" fn(*mut c_int) -> libc::pid_t;
    let Some(real) = next::<F>(&WAIT) else {
        return unavailable();
    };
    // SAFETY: forwarded, with a valid status.
    reaping(status, |out| unsafe { real(out) })
}

/// # Safety
/// As `waitpid`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn waitpid(
    pid: libc::pid_t,
    status: *mut c_int,
    options: c_int,
) -> libc::pid_t {
    type F = unsafe extern "C" fn(libc::pid_t, *mut c_int, c_int) -> libc::pid_t;
    let Some(real) = next::<F>(&WAITPID) else {
        return unavailable();
    };
    // SAFETY: forwarded, with a valid status.
    reaping(status, |out| unsafe { real(pid, out, options) })
}

/// # Safety
/// As `wait3`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wait3(
    status: *mut c_int,
    options: c_int,
    usage: *mut libc::rusage,
) -> libc::pid_t {
    type F = unsafe extern "C" fn(*mut c_int, c_int, *mut libc::rusage) -> libc::pid_t;
    let Some(real) = next::<F>(&WAIT3) else {
        return unavailable();
    };
    // SAFETY: forwarded, with a valid status.
    reaping(status, |out| unsafe { real(out, options, usage) })
}

/// # Safety
/// As `wait4`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wait4(
    pid: libc::pid_t,
    status: *mut c_int,
    options: c_int,
    usage: *mut libc::rusage,
) -> libc::pid_t {
    type F = unsafe extern "C" fn(libc::pid_t, *mut c_int, c_int, *mut libc::rusage) -> libc::pid_t;
    let Some(real) = next::<F>(&WAIT4) else {
        return unavailable();
    };
    // SAFETY: forwarded, with a valid status.
    reaping(status, |out| unsafe { real(pid, out, options, usage) })
}

/// # Safety
/// As `waitid`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn waitid(
    idtype: libc::idtype_t,
    id: libc::id_t,
    info: *mut libc::siginfo_t,
    options: c_int,
) -> c_int {
    type F = unsafe extern "C" fn(libc::idtype_t, libc::id_t, *mut libc::siginfo_t, c_int) -> c_int;
    let Some(real) = next::<F>(&WAITID) else {
        return unavailable();
    };
    // SAFETY: forwarded as called.
    let rc = unsafe { real(idtype, id, info, options) };
    if rc == 0 && !info.is_null() {
        // SAFETY: filled by the successful call (si_pid 0: WNOHANG found
        // no child).
        let (code, pid, status) =
            unsafe { ((*info).si_code, (*info).si_pid(), (*info).si_status()) };
        match code {
            libc::CLD_KILLED | libc::CLD_DUMPED if pid > 0 => verdict::reaped(pid, status),
            libc::CLD_EXITED if pid > 0 => verdict::reaped(pid, 0),
            _ => {}
        }
    }
    rc
}
