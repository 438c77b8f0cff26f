//! gimli's view of a [`Section`]: a `gimli::Reader` over a byte range of a
//! section that is inflated on demand, so that every read gimli makes pulls
//! in exactly the bytes it needs and no more. Little-endian only (x86_64,
//! aarch64).

use alloc::borrow::Cow;
use alloc::string::String;
use core::fmt;

use gimli::{Error, LittleEndian, ReaderOffsetId, Result};

use super::section::Section;

/// Bytes `start..end` of a section.
#[derive(Clone, Copy)]
pub struct Reader<'s> {
    section: &'s Section<'s>,
    start: usize,
    end: usize,
}

impl<'s> Reader<'s> {
    pub fn new(section: &'s Section<'s>) -> Reader<'s> {
        Reader {
            section,
            start: 0,
            end: section.len(),
        }
    }

    fn eof(&self) -> Error {
        Error::UnexpectedEof(ReaderOffsetId(self.start as u64))
    }

    /// The next `len` bytes, inflated.
    fn peek(&self, len: usize) -> Result<&'s [u8]> {
        let end = self.start.checked_add(len).filter(|&e| e <= self.end);
        end.and_then(|end| self.section.get(self.start, end))
            .ok_or_else(|| self.eof())
    }

    /// All remaining bytes.
    pub fn bytes(&self) -> Result<&'s [u8]> {
        self.peek(self.end - self.start)
    }
}

impl fmt::Debug for Reader<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Reader({}..{})", self.start, self.end)
    }
}

/// How far `find` looks ahead per step: strings are short, sections long.
const FIND_STEP: usize = 256;

impl gimli::Reader for Reader<'_> {
    type Endian = LittleEndian;
    type Offset = usize;

    fn endian(&self) -> LittleEndian {
        LittleEndian
    }

    fn len(&self) -> usize {
        self.end - self.start
    }

    fn empty(&mut self) {
        self.start = self.end;
    }

    fn truncate(&mut self, len: usize) -> Result<()> {
        if len > self.len() {
            return Err(self.eof());
        }
        self.end = self.start + len;
        Ok(())
    }

    fn offset_from(&self, base: &Self) -> usize {
        self.start.wrapping_sub(base.start)
    }

    fn offset_id(&self) -> ReaderOffsetId {
        ReaderOffsetId(self.start as u64)
    }

    fn lookup_offset_id(&self, id: ReaderOffsetId) -> Option<usize> {
        let id = usize::try_from(id.0).ok()?;
        (self.start..=self.end)
            .contains(&id)
            .then(|| id - self.start)
    }

    fn find(&self, byte: u8) -> Result<usize> {
        let mut from = 0;
        while from < self.len() {
            let upto = (from + FIND_STEP).min(self.len());
            let chunk = self.peek(upto)?;
            if let Some(i) = chunk[from..].iter().position(|&b| b == byte) {
                return Ok(from + i);
            }
            from = upto;
        }
        Err(self.eof())
    }

    fn skip(&mut self, len: usize) -> Result<()> {
        if len > self.len() {
            return Err(self.eof());
        }
        self.start += len;
        Ok(())
    }

    fn split(&mut self, len: usize) -> Result<Self> {
        if len > self.len() {
            return Err(self.eof());
        }
        let head = Reader {
            end: self.start + len,
            ..*self
        };
        self.start += len;
        Ok(head)
    }

    fn to_slice(&self) -> Result<Cow<'_, [u8]>> {
        self.bytes().map(Cow::Borrowed)
    }

    fn to_string(&self) -> Result<Cow<'_, str>> {
        core::str::from_utf8(self.bytes()?)
            .map(Cow::Borrowed)
            .map_err(|_| Error::BadUtf8)
    }

    fn to_string_lossy(&self) -> Result<Cow<'_, str>> {
        Ok(String::from_utf8_lossy(self.bytes()?))
    }

    fn read_slice(&mut self, buf: &mut [u8]) -> Result<()> {
        buf.copy_from_slice(self.peek(buf.len())?);
        self.start += buf.len();
        Ok(())
    }

    fn read_u8(&mut self) -> Result<u8> {
        let b = self.peek(1)?[0];
        self.start += 1;
        Ok(b)
    }

    fn read_uleb128(&mut self) -> Result<u64> {
        // The common one-byte case without a loop; gimli's for the rest.
        let b = self.peek(1)?[0];
        if b < 0x80 {
            self.start += 1;
            return Ok(u64::from(b));
        }
        gimli::leb128::read::unsigned(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gimli::Reader as _;

    #[test]
    fn reads_like_a_slice() {
        let data = b"\x01\x02\x03\x04abc\0def\0\xe5\x8e\x26";
        let s = Section::plain(data);
        let mut r = Reader::new(&s);
        assert_eq!(r.read_u8().unwrap(), 1);
        assert_eq!(r.read_u16().unwrap(), 0x0302);
        let whole = Reader::new(&s);
        assert_eq!(r.offset_from(&whole), 3);
        r.skip(1).unwrap();
        let name = r.read_null_terminated_slice().unwrap();
        assert_eq!(&*name.to_string().unwrap(), "abc");
        assert_eq!(r.find(0).unwrap(), 3);
        r.skip(4).unwrap();
        assert_eq!(r.read_uleb128().unwrap(), 624485);
        assert!(r.read_u8().is_err());
        let mut t = Reader::new(&s);
        let head = t.split(4).unwrap();
        assert_eq!(head.len(), 4);
        assert!(t.clone().truncate(100).is_err());
        assert!(t.find(b'z').is_err());
    }
}
