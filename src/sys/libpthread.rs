//! The thread functions the library calls, found at run time by name.
//!
//! Below glibc 2.34, `pthread_create`, `pthread_join`, `pthread_key_create`
//! and friends live in `libpthread.so.0` and `dlsym` in `libdl.so.2`. A
//! library that names them gets those files as NEEDED entries, and the
//! loader then opens and maps both in every process, threaded or not: about
//! five percent of `/bin/true`'s start-up (they are empty stubs from 2.34 on,
//! but still opened). So the library names none of them. It finds them in
//! the modules already loaded, the way `dlsym` does: `dl_iterate_phdr` (in
//! libc in every version) and each module's own hash table
//! ([`crate::elf::dynamic`]). A program that creates threads has them loaded.
//! Never called in a signal handler: `dl_iterate_phdr` takes the loader lock.

use core::ffi::CStr;
use core::ops::Range;
use core::sync::atomic::{AtomicUsize, Ordering};

use crate::elf::dynamic::DynamicTables;
use crate::elf::{PT_DYNAMIC, PT_LOAD};

/// A function looked up once, cached when found.
pub struct Function {
    name: &'static CStr,
    /// Whether to look only after this library, as `dlsym(RTLD_NEXT)` does
    /// (for the functions the library itself defines).
    next: bool,
    addr: AtomicUsize,
}

impl Function {
    pub const fn new(name: &'static CStr) -> Function {
        Function {
            name,
            next: false,
            addr: AtomicUsize::new(0),
        }
    }

    pub const fn next(name: &'static CStr) -> Function {
        Function {
            name,
            next: true,
            addr: AtomicUsize::new(0),
        }
    }

    /// The function's address; `None` while no loaded module defines it.
    pub fn get(&self) -> Option<usize> {
        self.found().or_else(|| {
            find_all(&[self]);
            self.found()
        })
    }

    /// The address found by an earlier search, without searching.
    pub fn found(&self) -> Option<usize> {
        Some(self.addr.load(Ordering::Acquire)).filter(|&a| a != 0)
    }
}

static PTHREAD_CREATE: Function = Function::next(c"pthread_create");
static PTHREAD_JOIN: Function = Function::new(c"pthread_join");
static PTHREAD_KEY_CREATE: Function = Function::new(c"pthread_key_create");
static PTHREAD_SETSPECIFIC: Function = Function::new(c"pthread_setspecific");
static PTHREAD_ATTR_INIT: Function = Function::new(c"pthread_attr_init");
static PTHREAD_ATTR_SETSTACKSIZE: Function = Function::new(c"pthread_attr_setstacksize");
static PTHREAD_ATTR_DESTROY: Function = Function::new(c"pthread_attr_destroy");

pub type StartRoutine = extern "C-unwind" fn(*mut libc::c_void) -> *mut libc::c_void;
pub type CreateFn = unsafe extern "C" fn(
    *mut libc::pthread_t,
    *const libc::pthread_attr_t,
    StartRoutine,
    *mut libc::c_void,
) -> libc::c_int;

/// The `pthread_create` the program would get without this library.
pub fn real_create() -> Option<CreateFn> {
    // SAFETY: the address of the next pthread_create has its type.
    PTHREAD_CREATE
        .get()
        .map(|f| unsafe { core::mem::transmute::<usize, CreateFn>(f) })
}

/// `pthread_key_create`; the key, or `None`.
pub fn key_create(
    destructor: unsafe extern "C" fn(*mut libc::c_void),
) -> Option<libc::pthread_key_t> {
    // SAFETY: the C library's pthread_key_create, found by name.
    let f: unsafe extern "C" fn(
        *mut libc::pthread_key_t,
        Option<unsafe extern "C" fn(*mut libc::c_void)>,
    ) -> i32 = unsafe { core::mem::transmute(PTHREAD_KEY_CREATE.get()?) };
    let mut key: libc::pthread_key_t = 0;
    // SAFETY: key is written by the call.
    (unsafe { f(&mut key, Some(destructor)) } == 0).then_some(key)
}

