//! Configuration: parsing the `FAULTHANDLER*` environment variables.
//!
//! Pure functions over byte strings, run once by the constructor and never in
//! a handler. A value that cannot be used produces one warning line and the
//! default for that setting; nothing here can panic or stop the host.

use std::time::Duration;

/// Where dumps go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    /// File descriptor 2, as it is when the dump happens.
    Stderr,
    /// A path template (`%p`, `%e`, `%t`, `%%`), opened for appending when a
    /// dump happens.
    File(Vec<u8>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Text,
    Json,
}

/// `FAULTHANDLER_TIMEOUT`: as Python's `dump_traceback_later`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Timeout {
    pub period: Duration,
    pub repeat: bool,
    pub exit: bool,
}

/// One entry of `FAULTHANDLER_SIGNAL`: as Python's `register`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UserSignal {
    pub signum: i32,
    pub chain: bool,
}

pub const DEFAULT_MAX_FRAMES: usize = 100;
pub const DEFAULT_MAX_THREADS: usize = 100;
pub const DEFAULT_DEADLINE: Duration = Duration::from_secs(5);
pub const DEFAULT_DWARF_BUDGET: Duration = Duration::from_secs(2);
/// Bounds on the configurable limits, so that a typo cannot make a dump
/// unbounded.
const MAX_FRAMES_LIMIT: usize = 1_000_000;
const MAX_THREADS_LIMIT: usize = 100_000;
const MAX_SECONDS: f64 = 86_400.0 * 365.0;

#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// Handlers for the fatal signals are installed.
    pub fatal: bool,
    pub output: Output,
    pub format: Format,
    pub timeout: Option<Timeout>,
    pub signals: Vec<UserSignal>,
    pub max_frames: usize,
    pub max_threads: usize,
    /// Hard bound on the time one dump may take, writing included.
    pub deadline: Duration,
    /// Time a dump may spend reading debug information.
    pub dwarf_budget: Duration,
    /// Set-uid, set-gid, capability-raised or not dumpable at start.
    pub secure: bool,
    /// `FAULTHANDLER_STATS`: each dump ends with a note of the time and the
    /// memory it took (for benchmarks).
    pub stats: bool,
    /// `FAULTHANDLER_PYTHON`: Python frames in dumps of CPython processes.
    pub python: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            fatal: true,
            output: Output::Stderr,
            format: Format::Text,
            timeout: None,
            signals: Vec::new(),
            max_frames: DEFAULT_MAX_FRAMES,
            max_threads: DEFAULT_MAX_THREADS,
            deadline: DEFAULT_DEADLINE,
            dwarf_budget: DEFAULT_DWARF_BUDGET,
            secure: false,
            stats: false,
            python: true,
        }
    }
}

/// The environment as the parser sees it: each variable's raw bytes, if set.
#[derive(Debug, Default, Clone)]
pub struct Environment<'a> {
    pub faulthandler: Option<&'a [u8]>,
    pub timeout: Option<&'a [u8]>,
    pub signal: Option<&'a [u8]>,
    pub format: Option<&'a [u8]>,
    pub max_frames: Option<&'a [u8]>,
    pub max_threads: Option<&'a [u8]>,
    pub deadline: Option<&'a [u8]>,
    pub dwarf_budget: Option<&'a [u8]>,
    pub stats: Option<&'a [u8]>,
    pub python: Option<&'a [u8]>,
}

/// What the process is, as far as parsing is concerned.
#[derive(Debug, Clone, Copy)]
pub struct Process {
    /// `AT_SECURE` or not dumpable: environment paths and the timeout and
    /// signal features are ignored.
    pub secure: bool,
    /// The C library's `SIGRTMIN`, for `SIGRTMIN+n`.
    pub sigrtmin: i32,
    pub sigrtmax: i32,
}

/// The result of parsing: the configuration and one warning per ignored value.
#[derive(Debug)]
pub struct Parsed {
    pub config: Config,
    pub warnings: Vec<String>,
}

