//! The threads of this process as the kernel lists them: `/proc/self/task`.
//!
//! Signal-safe: directories are read with raw `open` + `getdents64`
//! (`opendir` allocates with the host's malloc), files with `open`/`read`
//! into fixed buffers. The parsers are pure functions, unit-tested on
//! captured text.
//!
//! What a dump learns here about a thread that it may not be able to stop:
//! - `status`: the scheduler state (`S`, `D`, `T`, ...) and `SigBlk`, the
//!   signals the thread blocks (a thread blocking the park signal will
//!   never answer it, so it is not waited for);
//! - `syscall`: for a thread inside a system call, the call's number, its
//!   arguments, then the user stack pointer and instruction pointer at the
//!   call, from which its stack can be walked without stopping it;
//! - `comm`: its name.

use alloc::vec;
use alloc::vec::Vec;
use core::ffi::CStr;

use crate::sys;

/// The thread ids listed in `/proc/self/task`, in ascending order (the main
/// thread first). Empty where /proc is not mounted.
pub fn list() -> Vec<i32> {
    let mut tids = Vec::new();
    let Some(dir) = sys::open_dir(c"/proc/self/task") else {
        return tids;
    };
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let n = dir.getdents64(&mut buf);
        if n == 0 {
            break;
        }
        for name in sys::dirent_names(&buf[..n]) {
            if let Some(tid) = parse_decimal(name).filter(|&t| t > 0) {
                tids.push(tid as i32);
            }
        }
    }
    tids.sort_unstable();
    tids
}

fn parse_decimal(s: &[u8]) -> Option<u64> {
    if s.is_empty() || s.len() > 19 {
        return None;
    }
    s.iter().try_fold(0u64, |n, &b| {
        b.is_ascii_digit().then(|| n * 10 + u64::from(b - b'0'))
    })
}

fn parse_hex(s: &[u8]) -> Option<u64> {
    let s = s.strip_prefix(b"0x").unwrap_or(s);
    if s.is_empty() || s.len() > 16 {
        return None;
    }
    s.iter().try_fold(0u64, |n, &b| {
        let d = (b as char).to_digit(16)?;
        Some(n << 4 | u64::from(d))
    })
}

/// `/proc/self/task/TID/<file>` into a NUL-terminated buffer.
fn task_path<'a>(tid: i32, file: &[u8], out: &'a mut [u8; 64]) -> Option<&'a CStr> {
    let mut len = 0;
    let mut push = |bytes: &[u8]| -> Option<()> {
        let end = len + bytes.len();
        // One byte stays free for the NUL.
        if end >= out.len() {
            return None;
        }
        out[len..end].copy_from_slice(bytes);
        len = end;
        Some(())
    };
    push(b"/proc/self/task/")?;
    let mut digits = [0u8; 20];
    push(crate::format::line::decimal(
        u64::from(tid.unsigned_abs()),
        &mut digits,
    ))?;
    push(b"/")?;
    push(file)?;
    out[len] = 0;
    CStr::from_bytes_with_nul(&out[..=len]).ok()
}

fn read_task_file<'b>(tid: i32, file: &[u8], buf: &'b mut [u8]) -> Option<&'b [u8]> {
    let mut path = [0u8; 64];
    let path = task_path(tid, file, &mut path)?;
    let n = sys::read_file(path, buf)?;
    Some(&buf[..n])
}

/// What `/proc/self/task/TID/status` says that a dump needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Status {
    /// The state letter: `R`, `S`, `D`, `T` (stopped), `t` (stopped by a
    /// tracer), `Z`, `X`, `I`...
    pub state: u8,
    /// `SigBlk`: bit `n - 1` for signal `n`.
    pub blocked: u64,
}

impl Status {
    pub fn blocks(&self, sig: i32) -> bool {
        (1..=64).contains(&sig) && self.blocked & (1u64 << (sig - 1)) != 0
    }

    /// The thread is gone or going: nothing to show.
    pub fn exiting(&self) -> bool {
        matches!(self.state, b'Z' | b'X')
    }
}

pub fn parse_status(text: &[u8]) -> Option<Status> {
    let mut state = None;
    let mut blocked = None;
    for line in text.split(|&b| b == b'\n') {
        if let Some(rest) = line.strip_prefix(b"State:") {
            state = rest.iter().copied().find(|b| !b.is_ascii_whitespace());
        } else if let Some(rest) = line.strip_prefix(b"SigBlk:") {
            blocked = parse_hex(rest.trim_ascii());
        }
    }
    Some(Status {
        state: state?,
        blocked: blocked?,
    })
}

pub fn status(tid: i32) -> Option<Status> {
    let mut buf = [0u8; 2048];
    parse_status(read_task_file(tid, b"status", &mut buf)?)
}

/// What `/proc/self/task/TID/syscall` says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Syscall {
    /// Running on a CPU: the kernel cannot say.
    Running,
    /// Blocked, but not in a system call (stopped in user code, in a page
    /// fault): the user stack and instruction pointers.
    Blocked { sp: u64, pc: u64 },
    /// Inside system call `nr`: its arguments' first word, the user stack
    /// pointer and the instruction pointer right after the `syscall`.
    InCall { nr: i64, sp: u64, pc: u64 },
}

