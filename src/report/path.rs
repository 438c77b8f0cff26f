//! The `FAULTHANDLER=/path` template, expanded when a dump opens its file.

use crate::format::line::decimal;

/// Expands `%p` (pid), `%e` (executable base name), `%t` (Unix time) and `%%`
/// in a path template into `out`; any other `%x` stays as written. Runs at
/// dump time: no allocation. Returns the length, or `None` if it does not fit
/// (one byte is kept for the NUL terminator).
pub fn expand_path(
    template: &[u8],
    pid: i32,
    exe_base: &[u8],
    unix_time: u64,
    out: &mut [u8],
) -> Option<usize> {
    let mut len = 0;
    let mut push = |bytes: &[u8], len: &mut usize| -> Option<()> {
        let end = *len + bytes.len();
        if end >= out.len() {
            return None;
        }
        out[*len..end].copy_from_slice(bytes);
        *len = end;
        Some(())
    };
    let mut digits = [0u8; 20];
    let mut i = 0;
    while i < template.len() {
        let c = template[i];
        if c == b'%' && i + 1 < template.len() {
            let expansion: Option<&[u8]> = match template[i + 1] {
                b'p' => Some(decimal(pid as u64, &mut digits)),
                b't' => Some(decimal(unix_time, &mut digits)),
                b'e' => Some(exe_base),
                b'%' => Some(b"%"),
                _ => None,
            };
            if let Some(bytes) = expansion {
                push(bytes, &mut len)?;
                i += 2;
                continue;
            }
        }
        push(&[c], &mut len)?;
        i += 1;
    }
    out[len] = 0;
    Some(len)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_expansion() {
        let mut out = [0u8; 64];
        let n = expand_path(b"/tmp/%e-%p-%t-%%-%x%", 4242, b"app", 1700000000, &mut out).unwrap();
        assert_eq!(&out[..n], b"/tmp/app-4242-1700000000-%-%x%");
        assert_eq!(out[n], 0);
        let mut small = [0u8; 8];
        assert_eq!(expand_path(b"/tmp/%p", 123456, b"", 0, &mut small), None);
    }
}
