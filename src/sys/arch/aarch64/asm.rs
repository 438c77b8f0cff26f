//! aarch64 assembly: running a function on another stack, the start
//! routine of wrapped threads, and the unwinder stand-ins (see the
//! x86_64 twin for why each exists).

/// Calls `f(arg)` with the stack pointer at `top`, and returns on the
/// caller's stack.
///
/// # Safety
/// `top` must be the 16-byte aligned end of a mapping that no one else
/// uses while `f` runs, large enough for `f`.
pub unsafe fn call_on_stack(
    top: usize,
    f: extern "C" fn(*mut libc::c_void),
    arg: *mut libc::c_void,
) {
    // SAFETY: per the contract; the callee follows the C ABI, and x20
    // (callee-saved; x19 is LLVM's) carries the old stack pointer across
    // the call.
    unsafe {
        core::arch::asm!(
            "mov x20, sp",
            "mov sp, {top}",
            "blr {f}",
            "mov sp, x20",
            top = in(reg) top,
            f = in(reg) f,
            in("x0") arg,
            out("x20") _,
            clobber_abi("C"),
        );
    }
}

// x16: the register an indirect branch into a `bti c` landing pad may use.
core::arch::global_asm!(
    ".pushsection .text.faultdump_thread_trampoline,\"ax\",%progbits",
    ".p2align 4",
    ".type faultdump_thread_trampoline,%function",
    ".globl faultdump_thread_trampoline",
    ".hidden faultdump_thread_trampoline",
    "faultdump_thread_trampoline:",
    ".cfi_startproc",
    "stp x29, x30, [sp, #-16]!",
    ".cfi_def_cfa_offset 16",
    ".cfi_offset x29, -16",
    ".cfi_offset x30, -8",
    "mov x29, sp",
    "ldr x16, [x0]",
    "blr x16",
    "ldp x29, x30, [sp], #16",
    ".cfi_def_cfa_offset 0",
    ".cfi_restore x29",
    ".cfi_restore x30",
    "mov x16, x0",
    "mov x0, x1",
    "br x16",
    ".cfi_endproc",
    ".size faultdump_thread_trampoline, . - faultdump_thread_trampoline",
    ".popsection",
);

crate::sys::arch::unwind_stand_ins!(continue_unwind: "    mov w0, #8", trap: "    brk #0");

/// The registers a recovery point restores: the callee-saved x19-x28, the
/// frame pointer and link register, the stack pointer and d8-d15.
pub type RecoveryRegisters = [u64; 21];

unsafe extern "C" {
    /// Saves the caller's callee-saved registers, stack pointer and return
    /// address in `regs`, calls `f(arg)` and returns 0; or returns `value`
    /// from [`faultdump_recover_to`] on the same `regs` (see
    /// [`crate::sys::recover`]).
    pub fn faultdump_recovery_call(
        regs: *mut RecoveryRegisters,
        f: extern "C" fn(*mut libc::c_void),
        arg: *mut libc::c_void,
    ) -> i32;
    /// Returns `value` from the [`faultdump_recovery_call`] that filled
    /// `regs`, whose frame must still be live.
    pub fn faultdump_recover_to(regs: *const RecoveryRegisters, value: i32) -> !;
}

core::arch::global_asm!(
    ".pushsection .text.faultdump_recovery_call,\"ax\",%progbits",
    ".p2align 4",
    ".type faultdump_recovery_call,%function",
    ".globl faultdump_recovery_call",
    ".hidden faultdump_recovery_call",
    "faultdump_recovery_call:",
    ".cfi_startproc",
    "stp x19, x20, [x0, #0]",
    "stp x21, x22, [x0, #16]",
    "stp x23, x24, [x0, #32]",
    "stp x25, x26, [x0, #48]",
    "stp x27, x28, [x0, #64]",
    "stp x29, x30, [x0, #80]",
    "mov x9, sp",
    "str x9, [x0, #96]",
    "stp d8, d9, [x0, #104]",
    "stp d10, d11, [x0, #120]",
    "stp d12, d13, [x0, #136]",
    "stp d14, d15, [x0, #152]",
    "stp x29, x30, [sp, #-16]!",
    ".cfi_def_cfa_offset 16",
    ".cfi_offset x29, -16",
    ".cfi_offset x30, -8",
    "mov x29, sp",
    "mov x16, x1",
    "mov x0, x2",
    "blr x16",
    "ldp x29, x30, [sp], #16",
    ".cfi_def_cfa_offset 0",
    ".cfi_restore x29",
    ".cfi_restore x30",
    "mov w0, #0",
    "ret",
    ".cfi_endproc",
    ".size faultdump_recovery_call, . - faultdump_recovery_call",
    ".type faultdump_recover_to,%function",
    ".globl faultdump_recover_to",
    ".hidden faultdump_recover_to",
    "faultdump_recover_to:",
    "ldp x19, x20, [x0, #0]",
    "ldp x21, x22, [x0, #16]",
    "ldp x23, x24, [x0, #32]",
    "ldp x25, x26, [x0, #48]",
    "ldp x27, x28, [x0, #64]",
    "ldp x29, x30, [x0, #80]",
    "ldr x9, [x0, #96]",
    "mov sp, x9",
    "ldp d8, d9, [x0, #104]",
    "ldp d10, d11, [x0, #120]",
    "ldp d12, d13, [x0, #136]",
    "ldp d14, d15, [x0, #152]",
    "mov w0, w1",
    "ret",
    ".size faultdump_recover_to, . - faultdump_recover_to",
    ".popsection",
);
