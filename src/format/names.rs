//! Names for signals, `si_code` values and errno values. Static tables only:
//! used both by the configuration parser and inside handlers.

/// The name Python's faulthandler prints for a fatal signal.
pub fn fatal_signal_title(sig: i32) -> Option<&'static str> {
    Some(match sig {
        libc::SIGSEGV => "Segmentation fault",
        libc::SIGFPE => "Floating point exception",
        libc::SIGABRT => "Aborted",
        libc::SIGBUS => "Bus error",
        libc::SIGILL => "Illegal instruction",
        libc::SIGSYS => "Bad system call",
        libc::SIGTRAP => "Trace/breakpoint trap",
        _ => return None,
    })
}

/// Every table here is one string of names, not an array of `&str`: in a
/// shared library each `&str` in a static table is a pointer the loader
/// relocates in every process at start-up (see `syscall_name` in
/// `sys::arch`), and this library is loaded into every process.
///
/// The abbreviations (names without `SIG`), in the order of [`ABBREVIATED`].
const ABBREVIATIONS: &str = concat!(
    "HUP INT QUIT ILL TRAP ABRT IOT BUS FPE KILL USR1 SEGV USR2 PIPE ALRM TERM ",
    "STKFLT CHLD CONT STOP TSTP TTIN TTOU URG XCPU XFSZ VTALRM PROF WINCH IO PWR SYS"
);
const ABBREVIATED: [i32; 32] = [
    libc::SIGHUP,
    libc::SIGINT,
    libc::SIGQUIT,
    libc::SIGILL,
    libc::SIGTRAP,
    libc::SIGABRT,
    libc::SIGIOT,
    libc::SIGBUS,
    libc::SIGFPE,
    libc::SIGKILL,
    libc::SIGUSR1,
    libc::SIGSEGV,
    libc::SIGUSR2,
    libc::SIGPIPE,
    libc::SIGALRM,
    libc::SIGTERM,
    libc::SIGSTKFLT,
    libc::SIGCHLD,
    libc::SIGCONT,
    libc::SIGSTOP,
    libc::SIGTSTP,
    libc::SIGTTIN,
    libc::SIGTTOU,
    libc::SIGURG,
    libc::SIGXCPU,
    libc::SIGXFSZ,
    libc::SIGVTALRM,
    libc::SIGPROF,
    libc::SIGWINCH,
    libc::SIGIO,
    libc::SIGPWR,
    libc::SIGSYS,
];

fn abbreviations() -> impl Iterator<Item = (&'static str, i32)> {
    ABBREVIATIONS.split(' ').zip(ABBREVIATED)
}

/// `USR1` -> 10. The name is upper case, without `SIG`.
pub fn signal_by_abbrev(name: &str) -> Option<i32> {
    abbreviations()
        .find(|&(n, _)| n == name)
        .map(|(_, s)| s)
        .or(if name == "POLL" {
            Some(libc::SIGPOLL)
        } else {
            None
        })
}

/// `10` -> `SIGUSR1`; real-time signals are written by the caller.
pub fn signal_abbrev(sig: i32) -> Option<&'static str> {
    abbreviations()
        .find(|&(n, s)| s == sig && n != "IOT")
        .map(|(n, _)| n)
}

/// The name of an `si_code` value, which depends on the signal.
pub fn si_code_name(sig: i32, code: i32) -> Option<&'static str> {
    let generic = match code {
        libc::SI_USER => Some("SI_USER"),
        0x80 => Some("SI_KERNEL"),
        libc::SI_QUEUE => Some("SI_QUEUE"),
        libc::SI_TIMER => Some("SI_TIMER"),
        libc::SI_MESGQ => Some("SI_MESGQ"),
        libc::SI_ASYNCIO => Some("SI_ASYNCIO"),
        libc::SI_SIGIO => Some("SI_SIGIO"),
        libc::SI_TKILL => Some("SI_TKILL"),
        -7 => Some("SI_DETHREAD"),
        -60 => Some("SI_ASYNCNL"),
        _ => None,
    };
    if code <= 0 || code == 0x80 {
        return generic;
    }
    // Names by code, from 1; "-" where a code has none.
    let table = match sig {
        libc::SIGSEGV => concat!(
            "SEGV_MAPERR SEGV_ACCERR SEGV_BNDERR SEGV_PKUERR SEGV_ACCADI SEGV_ADIDERR ",
            "SEGV_ADIPERR SEGV_MTEAERR SEGV_MTESERR SEGV_CPERR"
        ),
        libc::SIGBUS => "BUS_ADRALN BUS_ADRERR BUS_OBJERR BUS_MCEERR_AR BUS_MCEERR_AO",
        libc::SIGFPE => concat!(
            "FPE_INTDIV FPE_INTOVF FPE_FLTDIV FPE_FLTOVF FPE_FLTUND FPE_FLTRES FPE_FLTINV ",
            "FPE_FLTSUB - - - - - FPE_FLTUNK FPE_CONDTRAP"
        ),
        libc::SIGILL => concat!(
            "ILL_ILLOPC ILL_ILLOPN ILL_ILLADR ILL_ILLTRP ILL_PRVOPC ILL_PRVREG ILL_COPROC ",
            "ILL_BADSTK ILL_BADIADDR"
        ),
        libc::SIGTRAP => "TRAP_BRKPT TRAP_TRACE TRAP_BRANCH TRAP_HWBKPT TRAP_UNK TRAP_PERF",
        libc::SIGSYS => "SYS_SECCOMP SYS_USER_DISPATCH",
        _ => "",
    };
    table
        .split(' ')
        .nth(code as usize - 1)
        .filter(|&n| !n.is_empty() && n != "-")
}

