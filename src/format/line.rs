//! One line of a dump, formatted in a fixed buffer: bytes, escaped strings
//! (Python's rules), decimals and UTC timestamps, without allocating.
//! Pure and async-signal-safe; every layer formats through it.

use core::fmt;

/// Python's limit on any one string in a dump.
pub const MAX_STRING: usize = 500;
/// A formatted line is cut here; the longest text line is well below.
const LINE_CAPACITY: usize = 4000;

/// One line of a dump being formatted, in a fixed buffer.
pub struct Line {
    buf: [u8; LINE_CAPACITY],
    len: usize,
}

impl Default for Line {
    fn default() -> Self {
        Self::new()
    }
}

impl Line {
    pub fn new() -> Line {
        Line {
            buf: [0; LINE_CAPACITY],
            len: 0,
        }
    }

    pub fn clear(&mut self) {
        self.len = 0;
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }

    pub fn push(&mut self, bytes: &[u8]) {
        let n = bytes.len().min(LINE_CAPACITY - self.len);
        self.buf[self.len..self.len + n].copy_from_slice(&bytes[..n]);
        self.len += n;
    }

    pub fn byte(&mut self, b: u8) {
        self.push(&[b]);
    }

    /// As Python's faulthandler writes strings: printable ASCII as is, every
    /// other byte as `\xNN`, cut after [`MAX_STRING`] characters with `...`.
    pub fn escaped(&mut self, bytes: &[u8]) {
        for &b in bytes.iter().take(MAX_STRING) {
            if (0x20..0x7f).contains(&b) {
                self.byte(b);
            } else {
                self.hex_escape(b);
            }
        }
        if bytes.len() > MAX_STRING {
            self.push(b"...");
        }
    }

    fn hex_escape(&mut self, b: u8) {
        const DIGITS: &[u8; 16] = b"0123456789abcdef";
        self.push(&[
            b'\\',
            b'x',
            DIGITS[(b >> 4) as usize],
            DIGITS[(b & 15) as usize],
        ]);
    }

    pub fn dec(&mut self, value: i64) {
        let _ = fmt::Write::write_fmt(self, format_args!("{value}"));
    }
}

impl fmt::Write for Line {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.push(s.as_bytes());
        Ok(())
    }
}

/// `n` in decimal, written at the end of `buf` (no formatting machinery).
pub fn decimal(mut n: u64, buf: &mut [u8; 20]) -> &[u8] {
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            return &buf[i..];
        }
    }
}

/// `2026-11-25T10:42:07Z` from seconds since the epoch (UTC).
pub fn utc_timestamp(unix: u64, line: &mut Line) {
    let days = (unix / 86_400) as i64;
    let secs = unix % 86_400;
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    let _ = fmt::Write::write_fmt(
        line,
        format_args!(
            "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
            secs / 3600,
            secs / 60 % 60,
            secs % 60
        ),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps() {
        let mut l = Line::new();
        utc_timestamp(0, &mut l);
        assert_eq!(l.as_bytes(), b"1970-01-01T00:00:00Z");
        l.clear();
        utc_timestamp(1_795_602_127, &mut l);
        assert_eq!(l.as_bytes(), b"2026-11-25T10:22:07Z");
        l.clear();
        utc_timestamp(951_782_400, &mut l); // leap day
        assert_eq!(l.as_bytes(), b"2000-02-29T00:00:00Z");
    }

    #[test]
    fn escaping_follows_python() {
        let mut l = Line::new();
        l.escaped(b"a\"b\x01\xff z");
        assert_eq!(l.as_bytes(), b"a\"b\\x01\\xff z");
        l.clear();
        let long = [b'x'; 600];
        l.escaped(&long);
        assert_eq!(l.as_bytes().len(), 503);
        assert!(l.as_bytes().ends_with(b"x..."));
    }
}
