//! Walking a thread's stack with framehop, from a register context.
//!
//! Beyond framehop's frame-by-frame unwinding this handles what a crash
//! handler meets and a profiler does not:
//! - a call through a garbage function pointer leaves the pc outside any
//!   code: the caller's return address is then at `[sp]`;
//! - the signal trampoline `__restore_rt` (framehop cannot unwind through
//!   it): the interrupted context is reloaded from the `ucontext` it returns
//!   to, so a dump taken inside another handler reaches the original fault;
//! - a smashed stack: every read goes through [`Memory`], and the walk ends
//!   at the first address that is not code, after at most [`MAX_FRAMES`]
//!   frames or when the dump's time is up.

use framehop::{CacheNative, FrameAddress, MustNotAllocateDuringUnwind, Unwinder, UnwinderNative};

#[cfg(target_arch = "aarch64")]
use crate::arch_aarch64 as arch;
#[cfg(target_arch = "aarch64")]
pub use crate::arch_aarch64::reg;
use crate::memory::Memory;
use crate::modules::Modules;
use crate::sys;

/// No real stack is deeper (a 1 GiB stack of 16-byte frames has 64 Mi, but
/// the time bound ends such a walk first).
pub const MAX_FRAMES: usize = 4 << 20;

/// x86_64 `mcontext_t.gregs` indexes (`<sys/ucontext.h>`).
#[cfg(target_arch = "x86_64")]
pub mod reg {
    pub const RBP: usize = 10;
    pub const RSP: usize = 15;
    pub const RIP: usize = 16;
    pub const PC: usize = RIP;
    pub const SP: usize = RSP;
    pub const FP: usize = RBP;
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
#[cfg(target_arch = "x86_64")]
const UCONTEXT_GREGS: u64 = 40;

/// The general registers of a thread, as a `ucontext_t` holds them.
#[derive(Clone, Copy)]
pub struct Registers {
    pub gregs: [u64; reg::COUNT],
}

impl Registers {
    /// # Safety
    /// `uc` must point to a `ucontext_t` the kernel passed to a handler.
    pub unsafe fn from_ucontext(uc: *const libc::c_void) -> Registers {
        #[cfg(target_arch = "x86_64")]
        {
            // SAFETY: per the contract, uc is a valid ucontext_t.
            let uc = unsafe { &*uc.cast::<libc::ucontext_t>() };
            let mut gregs = [0u64; reg::COUNT];
            for (dst, src) in gregs.iter_mut().zip(uc.uc_mcontext.gregs.iter()) {
                *dst = *src as u64;
            }
            Registers { gregs }
        }
        #[cfg(target_arch = "aarch64")]
        Registers {
            // SAFETY: per the contract.
            gregs: unsafe { arch::gregs_from_ucontext(uc) },
        }
    }

    /// The context a signal interrupted, from the `ucontext_t` that starts
    /// at `sp` when the handler has returned into the trampoline.
    #[cfg(target_arch = "aarch64")]
    fn from_signal_frame(memory: &Memory, sp: u64) -> Option<Registers> {
        arch::gregs_from_signal_frame(memory, sp).map(|gregs| Registers { gregs })
    }

