//! Everything aarch64-specific: the twin of the x86_64 code (registers, the
//! signal context, the signal trampoline, call instructions, pointer
//! authentication, the dump-stack switch, the `_Unwind_*` stand-ins).
//!
//! Async-signal-safe: reads go through [`Memory`] or the kernel's own
//! context; nothing allocates.

use framehop::aarch64::{PtrAuthMask, UnwindRegsAarch64};

use crate::memory::Memory;

/// Register indexes of [`crate::unwind::Registers`] on aarch64: x0 to x30,
/// then sp, pc, pstate, the fault address and the exception syndrome (ESR,
/// from the context's `esr_context` record; 0 when the kernel gave none).
pub mod reg {
    pub const FP: usize = 29;
    pub const LR: usize = 30;
    pub const SP: usize = 31;
    pub const PC: usize = 32;
    pub const PSTATE: usize = 33;
    pub const FAR: usize = 34;
    pub const ESR: usize = 35;
    pub const COUNT: usize = 36;
    /// Names in the order a dump prints them, with their index: gdb's names.
    pub const PRINTED: [(&str, usize); COUNT] = [
        ("x0", 0),
        ("x1", 1),
        ("x2", 2),
        ("x3", 3),
        ("x4", 4),
        ("x5", 5),
        ("x6", 6),
        ("x7", 7),
        ("x8", 8),
        ("x9", 9),
        ("x10", 10),
        ("x11", 11),
        ("x12", 12),
        ("x13", 13),
        ("x14", 14),
        ("x15", 15),
        ("x16", 16),
        ("x17", 17),
        ("x18", 18),
        ("x19", 19),
        ("x20", 20),
        ("x21", 21),
        ("x22", 22),
        ("x23", 23),
        ("x24", 24),
        ("x25", 25),
        ("x26", 26),
        ("x27", 27),
        ("x28", 28),
        ("x29", FP),
        ("x30", LR),
        ("sp", SP),
        ("pc", PC),
        ("pstate", PSTATE),
        ("far", FAR),
        ("esr", ESR),
    ];
}

/// `offsetof(ucontext_t, uc_mcontext)`: the same for glibc, musl and the
/// kernel (a 128-byte signal mask, then 16-byte alignment).
const UC_MCONTEXT: u64 = core::mem::offset_of!(libc::ucontext_t, uc_mcontext) as u64;
/// `struct sigcontext`: fault_address, regs[31], sp, pc, pstate (280 bytes),
/// then `__reserved[4096]`, 16-byte aligned, holding tagged records.
const SIGCONTEXT_HEAD: usize = 8 + 31 * 8 + 3 * 8;
const SIGCONTEXT_RESERVED: u64 = 288;
const RESERVED_SIZE: u64 = 4096;
/// `struct esr_context` (`<asm/sigcontext.h>`): header, then the ESR.
const ESR_MAGIC: u32 = 0x4553_5201;
/// `sizeof(siginfo_t)`: the kernel's `rt_sigframe` starts with it, then the
/// `ucontext_t`. A handler starts with sp at the frame.
const SIGINFO_SIZE: u64 = 128;

/// The registers of a signal context at `uc`, read with `read` (false: the
/// memory cannot be read).
fn read_context(
    uc: u64,
    mut read: impl FnMut(u64, &mut [u8]) -> bool,
) -> Option<[u64; reg::COUNT]> {
    let mc = uc + UC_MCONTEXT;
    let mut head = [0u8; SIGCONTEXT_HEAD];
    if !read(mc, &mut head) {
        return None;
    }
    let word = |b: &[u8]| u64::from_ne_bytes(b.try_into().unwrap_or_default());
    let mut gregs = [0u64; reg::COUNT];
    // regs[31], sp, pc, pstate follow fault_address in order.
    for (dst, src) in gregs[..=reg::PSTATE]
        .iter_mut()
        .zip(head[8..].chunks_exact(8))
    {
        *dst = word(src);
    }
    gregs[reg::FAR] = word(&head[..8]);
    // The records: {u32 magic, u32 size}, each a multiple of 16 bytes, up
    // to one with magic 0.
    let mut offset = 0;
    while offset + 16 <= RESERVED_SIZE {
        let mut record = [0u8; 16];
        if !read(mc + SIGCONTEXT_RESERVED + offset, &mut record) {
            break;
        }
        let magic = u32::from_ne_bytes(record[..4].try_into().unwrap_or_default());
        let size = u64::from(u32::from_ne_bytes(
            record[4..8].try_into().unwrap_or_default(),
        ));
        if magic == 0 || size < 16 || size % 16 != 0 {
            break;
        }
        if magic == ESR_MAGIC {
            gregs[reg::ESR] = word(&record[8..]);
            break;
        }
        offset += size;
    }
    Some(gregs)
}

