//! The process's memory map, and reads of untrusted memory that fail
//! instead of taking the dump down.
//!
//! A dump reads memory it cannot trust: stacks that may be smashed, loader
//! lists another thread may be changing, pointers out of registers. Every such
//! read goes through [`Memory`], which checks the address against the
//! mappings read from `/proc/self/maps` once the other threads are stopped
//! (a cheap first filter: no device memory, no `[vvar]`), then copies under
//! a recovery point ([`crate::sys::recover`]): the maps cannot show guard
//! regions (`MADV_GUARD_INSTALL`), file pages past the end of the file, or
//! memory unmapped since, and a fault there fails the read. Where the maps
//! cannot be read, the kernel copies the bytes (`process_vm_readv` on the
//! own pid, which fails cleanly on a bad address). [`Memory::slice`] lends
//! memory in place: whoever reads it runs under a recovery point of its own.
//! Runs in the dump (arena memory); `parse_maps` is pure.

use alloc::vec;
use alloc::vec::Vec;
use core::ops::Range;

use crate::sys;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MapEntry {
    pub start: u64,
    pub end: u64,
    pub read: bool,
    pub write: bool,
    pub exec: bool,
    pub offset: u64,
    pub inode: u64,
    /// Byte range of the path in the maps text (empty for anonymous).
    pub path: Range<usize>,
}

/// `/proc/self/maps` as read at the start of a dump.
pub struct Maps {
    text: Vec<u8>,
    entries: Vec<MapEntry>,
}

/// Parses the lines of `/proc/PID/maps`. Lines that do not parse are skipped.
pub fn parse_maps(text: &[u8]) -> Vec<MapEntry> {
    let mut entries = Vec::new();
    let mut line_start = 0;
    for line in text.split(|&b| b == b'\n') {
        if let Some(e) = parse_line(line, line_start) {
            entries.push(e);
        }
        line_start += line.len() + 1;
    }
    entries
}

fn parse_line(line: &[u8], at: usize) -> Option<MapEntry> {
    // 7f2c4c000000-7f2c4c021000 rw-p 00000000 00:00 0          [heap]
    let mut fields = Fields { line, pos: 0 };
    let range = fields.next()?;
    let dash = range.iter().position(|&b| b == b'-')?;
    let start = parse_hex(&range[..dash])?;
    let end = parse_hex(&range[dash + 1..])?;
    let perms = fields.next()?;
    if perms.len() < 4 {
        return None;
    }
    let offset = parse_hex(fields.next()?)?;
    let _dev = fields.next()?;
    let inode = fields.next()?.iter().try_fold(0u64, |n, &b| {
        b.is_ascii_digit()
            .then(|| n.wrapping_mul(10).wrapping_add(u64::from(b - b'0')))
    })?;
    while fields.pos < line.len() && line[fields.pos] == b' ' {
        fields.pos += 1;
    }
    Some(MapEntry {
        start,
        end,
        read: perms[0] == b'r',
        write: perms[1] == b'w',
        exec: perms[2] == b'x',
        offset,
        inode,
        path: at + fields.pos..at + line.len(),
    })
}

struct Fields<'a> {
    line: &'a [u8],
    pos: usize,
}

impl<'a> Fields<'a> {
    fn next(&mut self) -> Option<&'a [u8]> {
        while self.pos < self.line.len() && self.line[self.pos] == b' ' {
            self.pos += 1;
        }
        let start = self.pos;
        while self.pos < self.line.len() && self.line[self.pos] != b' ' {
            self.pos += 1;
        }
        (self.pos > start).then(|| &self.line[start..self.pos])
    }
}

fn parse_hex(s: &[u8]) -> Option<u64> {
    if s.is_empty() || s.len() > 16 {
        return None;
    }
    s.iter().try_fold(0u64, |n, &b| {
        let d = (b as char).to_digit(16)?;
        Some(n << 4 | u64::from(d))
    })
}

impl Maps {
    /// Reads `/proc/self/maps`; `None` where /proc is not mounted.
    pub fn read() -> Option<Maps> {
        let fd = sys::open_read(c"/proc/self/maps")?;
        let mut text = vec![0u8; 64 * 1024];
        let mut len = 0;
        loop {
            let n = fd.read_full(&mut text[len..]);
            len += n;
            if len < text.len() {
                break;
            }
            text.resize(text.len() * 2, 0);
        }
        text.truncate(len);
        Some(Maps::from_text(text))
    }

