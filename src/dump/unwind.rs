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

use alloc::vec;
use framehop::{CacheNative, FrameAddress, MustNotAllocateDuringUnwind, Unwinder, UnwinderNative};

use crate::symbolize::modules::Modules;
use crate::sys;
use crate::sys::arch::{self, CALL_LOOKBEHIND, Registers, SIGRETURN_CODE};
use crate::sys::memory::Memory;

/// No real stack is deeper (a 1 GiB stack of 16-byte frames has 64 Mi, but
/// the time bound ends such a walk first).
pub const MAX_FRAMES: usize = 4 << 20;

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
    pub fp_unknown: bool,
}

impl Walker<'_> {
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
        let mut code = [0u8; SIGRETURN_CODE.len()];
        self.memory.read(addr, &mut code) && code == SIGRETURN_CODE
    }

    /// Whether the instruction before `ra` is a call.
    fn follows_call(&self, ra: u64) -> bool {
        let mut b = [0u8; CALL_LOOKBEHIND];
        let before = ra.wrapping_sub(CALL_LOOKBEHIND as u64);
        ra >= CALL_LOOKBEHIND as u64 && self.memory.read(before, &mut b) && arch::follows_call(&b)
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
        let mut guessed_fp = false;
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
            let mut regs = arch::unwind_regs(&context);
            let mut address = FrameAddress::from_instruction_pointer(pc);
            if !self.is_code(pc) {
                // A call through a bad pointer: nothing ran since the call.
                let Some((ra, caller)) =
                    arch::return_from_bad_call(&context, |a| self.memory.read_u64(a))
                        .filter(|&(ra, _)| self.is_code(ra))
                else {
                    return;
                };
                regs = caller;
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
                    _ if self.fp_unknown && !guessed_fp && arch::frame_pointer(&regs) == 0 => {
                        // Stopped for want of the frame pointer the context
                        // did not have: find it on the stack, once.
                        guessed_fp = true;
                        match self.guess_frame_pointer(regs.sp()) {
                            Some(fp) => {
                                arch::set_frame_pointer(&mut regs, fp);
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
