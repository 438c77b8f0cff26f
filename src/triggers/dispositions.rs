//! The dispositions the library's handlers replaced, by signal number: what
//! a handler chains to and what is put back when the library steps aside.
//! Kept with the program's view of each handled signal in
//! [`crate::sys::dispositions`], which the interposed `sigaction` family
//! reads and writes: the disposition found when ours was installed, then
//! what the program set since. Read by handlers without a lock.

use crate::sys::dispositions::{self, Action};

/// What `sig` would do without us, if ours is installed: the program's
/// view while our handler is what the kernel runs (the disposition found
/// when ours was installed, or `SIG_DFL` the program set since); `SIG_DFL`
/// if the program's own handler is in the kernel and ours was reached
/// anyway (by a handler that kept our address, or racing the program's
/// install).
pub fn previous(sig: i32) -> Option<libc::sigaction> {
    let record = dispositions::record(sig)?;
    let view = if record.ours {
        record.view
    } else {
        Action::DEFAULT
    };
    Some(view.to_libc())
}

/// Installs `handler` (an entry made by `signal_entry!`) for `sig`, keeping
/// what was there for chaining and as the program's view.
pub fn install(
    sig: i32,
    handler: unsafe extern "C" fn(i32, *mut libc::siginfo_t, *mut libc::c_void),
    mask: &libc::sigset_t,
) -> bool {
    dispositions::install(sig, handler as usize, crate::sys::mask_bits(mask))
}

/// Puts back the disposition found before ours (or what the program set
/// since); true if ours was installed.
pub fn uninstall(sig: i32) -> bool {
    dispositions::uninstall(sig).is_some()
}
