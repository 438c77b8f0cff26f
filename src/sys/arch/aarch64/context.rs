//! A thread's registers as a minidump's `CONTEXT_ARM64` (the current
//! format of Crashpad and rust-minidump, with SystemInfo architecture 12;
//! breakpad `minidump_cpu_arm64.h`): 912 bytes, little-endian, packed.

use super::registers::{Registers, SIGCONTEXT_RESERVED, UC_MCONTEXT, reg};
use crate::sys::memory::kernel_copy;

/// `MD_CPU_ARCHITECTURE_ARM64`, SystemInfo's processor architecture.
pub const MINIDUMP_ARCH: u16 = 12;
pub const CONTEXT_SIZE: usize = 912;
/// `MD_CONTEXT_ARM64 | CONTROL | INTEGER`, and `FLOATING_POINT` when the
/// signal frame gave the FP/SIMD registers.
const CONTEXT_INTEGER: u32 = 0x0040_0003;
const CONTEXT_FLOATING_POINT: u32 = 0x4;
/// `struct fpsimd_context` (`<asm/sigcontext.h>`): the record header,
/// fpsr, fpcr, then v0..v31 (16 bytes each).
const FPSIMD_MAGIC: u32 = 0x4650_8001;
const FLOAT_REGS: usize = 272;
const FPCR: usize = 784;
const FPSR: usize = 788;

/// Fills `out` with the context of `regs`; with `ucontext` (the signal's
/// own), the FP/SIMD registers too, read through the kernel.
pub fn minidump_context(regs: &Registers, ucontext: Option<u64>, out: &mut [u8; CONTEXT_SIZE]) {
    out.fill(0);
    let g = &regs.gregs;
    let mut flags = CONTEXT_INTEGER;
    out[4..8].copy_from_slice(&(g[reg::PSTATE] as u32).to_le_bytes());
    // x0..x28, fp, lr, sp, pc: the order of `gregs` up to the pc.
    for (i, value) in g[..=reg::PC].iter().enumerate() {
        out[8 + i * 8..16 + i * 8].copy_from_slice(&value.to_le_bytes());
    }
    if let Some(uc) = ucontext
        && fpsimd(uc, out)
    {
        flags |= CONTEXT_FLOATING_POINT;
    }
    out[..4].copy_from_slice(&flags.to_le_bytes());
}

/// Copies the `fpsimd_context` record of the signal context at `uc`.
fn fpsimd(uc: u64, out: &mut [u8; CONTEXT_SIZE]) -> bool {
    let records = uc + UC_MCONTEXT + SIGCONTEXT_RESERVED;
    let mut offset = 0u64;
    while offset < 4096 {
        let mut head = [0u8; 16];
        if !kernel_copy(records + offset, &mut head) {
            return false;
        }
        let magic = u32::from_ne_bytes(head[..4].try_into().unwrap_or_default());
        let size = u64::from(u32::from_ne_bytes(
            head[4..8].try_into().unwrap_or_default(),
        ));
        if magic == 0 || size < 16 || size % 16 != 0 {
            return false;
        }
        if magic == FPSIMD_MAGIC {
            out[FPSR..FPSR + 4].copy_from_slice(&head[8..12]);
            out[FPCR..FPCR + 4].copy_from_slice(&head[12..16]);
            return kernel_copy(
                records + offset + 16,
                &mut out[FLOAT_REGS..FLOAT_REGS + 512],
            );
        }
        offset += size;
    }
    false
}

/// SystemInfo's processor level, revision and CPU union: nothing a reader
/// needs on arm64.
pub fn minidump_cpu() -> (u16, u16, [u8; 24]) {
    (0, 0, [0; 24])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registers_land_at_crashpads_offsets() {
        let mut regs = Registers::from_pc_sp_fp(0x1111, 0x2222, 0x3333);
        regs.gregs[0] = 0xaaaa;
        regs.gregs[reg::LR] = 0x4444;
        regs.gregs[reg::PSTATE] = 0x6000_0000;
        let mut out = [0u8; CONTEXT_SIZE];
        minidump_context(&regs, None, &mut out);
        let at = |o: usize| u64::from_le_bytes(out[o..o + 8].try_into().unwrap());
        assert_eq!(
            u32::from_le_bytes(out[..4].try_into().unwrap()),
            0x0040_0003
        );
        assert_eq!(
            u32::from_le_bytes(out[4..8].try_into().unwrap()),
            0x6000_0000
        );
        assert_eq!(at(8), 0xaaaa);
        assert_eq!(at(8 + 29 * 8), 0x3333);
        assert_eq!(at(8 + 30 * 8), 0x4444);
        assert_eq!(at(8 + 31 * 8), 0x2222);
        assert_eq!(at(8 + 32 * 8), 0x1111);
    }
}