/// `pthread_setspecific` for the calling thread.
pub fn set_specific(key: libc::pthread_key_t, value: *const libc::c_void) {
    if let Some(f) = PTHREAD_SETSPECIFIC.get() {
        // SAFETY: the C library's pthread_setspecific, found by name.
        let f: unsafe extern "C" fn(libc::pthread_key_t, *const libc::c_void) -> i32 =
            unsafe { core::mem::transmute(f) };
        // SAFETY: the caller's key and value.
        unsafe { f(key, value) };
    }
}

/// Creates a thread with the real `pthread_create` (no alternate stack)
/// and the given stack size.
pub fn spawn(
    stack_size: usize,
    start: extern "C" fn(*mut libc::c_void) -> *mut libc::c_void,
    arg: *mut libc::c_void,
) -> Option<libc::pthread_t> {
    let create = real_create()?;
    type AttrFn = unsafe extern "C" fn(*mut libc::pthread_attr_t) -> i32;
    type StackFn = unsafe extern "C" fn(*mut libc::pthread_attr_t, usize) -> i32;
    // SAFETY: the C library's functions, found by name, with their types.
    let (init, set_stack, destroy) = unsafe {
        (
            core::mem::transmute::<usize, AttrFn>(PTHREAD_ATTR_INIT.get()?),
            core::mem::transmute::<usize, StackFn>(PTHREAD_ATTR_SETSTACKSIZE.get()?),
            core::mem::transmute::<usize, AttrFn>(PTHREAD_ATTR_DESTROY.get()?),
        )
    };
    // SAFETY: attr is initialised before use and destroyed after; a "C"
    // start routine is a valid "C-unwind" one (it never unwinds).
    unsafe {
        let mut attr: libc::pthread_attr_t = core::mem::zeroed();
        init(&mut attr);
        set_stack(&mut attr, stack_size);
        // SAFETY: an integer on glibc, a pointer on musl: zero is valid for both.
        let mut thread: libc::pthread_t = core::mem::zeroed();
        let start = core::mem::transmute::<
            extern "C" fn(*mut libc::c_void) -> *mut libc::c_void,
            StartRoutine,
        >(start);
        let rc = create(&mut thread, &attr, start, arg);
        destroy(&mut attr);
        (rc == 0).then_some(thread)
    }
}

/// `pthread_join`, ignoring the thread's result.
pub fn join(thread: libc::pthread_t) {
    if let Some(f) = PTHREAD_JOIN.get() {
        // SAFETY: the C library's pthread_join, found by name.
        let f: unsafe extern "C" fn(libc::pthread_t, *mut *mut libc::c_void) -> i32 =
            unsafe { core::mem::transmute(f) };
        // SAFETY: the caller's joinable thread; the result is not wanted.
        unsafe { f(thread, core::ptr::null_mut()) };
    }
}

struct Search<'a> {
    functions: &'a [&'a Function],
    /// Whether the modules up to and including this library are behind.
    seen_self: bool,
    /// This library's addresses, once met.
    own: Range<u64>,
}

/// Looks up each of `functions` not found yet, in one pass over the loaded
/// modules in load order: its first definition (after this library for a
/// [`Function::next`]). Start-up makes all its searches in one pass. This
/// library's address range, as the pass met it (empty if it did not).
pub fn find_all(functions: &[&Function]) -> Range<u64> {
    let mut search = Search {
        functions,
        seen_self: false,
        own: 0..0,
    };
    // SAFETY: the callback matches dl_iterate_phdr's signature and gets a
    // pointer to `search`, which outlives the call.
    unsafe { libc::dl_iterate_phdr(Some(visit), (&mut search as *mut Search).cast()) };
    search.own
}

