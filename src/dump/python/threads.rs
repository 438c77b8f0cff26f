//! Thread states: from `_PyRuntime` through every interpreter's list of
//! thread states to the one of a kernel thread. From 3.11 a thread state
//! holds the tid (`native_thread_id`); before, only the thread's
//! `pthread_self()`, glibc's `struct pthread`, which holds the tid at an
//! offset found once per dump on the dumping thread's own.

use crate::sys::memory::Memory;

use super::layout::{Layout, ThreadId};

/// Bounds on what a corrupted list can make a dump walk.
const MAX_INTERPRETERS: usize = 256;
const MAX_THREAD_STATES: usize = 4096;
/// How far into `struct pthread` the tid is looked for.
const PTHREAD_SCAN: u64 = 4096;

/// The offset of `tid` in glibc's `struct pthread` (0x2d0 on x86-64 for a
/// long time), found in the calling thread's own.
pub fn pthread_tid_offset(memory: &Memory) -> Option<u64> {
    // SAFETY: pthread_self only reads the thread pointer.
    let me = unsafe { libc::pthread_self() } as u64;
    let tid = crate::sys::gettid();
    let mut words = [0u8; 256];
    let mut at = 0;
    while at < PTHREAD_SCAN {
        if !memory.read(me + at, &mut words) {
            return None;
        }
        for (i, w) in words.chunks_exact(4).enumerate() {
            if i32::from_ne_bytes([w[0], w[1], w[2], w[3]]) == tid {
                return Some(at + 4 * i as u64);
            }
        }
        at += words.len() as u64;
    }
    None
}

/// The thread state of kernel thread `tid`, if it runs Python.
pub fn find(
    memory: &Memory,
    layout: &Layout,
    runtime: u64,
    pthread_tid: Option<u64>,
    tid: i32,
) -> Option<u64> {
    let mut interp = memory.read_u64(runtime + layout.interpreters_head)?;
    let mut states = 0;
    for _ in 0..MAX_INTERPRETERS {
        if !super::aligned(interp) {
            return None;
        }
        let mut t = memory.read_u64(interp + layout.threads_head).unwrap_or(0);
        while super::aligned(t) && states < MAX_THREAD_STATES {
            if thread_of(memory, layout, pthread_tid, t) == Some(tid) {
                return Some(t);
            }
            states += 1;
            let next = memory.read_u64(t + layout.tstate_next).unwrap_or(0);
            if next == t {
                break;
            }
            t = next;
        }
        interp = memory.read_u64(interp + layout.interp_next)?;
    }
    None
}

fn thread_of(memory: &Memory, layout: &Layout, pthread_tid: Option<u64>, t: u64) -> Option<i32> {
    match layout.thread_id {
        ThreadId::Native(off) => memory.read_u64(t + off).map(|v| v as i32),
        ThreadId::Pthread(off) => {
            let pthread = memory.read_u64(t + off)?;
            let mut b = [0u8; 4];
            memory
                .read(pthread.checked_add(pthread_tid?)?, &mut b)
                .then(|| i32::from_ne_bytes(b))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sys::memory::Maps;

    #[test]
    fn finds_the_tid_in_struct_pthread() {
        let memory = Memory::new(Maps::read());
        let off = pthread_tid_offset(&memory).expect("tid in struct pthread");
        // SAFETY: pthread_self has no preconditions.
        let me = unsafe { libc::pthread_self() } as u64;
        let mut b = [0u8; 4];
        assert!(memory.read(me + off, &mut b));
        assert_eq!(i32::from_ne_bytes(b), crate::sys::gettid());
    }
}