    #[cfg(target_arch = "x86_64")]
    fn from_signal_frame(memory: &Memory, sp: u64) -> Option<Registers> {
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
    pub fn from_pc_sp_bp(pc: u64, sp: u64, bp: u64) -> Registers {
        let mut gregs = [0u64; reg::COUNT];
        gregs[reg::PC] = pc;
        gregs[reg::SP] = sp;
        gregs[reg::FP] = bp;
        Registers { gregs }
    }

    pub fn pc(&self) -> u64 {
        self.gregs[reg::PC]
    }

    pub fn sp(&self) -> u64 {
        self.gregs[reg::SP]
    }

    #[cfg(target_arch = "x86_64")]
    pub fn bp(&self) -> u64 {
        self.gregs[reg::FP]
    }

    /// Whether the fault was an instruction fetch, as far as the context
    /// tells (x86: the page-fault error code; aarch64: the ESR).
    pub fn fault_is_fetch(&self) -> bool {
        #[cfg(target_arch = "x86_64")]
        return self.gregs[reg::ERR] & PF_INSTR != 0;
        #[cfg(target_arch = "aarch64")]
        return arch::fault_is_fetch(&self.gregs);
    }

    /// Whether the fault was a write, as far as the context tells.
    pub fn fault_is_write(&self) -> bool {
        #[cfg(target_arch = "x86_64")]
        return self.gregs[reg::ERR] & PF_WRITE != 0;
        #[cfg(target_arch = "aarch64")]
        return arch::fault_is_write(&self.gregs);
    }
}

/// What a frame's address is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrameKind {
    /// The instruction that was executing (frame 0, or the instruction a
    /// signal interrupted): looked up as is.
    Executing,
    /// A return address: looked up at address - 1 (the call).
    Return,
    /// The signal trampoline: gdb's `<signal handler called>`.
    SignalTrampoline,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RawFrame {
    pub addr: u64,
    pub kind: FrameKind,
}

impl RawFrame {
    /// The address names and lines are looked up at.
    pub fn lookup_addr(&self) -> u64 {
        match self.kind {
            FrameKind::Return => self.addr.wrapping_sub(1),
            _ => self.addr,
        }
    }
}

pub type NativeUnwinder = UnwinderNative<&'static [u8], MustNotAllocateDuringUnwind>;
pub type NativeCache = CacheNative<MustNotAllocateDuringUnwind>;

/// What a walk needs; built once per dump.
pub struct Walker<'a> {
    pub unwinder: &'a NativeUnwinder,
    pub cache: &'a mut NativeCache,
    pub memory: &'a Memory,
    pub modules: &'a Modules,
    pub deadline_ns: u64,
    /// The starting registers have no frame pointer (a thread seen through
    /// `/proc/self/task/TID/syscall`, which gives only sp and pc): if the
    /// walk stops for want of one, it is recovered from the stack once.
    pub bp_unknown: bool,
}

/// x86 page-fault error code bits (`gregs[REG_ERR]`).
#[cfg(target_arch = "x86_64")]
pub const PF_WRITE: u64 = 1 << 1;
#[cfg(target_arch = "x86_64")]
pub const PF_INSTR: u64 = 1 << 4;

/// `mov $15, %rax; syscall`: x86_64 glibc's `__restore_rt`.
#[cfg(target_arch = "x86_64")]
const RESTORE_RT: [u8; 9] = [0x48, 0xc7, 0xc0, 0x0f, 0x00, 0x00, 0x00, 0x0f, 0x05];
#[cfg(target_arch = "aarch64")]
const RESTORE_RT: [u8; 8] = arch::SIGRETURN_CODE;

#[cfg(target_arch = "x86_64")]
fn frame_pointer(regs: &framehop::UnwindRegsNative) -> u64 {
    regs.bp()
}
#[cfg(target_arch = "aarch64")]
use arch::frame_pointer;

impl Walker<'_> {
    /// The return address and stack pointer after a call through a bad
    /// pointer, if the return address is code.
    fn bad_call_return(&self, context: &Registers) -> Option<(u64, u64)> {
        #[cfg(target_arch = "x86_64")]
        let found = self
            .memory
            .read_u64(context.sp())
            .map(|ra| (ra, context.sp() + 8));
        #[cfg(target_arch = "aarch64")]
        let found = arch::bad_call_return(&context.gregs, self.memory, self.ptr_auth_mask());
        found.filter(|&(ra, _)| self.is_code(ra))
    }

    #[cfg(target_arch = "aarch64")]
    fn ptr_auth_mask(&self) -> framehop::aarch64::PtrAuthMask {
        arch::ptr_auth_mask(self.unwinder.max_known_code_address())
    }

    fn is_code(&self, addr: u64) -> bool {
        match self.modules.find(addr) {
            Some((_, m)) => m.is_code(addr),
            // JIT code and other anonymous executable memory.
            None => self
                .memory
                .maps()
                .and_then(|maps| maps.find(addr))
                .is_some_and(|e| e.exec),
        }
    }

    fn is_signal_trampoline(&self, addr: u64) -> bool {
        let mut code = [0u8; RESTORE_RT.len()];
        self.memory.read(addr, &mut code) && code == RESTORE_RT
    }

    #[cfg(target_arch = "aarch64")]
    fn follows_call(&self, ra: u64) -> bool {
        arch::follows_call(self.memory, ra)
    }

    /// Whether the instruction before `ra` is a call (`call rel32`, or
    /// `call r/m64` in any of its encodings of 2 to 7 bytes).
    #[cfg(target_arch = "x86_64")]
    fn follows_call(&self, ra: u64) -> bool {
        let mut b = [0u8; 7];
        if ra < 7 || !self.memory.read(ra - 7, &mut b) {
            return false;
        }
        // b[7 - k] is the byte k bytes before ra.
        b[2] == 0xe8 || (2..=7).any(|k| b[7 - k] == 0xff && (b[8 - k] >> 3) & 7 == 2)
    }

