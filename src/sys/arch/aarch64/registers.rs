//! aarch64 registers: x0 to x30, sp, pc and pstate from the signal
//! context, with the fault address and the exception syndrome (ESR) its
//! records give; their printed names; capture of the caller's own; what
//! the ESR says of a fault.

use crate::sys::memory::Memory;

/// Indexes of [`Registers::gregs`]: x0 to x30, then sp, pc, pstate, the
/// fault address and the ESR (0 when the kernel gave none: qemu-user
/// gives none).
pub mod reg {
    pub const FP: usize = 29;
    pub const LR: usize = 30;
    pub const SP: usize = 31;
    pub const PC: usize = 32;
    pub const PSTATE: usize = 33;
    pub const FAR: usize = 34;
    pub const ESR: usize = 35;
    pub const COUNT: usize = 36;
    /// Names in the order a dump prints them, with their index (gdb's
    /// names; `far` and `esr` as the kernel's `sigcontext` calls them).
    pub const PRINTED: [(&str, usize); COUNT] = [
        ("x0", 0),
        ("x1", 1),
        ("x2", 2),
        ("x3", 3),
        ("x4", 4),
        ("x5", 5),
        ("x6", 6),
        ("x7", 7),
        ("x8", 8),
        ("x9", 9),
        ("x10", 10),
        ("x11", 11),
        ("x12", 12),
        ("x13", 13),
        ("x14", 14),
        ("x15", 15),
        ("x16", 16),
        ("x17", 17),
        ("x18", 18),
        ("x19", 19),
        ("x20", 20),
        ("x21", 21),
        ("x22", 22),
        ("x23", 23),
        ("x24", 24),
        ("x25", 25),
        ("x26", 26),
        ("x27", 27),
        ("x28", 28),
        ("x29", FP),
        ("x30", LR),
        ("sp", SP),
        ("pc", PC),
        ("pstate", PSTATE),
        ("far", FAR),
        ("esr", ESR),
    ];
}

/// `offsetof(ucontext_t, uc_mcontext)`: the same for glibc, musl and the
/// kernel (a 128-byte signal mask, then 16-byte alignment).
pub(super) const UC_MCONTEXT: u64 = core::mem::offset_of!(libc::ucontext_t, uc_mcontext) as u64;
/// `struct sigcontext`: fault_address, regs[31], sp, pc, pstate (280
/// bytes), then `__reserved[4096]`, 16-byte aligned, holding records
/// `{u32 magic, u32 size, ...}`, each a multiple of 16 bytes, up to one with
/// magic 0.
const SIGCONTEXT_HEAD: usize = 8 + 31 * 8 + 3 * 8;
pub(super) const SIGCONTEXT_RESERVED: u64 = 288;
const RESERVED_SIZE: u64 = 4096;
/// `struct esr_context` (`<asm/sigcontext.h>`): the header, then the ESR.
const ESR_MAGIC: u32 = 0x4553_5201;
/// `sizeof(siginfo_t)`: the kernel's `rt_sigframe` is the siginfo, then the
/// `ucontext_t`; a handler starts with sp at the frame.
pub(super) const SIGINFO_SIZE: u64 = 128;
/// ESR exception classes (`ESR_ELx.EC`, bits 31:26) of instruction and data
/// aborts from user space; `WnR` (bit 6): the data abort was a write.
const EC_IABT_LOW: u64 = 0x20;
const EC_DABT_LOW: u64 = 0x24;
const ESR_WNR: u64 = 1 << 6;

/// The general registers of a thread, as its signal context holds them.
#[derive(Clone, Copy)]
pub struct Registers {
    pub gregs: [u64; reg::COUNT],
}

