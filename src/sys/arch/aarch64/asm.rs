//! aarch64 assembly: running a function on another stack, the start
//! routine of wrapped threads, and the `_Unwind_*` stand-ins (see the
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

unsafe extern "C" {
    /// The start routine of a wrapped thread, given an argument whose first
    /// word is a `prepare` function: calls `prepare(arg)`, which returns
    /// the program's routine and its argument (in `x0:x1`), then branches to
    /// that routine with the stack, x29 and x30 as the thread started, so
    /// that no frame of ours stays behind.
    fn faultdump_thread_trampoline();
}

/// [`faultdump_thread_trampoline`], as a value.
pub const THREAD_TRAMPOLINE: unsafe extern "C" fn() = faultdump_thread_trampoline;

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

core::arch::global_asm!(
    // _Unwind_Reason_Code _Unwind_Backtrace(trace, arg): _URC_END_OF_STACK.
    ".globl _Unwind_Backtrace",
    ".type _Unwind_Backtrace, %function",
    "_Unwind_Backtrace:",
    "    mov w0, #5",
    "    ret",
    // Accessors of an unwind context: there is never one.
    ".globl _Unwind_GetIP, _Unwind_GetIPInfo, _Unwind_GetDataRelBase",
    ".globl _Unwind_GetTextRelBase, _Unwind_GetRegionStart",
    ".globl _Unwind_GetLanguageSpecificData",
    ".type _Unwind_GetIP, %function",
    ".type _Unwind_GetIPInfo, %function",
    ".type _Unwind_GetDataRelBase, %function",
    ".type _Unwind_GetTextRelBase, %function",
    ".type _Unwind_GetRegionStart, %function",
    ".type _Unwind_GetLanguageSpecificData, %function",
    "_Unwind_GetIP:",
    "_Unwind_GetIPInfo:",
    "_Unwind_GetDataRelBase:",
    "_Unwind_GetTextRelBase:",
    "_Unwind_GetRegionStart:",
    "_Unwind_GetLanguageSpecificData:",
    "    mov x0, #0",
    "    ret",
    // Used only in the middle of an unwind, which panic=abort never starts.
    ".globl _Unwind_SetGR, _Unwind_SetIP, _Unwind_Resume",
    ".type _Unwind_SetGR, %function",
    ".type _Unwind_SetIP, %function",
    ".type _Unwind_Resume, %function",
    "_Unwind_SetGR:",
    "_Unwind_SetIP:",
    "_Unwind_Resume:",
    "    brk #0",
);