#[unsafe(link_section = ".text.faultdump.startup")]
unsafe extern "C" fn visit(
    info: *mut libc::dl_phdr_info,
    _size: usize,
    data: *mut libc::c_void,
) -> i32 {
    // SAFETY: data is the Search passed to dl_iterate_phdr; info is valid
    // for the call.
    let (search, info) = unsafe { (&mut *data.cast::<Search>(), &*info) };
    // SAFETY: the loader's program headers of a loaded module.
    let phdrs = unsafe { core::slice::from_raw_parts(info.dlpi_phdr, info.dlpi_phnum as usize) };
    let bias = info.dlpi_addr;
    let loads = phdrs.iter().filter(|p| p.p_type == PT_LOAD);
    let (Some(low), Some(high)) = (
        loads.clone().map(|p| p.p_vaddr).min(),
        loads.map(|p| p.p_vaddr + p.p_memsz).max(),
    ) else {
        return 0;
    };
    let avma = bias.wrapping_add(low)..bias.wrapping_add(high);
    let is_self = avma.contains(&(find_all as *const () as u64));
    let after_self = search.seen_self;
    if is_self {
        search.seen_self = true;
        search.own = avma.clone();
    }
    let wanted = |f: &&&Function| f.found().is_none() && (after_self || !f.next);
    if !search.functions.iter().any(|f| wanted(&f)) {
        return 0;
    }
    let Some(dynamic) = phdrs.iter().find(|p| p.p_type == PT_DYNAMIC) else {
        return 0;
    };
    // SAFETY: the dynamic section and the tables it points to are mapped
    // for as long as the module is loaded, which dl_iterate_phdr holds.
    let read = |addr: u64, buf: &mut [u8]| unsafe {
        core::ptr::copy_nonoverlapping(addr as *const u8, buf.as_mut_ptr(), buf.len());
        true
    };
    let read_u64 = |addr: u64| {
        let mut b = [0u8; 8];
        read(addr, &mut b).then(|| u64::from_le_bytes(b))
    };
    let tables = DynamicTables::read(
        &read_u64,
        bias.wrapping_add(dynamic.p_vaddr),
        dynamic.p_memsz,
        bias,
        &avma,
    );
    let Some(tables) = tables else {
        return 0;
    };
    for f in search.functions.iter().filter(|f| wanted(f)) {
        if let Some(addr) = tables.lookup_function(f.name.to_bytes(), bias, &read) {
            f.addr.store(addr as usize, Ordering::Release);
        }
    }
    // Done once every one is found and this library has been met.
    i32::from(search.seen_self && search.functions.iter().all(|f| f.found().is_some()))
}

/// `pthread_atfork`. On glibc through the C library's `__register_atfork`,
/// which libc exports in every version (below 2.34 `pthread_atfork` itself
/// is a static stub from libpthread_nonshared.a); musl has no
/// `__register_atfork` and exports `pthread_atfork` from its one libc.
pub fn atfork(prepare: extern "C" fn(), parent: extern "C" fn(), child: extern "C" fn()) -> bool {
    #[cfg(target_env = "gnu")]
    {
        unsafe extern "C" {
            fn __register_atfork(
                prepare: Option<extern "C" fn()>,
                parent: Option<extern "C" fn()>,
                child: Option<extern "C" fn()>,
                dso_handle: *mut libc::c_void,
            ) -> i32;
        }
        // SAFETY: plain function pointers; a null DSO handle means "never
        // unregistered", right for a library that is never unloaded.
        unsafe {
            __register_atfork(
                Some(prepare),
                Some(parent),
                Some(child),
                core::ptr::null_mut(),
            ) == 0
        }
    }
    #[cfg(target_env = "musl")]
    {
        // SAFETY: plain function pointers.
        unsafe { libc::pthread_atfork(Some(prepare), Some(parent), Some(child)) == 0 }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    unsafe extern "C" fn noop(_: *mut libc::c_void) {}

    #[test]
    fn finds_functions_as_dlsym_does() {
        // SAFETY: dlsym with a NUL-terminated name (the test may use libdl).
        let expected = unsafe { libc::dlsym(libc::RTLD_DEFAULT, c"pthread_key_create".as_ptr()) };
        assert_eq!(PTHREAD_KEY_CREATE.get(), Some(expected as usize));
        assert!(key_create(noop).is_some());
        let missing = Function::new(c"no_such_function_anywhere");
        let create = Function::new(c"pthread_create");
        let join = Function::new(c"pthread_join");
        // Here "this library" is the test executable.
        let own = find_all(&[&missing, &create, &join]);
        assert!(own.contains(&(find_all as *const () as u64)));
        assert_eq!(missing.found(), None);
        assert!(create.found().is_some() && join.found().is_some());
    }
}