    pub fn from_text(text: Vec<u8>) -> Maps {
        let entries = parse_maps(&text);
        Maps { text, entries }
    }

    /// The text as read (a minidump's maps stream).
    pub fn text(&self) -> &[u8] {
        &self.text
    }

    pub fn entries(&self) -> &[MapEntry] {
        &self.entries
    }

    pub fn path(&self, e: &MapEntry) -> &[u8] {
        &self.text[e.path.clone()]
    }

    /// The mapping that holds `addr`.
    pub fn find(&self, addr: u64) -> Option<&MapEntry> {
        let i = self.entries.partition_point(|e| e.start <= addr);
        let e = self.entries.get(i.checked_sub(1)?)?;
        (addr < e.end).then_some(e)
    }

    /// The mapping nearest to an address that none holds.
    pub fn nearest(&self, addr: u64) -> Option<&MapEntry> {
        let i = self.entries.partition_point(|e| e.start <= addr);
        let below = i.checked_sub(1).and_then(|j| self.entries.get(j));
        let above = self.entries.get(i);
        match (below, above) {
            (Some(b), Some(a)) => Some(if addr - (b.end - 1) <= a.start - addr {
                b
            } else {
                a
            }),
            (b, a) => b.or(a),
        }
    }

    /// Readable memory whose reading has no side effect: not device memory,
    /// not the vDSO's data pages (which can fault when read).
    fn safely_readable(&self, e: &MapEntry) -> bool {
        if !e.read {
            return false;
        }
        let path = self.path(e);
        let device = path.starts_with(b"/dev/")
            && !path.starts_with(b"/dev/zero")
            && !path.starts_with(b"/dev/shm/");
        !path.starts_with(b"[vvar") && !device
    }

    fn range_readable(&self, addr: u64, len: u64) -> bool {
        let Some(last) = addr.checked_add(len.max(1) - 1) else {
            return false;
        };
        let mut at = addr;
        loop {
            match self.find(at) {
                Some(e) if self.safely_readable(e) => {
                    if last < e.end {
                        return true;
                    }
                    at = e.end;
                }
                _ => return false,
            }
        }
    }
}

/// Reads of process memory that fail instead of faulting (see the module
/// doc).
pub struct Memory {
    maps: Option<Maps>,
    /// The last mapping a read hit, checked first (stack reads cluster).
    hot: core::cell::Cell<(u64, u64)>,
}

impl Memory {
    pub fn new(maps: Option<Maps>) -> Memory {
        Memory {
            maps,
            hot: core::cell::Cell::new((0, 0)),
        }
    }

    pub fn maps(&self) -> Option<&Maps> {
        self.maps.as_ref()
    }

    /// Whether `len` bytes at `addr` can be read.
    pub fn readable(&self, addr: u64, len: u64) -> bool {
        let (hot_start, hot_end) = self.hot.get();
        if addr >= hot_start && addr.saturating_add(len) <= hot_end {
            return true;
        }
        match &self.maps {
            Some(maps) => {
                if !maps.range_readable(addr, len) {
                    return false;
                }
                if let Some(e) = maps.find(addr) {
                    self.hot.set((e.start, e.end));
                }
                true
            }
            None => {
                let mut probe = [0u8; 1];
                kernel_copy(addr, &mut probe) && kernel_copy(addr + len.max(1) - 1, &mut probe)
            }
        }
    }

    pub fn read_u64(&self, addr: u64) -> Option<u64> {
        let mut buf = [0u8; 8];
        self.read(addr, &mut buf).then(|| u64::from_ne_bytes(buf))
    }

    pub fn read(&self, addr: u64, buf: &mut [u8]) -> bool {
        if self.maps.is_none() {
            return kernel_copy(addr, buf);
        }
        if !self.readable(addr, buf.len() as u64) {
            return false;
        }
        // SAFETY: the range lies in readable mappings of this process; a
        // fault there all the same fails the copy.
        unsafe { sys::recover::copy(addr, buf) }
    }

