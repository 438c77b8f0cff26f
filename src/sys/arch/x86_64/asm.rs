//! x86_64 assembly: running a function on another stack, the start routine
//! of wrapped threads, and the `_Unwind_*` stand-ins.

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

unsafe extern "C" {
    /// The start routine of a wrapped thread, given an argument whose first
    /// word is a `prepare` function: calls `prepare(arg)`, which returns
    /// the program's routine and its argument (in `rax:rdx`), then jumps to
    /// that routine with the stack as the thread started. The trampoline
    /// leaves no frame behind: the program's routine appears called by
    /// `start_thread` itself, and `pthread_exit` and cancellation unwind
    /// through nothing of ours (a Rust frame there, even an `extern
    /// "C-unwind"` one with nothing to drop, aborts the forced unwind when
    /// built with panic=abort).
    fn faultdump_thread_trampoline();
}

/// [`faultdump_thread_trampoline`], as a value.
pub const THREAD_TRAMPOLINE: unsafe extern "C" fn() = faultdump_thread_trampoline;

core::arch::global_asm!(
    ".pushsection .text.faultdump_thread_trampoline,\"ax\",@progbits",
    ".p2align 4",
    ".type faultdump_thread_trampoline,@function",
    ".globl faultdump_thread_trampoline",
    ".hidden faultdump_thread_trampoline",
    "faultdump_thread_trampoline:",
    ".cfi_startproc",
    // Entered with rsp = 8 mod 16; align for the call.
    "sub rsp, 8",
    ".cfi_adjust_cfa_offset 8",
    "call qword ptr [rdi]",
    "add rsp, 8",
    ".cfi_adjust_cfa_offset -8",
    "mov rdi, rdx",
    "jmp rax",
    ".cfi_endproc",
    ".size faultdump_thread_trampoline, . - faultdump_thread_trampoline",
    ".popsection",
);

// The library never unwinds: it is built with `panic = "abort"`, and its
// own stack walks use framehop, not the C unwinder. Rust's standard library
// still refers to a few `_Unwind_*` functions (for backtraces and its
// precompiled landing pads), which would otherwise bring in libgcc's
// unwinder: `libgcc_s.so.1` as one more file for the loader to open in
// every process, or, in the portable build, an unwinder that needs
// libpthread and libdl (see `crate::sys::libpthread`). These stand-ins satisfy
// those references: a backtrace is empty, and the functions used only
// while unwinding, which never happens, trap.
//
// They are local to the library (its version script exports nothing but
// the C API), so the host program's own C++ exceptions and Rust panics keep
// using the real unwinder.
core::arch::global_asm!(
    // _Unwind_Reason_Code _Unwind_Backtrace(trace, arg): _URC_END_OF_STACK.
    ".globl _Unwind_Backtrace",
    ".type _Unwind_Backtrace, @function",
    "_Unwind_Backtrace:",
    "    mov eax, 5",
    "    ret",
    // Accessors of an unwind context: there is never one.
    ".globl _Unwind_GetIP, _Unwind_GetIPInfo, _Unwind_GetDataRelBase",
    ".globl _Unwind_GetTextRelBase, _Unwind_GetRegionStart",
    ".globl _Unwind_GetLanguageSpecificData",
    ".type _Unwind_GetIP, @function",
    ".type _Unwind_GetIPInfo, @function",
    ".type _Unwind_GetDataRelBase, @function",
    ".type _Unwind_GetTextRelBase, @function",
    ".type _Unwind_GetRegionStart, @function",
    ".type _Unwind_GetLanguageSpecificData, @function",
    "_Unwind_GetIP:",
    "_Unwind_GetIPInfo:",
    "_Unwind_GetDataRelBase:",
    "_Unwind_GetTextRelBase:",
    "_Unwind_GetRegionStart:",
    "_Unwind_GetLanguageSpecificData:",
    "    xor eax, eax",
    "    ret",
    // Used only in the middle of an unwind, which panic=abort never starts.
    ".globl _Unwind_SetGR, _Unwind_SetIP, _Unwind_Resume",
    ".type _Unwind_SetGR, @function",
    ".type _Unwind_SetIP, @function",
    ".type _Unwind_Resume, @function",
    "_Unwind_SetGR:",
    "_Unwind_SetIP:",
    "_Unwind_Resume:",
    "    ud2",
);
