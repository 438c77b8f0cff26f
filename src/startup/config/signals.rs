//! Signal names in `FAULTHANDLER_SIGNAL`: `SIGUSR1`, `usr1`, `10`,
//! `SIGRTMIN+n`, `SIGRTMAX-n`. Pure, and unit-tested here.

use super::Process;
use super::values::trimmed_lower;
use crate::settings::{FATAL_SIGNALS, UserSignal};
use alloc::string::String;

/// One `FAULTHANDLER_SIGNAL` entry: `SIG[:chain]`.
pub fn parse_user_signal(entry: &[u8], process: Process) -> Result<UserSignal, &'static str> {
    let mut parts = entry.split(|&b| b == b':');
    let signum = parse_signal_name(parts.next().unwrap_or_default(), process)?;
    let mut chain = false;
    for option in parts {
        match trimmed_lower(option).as_str() {
            "chain" => chain = true,
            _ => return Err("the only option is 'chain'"),
        }
    }
    if signum == libc::SIGKILL || signum == libc::SIGSTOP {
        return Err("this signal cannot be caught");
    }
    if FATAL_SIGNALS.contains(&signum) {
        return Err("fatal signals are handled by FAULTHANDLER, not registered");
    }
    if signum > 31 && signum < process.sigrtmin {
        // glibc's own: thread cancellation and set*id in every thread.
        return Err("reserved by the C library");
    }
    Ok(UserSignal { signum, chain })
}

/// A signal by name (`SIGUSR1`, `usr1`), number (`10`) or `SIGRTMIN+n` /
/// `SIGRTMAX-n`, counted from the C library's values.
pub fn parse_signal_name(word: &[u8], process: Process) -> Result<i32, &'static str> {
    let upper = String::from_utf8_lossy(word).trim().to_ascii_uppercase();
    let name = upper.strip_prefix("SIG").unwrap_or(&upper);
    if name.is_empty() {
        return Err("empty signal name");
    }
    if let Ok(n) = name.parse::<i32>() {
        return if (1..=process.sigrtmax).contains(&n) {
            Ok(n)
        } else {
            Err("no such signal number")
        };
    }
    let relative = |rest: &str, base: i32, sign: i32| -> Result<i32, &'static str> {
        let offset = if rest.is_empty() {
            0
        } else {
            let digits = rest
                .strip_prefix(if sign > 0 { '+' } else { '-' })
                .ok_or("expected SIGRTMIN+n or SIGRTMAX-n")?;
            digits
                .parse::<i32>()
                .map_err(|_| "expected SIGRTMIN+n or SIGRTMAX-n")?
        };
        let n = base + sign * offset;
        if (process.sigrtmin..=process.sigrtmax).contains(&n) {
            Ok(n)
        } else {
            Err("outside the real-time signal range")
        }
    };
    if let Some(rest) = name.strip_prefix("RTMIN") {
        return relative(rest, process.sigrtmin, 1);
    }
    if let Some(rest) = name.strip_prefix("RTMAX") {
        return relative(rest, process.sigrtmax, -1);
    }
    crate::format::names::signal_by_abbrev(name).ok_or("unknown signal name")
}

#[cfg(test)]
mod tests {
    use super::*;

    const PROC: Process = Process {
        secure: false,
        sigrtmin: 34,
        sigrtmax: 64,
    };

    #[test]
    fn signals_by_name_number_and_rt_offset() {
        let sig = |s: &str| parse_user_signal(s.as_bytes(), PROC);
        assert_eq!(
            sig("SIGUSR1"),
            Ok(UserSignal {
                signum: libc::SIGUSR1,
                chain: false
            })
        );
        assert_eq!(
            sig("usr2:chain"),
            Ok(UserSignal {
                signum: libc::SIGUSR2,
                chain: true
            })
        );
        assert_eq!(sig("10").unwrap().signum, 10);
        assert_eq!(sig("SIGRTMIN+2").unwrap().signum, 36);
        assert_eq!(sig("RTMIN").unwrap().signum, 34);
        assert_eq!(sig("SIGRTMAX-1").unwrap().signum, 63);
        assert!(sig("SIGRTMIN+31").is_err());
        assert!(sig("SIGKILL").is_err());
        assert!(sig("STOP").is_err());
        assert!(sig("SIGSEGV").is_err());
        assert!(sig("SIGABRT").is_err());
        assert!(sig("SIGFOO").is_err());
        assert!(sig("USR1:often").is_err());
        assert!(sig("0").is_err());
        assert!(sig("65").is_err());
        assert_eq!(sig("32"), Err("reserved by the C library"));
        assert!(sig("33").is_err());
    }
}