    /// A slice of process memory, if the maps say all of it is readable.
    /// Reading it may fault all the same (see the module doc): callers read
    /// it under a recovery point, within the dump.
    pub fn slice(&self, addr: u64, len: u64) -> Option<&'static [u8]> {
        if len == 0 || !self.readable(addr, len) {
            return None;
        }
        // SAFETY: checked readable above; see the note on lifetime.
        Some(unsafe { core::slice::from_raw_parts(addr as *const u8, len as usize) })
    }

    /// A NUL-terminated string at `addr`, at most `max` bytes, copied out.
    pub fn c_string(&self, addr: u64, max: usize) -> Option<Vec<u8>> {
        let mut out = Vec::new();
        let mut chunk = [0u8; 64];
        let mut at = addr;
        while out.len() < max {
            // Read up to the next 64-byte boundary so no read crosses a page.
            let n = (64 - (at % 64)) as usize;
            if !self.read(at, &mut chunk[..n]) {
                return None;
            }
            if let Some(nul) = chunk[..n].iter().position(|&b| b == 0) {
                out.extend_from_slice(&chunk[..nul]);
                return Some(out);
            }
            out.extend_from_slice(&chunk[..n]);
            at += n as u64;
        }
        Some(out)
    }
}

/// `process_vm_readv` on the own pid: the kernel copies, and a bad address
/// gives EFAULT instead of a fault.
pub fn kernel_copy(addr: u64, buf: &mut [u8]) -> bool {
    let local = libc::iovec {
        iov_base: buf.as_mut_ptr().cast(),
        iov_len: buf.len(),
    };
    let remote = libc::iovec {
        iov_base: addr as *mut libc::c_void,
        iov_len: buf.len(),
    };
    // SAFETY: local describes our writable buffer; the kernel validates remote.
    let n = unsafe { sys::raw::process_vm_readv(sys::getpid(), &local, 1, &remote, 1, 0) };
    n == buf.len() as isize
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &[u8] = b"\
55d0c0a00000-55d0c0a01000 r--p 00000000 08:01 1234                       /srv/app
55d0c0a01000-55d0c0a02000 r-xp 00001000 08:01 1234                       /srv/app
7ffd5c99a000-7ffd5c9bb000 rw-p 00000000 00:00 0                          [stack]
7ffd5c9f0000-7ffd5c9f4000 r--p 00000000 00:00 0                          [vvar]
7ffd5c9f4000-7ffd5c9f6000 r-xp 00000000 00:00 0                          [vdso]
7ffd5c9f6000-7ffd5c9f7000 rw-p 00000000 00:00 0 
ffffffffff600000-ffffffffff601000 --xp 00000000 00:00 0                  [vsyscall]
garbage line
";

    #[test]
    fn parses_maps_lines() {
        assert_eq!(parse_maps(SAMPLE).len(), 7);
        let maps = Maps::from_text(SAMPLE.to_vec());
        let e = &maps.entries()[1];
        assert_eq!(
            (e.start, e.end, e.offset, e.inode),
            (0x55d0c0a01000, 0x55d0c0a02000, 0x1000, 1234)
        );
        assert!(e.read && e.exec && !e.write);
        assert_eq!(maps.path(e), b"/srv/app");
        assert_eq!(maps.path(&maps.entries()[5]), b"");
        assert_eq!(maps.path(&maps.entries()[6]), b"[vsyscall]");
    }

    #[test]
    fn finds_and_nearest() {
        let maps = Maps::from_text(SAMPLE.to_vec());
        assert_eq!(maps.find(0x55d0c0a01234).unwrap().offset, 0x1000);
        assert!(maps.find(0).is_none());
        assert_eq!(maps.path(maps.nearest(0).unwrap()), b"/srv/app");
        assert_eq!(maps.path(maps.nearest(0x7ffd5c9bb010).unwrap()), b"[stack]");
        assert!(
            maps.range_readable(0x55d0c0a00ff8, 16),
            "across two readable mappings"
        );
        assert!(
            !maps.range_readable(0x7ffd5c9f0000, 8),
            "[vvar] is never read"
        );
        assert!(
            !maps.range_readable(0x7ffd5c9baff8, 16),
            "runs off the stack"
        );
    }

    #[test]
    fn reads_own_memory_and_refuses_bad_addresses() {
        let value: u64 = 0x1122334455667788;
        let addr = &value as *const u64 as u64;
        for memory in [Memory::new(Maps::read()), Memory::new(None)] {
            assert_eq!(memory.read_u64(addr), Some(value));
            assert_eq!(memory.read_u64(0), None);
            assert_eq!(memory.read_u64(0xdead_0000_0000), None);
        }
        let s = b"hello\0world";
        let memory = Memory::new(Maps::read());
        assert_eq!(memory.c_string(s.as_ptr() as u64, 100).unwrap(), b"hello");
    }
}
