//! What a fault says beyond its signal: the `Cause:` line.
//!
//! Pure logic over the signal, the fault address, the registers and the
//! memory map; unit-tested with synthetic maps.

use crate::report::sink::{Cause, MappingNote};
use crate::sys::arch::Registers;
use crate::sys::memory::{MapEntry, Maps};

/// Below this, an unmapped address is a null pointer plus a field offset.
const NULL_PAGE: u64 = 4096;
/// A fault this close to the stack pointer, on memory that is not mapped or
/// not accessible, is the stack running out: a push, a call or a probe
/// below the guard page.
const STACK_OVERFLOW_REACH: u64 = 64 * 1024;
/// `si_code` values (`<bits/siginfo-consts.h>`); the libc crate lacks them.
const SEGV_MAPERR: i32 = 1;
const SEGV_ACCERR: i32 = 2;
const BUS_ADRALN: i32 = 1;
const BUS_ADRERR: i32 = 2;
const FPE_INTDIV: i32 = 1;
const FPE_INTOVF: i32 = 2;

pub fn analyse<'m>(
    sig: i32,
    code: i32,
    addr: u64,
    regs: &Registers,
    maps: Option<&'m Maps>,
) -> Option<Cause<'m>> {
    let mapping = maps.and_then(|m| mapping_note(m, addr));
    let holder = maps.and_then(|m| m.find(addr));
    let what = match (sig, code) {
        (libc::SIGSEGV, 0x80) => {
            // General protection: the kernel reports no address.
            return Some(Cause {
                what: "general protection fault (a non-canonical address, or a privileged instruction); the address is not known",
                mapping: None,
            });
        }
        (libc::SIGSEGV | libc::SIGBUS, _) if is_stack_overflow(code, addr, regs, holder) => {
            "stack overflow"
        }
        (libc::SIGSEGV, SEGV_MAPERR) if addr < NULL_PAGE => "null pointer dereference",
        (libc::SIGSEGV, _) if addr == regs.pc() || regs.is_fetch_fault() => {
            if holder.is_some() {
                "jump to non-executable memory"
            } else {
                "jump to an unmapped address (a call through a bad function pointer?)"
            }
        }
        (libc::SIGSEGV, SEGV_ACCERR)
            if regs.is_write_fault() && holder.is_some_and(|e| e.read && !e.write) =>
        {
            "write to read-only memory"
        }
        (libc::SIGSEGV, SEGV_ACCERR) if holder.is_some_and(|e| !e.read) => {
            "access to a protected page (PROT_NONE: a guard page?)"
        }
        (libc::SIGSEGV, SEGV_MAPERR) if holder.is_some() => {
            "access to a guard region (MADV_GUARD_INSTALL) inside a mapping"
        }
        (libc::SIGSEGV, SEGV_MAPERR) => "access to unmapped memory",
        (libc::SIGBUS, BUS_ADRERR) => "access beyond the end of a mapped file",
        (libc::SIGBUS, BUS_ADRALN) => "misaligned access",
        (libc::SIGFPE, FPE_INTDIV) => return plain("integer divide by zero"),
        (libc::SIGFPE, FPE_INTOVF) => return plain("integer overflow"),
        _ => return None,
    };
    Some(Cause { what, mapping })
}

