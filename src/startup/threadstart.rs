//! Every thread gets an alternate signal stack: `pthread_create` is
//! interposed.
//!
//! `sigaltstack` is per thread and threads start without one, so without
//! this a stack overflow in any thread but the main one kills the process
//! silently: the kernel cannot push the handler's frame on a full stack.
//! The library exports `pthread_create`; the program's calls reach it first
//! (it is preloaded, or linked before libc). It starts the thread on a
//! trampoline that gives it an alternate stack ([`stacks::ensure_altstack`])
//! and registers the stack with a pthread key, whose destructor frees it
//! when the thread ends, however it ends: returning, `pthread_exit`, or
//! cancellation. The trampoline then jumps (not calls) to the program's
//! routine: no frame of ours stays on the thread's stack for those two to
//! unwind through.
//!
//! The real `pthread_create` is the next definition after this library, as
//! `dlsym(RTLD_NEXT)` would find it ([`crate::sys::libpthread`]), looked up at
//! the first call, never at start-up (most processes create no thread; the
//! search visits every loaded module) and never in a handler.
//!
//! Threads get an alternate stack only while the fatal handlers are
//! installed: with `FAULTHANDLER=0` the wrapper only forwards.

use alloc::boxed::Box;
use core::sync::atomic::{AtomicU8, AtomicUsize, Ordering};

use crate::dump::stacks;
use crate::sys::arch::THREAD_TRAMPOLINE;
use crate::sys::libpthread::{self, CreateFn, StartRoutine, real_create};
use crate::sys::raw;
use crate::triggers::dispositions;

/// The pthread key whose destructor frees a thread's alternate stack, plus
/// one (0: none).
static KEY: AtomicUsize = AtomicUsize::new(0);
/// Whether the key has been made: [`UNSTARTED`], [`MAKING`] or [`MADE`]. Not
/// `pthread_once`: below glibc 2.34 it lives in libpthread.so.0, which the
/// portable build must not need (scripts/build-release.sh); and no std.
static INIT: AtomicU8 = AtomicU8::new(UNSTARTED);
const UNSTARTED: u8 = 0;
const MAKING: u8 = 1;
const MADE: u8 = 2;

/// Looks up the real `pthread_create` and creates the key. Not signal-safe
/// (it takes the loader lock): called from a wrapped call while either is
/// still missing.
fn init() {
    if real_create().is_none() {
        return;
    }
    if INIT
        .compare_exchange(UNSTARTED, MAKING, Ordering::Acquire, Ordering::Acquire)
        .is_ok()
    {
        if let Some(key) = libpthread::key_create(free_altstack) {
            KEY.store(key as usize + 1, Ordering::Release);
        }
        INIT.store(MADE, Ordering::Release);
    }
    // Another thread is making it: the first threads wait for the key, as
    // with pthread_once.
    while INIT.load(Ordering::Acquire) != MADE {
        raw::sched_yield();
    }
}

fn real() -> Option<CreateFn> {
    if KEY.load(Ordering::Acquire) == 0 {
        init();
    }
    real_create()
}

/// What a wrapped thread starts with. The architecture's trampoline calls
/// the function in the first word with the whole as its argument.
#[repr(C)]
struct Start {
    prepare: extern "C" fn(*mut libc::c_void) -> Next,
    routine: StartRoutine,
    arg: *mut libc::c_void,
}

/// The program's `pthread_create`: the C library's, with the thread started
/// on the architecture's trampoline while the fatal handlers are installed.
///
/// # Safety
/// As `pthread_create`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pthread_create(
    thread: *mut libc::pthread_t,
    attr: *const libc::pthread_attr_t,
    routine: StartRoutine,
    arg: *mut libc::c_void,
) -> libc::c_int {
    // Not handling (FAULTHANDLER=0, or a copy of the library standing
    // aside): only forward, with no key made.
    let wrap = dispositions::previous(libc::SIGSEGV).is_some();
    let Some(real) = (if wrap { real() } else { real_create() }) else {
        return libc::EAGAIN;
    };
    if !wrap || KEY.load(Ordering::Acquire) == 0 {
        // SAFETY: forwarded as called.
        return unsafe { real(thread, attr, routine, arg) };
    }
    let start = Box::into_raw(Box::new(Start {
        prepare: prepare_thread,
        routine,
        arg,
    }));
    // SAFETY: the trampoline follows the C ABI for a start routine (see
    // below); forwarded with it and its argument.
    let rc = unsafe {
        real(
            thread,
            attr,
            core::mem::transmute::<unsafe extern "C" fn(), StartRoutine>(THREAD_TRAMPOLINE),
            start.cast(),
        )
    };
    if rc != 0 {
        // SAFETY: the thread was not created; the box is still ours.
        drop(unsafe { Box::from_raw(start) });
    }
    rc
}

/// The routine and argument a wrapped thread goes on to, returned in two
/// registers (rax:rdx on x86_64).
#[repr(C)]
struct Next {
    routine: StartRoutine,
    arg: *mut libc::c_void,
}

/// The first thing a wrapped thread runs: gives it an alternate stack and
/// registers the stack for freeing, then hands back the program's routine.
extern "C" fn prepare_thread(start: *mut libc::c_void) -> Next {
    // SAFETY: start is the box made by pthread_create for this thread,
    // taken back exactly once.
    let Start { routine, arg, .. } = *unsafe { Box::from_raw(start.cast::<Start>()) };
    if let Some(base) = stacks::ensure_altstack() {
        let key = KEY.load(Ordering::Acquire) - 1;
        libpthread::set_specific(key as libc::pthread_key_t, base as *const libc::c_void);
    }
    Next { routine, arg }
}

/// The key's destructor: runs as the thread ends, on the thread.
unsafe extern "C" fn free_altstack(base: *mut libc::c_void) {
    stacks::release_altstack(base as usize);
}
