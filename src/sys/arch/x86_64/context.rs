//! A thread's registers as a minidump's `CONTEXT_AMD64` (breakpad
//! `minidump_cpu_amd64.h`, `MDRawContextAMD64`; rust-minidump
//! `CONTEXT_AMD64`): 1232 bytes, little-endian, packed.

use super::registers::{Registers, reg};
use crate::sys::memory::kernel_copy;

/// `MD_CPU_ARCHITECTURE_AMD64`, SystemInfo's processor architecture.
pub const MINIDUMP_ARCH: u16 = 9;
pub const CONTEXT_SIZE: usize = 1232;
/// `MD_CONTEXT_AMD64 | CONTROL | INTEGER | FLOATING_POINT`.
const CONTEXT_FULL: u32 = 0x0010_000B;
/// Where the 512-byte FXSAVE area (`flt_save`) starts, and `mx_csr`.
const FLT_SAVE: usize = 256;
const MX_CSR: usize = 52;
/// `mcontext_t.gregs` index of each of rax, rcx, rdx, rbx, rsp, rbp, rsi,
/// rdi, r8..r15, rip: the order the context stores them from offset 120.
const INTEGER_ORDER: [usize; 17] = [13, 14, 12, 11, 15, 10, 9, 8, 0, 1, 2, 3, 4, 5, 6, 7, 16];
/// `offsetof(ucontext_t, uc_mcontext.fpregs)` (glibc and musl): the
/// pointer to the FXSAVE image the kernel saved in the signal frame.
const UCONTEXT_FPREGS: u64 = 40 + 23 * 8;

/// Fills `out` with the context of `regs`; with `ucontext` (the signal's
/// own), the floating-point and SSE state too, read through the kernel.
pub fn minidump_context(regs: &Registers, ucontext: Option<u64>, out: &mut [u8; CONTEXT_SIZE]) {
    out.fill(0);
    let g = &regs.gregs;
    out[48..52].copy_from_slice(&CONTEXT_FULL.to_le_bytes());
    // cs, gs, fs packed in REG_CSGSFS (16 bits each), as breakpad reads them.
    let csgsfs = g[18];
    out[56..58].copy_from_slice(&(csgsfs as u16).to_le_bytes());
    out[64..66].copy_from_slice(&((csgsfs >> 16) as u16).to_le_bytes());
    out[62..64].copy_from_slice(&((csgsfs >> 32) as u16).to_le_bytes());
    out[68..72].copy_from_slice(&(g[reg::EFL] as u32).to_le_bytes());
    for (i, &index) in INTEGER_ORDER.iter().enumerate() {
        out[120 + i * 8..128 + i * 8].copy_from_slice(&g[index].to_le_bytes());
    }
    if let Some(uc) = ucontext {
        let mut ptr = [0u8; 8];
        let fxsave = &mut out[FLT_SAVE..FLT_SAVE + 512];
        if kernel_copy(uc + UCONTEXT_FPREGS, &mut ptr) {
            let fpregs = u64::from_ne_bytes(ptr);
            if fpregs != 0 && !kernel_copy(fpregs, fxsave) {
                fxsave.fill(0);
            }
        }
        // mxcsr sits at byte 24 of the FXSAVE image.
        let mxcsr: [u8; 4] = out[FLT_SAVE + 24..FLT_SAVE + 28]
            .try_into()
            .unwrap_or_default();
        out[MX_CSR..MX_CSR + 4].copy_from_slice(&mxcsr);
    }
}

/// SystemInfo's processor level (family), revision (model << 8 |
/// stepping) and CPU union (vendor, version and feature words of `cpuid`).
pub fn minidump_cpu() -> (u16, u16, [u8; 24]) {
    use core::arch::x86_64::__cpuid;
    // SAFETY: cpuid exists on every x86_64 processor; leaves 0 and 1 always.
    #[allow(unused_unsafe)]
    let (vendor, version) = unsafe { (__cpuid(0), __cpuid(1)) };
    let mut info = [0u8; 24];
    for (i, word) in [vendor.ebx, vendor.edx, vendor.ecx, version.eax, version.edx]
        .iter()
        .enumerate()
    {
        info[i * 4..i * 4 + 4].copy_from_slice(&word.to_le_bytes());
    }
    let eax = version.eax;
    let mut family = (eax >> 8) & 0xf;
    let mut model = (eax >> 4) & 0xf;
    if family == 0xf {
        family += (eax >> 20) & 0xff;
    }
    if family >= 6 {
        model += ((eax >> 16) & 0xf) << 4;
    }
    (family as u16, ((model << 8) | (eax & 0xf)) as u16, info)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registers_land_at_breakpads_offsets() {
        let mut regs = Registers::from_pc_sp_fp(0x1111, 0x2222, 0x3333);
        regs.gregs[13] = 0xaaaa; // rax
        regs.gregs[7] = 0xf15; // r15
        regs.gregs[reg::EFL] = 0x246;
        let mut out = [0u8; CONTEXT_SIZE];
        minidump_context(&regs, None, &mut out);
        let at = |o: usize| u64::from_le_bytes(out[o..o + 8].try_into().unwrap());
        assert_eq!(
            u32::from_le_bytes(out[48..52].try_into().unwrap()),
            0x0010_000B
        );
        assert_eq!(at(120), 0xaaaa);
        assert_eq!(at(152), 0x2222);
        assert_eq!(at(160), 0x3333);
        assert_eq!(at(240), 0xf15);
        assert_eq!(at(248), 0x1111);
        assert_eq!(u32::from_le_bytes(out[68..72].try_into().unwrap()), 0x246);
    }
}