pub fn parse_syscall(text: &[u8]) -> Option<Syscall> {
    let text = text.trim_ascii();
    if text == b"running" {
        return Some(Syscall::Running);
    }
    let fields: [&[u8]; 9] = {
        let mut it = text.split(|&b| b == b' ').filter(|f| !f.is_empty());
        let mut out: [&[u8]; 9] = [b""; 9];
        let mut n = 0;
        for f in it.by_ref().take(9) {
            out[n] = f;
            n += 1;
        }
        if it.next().is_some() || !(n == 3 || n == 9) {
            return None;
        }
        if n == 3 {
            let sp = parse_hex(out[1])?;
            let pc = parse_hex(out[2])?;
            return (out[0] == b"-1").then_some(Syscall::Blocked { sp, pc });
        }
        out
    };
    let nr = parse_decimal(fields[0])? as i64;
    Some(Syscall::InCall {
        nr,
        sp: parse_hex(fields[7])?,
        pc: parse_hex(fields[8])?,
    })
}

pub fn syscall(tid: i32) -> Option<Syscall> {
    let mut buf = [0u8; 256];
    parse_syscall(read_task_file(tid, b"syscall", &mut buf)?)
}

/// The thread's name (its comm, at most 15 bytes).
pub fn name(tid: i32, out: &mut [u8; 16]) -> &[u8] {
    let mut buf = [0u8; 17];
    let len = read_task_file(tid, b"comm", &mut buf).map_or(0, |t| {
        let t = t.strip_suffix(b"\n").unwrap_or(t);
        let n = t.len().min(out.len());
        out[..n].copy_from_slice(&t[..n]);
        n
    });
    &out[..len]
}

#[cfg(test)]
mod tests {
    use super::*;

    const STATUS: &[u8] = b"Name:\tworker\nUmask:\t0022\nState:\tS (sleeping)\nTgid:\t4242\n\
SigQ:\t0/63457\nSigPnd:\t0000000000000000\nShdPnd:\t0000000000000000\n\
SigBlk:\tfffffffe7ffbfeff\nSigIgn:\t0000000000001000\nSigCgt:\t0000000180000000\n";

    #[test]
    fn status_state_and_blocked_signals() {
        let s = parse_status(STATUS).unwrap();
        assert_eq!(s.state, b'S');
        assert!(s.blocks(libc::SIGUSR1));
        assert!(s.blocks(64));
        assert!(!s.blocks(libc::SIGKILL), "bit 8 is clear");
        assert!(!s.blocks(libc::SIGSTOP), "bit 18 is clear");
        assert!(s.blocks(libc::SIGSEGV));
        assert!(!s.blocks(0) && !s.blocks(65));
        let s = parse_status(b"State:\tt (tracing stop)\nSigBlk:\t0000000000000000\n").unwrap();
        assert_eq!(s.state, b't');
        assert!(!s.exiting());
        assert!(
            parse_status(b"State:\tZ (zombie)\nSigBlk:\t0\n")
                .unwrap()
                .exiting()
        );
        assert_eq!(parse_status(b"Name:\tx\n"), None);
    }

    #[test]
    fn syscall_file_forms() {
        assert_eq!(parse_syscall(b"running\n"), Some(Syscall::Running));
        assert_eq!(
            parse_syscall(b"128 0x7fdb5fb80e10 0x7fdb5fb80d90 0x0 0x8 0x0 0x7fdb5fb80d90 0x7fdb5fb80d60 0x7fdb5fbc1c82\n"),
            Some(Syscall::InCall {
                nr: 128,
                sp: 0x7fdb5fb80d60,
                pc: 0x7fdb5fbc1c82
            })
        );
        assert_eq!(
            parse_syscall(b"-1 0x7ffc1f2d3e40 0x55d0c0a01135\n"),
            Some(Syscall::Blocked {
                sp: 0x7ffc1f2d3e40,
                pc: 0x55d0c0a01135
            })
        );
        assert_eq!(parse_syscall(b""), None);
        assert_eq!(parse_syscall(b"1 2 3 4"), None);
        assert_eq!(parse_syscall(b"5 0x1 0x2"), None, "only -1 has 3 fields");
    }

    #[test]
    fn dirents() {
        let mut buf = Vec::new();
        for name in [&b"."[..], b"..", b"4242", b"4243"] {
            let reclen = (19 + name.len() + 1).next_multiple_of(8);
            let mut rec = vec![0u8; reclen];
            rec[16..18].copy_from_slice(&(reclen as u16).to_ne_bytes());
            rec[19..19 + name.len()].copy_from_slice(name);
            buf.extend_from_slice(&rec);
        }
        let names: Vec<&[u8]> = sys::dirent_names(&buf).collect();
        assert_eq!(names, [&b"."[..], b"..", b"4242", b"4243"]);
        assert_eq!(sys::dirent_names(&buf[..10]).count(), 0);
    }

    #[test]
    fn this_process() {
        let me = sys::gettid();
        let main = std::thread::spawn(list).join().unwrap();
        assert!(main.contains(&me), "{main:?} lacks {me}");
        assert!(main.windows(2).all(|w| w[0] < w[1]));
        let s = status(me).unwrap();
        assert_eq!(s.state, b'R');
        // Reading its own file, the thread is inside read(2).
        assert!(matches!(syscall(me), Some(Syscall::InCall { nr: 0, .. })));
        let mut name = [0u8; 16];
        assert!(!super::name(me, &mut name).is_empty());
    }
}
