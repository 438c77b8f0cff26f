//! The bytes of a dump not yet written.
//!
//! Signal-safe. A dump is built whole in a mapping of its own ([`WHOLE`]
//! bytes of address space, of which only the pages written cost anything),
//! so that it can be written in one `write(2)` at the end: even a writer that
//! takes no lock (another library, the program itself) cannot then split a
//! line of it. When that mapping cannot be had, a fixed buffer of one chunk
//! is used and the dump goes out in chunks as it is produced.

use crate::report::output::CHUNK;
use crate::sys;

/// Address space reserved for a whole dump. A dump that outgrows it is
/// written out in pieces as it grows.
const WHOLE: usize = 16 << 20;

pub struct Pending {
    whole: Option<sys::Mapping>,
    small: [u8; CHUNK],
    len: usize,
}

impl Pending {
    /// A whole-dump buffer if `whole` and the memory can be mapped, else one
    /// chunk.
    pub fn new(whole: bool) -> Pending {
        Pending {
            whole: if whole {
                sys::Mapping::anonymous(WHOLE)
            } else {
                None
            },
            small: [0; CHUNK],
            len: 0,
        }
    }

    /// Whether the dump is built whole (rather than a chunk at a time).
    pub fn is_whole(&self) -> bool {
        self.whole.is_some()
    }

    pub fn capacity(&self) -> usize {
        self.whole.as_ref().map_or(CHUNK, |m| m.len)
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_full(&self) -> bool {
        self.len == self.capacity()
    }

    fn space(&mut self) -> &mut [u8] {
        match &self.whole {
            // SAFETY: the mapping is readable and writable for its length
            // while self lives, and only reached through self.
            Some(m) => unsafe { core::slice::from_raw_parts_mut(m.ptr, m.len) },
            None => &mut self.small,
        }
    }

    pub fn bytes(&self) -> &[u8] {
        match &self.whole {
            // SAFETY: as in `space`; the first len bytes were written.
            Some(m) => unsafe { core::slice::from_raw_parts(m.ptr, self.len) },
            None => &self.small[..self.len],
        }
    }

    /// Copies as much of `bytes` as fits; returns how much that was.
    pub fn push(&mut self, bytes: &[u8]) -> usize {
        let len = self.len;
        let space = &mut self.space()[len..];
        let n = bytes.len().min(space.len());
        space[..n].copy_from_slice(&bytes[..n]);
        self.len += n;
        n
    }

    pub fn clear(&mut self) {
        self.len = 0;
    }
}

/// How much of `bytes` to write in one chunk: at most [`CHUNK`] bytes,
/// ending after the last newline within them when there is one (so that on
/// a pipe, where a write of at most PIPE_BUF bytes is atomic, no line of
/// ours is split by another writer's).
pub fn chunk_len(bytes: &[u8]) -> usize {
    if bytes.len() <= CHUNK {
        return bytes.len();
    }
    bytes[..CHUNK]
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(CHUNK, |i| i + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_end_at_lines() {
        let mut text = Vec::new();
        for _ in 0..5 {
            text.extend_from_slice(&[b'a'; 1000]);
            text.push(b'\n');
        }
        assert_eq!(chunk_len(&text), 4004);
        assert_eq!(chunk_len(&text[4004..]), 1001);
        let long = [b'x'; 9000];
        assert_eq!(chunk_len(&long), CHUNK, "a line longer than a chunk is cut");
        assert_eq!(chunk_len(b""), 0);
    }

    #[test]
    fn whole_buffers_hold_a_large_dump_and_small_ones_a_chunk() {
        let mut p = Pending::new(true);
        assert!(p.is_whole());
        let line = [b'j'; 1000];
        for _ in 0..100 {
            assert_eq!(p.push(&line), 1000);
        }
        assert_eq!(p.len(), 100_000);
        assert_eq!(p.bytes().len(), 100_000);
        p.clear();
        assert_eq!(p.len(), 0);
        let mut s = Pending::new(false);
        assert!(!s.is_whole());
        assert_eq!(s.push(&[b'k'; 5000]), CHUNK);
        assert!(s.is_full());
        assert_eq!(s.push(b"more"), 0);
    }
}
