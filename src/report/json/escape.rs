//! JSON values written without allocating: strings with the escaping rules
//! of the JSON format (see [`super`]), numbers, hex strings and seconds,
//! into the dump's writer or a fixed buffer.

use crate::format::line::MAX_STRING;
use crate::report::output::Writer;

/// Where escaped JSON goes: the dump's writer, or a fixed buffer.
pub trait Out {
    fn put(&mut self, bytes: &[u8]);
}

impl Out for Writer {
    fn put(&mut self, bytes: &[u8]) {
        self.raw(bytes);
    }
}

/// A fixed buffer; what does not fit is dropped and `overflowed` set.
pub struct Buf<const N: usize> {
    data: [u8; N],
    pub len: usize,
    pub overflowed: bool,
}

impl<const N: usize> Buf<N> {
    pub const fn new() -> Self {
        Buf {
            data: [0; N],
            len: 0,
            overflowed: false,
        }
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.data[..self.len]
    }

    pub fn clear(&mut self) {
        self.len = 0;
        self.overflowed = false;
    }
}

impl<const N: usize> Out for Buf<N> {
    fn put(&mut self, bytes: &[u8]) {
        if self.len + bytes.len() > N {
            self.overflowed = true;
            return;
        }
        self.data[self.len..self.len + bytes.len()].copy_from_slice(bytes);
        self.len += bytes.len();
    }
}

pub const HEX: &[u8; 16] = b"0123456789abcdef";

/// `bytes` as a JSON string, quotes included (see the module's rules).
pub fn string(out: &mut impl Out, bytes: &[u8]) {
    out.put(b"\"");
    let mut rest = bytes;
    let mut chars = 0;
    while !rest.is_empty() {
        if chars == MAX_STRING {
            out.put(b"...");
            break;
        }
        match first_char(rest) {
            Some(c) => {
                char(out, c);
                rest = &rest[c.len_utf8()..];
            }
            None => {
                let b = rest[0];
                out.put(&[
                    b'\\',
                    b'\\',
                    b'x',
                    HEX[(b >> 4) as usize],
                    HEX[(b & 15) as usize],
                ]);
                rest = &rest[1..];
            }
        }
        chars += 1;
    }
    out.put(b"\"");
}

/// The character `bytes` starts with; `None` if they do not start with UTF-8.
fn first_char(bytes: &[u8]) -> Option<char> {
    let head = &bytes[..bytes.len().min(4)];
    let valid = match core::str::from_utf8(head) {
        Ok(s) => s,
        Err(e) => core::str::from_utf8(&head[..e.valid_up_to()]).unwrap_or(""),
    };
    valid.chars().next()
}

fn char(out: &mut impl Out, c: char) {
    match c {
        '"' => out.put(b"\\\""),
        '\\' => out.put(b"\\\\"),
        '\n' => out.put(b"\\n"),
        '\t' => out.put(b"\\t"),
        '\r' => out.put(b"\\r"),
        ' '..='~' => out.put(&[c as u8]),
        // Control characters, DEL and everything beyond ASCII as \uXXXX
        // (UTF-16 surrogate pairs above U+FFFF): the output stays ASCII, as
        // every dump does, whatever a log pipeline assumes about encodings.
        _ => {
            let mut units = [0u16; 2];
            for unit in c.encode_utf16(&mut units) {
                let u = *unit;
                out.put(&[
                    b'\\',
                    b'u',
                    HEX[(u >> 12) as usize],
                    HEX[(u >> 8 & 15) as usize],
                    HEX[(u >> 4 & 15) as usize],
                    HEX[(u & 15) as usize],
                ]);
            }
        }
    }
}

/// A decimal number.
pub fn dec(out: &mut impl Out, value: i64) {
    let mut buf = [0u8; 20];
    if value < 0 {
        out.put(b"-");
    }
    out.put(crate::format::line::decimal(value.unsigned_abs(), &mut buf));
}

/// `"0x…"`: the shortest hex, quoted.
pub fn hex(out: &mut impl Out, value: u64) {
    let mut buf = [0u8; 20];
    let mut i = buf.len() - 1;
    buf[i] = b'"';
    let mut v = value;
    loop {
        i -= 1;
        buf[i] = HEX[(v & 15) as usize];
        v >>= 4;
        if v == 0 {
            break;
        }
    }
    buf[i - 3..i].copy_from_slice(b"\"0x");
    out.put(&buf[i - 3..]);
}

/// Decimal seconds: `5`, `0.25`, `1.000001`.
pub fn seconds(out: &mut impl Out, ns: u64) {
    dec(out, (ns / 1_000_000_000) as i64);
    let frac = ns % 1_000_000_000;
    if frac != 0 {
        let mut digits = [b'0'; 10];
        digits[0] = b'.';
        let mut v = frac;
        for d in digits[1..].iter_mut().rev() {
            *d = b'0' + (v % 10) as u8;
            v /= 10;
        }
        let end = digits.iter().rposition(|&d| d != b'0').map_or(1, |i| i + 1);
        out.put(&digits[..end]);
    }
}