/// Whether the kernel raised the signal for a fault at an address (so that
/// `si_addr` is meaningful).
pub fn is_fault_with_address(sig: i32, code: i32) -> bool {
    code > 0
        && code != 0x80
        && matches!(
            sig,
            libc::SIGSEGV | libc::SIGBUS | libc::SIGFPE | libc::SIGILL | libc::SIGTRAP
        )
}

/// A short name for an errno value, for the one-line messages a dump may
/// print (strerror is not async-signal-safe).
pub fn errno_name(e: i32) -> &'static str {
    match e {
        libc::ENOENT => "No such file or directory",
        libc::EACCES => "Permission denied",
        libc::EPERM => "Operation not permitted",
        libc::ENOTDIR => "Not a directory",
        libc::EISDIR => "Is a directory",
        libc::ELOOP => "Too many levels of symbolic links (or a symbolic link refused)",
        libc::EROFS => "Read-only file system",
        libc::ENOSPC => "No space left on device",
        libc::EMFILE => "Too many open files",
        libc::ENFILE => "Too many open files in system",
        libc::ENAMETOOLONG => "File name too long",
        libc::ENXIO => "No such device or address",
        libc::EAGAIN => "Resource temporarily unavailable",
        libc::EDQUOT => "Disk quota exceeded",
        libc::ETXTBSY => "Text file busy",
        libc::ENOMEM => "Cannot allocate memory",
        _ => "Error",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn titles_are_pythons() {
        assert_eq!(
            fatal_signal_title(libc::SIGSEGV),
            Some("Segmentation fault")
        );
        assert_eq!(fatal_signal_title(libc::SIGABRT), Some("Aborted"));
        assert_eq!(fatal_signal_title(libc::SIGUSR1), None);
    }

    #[test]
    fn codes() {
        assert_eq!(si_code_name(libc::SIGSEGV, 1), Some("SEGV_MAPERR"));
        assert_eq!(si_code_name(libc::SIGFPE, 1), Some("FPE_INTDIV"));
        assert_eq!(si_code_name(libc::SIGFPE, 14), Some("FPE_FLTUNK"));
        assert_eq!(si_code_name(libc::SIGFPE, 9), None);
        assert_eq!(
            si_code_name(libc::SIGABRT, libc::SI_TKILL),
            Some("SI_TKILL")
        );
        assert_eq!(si_code_name(libc::SIGSEGV, 0), Some("SI_USER"));
        assert_eq!(si_code_name(libc::SIGSEGV, 0x80), Some("SI_KERNEL"));
        assert_eq!(si_code_name(libc::SIGSYS, 1), Some("SYS_SECCOMP"));
        assert_eq!(si_code_name(libc::SIGSEGV, 99), None);
    }

    #[test]
    fn abbreviations_round_trip() {
        for sig in 1..32 {
            if let Some(name) = signal_abbrev(sig) {
                assert_eq!(signal_by_abbrev(name), Some(sig));
            }
        }
        assert_eq!(signal_abbrev(libc::SIGABRT), Some("ABRT"));
        assert_eq!(signal_by_abbrev("IOT"), Some(libc::SIGABRT));
        assert_eq!(ABBREVIATIONS.split(' ').count(), ABBREVIATED.len());
        assert_eq!(signal_abbrev(libc::SIGSYS), Some("SYS"));
    }
}
