//! The configuration as data: what start-up parsed from the environment
//! (or the defaults), published once and then only read.
//!
//! The bottom of the crate: it imports nothing of the crate, so every layer
//! may read it. Start-up writes it once, before any handler is installed;
//! handlers and the watchdog read it through [`get`] (a lock-free load).

use alloc::vec::Vec;
use core::sync::atomic::{AtomicPtr, Ordering};
use core::time::Duration;

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

/// `FAULTHANDLER_MINIDUMP`: a minidump of each fatal dump (and of a
/// timeout dump that ends the process) in a directory, within bounds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Minidump {
    /// The directory, as given.
    pub dir: Vec<u8>,
    /// `FAULTHANDLER_MINIDUMP_MAX_SIZE`: bytes per file; stacks are cut to fit.
    pub max_size: u64,
    /// `FAULTHANDLER_MINIDUMP_MAX_FILES`: no new file once the directory
    /// holds this many minidumps.
    pub max_files: usize,
    /// `FAULTHANDLER_MINIDUMP_MIN_FREE`: no file when its file system has
    /// less free space than this.
    pub min_free: u64,
}

pub const DEFAULT_MINIDUMP_MAX_SIZE: u64 = 8 << 20;
pub const DEFAULT_MINIDUMP_MAX_FILES: usize = 32;
pub const DEFAULT_MINIDUMP_MIN_FREE: u64 = 64 << 20;

pub const DEFAULT_MAX_FRAMES: usize = 100;
pub const DEFAULT_MAX_THREADS: usize = 100;
pub const DEFAULT_DEADLINE: Duration = Duration::from_secs(5);
pub const DEFAULT_DWARF_BUDGET: Duration = Duration::from_secs(2);
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
    /// `FAULTHANDLER_TAGS`, checked: `key=value` entries joined by commas.
    pub tags: Vec<u8>,
    /// `POD_NAME` and `POD_NAMESPACE` (the Kubernetes downward API), as the
    /// environment had them at start; empty if unset.
    pub pod_name: Vec<u8>,
    pub pod_namespace: Vec<u8>,
    pub minidump: Option<Minidump>,
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
            tags: Vec::new(),
            pod_name: Vec::new(),
            pod_namespace: Vec::new(),
            minidump: None,
        }
    }
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

static CONFIG: AtomicPtr<Config> = AtomicPtr::new(core::ptr::null_mut());

/// The configuration read at start-up; `None` before the constructor ran.
pub fn get() -> Option<&'static Config> {
    // SAFETY: the pointer is null or a leaked Box that is never freed.
    unsafe { CONFIG.load(Ordering::Acquire).as_ref() }
}

/// Publishes the configuration; called once by the constructor.
pub fn publish(config: &'static Config) {
    CONFIG.store(config as *const Config as *mut Config, Ordering::Release);
}