pub fn opt_string(out: &mut impl Out, value: Option<&[u8]>) {
    match value {
        Some(s) => string(out, s),
        None => out.put(b"null"),
    }
}

pub fn opt_hex(out: &mut impl Out, value: Option<u64>) {
    match value {
        Some(v) => hex(out, v),
        None => out.put(b"null"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The longest string [`string`] writes: quotes, [`MAX_STRING`]
    /// characters of at most 12 bytes (a surrogate pair), `...`.
    const ESCAPED_MAX: usize = MAX_STRING * 12 + 5;

    fn escaped(bytes: &[u8]) -> String {
        let mut b: Buf<{ ESCAPED_MAX }> = Buf::new();
        string(&mut b, bytes);
        assert!(!b.overflowed);
        String::from_utf8(b.as_bytes().to_vec()).expect("escaped JSON is UTF-8")
    }

    fn decoded(bytes: &[u8]) -> String {
        serde_json::from_str::<String>(&escaped(bytes)).expect("a valid JSON string")
    }

    #[test]
    fn strings_escape_quotes_backslashes_controls_and_bad_bytes() {
        assert_eq!(escaped(b"plain"), r#""plain""#);
        assert_eq!(escaped(b"a\"b\\c"), r#""a\"b\\c""#);
        assert_eq!(
            escaped(b"\n\t\r\x01\x1f\x7f"),
            r#""\n\t\r\u0001\u001f\u007f""#
        );
        // Not UTF-8: the text \xNN, its backslash escaped.
        assert_eq!(escaped(b"x\xffy"), r#""x\\xffy""#);
        assert_eq!(decoded(b"x\xffy"), r"x\xffy");
        // Valid UTF-8 stays the same characters, written in ASCII; a
        // truncated sequence is bytes.
        assert_eq!(escaped("é€😀".as_bytes()), r#""\u00e9\u20ac\ud83d\ude00""#);
        assert_eq!(decoded("é€😀".as_bytes()), "é€😀");
        assert_eq!(decoded(b"\xc3"), r"\xc3");
        assert_eq!(decoded(b"\xe2\x82"), r"\xe2\x82");
        assert_eq!(decoded(b"\xc3\xa9\xc3"), "é\\xc3");
        // Surrogates encoded in UTF-8 and overlong forms are not UTF-8.
        assert_eq!(decoded(b"\xed\xa0\x80"), r"\xed\xa0\x80");
        assert_eq!(decoded(b"\xc0\xaf"), r"\xc0\xaf");
        assert_eq!(
            decoded(b"weird\"na\\me\xff\x01\xc3\xa9"),
            "weird\"na\\me\\xff\u{1}é"
        );
        assert_eq!(escaped(b""), r#""""#);
    }

    #[test]
    fn strings_are_cut_after_500_characters() {
        let exact = [b'a'; MAX_STRING];
        assert_eq!(decoded(&exact), "a".repeat(MAX_STRING));
        let long = [b'a'; MAX_STRING + 1];
        assert_eq!(decoded(&long), "a".repeat(MAX_STRING) + "...");
        // Characters, not bytes: 600 two-byte characters keep 500.
        let wide = "é".repeat(600);
        assert_eq!(decoded(wide.as_bytes()), "é".repeat(MAX_STRING) + "...");
        // The worst case fits the buffers sized for it.
        let mut b: Buf<{ ESCAPED_MAX }> = Buf::new();
        string(&mut b, "😀".repeat(600).as_bytes());
        assert!(!b.overflowed);
        assert_eq!(b.as_bytes().len(), ESCAPED_MAX);
    }

    #[test]
    fn numbers() {
        let text = |f: &dyn Fn(&mut Buf<64>)| {
            let mut b = Buf::new();
            f(&mut b);
            String::from_utf8(b.as_bytes().to_vec()).unwrap()
        };
        assert_eq!(text(&|b| dec(b, 0)), "0");
        assert_eq!(text(&|b| dec(b, -42)), "-42");
        assert_eq!(text(&|b| dec(b, i64::MIN)), "-9223372036854775808");
        assert_eq!(text(&|b| hex(b, 0)), r#""0x0""#);
        assert_eq!(text(&|b| hex(b, u64::MAX)), r#""0xffffffffffffffff""#);
        assert_eq!(text(&|b| hex(b, 0x7f12_3456)), r#""0x7f123456""#);
        assert_eq!(text(&|b| seconds(b, 5_000_000_000)), "5");
        assert_eq!(text(&|b| seconds(b, 250_000_000)), "0.25");
        assert_eq!(text(&|b| seconds(b, 1_000_000_001)), "1.000000001");
    }
}
