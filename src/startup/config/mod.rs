//! Configuration: parsing the `FAULTHANDLER*` environment variables into
//! [`Config`].
//!
//! Pure functions over byte strings, run once by the constructor and never in
//! a handler. A value that cannot be used produces one warning line and the
//! default for that setting; nothing here can panic or stop the host.
//! [`values`] parses the plain settings, [`signals`] the signal names.

mod signals;
mod values;

use crate::settings::{
    Config, DEFAULT_MINIDUMP_MAX_FILES, DEFAULT_MINIDUMP_MAX_SIZE, DEFAULT_MINIDUMP_MIN_FREE,
    Minidump, Output,
};
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use signals::parse_user_signal;
use values::{
    FaultHandler, MAX_FRAMES_LIMIT, MAX_THREADS_LIMIT, MIN_MINIDUMP_SIZE, parse_bytes, parse_count,
    parse_dir, parse_faulthandler, parse_format, parse_seconds, parse_timeout, printable,
};

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
    pub tags: Option<&'a [u8]>,
    /// Not ours, but the downward API's usual names.
    pub pod_name: Option<&'a [u8]>,
    pub pod_namespace: Option<&'a [u8]>,
    pub minidump: Option<&'a [u8]>,
    pub minidump_max_size: Option<&'a [u8]>,
    pub minidump_max_files: Option<&'a [u8]>,
    pub minidump_min_free: Option<&'a [u8]>,
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
    if let Some(value) = env.tags {
        let (kept, refused) = crate::report::origin::parse_tags(value);
        if let Some(entry) = refused {
            warn(
                "FAULTHANDLER_TAGS",
                entry,
                "expected key=value (key of letters, digits, _ - .; value without , \" \\)",
            );
        }
        config.tags = kept;
    }
    // Names of Kubernetes objects: at most 253 bytes.
    let short = |v: &&[u8]| v.len() <= 253;
    config.pod_name = env.pod_name.filter(short).unwrap_or_default().to_vec();
    config.pod_namespace = env.pod_namespace.filter(short).unwrap_or_default().to_vec();
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
        // Empty entries (`usr1,,usr2`, `,,,`) are one mistake, said once.
        let is_empty = |entry: &[u8]| entry.iter().all(u8::is_ascii_whitespace);
        if value.split(|&b| b == b',').any(is_empty) {
            warn("FAULTHANDLER_SIGNAL", value, "empty entries in the list");
        }
        for entry in value.split(|&b| b == b',').filter(|e| !is_empty(e)) {
            match parse_user_signal(entry, process) {
                Ok(s) if config.signals.iter().any(|e| e.signum == s.signum) => {
                    warn("FAULTHANDLER_SIGNAL", entry, "listed twice")
                }
                Ok(s) => config.signals.push(s),
                Err(why) => warn("FAULTHANDLER_SIGNAL", entry, why),
            }
        }
    }
    // Never in a privileged process: its memory is not its caller's to
    // read, and the directory is the caller's choice.
    if let Some(value) = env.minidump.filter(|v| !v.is_empty())
        && !process.secure
    {
        match parse_dir(value) {
            Ok(dir) => {
                let mut minidump = Minidump {
                    dir,
                    max_size: DEFAULT_MINIDUMP_MAX_SIZE,
                    max_files: DEFAULT_MINIDUMP_MAX_FILES,
                    min_free: DEFAULT_MINIDUMP_MIN_FREE,
                };
                if let Some(value) = env.minidump_max_size {
                    match parse_bytes(value) {
                        Ok(n) if n >= MIN_MINIDUMP_SIZE => minidump.max_size = n,
                        Ok(_) => warn(
                            "FAULTHANDLER_MINIDUMP_MAX_SIZE",
                            value,
                            "below the smallest useful size, 64K",
                        ),
                        Err(why) => warn("FAULTHANDLER_MINIDUMP_MAX_SIZE", value, why),
                    }
                }
                if let Some(value) = env.minidump_max_files {
                    match parse_count(value, MAX_THREADS_LIMIT) {
                        Ok(n) => minidump.max_files = n,
                        Err(why) => warn("FAULTHANDLER_MINIDUMP_MAX_FILES", value, why),
                    }
                }
                if let Some(value) = env.minidump_min_free {
                    match parse_bytes(value) {
                        Ok(n) => minidump.min_free = n,
                        Err(why) => warn("FAULTHANDLER_MINIDUMP_MIN_FREE", value, why),
                    }
                }
                config.minidump = Some(minidump);
            }
            Err(why) => warn("FAULTHANDLER_MINIDUMP", value, why),
        }
    }
    Parsed { config, warnings }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::{
        DEFAULT_DEADLINE, DEFAULT_DWARF_BUDGET, DEFAULT_MAX_FRAMES, DEFAULT_MAX_THREADS, Format,
        UserSignal,
    };
    use std::time::Duration;

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
            minidump: Some(b"/tmp/dumps"),
            ..Default::default()
        };
        let p = parse(
            &env,
            Process {
                secure: true,
                ..PROC
            },
        );
        assert_eq!(p.config.minidump, None);
        assert_eq!(p.config.output, Output::Stderr);
        assert!(p.config.fatal);
        assert!(p.config.secure);
        assert_eq!(p.config.timeout, None);
        assert!(p.config.signals.is_empty());
        assert!(p.warnings.is_empty());
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
    fn minidump_directory_and_its_bounds() {
        let p = parse(&Environment::default(), PROC);
        assert_eq!(p.config.minidump, None);
        let env = Environment {
            minidump: Some(b"/var/crash"),
            ..Default::default()
        };
        let m = parse(&env, PROC).config.minidump.unwrap();
        assert_eq!(m.dir, b"/var/crash");
        assert_eq!(m.max_size, DEFAULT_MINIDUMP_MAX_SIZE);
        assert_eq!(m.max_files, DEFAULT_MINIDUMP_MAX_FILES);
        assert_eq!(m.min_free, DEFAULT_MINIDUMP_MIN_FREE);
        let env = Environment {
            minidump: Some(b"dumps"),
            minidump_max_size: Some(b"2M"),
            minidump_max_files: Some(b"3"),
            minidump_min_free: Some(b"0"),
            ..Default::default()
        };
        let m = parse(&env, PROC).config.minidump.unwrap();
        assert_eq!((m.max_size, m.max_files, m.min_free), (2 << 20, 3, 0));
        let env = Environment {
            minidump: Some(b"dumps"),
            minidump_max_size: Some(b"1K"),
            minidump_max_files: Some(b"0"),
            ..Default::default()
        };
        let p = parse(&env, PROC);
        assert_eq!(p.warnings.len(), 2, "{:?}", p.warnings);
        let m = p.config.minidump.unwrap();
        assert_eq!(m.max_size, DEFAULT_MINIDUMP_MAX_SIZE);
        // Empty: off.
        let env = Environment {
            minidump: Some(b""),
            ..Default::default()
        };
        assert_eq!(parse(&env, PROC).config.minidump, None);
    }

    #[test]
    fn tags_and_pod_variables() {
        let parsed = parse(
            &Environment {
                tags: Some(b"service=api,bad tag=1,version=1.2"),
                pod_name: Some(b"web-0"),
                pod_namespace: Some(&[b'n'; 300]),
                ..Default::default()
            },
            PROC,
        );
        assert_eq!(parsed.config.tags, b"service=api,version=1.2");
        assert_eq!(parsed.config.pod_name, b"web-0");
        // Longer than any Kubernetes name: not a namespace, left out.
        assert!(parsed.config.pod_namespace.is_empty());
        assert_eq!(parsed.warnings.len(), 1, "{:?}", parsed.warnings);
        assert!(
            parsed.warnings[0].starts_with("faultdump: ignoring FAULTHANDLER_TAGS='bad tag=1'")
        );
    }

    #[test]
    fn empty_signal_entries_are_one_warning() {
        for (value, signals) in [
            (&b",,,"[..], 0),
            (b",", 0),
            (b" , ,", 0),
            (b"usr1,,usr2,", 2),
        ] {
            let env = Environment {
                signal: Some(value),
                ..Default::default()
            };
            let p = parse(&env, PROC);
            assert_eq!(p.config.signals.len(), signals);
            assert_eq!(p.warnings.len(), 1, "{:?}", p.warnings);
        }
    }
}
