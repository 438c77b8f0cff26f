//! The abort message: the text glibc records before it aborts for an
//! `assert()` failure, a heap-corruption check or `__libc_fatal`, in its
//! `__abort_msg` (GLIBC_PRIVATE: `struct abort_msg_s *`, pointing to
//! `{ unsigned int size; char msg[]; }` in a mapping of its own; null when
//! the program called `abort()` itself). musl keeps no such message.
//!
//! Found in a dump through the C library's dynamic symbol table (no loader
//! call) and read with fault-safe reads: a corrupt pointer gives no
//! message, never a second fault.

use crate::symbolize::modules;
use crate::sys::memory::Memory;

/// Reads the message into `buf`; `None` where there is none.
pub fn read<'b>(memory: &Memory, buf: &'b mut [u8]) -> Option<&'b [u8]> {
    let var = modules::find_object(memory, b"__abort_msg")?;
    let msg = memory.read_u64(var).filter(|&p| p != 0)?;
    let mut size = [0u8; 4];
    if !memory.read(msg, &mut size) {
        return None;
    }
    // `size` is the whole mapping's (header included): the text ends at a
    // NUL before it.
    let max = (u32::from_ne_bytes(size) as usize)
        .saturating_sub(4)
        .min(buf.len());
    let text = memory.c_string(msg + 4, max)?;
    let len = text.len().min(max);
    buf[..len].copy_from_slice(&text[..len]);
    // glibc ends the message with a newline (it is also printed on stderr).
    let text = buf[..len].trim_ascii_end();
    (!text.is_empty()).then_some(text)
}