/// # Safety
/// `uc` must point to a `ucontext_t` the kernel passed to a handler.
pub unsafe fn gregs_from_ucontext(uc: *const libc::c_void) -> [u64; reg::COUNT] {
    read_context(uc as u64, |addr, buf| {
        // SAFETY: per the contract, the whole context (its records
        // included) is mapped and readable.
        unsafe { core::ptr::copy_nonoverlapping(addr as *const u8, buf.as_mut_ptr(), buf.len()) };
        true
    })
    .unwrap_or([0; reg::COUNT])
}

/// The context a signal interrupted, from the signal frame at `sp` (where
/// the handler started; its return address is the trampoline).
pub fn gregs_from_signal_frame(memory: &Memory, sp: u64) -> Option<[u64; reg::COUNT]> {
    read_context(sp + SIGINFO_SIZE, |addr, buf| memory.read(addr, buf))
}

/// `mov x8, #139; svc #0` (rt_sigreturn): the kernel's vDSO
/// `__kernel_rt_sigreturn`, musl's `__restore_rt`, qemu's trampoline.
pub const SIGRETURN_CODE: [u8; 8] = [0x68, 0x11, 0x80, 0xd2, 0x01, 0x00, 0x00, 0xd4];

/// Whether the instruction before `ra` is a call: `bl`, `blr`, or one of
/// the authenticating `blraa`/`blrab` forms.
pub fn follows_call(memory: &Memory, ra: u64) -> bool {
    let mut b = [0u8; 4];
    if ra < 4 || !memory.read(ra - 4, &mut b) {
        return false;
    }
    let insn = u32::from_le_bytes(b);
    insn & 0xfc00_0000 == 0x9400_0000
        || insn & 0xffff_fc1f == 0xd63f_0000
        || insn & 0xfeff_f800 == 0xd63f_0800
}

/// The mask that strips a pointer-authentication code from a return
/// address (code built with `-mbranch-protection=standard` signs the
/// return addresses it saves): every bit above the highest code address.
pub fn ptr_auth_mask(max_code_address: u64) -> PtrAuthMask {
    PtrAuthMask::from_max_known_address(max_code_address)
}

/// framehop's registers for a context.
pub fn unwind_regs(gregs: &[u64; reg::COUNT], mask: PtrAuthMask) -> UnwindRegsAarch64 {
    UnwindRegsAarch64::new_with_ptr_auth_mask(mask, gregs[reg::LR], gregs[reg::SP], gregs[reg::FP])
}

pub fn frame_pointer(regs: &UnwindRegsAarch64) -> u64 {
    regs.fp()
}

/// A frame pointer found on the stack for a context known only by pc and
/// sp: its frame record `{fp, lr}` also gives the return address of the
/// innermost (leaf) frame.
pub fn set_frame_pointer(regs: &mut UnwindRegsAarch64, memory: &Memory, fp: u64) {
    regs.set_fp(fp);
    if let Some(lr) = memory.read_u64(fp + 8) {
        regs.set_lr(lr);
    }
}

