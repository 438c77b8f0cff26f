//! The minidump's file: where it goes (its name, the directory's limits)
//! and [`Out`], the appender that writes each piece at the next offset with
//! `pwrite`, within the size cap, remembering the first error.

use core::ffi::CStr;

use super::layout::Location;
use crate::format::line::Line;
use crate::sys::{self, Fd};

/// Appends pieces to the file from `start`, never past `cap` bytes.
pub struct Out {
    fd: Fd,
    at: u64,
    cap: u64,
    /// The first write error (`errno`); nothing is written after it.
    pub error: Option<i32>,
}

impl Out {
    pub fn new(fd: Fd, start: u64, cap: u64) -> Out {
        Out {
            fd,
            at: start,
            cap,
            error: None,
        }
    }

    /// The offset the next piece gets.
    pub fn rva(&self) -> u32 {
        self.at as u32
    }

    pub fn len(&self) -> u64 {
        self.at
    }

    /// Bytes left under the cap.
    pub fn room(&self) -> u64 {
        self.cap.saturating_sub(self.at)
    }

    /// Appends `bytes`, all or nothing (nothing when they do not fit).
    pub fn bytes(&mut self, bytes: &[u8]) -> Location {
        if self.error.is_some() || bytes.len() as u64 > self.room() {
            return Location::default();
        }
        match self.fd.pwrite_all(bytes, self.at) {
            Ok(()) => self.advance(bytes.len()),
            Err(e) => {
                self.error = Some(e);
                Location::default()
            }
        }
    }

    /// Appends up to `len` bytes of process memory at `addr`, copied by the
    /// kernel: memory that is not readable ends the piece there (`EFAULT`
    /// is no error of the file).
    pub fn memory(&mut self, addr: u64, len: usize) -> Location {
        let len = len.min(self.room() as usize);
        if self.error.is_some() || len == 0 {
            return Location::default();
        }
        match self.fd.pwrite_from(addr, len, self.at) {
            Ok(n) => self.advance(n),
            Err(libc::EFAULT) => Location::default(),
            Err(e) => {
                self.error = Some(e);
                Location::default()
            }
        }
    }

    /// Appends what `read` gives into `buf`, chunk by chunk, cut at the cap
    /// (a /proc file).
    pub fn stream(&mut self, buf: &mut [u8], mut read: impl FnMut(&mut [u8]) -> usize) -> Location {
        let rva = self.rva();
        let mut size = 0u32;
        while self.error.is_none() && self.room() > 0 {
            let room = (self.room() as usize).min(buf.len());
            let n = read(&mut buf[..room]);
            if n == 0 {
                break;
            }
            size += self.bytes(&buf[..n]).size;
        }
        Location { size, rva }
    }

    /// Writes `bytes` at `offset`, before the current end (the header and
    /// directory, last).
    pub fn patch(&mut self, bytes: &[u8], offset: u64) {
        if self.error.is_none()
            && let Err(e) = self.fd.pwrite_all(bytes, offset)
        {
            self.error = Some(e);
        }
    }

    fn advance(&mut self, n: usize) -> Location {
        let loc = Location {
            size: n as u32,
            rva: self.at as u32,
        };
        self.at += n as u64;
        loc
    }
}

/// The file's final and temporary names: `EXE.PID.TIME.dmp` (the
/// executable's name with anything but letters, digits and `._+-` as `_`),
/// and the same with a leading dot and `.tmp`, which no reader that takes
/// `*.dmp` picks up before the rename.
pub struct Names {
    pub final_name: Line,
    pub temp_name: Line,
}

impl Names {
    pub fn new(exe: &[u8], pid: i32, unix_time: u64) -> Names {
        let mut final_name = Line::new();
        for &b in exe.iter().take(64) {
            let keep = b.is_ascii_alphanumeric() || b"._+-".contains(&b);
            final_name.byte(if keep { b } else { b'_' });
        }
        if exe.is_empty() {
            final_name.push(b"process");
        }
        final_name.byte(b'.');
        final_name.dec(i64::from(pid));
        final_name.byte(b'.');
        final_name.dec(unix_time as i64);
        final_name.push(b".dmp");
        let mut temp_name = Line::new();
        temp_name.byte(b'.');
        temp_name.push(final_name.as_bytes());
        temp_name.push(b".tmp");
        final_name.byte(0);
        temp_name.byte(0);
        Names {
            final_name,
            temp_name,
        }
    }

