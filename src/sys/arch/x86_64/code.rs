//! What the x86_64 unwinder recognises in machine code, and framehop's
//! register set for it.

use framehop::x86_64::UnwindRegsX86_64;

use super::Registers;

/// `mov $15, %rax; syscall`: glibc's and musl's `__restore_rt`, where a
/// signal handler returns to.
pub const SIGRETURN_CODE: [u8; 9] = [0x48, 0xc7, 0xc0, 0x0f, 0x00, 0x00, 0x00, 0x0f, 0x05];

/// How many bytes before a return address [`follows_call`] looks at.
pub const CALL_LOOKBEHIND: usize = 7;

/// Whether the bytes just before a return address end in a call (`call
/// rel32`, or `call r/m64` in any of its encodings of 2 to 7 bytes).
pub fn follows_call(b: &[u8; CALL_LOOKBEHIND]) -> bool {
    // b[7 - k] is the byte k bytes before the return address.
    b[2] == 0xe8 || (2..=7).any(|k| b[7 - k] == 0xff && (b[8 - k] >> 3) & 7 == 2)
}

pub type UnwindRegs = UnwindRegsX86_64;

/// framehop's registers for a walk starting at `regs`.
pub fn unwind_regs(regs: &Registers) -> UnwindRegs {
    UnwindRegsX86_64::new(regs.pc(), regs.sp(), regs.fp())
}

/// The frame pointer framehop's walk has reached.
pub fn frame_pointer(regs: &UnwindRegs) -> u64 {
    regs.bp()
}

/// Gives framehop's walk a frame pointer found some other way.
pub fn set_frame_pointer(regs: &mut UnwindRegs, fp: u64) {
    regs.set_bp(fp);
}

/// After a call through a pointer to no code, the pc is that pointer and
/// nothing ran since the call: its return address is at `[sp]`. Returns it
/// and the registers of the caller at the call.
pub fn return_from_bad_call(
    regs: &Registers,
    read_u64: impl Fn(u64) -> Option<u64>,
) -> Option<(u64, UnwindRegs)> {
    let ra = read_u64(regs.sp())?;
    let mut caller = unwind_regs(regs);
    caller.set_sp(regs.sp() + 8);
    Some((ra, caller))
}