/// After a call through a pointer to no code: the return address (in the
/// link register; `bl`/`blr` push nothing) and the stack pointer then.
pub fn bad_call_return(
    gregs: &[u64; reg::COUNT],
    _memory: &Memory,
    mask: PtrAuthMask,
) -> Option<(u64, u64)> {
    Some((mask.strip_ptr_auth(gregs[reg::LR]), gregs[reg::SP]))
}

/// System call names by number (the kernel's generic numbering,
/// `<asm-generic/unistd.h>`, up to 466), as `crate::syscalls` wants them.
#[rustfmt::skip]
pub const SYSCALL_NAMES: &str = concat!(
    "io_setup io_destroy io_submit io_cancel io_getevents setxattr lsetxattr ",
    "fsetxattr getxattr lgetxattr fgetxattr listxattr llistxattr flistxattr ",
    "removexattr lremovexattr fremovexattr getcwd lookup_dcookie eventfd2 ",
    "epoll_create1 epoll_ctl epoll_pwait dup dup3 - inotify_init1 inotify_add_watch ",
    "inotify_rm_watch ioctl ioprio_set ioprio_get flock mknodat mkdirat unlinkat ",
    "symlinkat linkat renameat umount2 mount pivot_root nfsservctl - - - - fallocate ",
    "faccessat chdir fchdir chroot fchmod fchmodat fchownat fchown openat close ",
    "vhangup pipe2 quotactl getdents64 - read write readv writev pread64 pwrite64 ",
    "preadv pwritev - pselect6 ppoll signalfd4 vmsplice splice tee readlinkat - - ",
    "sync fsync fdatasync sync_file_range timerfd_create timerfd_settime ",
    "timerfd_gettime utimensat acct capget capset personality exit exit_group waitid ",
    "set_tid_address unshare futex set_robust_list get_robust_list nanosleep ",
    "getitimer setitimer kexec_load init_module delete_module timer_create ",
    "timer_gettime timer_getoverrun timer_settime timer_delete clock_settime ",
    "clock_gettime clock_getres clock_nanosleep syslog ptrace sched_setparam ",
    "sched_setscheduler sched_getscheduler sched_getparam sched_setaffinity ",
    "sched_getaffinity sched_yield sched_get_priority_max sched_get_priority_min ",
    "sched_rr_get_interval restart_syscall kill tkill tgkill sigaltstack ",
    "rt_sigsuspend rt_sigaction rt_sigprocmask rt_sigpending rt_sigtimedwait ",
    "rt_sigqueueinfo rt_sigreturn setpriority getpriority reboot setregid setgid ",
    "setreuid setuid setresuid getresuid setresgid getresgid setfsuid setfsgid times ",
    "setpgid getpgid getsid setsid getgroups setgroups uname sethostname ",
    "setdomainname getrlimit setrlimit getrusage umask prctl getcpu gettimeofday ",
    "settimeofday adjtimex getpid getppid getuid geteuid getgid getegid gettid ",
    "sysinfo mq_open mq_unlink mq_timedsend mq_timedreceive mq_notify mq_getsetattr ",
    "msgget msgctl msgrcv msgsnd semget semctl semtimedop semop shmget shmctl shmat ",
    "shmdt socket socketpair bind listen accept connect getsockname getpeername ",
    "sendto recvfrom setsockopt getsockopt shutdown sendmsg recvmsg readahead brk ",
    "munmap mremap add_key request_key keyctl clone execve - - swapon swapoff ",
    "mprotect msync mlock munlock mlockall munlockall mincore madvise ",
    "remap_file_pages mbind get_mempolicy set_mempolicy migrate_pages move_pages ",
    "rt_tgsigqueueinfo perf_event_open accept4 recvmmsg arch_specific_syscall - - - ",
    "- - - - - - - - - - - - wait4 prlimit64 fanotify_init fanotify_mark ",
    "name_to_handle_at open_by_handle_at clock_adjtime syncfs setns sendmmsg ",
    "process_vm_readv process_vm_writev kcmp finit_module sched_setattr ",
    "sched_getattr renameat2 seccomp getrandom memfd_create bpf execveat userfaultfd ",
    "membarrier mlock2 copy_file_range preadv2 pwritev2 pkey_mprotect pkey_alloc ",
    "pkey_free statx io_pgetevents rseq kexec_file_load - - - - - - - - - - - - - - ",
    "- - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - ",
    "- - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - ",
    "- - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - ",
    "pidfd_send_signal io_uring_setup io_uring_enter io_uring_register open_tree ",
    "move_mount fsopen fsconfig fsmount fspick pidfd_open clone3 close_range openat2 ",
    "pidfd_getfd faccessat2 process_madvise epoll_pwait2 mount_setattr quotactl_fd ",
    "landlock_create_ruleset landlock_add_rule landlock_restrict_self memfd_secret ",
    "process_mrelease futex_waitv set_mempolicy_home_node cachestat fchmodat2 ",
    "map_shadow_stack futex_wake futex_wait futex_requeue statmount listmount ",
    "lsm_get_self_attr lsm_set_self_attr lsm_list_modules mseal setxattrat ",
    "getxattrat listxattrat removexattrat",
);