impl Registers {
    /// The registers of the signal context at `uc`, read with `read`
    /// (false: the memory cannot be read).
    fn read_context(uc: u64, mut read: impl FnMut(u64, &mut [u8]) -> bool) -> Option<Registers> {
        let mc = uc + UC_MCONTEXT;
        let mut head = [0u8; SIGCONTEXT_HEAD];
        if !read(mc, &mut head) {
            return None;
        }
        let word = |b: &[u8]| u64::from_ne_bytes(b.try_into().unwrap_or_default());
        let mut gregs = [0u64; reg::COUNT];
        // regs[31], sp, pc, pstate follow fault_address, in order.
        for (dst, src) in gregs[..=reg::PSTATE]
            .iter_mut()
            .zip(head[8..].chunks_exact(8))
        {
            *dst = word(src);
        }
        gregs[reg::FAR] = word(&head[..8]);
        let mut offset = 0;
        while offset + 16 <= RESERVED_SIZE {
            let mut record = [0u8; 16];
            if !read(mc + SIGCONTEXT_RESERVED + offset, &mut record) {
                break;
            }
            let magic = u32::from_ne_bytes(record[..4].try_into().unwrap_or_default());
            let size = u64::from(u32::from_ne_bytes(
                record[4..8].try_into().unwrap_or_default(),
            ));
            if magic == 0 || size < 16 || size % 16 != 0 {
                break;
            }
            if magic == ESR_MAGIC {
                gregs[reg::ESR] = word(&record[8..]);
                break;
            }
            offset += size;
        }
        Some(Registers { gregs })
    }

    /// # Safety
    /// `uc` must point to a `ucontext_t` the kernel passed to a handler.
    pub unsafe fn from_ucontext(uc: *const libc::c_void) -> Registers {
        Registers::read_context(uc as u64, |addr, buf| {
            // SAFETY: per the contract, the whole context, its records
            // included, is mapped and readable.
            unsafe {
                core::ptr::copy_nonoverlapping(addr as *const u8, buf.as_mut_ptr(), buf.len())
            };
            true
        })
        .unwrap_or(Registers {
            gregs: [0; reg::COUNT],
        })
    }

    /// The context a signal interrupted, from the signal frame at `sp`
    /// (where the handler that returned into the trampoline started).
    pub fn from_signal_frame(memory: &Memory, sp: u64) -> Option<Registers> {
        Registers::read_context(sp + SIGINFO_SIZE, |addr, buf| memory.read(addr, buf))
    }

    /// Registers known without a signal: the caller passes its own pc, sp
    /// and frame pointer (a watchdog thread, a parked thread's syscall state).
    pub fn from_pc_sp_fp(pc: u64, sp: u64, fp: u64) -> Registers {
        let mut gregs = [0u64; reg::COUNT];
        gregs[reg::PC] = pc;
        gregs[reg::SP] = sp;
        gregs[reg::FP] = fp;
        Registers { gregs }
    }

    /// The caller's registers, taken where this is inlined: a dump started
    /// from here leaves out the library's own frames.
    #[inline(always)]
    pub fn here() -> Registers {
        let (pc, sp, fp, lr): (u64, u64, u64, u64);
        // SAFETY: reads four registers; touches no memory.
        unsafe {
            core::arch::asm!(
                "adr {pc}, .",
                "mov {sp}, sp",
                "mov {fp}, x29",
                "mov {lr}, x30",
                pc = out(reg) pc,
                sp = out(reg) sp,
                fp = out(reg) fp,
                lr = out(reg) lr,
                options(nomem, nostack, preserves_flags),
            );
        }
        let mut regs = Registers::from_pc_sp_fp(pc, sp, fp);
        regs.gregs[reg::LR] = lr;
        regs
    }

    pub fn pc(&self) -> u64 {
        self.gregs[reg::PC]
    }

    pub fn sp(&self) -> u64 {
        self.gregs[reg::SP]
    }

    pub fn fp(&self) -> u64 {
        self.gregs[reg::FP]
    }

    pub fn lr(&self) -> u64 {
        self.gregs[reg::LR]
    }

    /// The fault was a data write (the ESR's class and WnR bit).
    pub fn is_write_fault(&self) -> bool {
        let esr = self.gregs[reg::ESR];
        esr >> 26 == EC_DABT_LOW && esr & ESR_WNR != 0
    }

    /// The fault was an instruction fetch (the ESR's class).
    pub fn is_fetch_fault(&self) -> bool {
        self.gregs[reg::ESR] >> 26 == EC_IABT_LOW
    }

    /// A context with the given kind of fault, for tests.
    #[cfg(test)]
    pub fn with_fault(mut self, write: bool, fetch: bool) -> Registers {
        self.gregs[reg::ESR] = match (write, fetch) {
            (_, true) => EC_IABT_LOW << 26,
            (true, false) => EC_DABT_LOW << 26 | ESR_WNR,
            (false, false) => EC_DABT_LOW << 26,
        };
        self
    }
}