/// An on/off variable; empty is off.
fn parse_switch(value: &[u8]) -> Result<bool, &'static str> {
    match parse_faulthandler(value) {
        Ok(FaultHandler::Enabled) => Ok(!value.is_empty()),
        Ok(FaultHandler::Disabled) => Ok(false),
        _ => Err("expected 1/on/yes/true or 0/off/no/false"),
    }
}

pub fn parse(env: &Environment, process: Process) -> Parsed {
    let mut warnings = Vec::new();
    let mut config = Config {
        secure: process.secure,
        ..Config::default()
    };
    let mut warn = |name: &str, value: &[u8], why: &str| {
        warnings.push(format!(
            "faultdump: ignoring {name}='{}': {why}",
            printable(value)
        ));
    };

    if let Some(value) = env.faulthandler {
        match parse_faulthandler(value) {
            Ok(FaultHandler::Enabled) => {}
            Ok(FaultHandler::Disabled) => config.fatal = false,
            Ok(FaultHandler::File(path)) if process.secure => {
                // The process's stderr belongs to a less privileged user who
                // also chose this path: never open it with our privileges.
                let _ = path;
            }
            Ok(FaultHandler::File(path)) => config.output = Output::File(path),
            Err(why) => warn("FAULTHANDLER", value, why),
        }
    }
    if let Some(value) = env.stats {
        match parse_switch(value) {
            Ok(on) => config.stats = on,
            Err(why) => warn("FAULTHANDLER_STATS", value, why),
        }
    }
    if let Some(value) = env.python {
        match parse_switch(value) {
            // Set but empty: the default, on.
            Ok(on) => config.python = on || value.is_empty(),
            Err(why) => warn("FAULTHANDLER_PYTHON", value, why),
        }
    }
    if let Some(value) = env.format {
        match parse_format(value) {
            Ok(format) => config.format = format,
            Err(why) => warn("FAULTHANDLER_FORMAT", value, why),
        }
    }
    let limits = [
        (
            "FAULTHANDLER_MAX_FRAMES",
            env.max_frames,
            MAX_FRAMES_LIMIT,
            &mut config.max_frames,
        ),
        (
            "FAULTHANDLER_MAX_THREADS",
            env.max_threads,
            MAX_THREADS_LIMIT,
            &mut config.max_threads,
        ),
    ];
    for (name, value, limit, slot) in limits {
        if let Some(value) = value {
            match parse_count(value, limit) {
                Ok(n) => *slot = n,
                Err(why) => warn(name, value, why),
            }
        }
    }
    let durations = [
        ("FAULTHANDLER_DEADLINE", env.deadline, &mut config.deadline),
        (
            "FAULTHANDLER_DWARF_BUDGET",
            env.dwarf_budget,
            &mut config.dwarf_budget,
        ),
    ];
    for (name, value, slot) in durations {
        if let Some(value) = value {
            match parse_seconds(value) {
                Ok(d) => *slot = d,
                Err(why) => warn(name, value, why),
            }
        }
    }
    if let Some(value) = env.timeout.filter(|v| !v.is_empty()) {
        if process.secure {
            // Ignored in privileged processes, silently: their stderr is not ours.
        } else {
            match parse_timeout(value) {
                Ok(t) => config.timeout = Some(t),
                Err(why) => warn("FAULTHANDLER_TIMEOUT", value, why),
            }
        }
    }
    if let Some(value) = env.signal.filter(|v| !v.is_empty())
        && !process.secure
    {
        for entry in value.split(|&b| b == b',') {
            match parse_user_signal(entry, process) {
                Ok(s) if config.signals.iter().any(|e| e.signum == s.signum) => {
                    warn("FAULTHANDLER_SIGNAL", entry, "listed twice")
                }
                Ok(s) => config.signals.push(s),
                Err(why) => warn("FAULTHANDLER_SIGNAL", entry, why),
            }
        }
    }
    Parsed { config, warnings }
}

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

