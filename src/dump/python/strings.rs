//! Python `str` objects read from memory: the compact representations
//! CPython uses for code object names (`PyASCIIObject` and
//! `PyCompactUnicodeObject`), checked to be `str` by their type, bounded,
//! copied out as UTF-8.

use crate::sys::memory::Memory;
use alloc::vec::Vec;

use super::layout::Layout;

/// The most characters kept of one string: the format cuts at 500 and
/// marks a longer string with `...`, so one more tells it is longer.
pub const MAX_CHARS: usize = 501;

const LENGTH: u64 = 16;
const STATE: u64 = 32;

/// Appends the string object at `obj` to `out` as UTF-8; false (and
/// nothing appended) if it is not a compact `str`.
pub fn read(memory: &Memory, layout: &Layout, obj: u64, out: &mut Vec<u8>) -> bool {
    if !super::aligned(obj) || memory.read_u64(obj + 8) != Some(layout.unicode_type) {
        return false;
    }
    let (Some(length), Some(state)) =
        (memory.read_u64(obj + LENGTH), read_u32(memory, obj + STATE))
    else {
        return false;
    };
    let kind = (state >> 2) & 7;
    let compact = state & 1 << 5 != 0;
    let ascii = state & 1 << 6 != 0;
    if !compact || !matches!(kind, 1 | 2 | 4) || length > i64::MAX as u64 {
        return false;
    }
    let data = obj
        + if ascii {
            layout.ascii_size
        } else {
            layout.ascii_size + 16
        };
    let chars = (length as usize).min(MAX_CHARS);
    let mut raw = [0u8; MAX_CHARS * 4];
    let raw = &mut raw[..chars * kind as usize];
    if !memory.read(data, raw) {
        return false;
    }
    encode(kind as usize, raw, out);
    true
}

fn read_u32(memory: &Memory, addr: u64) -> Option<u32> {
    let mut b = [0u8; 4];
    memory.read(addr, &mut b).then(|| u32::from_ne_bytes(b))
}

/// Code points of `kind` bytes each, as UTF-8 (a lone surrogate or an
/// invalid code point as U+FFFD).
fn encode(kind: usize, raw: &[u8], out: &mut Vec<u8>) {
    for c in raw.chunks_exact(kind) {
        let cp = match kind {
            1 => u32::from(c[0]),
            2 => u32::from(u16::from_ne_bytes([c[0], c[1]])),
            _ => u32::from_ne_bytes([c[0], c[1], c[2], c[3]]),
        };
        let ch = char::from_u32(cp).unwrap_or(char::REPLACEMENT_CHARACTER);
        let mut buf = [0u8; 4];
        out.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_each_kind() {
        let mut out = Vec::new();
        encode(1, b"f\xe9", &mut out);
        assert_eq!(out, "f\u{e9}".as_bytes());
        out.clear();
        let wide: Vec<u8> = [0x3c0u16, 0x61]
            .iter()
            .flat_map(|c| c.to_ne_bytes())
            .collect();
        encode(2, &wide, &mut out);
        assert_eq!(out, "\u{3c0}a".as_bytes());
        out.clear();
        let four: Vec<u8> = [0x1f600u32, 0xd800]
            .iter()
            .flat_map(|c| c.to_ne_bytes())
            .collect();
        encode(4, &four, &mut out);
        assert_eq!(out, "\u{1f600}\u{fffd}".as_bytes());
    }
}
