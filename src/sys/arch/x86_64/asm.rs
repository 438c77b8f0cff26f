//! x86_64 assembly: running a function on another stack, the start routine
//! of wrapped threads, and the unwinder stand-ins.

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
    // SAFETY: per the contract; the callee follows the C ABI, and r12
    // (callee-saved) carries the old stack pointer across the call.
    unsafe {
        core::arch::asm!(
            "mov r12, rsp",
            "mov rsp, {top}",
            "call {f}",
            "mov rsp, r12",
            top = in(reg) top,
            f = in(reg) f,
            in("rdi") arg,
            out("r12") _,
            clobber_abi("C"),
        );
    }
}

core::arch::global_asm!(
    ".pushsection .text.faultdump_thread_trampoline,\"ax\",@progbits",
    ".p2align 4",
    ".type faultdump_thread_trampoline,@function",
    ".globl faultdump_thread_trampoline",
    ".hidden faultdump_thread_trampoline",
    "faultdump_thread_trampoline:",
    ".cfi_startproc",
    // A frame of its own (which also aligns the stack for the call: entered
    // with rsp = 8 mod 16), so that a frame-pointer walk from `prepare`
    // goes on to start_thread; taken down before the jump.
    "push rbp",
    ".cfi_adjust_cfa_offset 8",
    ".cfi_offset rbp, -16",
    "mov rbp, rsp",
    "call qword ptr [rdi]",
    "pop rbp",
    ".cfi_adjust_cfa_offset -8",
    ".cfi_restore rbp",
    "mov rdi, rdx",
    "jmp rax",
    ".cfi_endproc",
    ".size faultdump_thread_trampoline, . - faultdump_thread_trampoline",
    ".popsection",
);

crate::sys::arch::unwind_stand_ins!(continue_unwind: "    mov eax, 8", trap: "    ud2");

/// The registers a recovery point restores: the callee-saved ones (rbx,
/// rbp, r12-r15), the stack pointer after the return, and the return
/// address.
pub type RecoveryRegisters = [u64; 8];

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
    ".pushsection .text.faultdump_recovery_call,\"ax\",@progbits",
    ".p2align 4",
    ".type faultdump_recovery_call,@function",
    ".globl faultdump_recovery_call",
    ".hidden faultdump_recovery_call",
    "faultdump_recovery_call:",
    ".cfi_startproc",
    "mov [rdi], rbx",
    "mov [rdi + 8], rbp",
    "mov [rdi + 16], r12",
    "mov [rdi + 24], r13",
    "mov [rdi + 32], r14",
    "mov [rdi + 40], r15",
    "lea rax, [rsp + 8]",
    "mov [rdi + 48], rax",
    "mov rax, [rsp]",
    "mov [rdi + 56], rax",
    // Entered with rsp = 8 mod 16; align for the call.
    "sub rsp, 8",
    ".cfi_adjust_cfa_offset 8",
    "mov rax, rsi",
    "mov rdi, rdx",
    "call rax",
    "add rsp, 8",
    ".cfi_adjust_cfa_offset -8",
    "xor eax, eax",
    "ret",
    ".cfi_endproc",
    ".size faultdump_recovery_call, . - faultdump_recovery_call",
    ".type faultdump_recover_to,@function",
    ".globl faultdump_recover_to",
    ".hidden faultdump_recover_to",
    "faultdump_recover_to:",
    "mov rbx, [rdi]",
    "mov rbp, [rdi + 8]",
    "mov r12, [rdi + 16]",
    "mov r13, [rdi + 24]",
    "mov r14, [rdi + 32]",
    "mov r15, [rdi + 40]",
    "mov rsp, [rdi + 48]",
    "mov eax, esi",
    "jmp qword ptr [rdi + 56]",
    ".size faultdump_recover_to, . - faultdump_recover_to",
    ".popsection",
);