pub fn parse_format(value: &[u8]) -> Result<Format, &'static str> {
    match trimmed_lower(value).as_str() {
        "" | "text" => Ok(Format::Text),
        "json" => Ok(Format::Json),
        _ => Err("expected text or json"),
    }
}

fn parse_count(value: &[u8], limit: usize) -> Result<usize, &'static str> {
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

/// Signals a user may not register: the fatal ones (Python refuses them too),
/// and the ones no handler can catch.
pub const FATAL_SIGNALS: [i32; 7] = [
    libc::SIGSEGV,
    libc::SIGFPE,
    libc::SIGABRT,
    libc::SIGBUS,
    libc::SIGILL,
    libc::SIGSYS,
    libc::SIGTRAP,
];

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
    crate::names::signal_by_abbrev(name).ok_or("unknown signal name")
}

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
                b'p' => Some(crate::output::decimal(pid as u64, &mut digits)),
                b't' => Some(crate::output::decimal(unix_time, &mut digits)),
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

fn trimmed_lower(value: &[u8]) -> String {
    String::from_utf8_lossy(value).trim().to_ascii_lowercase()
}

/// A value as it may appear in a warning line: printable ASCII, `\xNN` for
/// other bytes, cut at 100 bytes.
fn printable(value: &[u8]) -> String {
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

    const PROC: Process = Process {
        secure: false,
        sigrtmin: 34,
        sigrtmax: 64,
    };

    fn env_with(faulthandler: &str) -> Parsed {
        parse(
            &Environment {
                faulthandler: Some(faulthandler.as_bytes()),
                ..Default::default()
            },
            PROC,
        )
    }

    #[test]
    fn faulthandler_words_are_case_insensitive() {
        for on in ["", "1", "on", "YES", "True", " on "] {
            assert_eq!(
                parse_faulthandler(on.as_bytes()),
                Ok(FaultHandler::Enabled),
                "{on}"
            );
        }
        for off in ["0", "off", "No", "FALSE"] {
            assert_eq!(
                parse_faulthandler(off.as_bytes()),
                Ok(FaultHandler::Disabled),
                "{off}"
            );
        }
    }

    #[test]
    fn unset_means_enabled_on_stderr() {
        let p = parse(&Environment::default(), PROC);
        assert!(p.config.fatal);
        assert_eq!(p.config.output, Output::Stderr);
        assert!(p.warnings.is_empty());
    }

    #[test]
    fn a_slash_makes_a_path() {
        let p = env_with("/tmp/crash-%p.txt");
        assert_eq!(p.config.output, Output::File(b"/tmp/crash-%p.txt".to_vec()));
        assert!(p.config.fatal);
        assert_eq!(
            env_with("./rel").config.output,
            Output::File(b"./rel".to_vec())
        );
    }

    #[test]
    fn bad_values_warn_once_and_keep_defaults() {
        let p = env_with("maybe");
        assert!(p.config.fatal);
        assert_eq!(p.config.output, Output::Stderr);
        assert_eq!(p.warnings.len(), 1);
        assert!(
            p.warnings[0].starts_with("faultdump: ignoring FAULTHANDLER='maybe': "),
            "{}",
            p.warnings[0]
        );
        let p = env_with("\x01\u{e9}");
        assert_eq!(p.warnings.len(), 1);
        assert!(
            p.warnings[0].contains("'\\x01\\xc3\\xa9'"),
            "{}",
            p.warnings[0]
        );
    }

    #[test]
    fn secure_processes_ignore_paths_timeouts_and_signals() {
        let env = Environment {
            faulthandler: Some(b"/tmp/x"),
            timeout: Some(b"5"),
            signal: Some(b"USR1"),
            ..Default::default()
        };
        let p = parse(
            &env,
            Process {
                secure: true,
                ..PROC
            },
        );
        assert_eq!(p.config.output, Output::Stderr);
        assert!(p.config.fatal);
        assert!(p.config.secure);
        assert_eq!(p.config.timeout, None);
        assert!(p.config.signals.is_empty());
        assert!(p.warnings.is_empty());
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

    #[test]
    fn bad_signal_entries_are_dropped_alone() {
        let env = Environment {
            signal: Some(b"USR1,SIGFOO,SIGSEGV,USR2:chain,usr1"),
            ..Default::default()
        };
        let p = parse(&env, PROC);
        assert_eq!(
            p.config.signals,
            vec![
                UserSignal {
                    signum: libc::SIGUSR1,
                    chain: false
                },
                UserSignal {
                    signum: libc::SIGUSR2,
                    chain: true
                }
            ]
        );
        assert_eq!(p.warnings.len(), 3, "{:?}", p.warnings);
    }

    #[test]
    fn limits_and_durations() {
        let env = Environment {
            max_frames: Some(b"20"),
            max_threads: Some(b"0"),
            deadline: Some(b"0.25"),
            dwarf_budget: Some(b"soon"),
            format: Some(b"JSON"),
            stats: Some(b"on"),
            python: Some(b"off"),
            ..Default::default()
        };
        let p = parse(&env, PROC);
        assert!(p.config.stats && !p.config.python);
        assert!(parse(&Environment::default(), PROC).config.python);
        assert_eq!(p.config.max_frames, 20);
        assert_eq!(p.config.max_threads, DEFAULT_MAX_THREADS);
        assert_eq!(p.config.deadline, Duration::from_millis(250));
        assert_eq!(p.config.dwarf_budget, DEFAULT_DWARF_BUDGET);
        assert_eq!(p.config.format, Format::Json);
        assert_eq!(p.warnings.len(), 2, "{:?}", p.warnings);
        assert!(parse_format(b"xml").is_err());
    }

    #[test]
    fn unusable_paths_and_limits_warn() {
        let p = env_with("/tmp/a\0b");
        assert_eq!((p.config.output, p.warnings.len()), (Output::Stderr, 1));
        assert!(
            p.warnings[0].contains("'/tmp/a\\x00b'"),
            "{}",
            p.warnings[0]
        );
        let long = format!("/{}", "x".repeat(1100));
        let p = env_with(&long);
        assert_eq!((p.config.output, p.warnings.len()), (Output::Stderr, 1));
        assert!(
            p.warnings[0].ends_with("path too long"),
            "{}",
            p.warnings[0]
        );
        assert!(p.warnings[0].len() < 300, "the value is cut in the warning");
        // A name without a slash is not a path.
        assert_eq!(env_with("crash.log").warnings.len(), 1);
        let env = Environment {
            max_frames: Some(b"1000001"),
            max_threads: Some(b"-3"),
            deadline: Some(b"0"),
            ..Default::default()
        };
        let p = parse(&env, PROC);
        assert_eq!(p.config.max_frames, DEFAULT_MAX_FRAMES);
        assert_eq!(p.config.max_threads, DEFAULT_MAX_THREADS);
        assert_eq!(p.config.deadline, DEFAULT_DEADLINE);
        assert_eq!(p.warnings.len(), 3, "{:?}", p.warnings);
        let p = parse(
            &Environment {
                max_frames: Some(b" 1000000 "),
                ..Default::default()
            },
            PROC,
        );
        assert_eq!(p.config.max_frames, 1_000_000);
    }

    #[test]
    fn secure_processes_can_still_turn_it_off() {
        let secure = Process {
            secure: true,
            ..PROC
        };
        let off = Environment {
            faulthandler: Some(b"off"),
            ..Default::default()
        };
        assert!(!parse(&off, secure).config.fatal);
        // A bad value still warns once (stderr is where the warning goes
        // for every process).
        let bad = Environment {
            faulthandler: Some(b"perhaps"),
            ..Default::default()
        };
        let p = parse(&bad, secure);
        assert!(p.config.fatal);
        assert_eq!(p.warnings.len(), 1);
    }

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
