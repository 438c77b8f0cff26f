//! What the aarch64 unwinder recognises in machine code, and framehop's
//! register set for it, with pointer authentication: code built with
//! `-mbranch-protection=standard` saves return addresses signed in their
//! unused high bits, which are stripped before lookup.

use framehop::aarch64::{PtrAuthMask, UnwindRegsAarch64};

use super::Registers;

/// `mov x8, #139; svc #0` (rt_sigreturn): the kernel's vDSO
/// `__kernel_rt_sigreturn`, musl's `__restore_rt`, qemu-user's trampoline.
pub const SIGRETURN_CODE: [u8; 8] = [0x68, 0x11, 0x80, 0xd2, 0x01, 0x00, 0x00, 0xd4];

/// How many bytes before a return address [`follows_call`] looks at.
pub const CALL_LOOKBEHIND: usize = 4;

/// Whether the instruction just before a return address is a call: `bl`,
/// `blr`, or an authenticating `blraa`/`blrab` (with or without `z`).
pub fn follows_call(b: &[u8; CALL_LOOKBEHIND]) -> bool {
    let insn = u32::from_le_bytes(*b);
    insn & 0xfc00_0000 == 0x9400_0000
        || insn & 0xffff_fc1f == 0xd63f_0000
        || insn & 0xfeff_f800 == 0xd63f_0800
}

pub type UnwindRegs = UnwindRegsAarch64;

/// Linux's smallest arm64 user address space: 39 bits.
const MIN_ADDRESS_BITS: u64 = 1 << 38;

/// The mask that strips a pointer-authentication code: every bit above the
/// highest of the context's sp and pc (the stack lies at the top of the
/// address space, the code below it), and at least 39 bits.
fn ptr_auth_mask(regs: &Registers) -> PtrAuthMask {
    PtrAuthMask::from_max_known_address(regs.sp().max(regs.pc()).max(MIN_ADDRESS_BITS))
}

/// framehop's registers for a walk starting at `regs`.
pub fn unwind_regs(regs: &Registers) -> UnwindRegs {
    UnwindRegsAarch64::new_with_ptr_auth_mask(ptr_auth_mask(regs), regs.lr(), regs.sp(), regs.fp())
}

/// The frame pointer framehop's walk has reached.
pub fn frame_pointer(regs: &UnwindRegs) -> u64 {
    regs.fp()
}

/// Gives framehop's walk a frame pointer found some other way.
pub fn set_frame_pointer(regs: &mut UnwindRegs, fp: u64) {
    regs.set_fp(fp);
}

/// After a call through a pointer to no code, the pc is that pointer and
/// nothing ran since the call: `bl`/`blr` left the return address in the
/// link register and pushed nothing. Returns it and the registers of the
/// caller at the call.
pub fn return_from_bad_call(
    regs: &Registers,
    _read_u64: impl Fn(u64) -> Option<u64>,
) -> Option<(u64, UnwindRegs)> {
    let caller = unwind_regs(regs);
    Some((caller.lr(), caller))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calls() {
        // bl #-0x100; blr x3; blraaz x1; ret; nop.
        assert!(follows_call(&0x97ff_ffc0u32.to_le_bytes()));
        assert!(follows_call(&0xd63f_0060u32.to_le_bytes()));
        assert!(follows_call(&0xd63f_083fu32.to_le_bytes()));
        assert!(!follows_call(&0xd65f_03c0u32.to_le_bytes()));
        assert!(!follows_call(&0xd503_201fu32.to_le_bytes()));
    }
}
