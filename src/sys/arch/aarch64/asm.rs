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