    /// The frame pointer of the frame whose stack starts at `sp`, for a
    /// context taken without one: the lowest slot above `sp` that holds a
    /// saved frame pointer followed by a return address just after a call.
    /// A saved frame pointer that leads further up the stack (or is 0, the
    /// end of the chain) is preferred; then any.
    fn guess_frame_pointer(&self, sp: u64) -> Option<u64> {
        const REACH: usize = 64 * 1024;
        const PAGE: u64 = 4096;
        let start = sp.checked_next_multiple_of(8)?;
        // The stack above sp, read a page at a time (through the kernel,
        // for a thread that may be running) up to the end of its mapping.
        let mut window = vec![0u8; REACH];
        let mut len = 0;
        while len < REACH {
            let at = start + len as u64;
            let n = ((PAGE - at % PAGE) as usize).min(REACH - len);
            if !self.memory.read(at, &mut window[len..len + n]) {
                break;
            }
            len += n;
        }
        let word = |offset: usize| -> Option<u64> {
            let bytes = window.get(offset..offset + 8)?;
            Some(u64::from_ne_bytes(bytes.try_into().ok()?))
        };
        for strict in [true, false] {
            for offset in (0..len.saturating_sub(8)).step_by(8) {
                let at = start + offset as u64;
                let (Some(saved), Some(ra)) = (word(offset), word(offset + 8)) else {
                    break;
                };
                let chained = saved == 0 || (saved > at && saved - at < 1 << 20);
                #[cfg(target_arch = "aarch64")]
                let ra = self.ptr_auth_mask().strip_ptr_auth(ra);
                if (chained || !strict) && self.is_code(ra) && self.follows_call(ra) {
                    return Some(at);
                }
            }
        }
        None
    }

    /// Calls `visit` for each frame of the stack described by `start`,
    /// innermost first.
    pub fn walk(&mut self, start: &Registers, mut visit: impl FnMut(RawFrame)) {
        let mut guessed_bp = false;
        let mut count = 0usize;
        let mut context = *start;
        let mut emit = |frame: RawFrame, count: &mut usize| -> bool {
            visit(frame);
            *count += 1;
            *count < MAX_FRAMES
                && (!count.is_multiple_of(1024) || sys::monotonic_ns() < self.deadline_ns)
        };
        'context: loop {
            let pc = context.pc();
            if !emit(
                RawFrame {
                    addr: pc,
                    kind: FrameKind::Executing,
                },
                &mut count,
            ) {
                return;
            }
            #[cfg(target_arch = "x86_64")]
            let mut regs = framehop::UnwindRegsNative::new(pc, context.sp(), context.bp());
            #[cfg(target_arch = "aarch64")]
            let mut regs = arch::unwind_regs(&context.gregs, self.ptr_auth_mask());
            let mut address = FrameAddress::from_instruction_pointer(pc);
            if !self.is_code(pc) {
                // A call through a bad pointer: the call pushed the return
                // address (x86) or left it in the link register (aarch64),
                // and nothing ran since.
                let Some((ra, sp)) = self.bad_call_return(&context) else {
                    return;
                };
                regs.set_sp(sp);
                if !emit(
                    RawFrame {
                        addr: ra,
                        kind: FrameKind::Return,
                    },
                    &mut count,
                ) {
                    return;
                }
                let Some(a) = FrameAddress::from_return_address(ra) else {
                    return;
                };
                address = a;
            }
            let memory = self.memory;
            let mut read = |addr: u64| memory.read_u64(addr).ok_or(());
            loop {
                let ra = match self
                    .unwinder
                    .unwind_frame(address, &mut regs, self.cache, &mut read)
                {
                    Ok(Some(ra)) if ra != 0 => ra,
                    _ if self.bp_unknown && !guessed_bp && frame_pointer(&regs) == 0 => {
                        // Stopped for want of the frame pointer the context
                        // did not have: find it on the stack, once.
                        guessed_bp = true;
                        match self.guess_frame_pointer(regs.sp()) {
                            Some(bp) => {
                                #[cfg(target_arch = "x86_64")]
                                regs.set_bp(bp);
                                #[cfg(target_arch = "aarch64")]
                                arch::set_frame_pointer(&mut regs, self.memory, bp);
                                continue;
                            }
                            None => return,
                        }
                    }
                    _ => return,
                };
                if self.is_signal_trampoline(ra) {
                    if !emit(
                        RawFrame {
                            addr: ra,
                            kind: FrameKind::SignalTrampoline,
                        },
                        &mut count,
                    ) {
                        return;
                    }
                    match Registers::from_signal_frame(self.memory, regs.sp()) {
                        Some(interrupted) => {
                            context = interrupted;
                            continue 'context;
                        }
                        None => return,
                    }
                }
                let code = self.is_code(ra);
                if !emit(
                    RawFrame {
                        addr: ra,
                        kind: FrameKind::Return,
                    },
                    &mut count,
                ) || !code
                {
                    // A return address into no code: the stack is smashed
                    // here; what follows would be noise.
                    return;
                }
                let Some(a) = FrameAddress::from_return_address(ra) else {
                    return;
                };
                address = a;
            }
        }
    }
}
