//! The plain settings: on/off words, paths, formats, counts, seconds and
//! the timeout. Pure, and unit-tested here.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use core::time::Duration;

use crate::settings::{Format, Timeout};

/// Bounds on the configurable limits, so that a typo cannot make a dump
/// unbounded.
pub const MAX_FRAMES_LIMIT: usize = 1_000_000;
pub const MAX_THREADS_LIMIT: usize = 100_000;
pub const MAX_SECONDS: f64 = 86_400.0 * 365.0;
/// The smallest `FAULTHANDLER_MINIDUMP_MAX_SIZE`: room for the streams
/// besides the stacks.
pub const MIN_MINIDUMP_SIZE: u64 = 64 << 10;

#[derive(Debug, PartialEq, Eq)]
pub enum FaultHandler {
    Enabled,
    Disabled,
    File(Vec<u8>),
}

pub fn parse_faulthandler(value: &[u8]) -> Result<FaultHandler, &'static str> {
    if value.contains(&b'/') {
        return if value.contains(&0) {
            Err("a path cannot contain a NUL byte")
        } else if value.len() > 1024 {
            Err("path too long")
        } else {
            Ok(FaultHandler::File(value.to_vec()))
        };
    }
    let word = trimmed_lower(value);
    match word.as_str() {
        "" | "1" | "on" | "yes" | "true" => Ok(FaultHandler::Enabled),
        "0" | "off" | "no" | "false" => Ok(FaultHandler::Disabled),
        _ => Err("expected 1/on/yes/true, 0/off/no/false, or a file path containing '/'"),
    }
}

/// A directory path: any bytes but NUL, at most 1024.
pub fn parse_dir(value: &[u8]) -> Result<Vec<u8>, &'static str> {
    if value.contains(&0) {
        Err("a path cannot contain a NUL byte")
    } else if value.len() > 1024 {
        Err("path too long")
    } else {
        Ok(value.to_vec())
    }
}

/// A size in bytes: a whole number, optionally with `K`, `M` or `G`
/// (powers of 1024); 0 allowed.
pub fn parse_bytes(value: &[u8]) -> Result<u64, &'static str> {
    let word = trimmed_lower(value);
    let (digits, shift) = match word.strip_suffix(['k', 'm', 'g']) {
        Some(d) if word.ends_with('k') => (d, 10),
        Some(d) if word.ends_with('m') => (d, 20),
        Some(d) => (d, 30),
        None => (word.as_str(), 0),
    };
    let n: u64 = digits
        .trim()
        .parse()
        .map_err(|_| "expected bytes: a whole number, optionally with K, M or G")?;
    n.checked_mul(1 << shift).ok_or("too large")
}

pub fn parse_format(value: &[u8]) -> Result<Format, &'static str> {
    match trimmed_lower(value).as_str() {
        "" | "text" => Ok(Format::Text),
        "json" => Ok(Format::Json),
        _ => Err("expected text or json"),
    }
}

pub fn parse_count(value: &[u8], limit: usize) -> Result<usize, &'static str> {
    let word = trimmed_lower(value);
    match word.parse::<usize>() {
        Ok(n) if (1..=limit).contains(&n) => Ok(n),
        Ok(_) => Err("out of range"),
        Err(_) => Err("expected a positive whole number"),
    }
}

/// Decimal seconds: `5`, `0.5`, `1e-3`. Must be positive and finite.
pub fn parse_seconds(value: &[u8]) -> Result<Duration, &'static str> {
    let word = trimmed_lower(value);
    if word.is_empty()
        || !word
            .bytes()
            .all(|b| b.is_ascii_digit() || b"+-.e".contains(&b))
    {
        return Err("expected a number of seconds");
    }
    match word.parse::<f64>() {
        Ok(s) if s > 0.0 && s <= MAX_SECONDS => Ok(Duration::from_secs_f64(s)),
        Ok(_) => Err("seconds must be above 0 and at most a year"),
        Err(_) => Err("expected a number of seconds"),
    }
}

/// `SECONDS[:repeat][:exit]`, options in any order.
pub fn parse_timeout(value: &[u8]) -> Result<Timeout, &'static str> {
    let mut parts = value.split(|&b| b == b':');
    let period = parse_seconds(parts.next().unwrap_or_default())?;
    let mut timeout = Timeout {
        period,
        repeat: false,
        exit: false,
    };
    for option in parts {
        match trimmed_lower(option).as_str() {
            "repeat" => timeout.repeat = true,
            "exit" => timeout.exit = true,
            _ => return Err("options after the seconds are 'repeat' and 'exit'"),
        }
    }
    Ok(timeout)
}

pub fn trimmed_lower(value: &[u8]) -> String {
    String::from_utf8_lossy(value).trim().to_ascii_lowercase()
}

/// A value as it may appear in a warning line: printable ASCII, `\xNN` for
/// other bytes, cut at 100 bytes.
pub fn printable(value: &[u8]) -> String {
    let mut s = String::new();
    for &b in value.iter().take(100) {
        if (0x20..0x7f).contains(&b) && b != b'\'' && b != b'\\' {
            s.push(b as char);
        } else {
            s.push_str(&format!("\\x{b:02x}"));
        }
    }
    if value.len() > 100 {
        s.push_str("...");
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_bytes(b"4096"), Ok(4096));
        assert_eq!(parse_bytes(b" 8M "), Ok(8 << 20));
        assert_eq!(parse_bytes(b"512k"), Ok(512 << 10));
        assert_eq!(parse_bytes(b"1G"), Ok(1 << 30));
        assert_eq!(parse_bytes(b"0"), Ok(0));
        for bad in ["", "M", "-1", "1.5M", "1T", "99999999999999G"] {
            assert!(parse_bytes(bad.as_bytes()).is_err(), "{bad}");
        }
    }

    #[test]
    fn timeouts() {
        let t = parse_timeout(b"1.5:repeat:exit").unwrap();
        assert_eq!(t.period, Duration::from_millis(1500));
        assert!(t.repeat && t.exit);
        let t = parse_timeout(b"2:EXIT").unwrap();
        assert!(!t.repeat && t.exit);
        for bad in ["", "0", "-1", "abc", "1:forever", "nan", "inf", "1e99"] {
            assert!(parse_timeout(bad.as_bytes()).is_err(), "{bad}");
        }
    }
}