/// ESR exception classes (`ESR_ELx.EC`, bits 31:26): instruction and data
/// aborts from user space; `WnR` (bit 6) tells a data write.
const EC_IABT_LOW: u64 = 0x20;
const EC_DABT_LOW: u64 = 0x24;
const ESR_WNR: u64 = 1 << 6;

/// Whether the fault was an instruction fetch (ESR known and says so).
pub fn fault_is_fetch(gregs: &[u64; reg::COUNT]) -> bool {
    gregs[reg::ESR] >> 26 == EC_IABT_LOW
}

/// Whether the fault was a write (ESR known and says so).
pub fn fault_is_write(gregs: &[u64; reg::COUNT]) -> bool {
    let esr = gregs[reg::ESR];
    esr >> 26 == EC_DABT_LOW && esr & ESR_WNR != 0
}

/// The caller's pc, sp and frame pointer.
#[inline(always)]
pub fn here() -> (u64, u64, u64) {
    let (pc, sp, fp): (u64, u64, u64);
    // SAFETY: reads three registers; touches no memory.
    unsafe {
        core::arch::asm!(
            "adr {pc}, .",
            "mov {sp}, sp",
            "mov {fp}, x29",
            pc = out(reg) pc,
            sp = out(reg) sp,
            fp = out(reg) fp,
            options(nomem, nostack, preserves_flags),
        );
    }
    (pc, sp, fp)
}

/// Calls `f(arg)` with the stack pointer at `top`, then returns to the
/// current stack.
///
/// # Safety
/// `top` must be the 16-byte aligned end of a mapping reserved for this.
pub unsafe fn call_on_stack(
    top: usize,
    f: extern "C" fn(*mut libc::c_void),
    arg: *mut libc::c_void,
) {
    // SAFETY: per the contract; x20 (callee-saved) carries the old stack
    // pointer across the call, which follows the C ABI.
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

// The `_Unwind_*` stand-ins (see crate::nounwind).
core::arch::global_asm!(
    ".globl _Unwind_Backtrace",
    ".type _Unwind_Backtrace, %function",
    "_Unwind_Backtrace:",
    "    mov w0, #5",
    "    ret",
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
    ".globl _Unwind_SetGR, _Unwind_SetIP, _Unwind_Resume",
    ".type _Unwind_SetGR, %function",
    ".type _Unwind_SetIP, %function",
    ".type _Unwind_Resume, %function",
    "_Unwind_SetGR:",
    "_Unwind_SetIP:",
    "_Unwind_Resume:",
    "    brk #0",
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn esr_decoding() {
        let mut g = [0u64; reg::COUNT];
        g[reg::ESR] = (EC_DABT_LOW << 26) | ESR_WNR | 0x7;
        assert!(fault_is_write(&g) && !fault_is_fetch(&g));
        g[reg::ESR] = EC_DABT_LOW << 26;
        assert!(!fault_is_write(&g));
        g[reg::ESR] = EC_IABT_LOW << 26;
        assert!(fault_is_fetch(&g));
    }
}