    pub fn final_c(&self) -> &CStr {
        CStr::from_bytes_with_nul(self.final_name.as_bytes()).unwrap_or(c"minidump.dmp")
    }

    pub fn temp_c(&self) -> &CStr {
        CStr::from_bytes_with_nul(self.temp_name.as_bytes()).unwrap_or(c".minidump.dmp.tmp")
    }

    /// The final name without its NUL, to print.
    pub fn shown(&self) -> &[u8] {
        let b = self.final_name.as_bytes();
        &b[..b.len().saturating_sub(1)]
    }
}

/// Whether a directory entry's name is one of our finished minidumps (what
/// the file cap counts).
pub fn is_minidump_name(name: &[u8]) -> bool {
    name.ends_with(b".dmp") && !name.starts_with(b".")
}

/// The minidumps in the directory (`getdents64`).
pub fn count_minidumps(dir: &Fd) -> usize {
    let mut buf = [0u8; 4096];
    let mut count = 0;
    loop {
        let n = dir.getdents64(&mut buf);
        if n == 0 {
            return count;
        }
        count += sys::dirent_names(&buf[..n])
            .filter(|name| is_minidump_name(name))
            .count();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_say_what_the_file_is() {
        let n = Names::new(b"my prog", 42, 1_700_000_000);
        assert_eq!(n.shown(), b"my_prog.42.1700000000.dmp");
        assert_eq!(n.final_c().to_bytes(), b"my_prog.42.1700000000.dmp");
        assert_eq!(n.temp_c().to_bytes(), b".my_prog.42.1700000000.dmp.tmp");
        assert!(is_minidump_name(n.final_c().to_bytes()));
        assert!(!is_minidump_name(n.temp_c().to_bytes()));
        let n = Names::new(b"", 1, 2);
        assert_eq!(n.shown(), b"process.1.2.dmp");
    }

    #[test]
    fn appends_within_the_cap_and_counts_the_files() {
        let dir = std::env::temp_dir().join(format!("faultdump-md-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = std::ffi::CString::new(dir.to_str().unwrap()).unwrap();
        let d = crate::sys::files::open_dir_nofollow(&path).unwrap();
        let fd = d.create_in(c"a.dmp").unwrap();
        let mut out = Out::new(fd, 8, 40);
        assert_eq!(out.bytes(b"0123456789"), Location { size: 10, rva: 8 });
        let data = [7u8; 100];
        // Process memory, cut to the 22 bytes left.
        let loc = out.memory(data.as_ptr() as u64, data.len());
        assert_eq!(loc, Location { size: 22, rva: 18 });
        assert_eq!(out.bytes(b"x"), Location::default());
        // Unreadable memory is an empty piece, not an error.
        let mut out2 = Out::new(d.create_in(c"b.dmp").unwrap(), 0, 1000);
        assert_eq!(out2.memory(8, 16), Location::default());
        assert!(out2.error.is_none());
        let mut chunks = [&b"ab"[..], b"cd"].into_iter();
        let loc = out2.stream(&mut [0u8; 8], |buf| {
            chunks.next().map_or(0, |c| {
                buf[..c.len()].copy_from_slice(c);
                c.len()
            })
        });
        assert_eq!(loc, Location { size: 4, rva: 0 });
        std::fs::write(dir.join(".c.dmp.tmp"), b"").unwrap();
        let d = crate::sys::files::open_dir_nofollow(&path).unwrap();
        assert_eq!(count_minidumps(&d), 2);
        assert_eq!(std::fs::read(dir.join("a.dmp")).unwrap().len(), 40);
        assert_eq!(
            d.create_in(c"a.dmp").err(),
            Some(libc::EEXIST),
            "an existing name is never reused"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
