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
