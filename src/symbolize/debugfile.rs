//! Finding a module's separate debug file, as gdb does: by build-id under
//! `/usr/lib/debug/.build-id/`, else by the `.gnu_debuglink` name beside the
//! file, in its `.debug/` folder, or under `/usr/lib/debug` plus the file's
//! folder. Signal-safe: paths are built in fixed buffers; the caller opens
//! and maps the file and checks its build-id.

const DEBUG_ROOT: &[u8] = b"/usr/lib/debug";
pub const MAX_PATH: usize = 4096;

/// A NUL-terminated path in a fixed buffer.
pub struct PathBuf {
    buf: [u8; MAX_PATH],
    len: usize,
}

impl PathBuf {
    fn new() -> PathBuf {
        PathBuf {
            buf: [0; MAX_PATH],
            len: 0,
        }
    }

    fn push(&mut self, bytes: &[u8]) -> Option<()> {
        let end = self.len.checked_add(bytes.len())?;
        if end >= MAX_PATH || bytes.contains(&0) {
            return None;
        }
        self.buf[self.len..end].copy_from_slice(bytes);
        self.len = end;
        self.buf[end] = 0;
        Some(())
    }

    fn hex(&mut self, bytes: &[u8]) -> Option<()> {
        const DIGITS: &[u8; 16] = b"0123456789abcdef";
        for &b in bytes {
            self.push(&[DIGITS[(b >> 4) as usize], DIGITS[(b & 15) as usize]])?;
        }
        Some(())
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }
}

/// `/usr/lib/debug/.build-id/xx/yyyy….debug`.
pub fn by_build_id(build_id: &[u8]) -> Option<PathBuf> {
    if build_id.len() < 2 {
        return None;
    }
    let mut p = PathBuf::new();
    p.push(DEBUG_ROOT)?;
    p.push(b"/.build-id/")?;
    p.hex(&build_id[..1])?;
    p.push(b"/")?;
    p.hex(&build_id[1..])?;
    p.push(b".debug")?;
    Some(p)
}

/// The places gdb looks for a `.gnu_debuglink` name, in its order.
pub fn by_debuglink<'a>(file: &'a [u8], link: &'a [u8]) -> impl Iterator<Item = PathBuf> + 'a {
    let dir = match file.iter().rposition(|&b| b == b'/') {
        Some(i) => &file[..i],
        None => &b""[..],
    };
    let valid = !link.is_empty() && !link.contains(&b'/');
    (0..3).filter(move |_| valid).filter_map(move |place| {
        let parts: [&[u8]; 4] = match place {
            0 => [dir, b"/", link, b""],
            1 => [dir, b"/.debug/", link, b""],
            _ => [DEBUG_ROOT, dir, b"/", link],
        };
        let mut p = PathBuf::new();
        for part in parts {
            p.push(part)?;
        }
        Some(p)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn build_id_path() {
        let p = by_build_id(&[0xab, 0xcd, 0xef, 0x01]).unwrap();
        assert_eq!(p.as_bytes(), b"/usr/lib/debug/.build-id/ab/cdef01.debug");
        assert!(by_build_id(&[1]).is_none());
    }

    #[test]
    fn debuglink_paths() {
        let all: Vec<Vec<u8>> = by_debuglink(b"/usr/lib/libx.so.1", b"libx.debug")
            .map(|p| p.as_bytes().to_vec())
            .collect();
        assert_eq!(
            all,
            vec![
                b"/usr/lib/libx.debug".to_vec(),
                b"/usr/lib/.debug/libx.debug".to_vec(),
                b"/usr/lib/debug/usr/lib/libx.debug".to_vec(),
            ]
        );
        assert_eq!(by_debuglink(b"/a/b", b"../x").count(), 0);
    }
}
