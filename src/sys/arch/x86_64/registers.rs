//! x86_64 registers: `mcontext_t.gregs`, their printed names, capture of
//! the caller's own, and what the page-fault error code says.

use crate::sys::memory::Memory;

/// x86_64 `mcontext_t.gregs` indexes (`<sys/ucontext.h>`).
pub mod reg {
    pub const RBP: usize = 10;
    pub const RSP: usize = 15;
    pub const RIP: usize = 16;
    pub const EFL: usize = 17;
    pub const ERR: usize = 19;
    pub const TRAPNO: usize = 20;
    pub const COUNT: usize = 23;
    /// Names in the order a dump prints them, with their index.
    pub const PRINTED: [(&str, usize); 20] = [
        ("rax", 13),
        ("rbx", 11),
        ("rcx", 14),
        ("rdx", 12),
        ("rsi", 9),
        ("rdi", 8),
        ("rbp", RBP),
        ("rsp", RSP),
        ("r8", 0),
        ("r9", 1),
        ("r10", 2),
        ("r11", 3),
        ("r12", 4),
        ("r13", 5),
        ("r14", 6),
        ("r15", 7),
        ("rip", RIP),
        ("eflags", EFL),
        ("err", ERR),
        ("trapno", TRAPNO),
    ];
}

/// `offsetof(ucontext_t, uc_mcontext.gregs)` on x86_64.
const UCONTEXT_GREGS: u64 = 40;
/// x86 page-fault error code bits (`gregs[REG_ERR]`).
const PF_WRITE: u64 = 1 << 1;
const PF_INSTR: u64 = 1 << 4;

/// The general registers of a thread, as a `ucontext_t` holds them.
#[derive(Clone, Copy)]
pub struct Registers {
    pub gregs: [u64; reg::COUNT],
}

impl Registers {
    /// # Safety
    /// `uc` must point to a `ucontext_t` the kernel passed to a handler.
    pub unsafe fn from_ucontext(uc: *const libc::c_void) -> Registers {
        // SAFETY: per the contract, uc is a valid ucontext_t.
        let uc = unsafe { &*uc.cast::<libc::ucontext_t>() };
        let mut gregs = [0u64; reg::COUNT];
        for (dst, src) in gregs.iter_mut().zip(uc.uc_mcontext.gregs.iter()) {
            *dst = *src as u64;
        }
        Registers { gregs }
    }

    /// The context a signal interrupted, from the `ucontext_t` that starts
    /// at `sp` when the handler has returned into the trampoline.
    pub fn from_signal_frame(memory: &Memory, sp: u64) -> Option<Registers> {
        let mut raw = [0u8; reg::COUNT * 8];
        if !memory.read(sp + UCONTEXT_GREGS, &mut raw) {
            return None;
        }
        let mut gregs = [0u64; reg::COUNT];
        for (dst, src) in gregs.iter_mut().zip(raw.chunks_exact(8)) {
            *dst = u64::from_ne_bytes(src.try_into().unwrap_or_default());
        }
        Some(Registers { gregs })
    }

    /// Registers known without a signal: the caller passes its own pc, sp
    /// and frame pointer (a watchdog thread, a parked thread's syscall state).
    pub fn from_pc_sp_fp(pc: u64, sp: u64, fp: u64) -> Registers {
        let mut gregs = [0u64; reg::COUNT];
        gregs[reg::RIP] = pc;
        gregs[reg::RSP] = sp;
        gregs[reg::RBP] = fp;
        Registers { gregs }
    }

    /// The caller's registers, taken where this is inlined: a dump started
    /// from here leaves out the library's own frames.
    #[inline(always)]
    pub fn here() -> Registers {
        let (pc, sp, fp): (u64, u64, u64);
        // SAFETY: reads three registers; touches no memory.
        unsafe {
            core::arch::asm!(
                "lea {pc}, [rip]",
                "mov {sp}, rsp",
                "mov {fp}, rbp",
                pc = out(reg) pc,
                sp = out(reg) sp,
                fp = out(reg) fp,
                options(nomem, nostack, preserves_flags),
            );
        }
        Registers::from_pc_sp_fp(pc, sp, fp)
    }

    pub fn pc(&self) -> u64 {
        self.gregs[reg::RIP]
    }

    pub fn sp(&self) -> u64 {
        self.gregs[reg::RSP]
    }

    pub fn fp(&self) -> u64 {
        self.gregs[reg::RBP]
    }

    /// The page fault was a write (the error code's W bit).
    pub fn is_write_fault(&self) -> bool {
        self.gregs[reg::ERR] & PF_WRITE != 0
    }

    /// The page fault was an instruction fetch (the error code's I bit).
    pub fn is_fetch_fault(&self) -> bool {
        self.gregs[reg::ERR] & PF_INSTR != 0
    }

    /// A context with the given page-fault error code, for tests.
    #[cfg(test)]
    pub fn with_fault(mut self, write: bool, fetch: bool) -> Registers {
        self.gregs[reg::ERR] = if write { PF_WRITE } else { 0 } | if fetch { PF_INSTR } else { 0 };
        self
    }
}
