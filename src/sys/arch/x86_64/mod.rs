//! x86_64 (see [`super`] for what each file holds).

mod asm;
mod code;
pub mod context;
mod registers;
pub mod sigframe;
pub mod syscalls;

pub use asm::{RecoveryRegisters, call_on_stack, faultdump_recover_to, faultdump_recovery_call};
pub use code::{
    CALL_LOOKBEHIND, SIGRETURN_CODE, follows_call, frame_pointer, return_from_bad_call,
    set_frame_pointer, unwind_regs,
};
pub use registers::{Registers, reg};
