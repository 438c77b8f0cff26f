//! The library never unwinds: it is built with `panic = "abort"`, and its
//! own stack walks use framehop, not the C unwinder. Rust's standard library
//! still refers to a few `_Unwind_*` functions (for backtraces and its
//! precompiled landing pads), which would otherwise bring in libgcc's
//! unwinder: `libgcc_s.so.1` as one more file for the loader to open in
//! every process, or, in the portable build, an unwinder that needs
//! libpthread and libdl (see [`crate::libpthread`]). These stand-ins satisfy
//! those references: a backtrace is empty, and the functions used only
//! while unwinding, which never happens, trap.
//!
//! They are local to the library (its version script exports nothing but
//! the C API), so the host program's own C++ exceptions and Rust panics keep
//! using the real unwinder.

#[cfg(target_arch = "x86_64")]
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