fn plain(what: &'static str) -> Option<Cause<'static>> {
    Some(Cause {
        what,
        mapping: None,
    })
}

/// A fault near the stack pointer on memory that is not there: unmapped,
/// `PROT_NONE`, or a guard region (`MADV_GUARD_INSTALL`, Linux 6.13+),
/// which the maps show as part of its accessible mapping while the kernel
/// reports the fault as one on unmapped memory (`SEGV_MAPERR`).
fn is_stack_overflow(code: i32, addr: u64, regs: &Registers, holder: Option<&MapEntry>) -> bool {
    let near_sp = addr.abs_diff(regs.sp()) <= STACK_OVERFLOW_REACH;
    near_sp && (code == SEGV_MAPERR || holder.is_none_or(|e| !e.read && !e.write))
}

fn mapping_note<'m>(maps: &'m Maps, addr: u64) -> Option<MappingNote<'m>> {
    let (e, contains) = match maps.find(addr) {
        Some(e) => (e, true),
        None => (maps.nearest(addr)?, false),
    };
    Some(MappingNote {
        addr,
        contains,
        start: e.start,
        end: e.end,
        perms: [
            if e.read { b'r' } else { b'-' },
            if e.write { b'w' } else { b'-' },
            if e.exec { b'x' } else { b'-' },
            b'p',
        ],
        path: maps.path(e),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAPS: &[u8] = b"\
555500000000-555500001000 r--p 00000000 08:01 7 /srv/app
555500001000-555500002000 r-xp 00001000 08:01 7 /srv/app
555500002000-555500003000 r--p 00002000 08:01 7 /srv/app
7f0000000000-7f0000001000 ---p 00000000 00:00 0
7f0000001000-7f0000100000 rw-p 00000000 00:00 0
7ffd00000000-7ffd00100000 rw-p 00000000 00:00 0 [stack]
";

    /// Page-fault error code bits, as x86 reports them (the other
    /// architectures map theirs to the same two facts).
    const PF_WRITE: u64 = 1 << 1;
    const PF_INSTR: u64 = 1 << 4;

    fn regs(pc: u64, sp: u64, err: u64) -> Registers {
        Registers::from_pc_sp_fp(pc, sp, 0).with_fault(err & PF_WRITE != 0, err & PF_INSTR != 0)
    }

    fn cause(sig: i32, code: i32, addr: u64, r: Registers) -> Option<&'static str> {
        let maps = Maps::from_text(MAPS.to_vec());
        analyse(sig, code, addr, &r, Some(&maps)).map(|c| c.what)
    }

    #[test]
    fn null_pointer() {
        let r = regs(0x555500001135, 0x7ffd000ff000, PF_WRITE);
        assert_eq!(
            cause(libc::SIGSEGV, SEGV_MAPERR, 0, r),
            Some("null pointer dereference")
        );
        assert_eq!(
            cause(libc::SIGSEGV, SEGV_MAPERR, 0x18, r),
            Some("null pointer dereference")
        );
        let maps = Maps::from_text(MAPS.to_vec());
        let c = analyse(libc::SIGSEGV, SEGV_MAPERR, 0, &r, Some(&maps)).unwrap();
        let m = c.mapping.unwrap();
        assert!(!m.contains);
        assert_eq!((m.start, m.path), (0x555500000000, &b"/srv/app"[..]));
    }

    #[test]
    fn stack_overflow_in_guard_page_and_below_the_stack() {
        // A thread stack with its PROT_NONE guard page below it.
        let r = regs(0x555500001135, 0x7f0000001008, PF_WRITE);
        assert_eq!(
            cause(libc::SIGSEGV, SEGV_ACCERR, 0x7f0000000ff8, r),
            Some("stack overflow")
        );
        // The main stack: the guard gap below [stack] is unmapped.
        let r = regs(0x555500001135, 0x7ffcffffff00, PF_WRITE);
        assert_eq!(
            cause(libc::SIGSEGV, SEGV_MAPERR, 0x7ffcfffffef8, r),
            Some("stack overflow")
        );
        // A guard region installed in the stack's own rw-p mapping: the
        // maps show it accessible, the kernel says not mapped.
        let r = regs(0x555500001135, 0x7f0000010008, PF_WRITE);
        assert_eq!(
            cause(libc::SIGSEGV, SEGV_MAPERR, 0x7f0000010000 - 8, r),
            Some("stack overflow")
        );
        // The same region away from the stack pointer.
        let r = regs(0x555500001135, 0x7ffd000ff000, PF_WRITE);
        assert_eq!(
            cause(libc::SIGSEGV, SEGV_MAPERR, 0x7f0000010000, r),
            Some("access to a guard region (MADV_GUARD_INSTALL) inside a mapping")
        );
    }

    #[test]
    fn writes_and_jumps() {
        let r = regs(0x555500001135, 0x7ffd000ff000, PF_WRITE | 1);
        assert_eq!(
            cause(libc::SIGSEGV, SEGV_ACCERR, 0x555500002010, r),
            Some("write to read-only memory")
        );
        let r = regs(0x7f0000002000, 0x7ffd000ff000, PF_INSTR);
        assert_eq!(
            cause(libc::SIGSEGV, SEGV_ACCERR, 0x7f0000002000, r),
            Some("jump to non-executable memory")
        );
        let r = regs(0x1234567, 0x7ffd000ff000, PF_INSTR);
        assert!(
            cause(libc::SIGSEGV, SEGV_MAPERR, 0x1234567, r)
                .unwrap()
                .starts_with("jump to an unmapped")
        );
        assert_eq!(
            cause(libc::SIGFPE, FPE_INTDIV, 0x555500001135, r),
            Some("integer divide by zero")
        );
        assert_eq!(cause(libc::SIGABRT, libc::SI_TKILL, 0, r), None);
    }
}
