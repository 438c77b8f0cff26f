//! Where CPython keeps what a dump reads, per minor version (x86-64, LP64):
//! the offsets of the runtime's interpreter list, of thread states and
//! frames, of code objects' names and line tables. 3.8 to 3.12 from a
//! table checked against each version's headers; 3.13 from the
//! `_Py_DebugOffsets` CPython places at the start of `_PyRuntime`.

use super::lines::Table;

/// How a thread state names its thread.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ThreadId {
    /// `thread_id`, the thread's `pthread_self()` (3.8 to 3.10).
    Pthread(u64),
    /// `native_thread_id`, the kernel's tid (3.11 and later).
    Native(u64),
}

/// Where a frame's current instruction is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Instruction {
    /// `f_lasti` (an int) times `scale` is the byte offset (3.8 to 3.10).
    Lasti { offset: u64, scale: i64 },
    /// A pointer into the code object's `co_code_adaptive` (3.11+).
    Pointer { offset: u64 },
}

/// Which Python frames close the frames one native evaluation frame runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Entry {
    /// Every frame has its own evaluation frame (3.8 to 3.10).
    Every,
    /// The frame whose `is_entry` byte at this offset is set (3.11).
    Flag(u64),
    /// A shim frame (`owner` byte at this offset equal to
    /// `FRAME_OWNED_BY_CSTACK`) sits below each activation (3.12, 3.13).
    Shim(u64),
}

pub const FRAME_OWNED_BY_CSTACK: u8 = 3;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Layout {
    pub minor: u8,
    // _PyRuntime and PyInterpreterState.
    pub interpreters_head: u64,
    pub interp_next: u64,
    pub threads_head: u64,
    // PyThreadState.
    pub tstate_next: u64,
    /// The current frame, or (with `cframe_current`) the `_PyCFrame`.
    pub tstate_frame: u64,
    pub cframe_current: Option<u64>,
    pub thread_id: ThreadId,
    // Frames.
    pub frame_back: u64,
    pub frame_code: u64,
    pub instruction: Instruction,
    pub entry: Entry,
    // Code objects.
    pub first_line: u64,
    pub filename: u64,
    pub name: u64,
    pub qualname: Option<u64>,
    pub line_table: u64,
    pub table: Table,
    pub code_adaptive: u64,
    /// `sizeof(PyASCIIObject)`; the compact form's data follows 16 bytes later.
    pub ascii_size: u64,
    // Type objects, found by symbol when the interpreter is.
    pub code_type: u64,
    pub unicode_type: u64,
    pub bytes_type: u64,
}

/// The layout of 3.8 to 3.12 (types not yet filled in).
pub fn for_minor(minor: u8) -> Option<Layout> {
    let before_311 = Layout {
        minor,
        interpreters_head: 32,
        interp_next: 0,
        threads_head: 8,
        tstate_next: 8,
        tstate_frame: 24,
        cframe_current: None,
        thread_id: ThreadId::Pthread(176),
        frame_back: 24,
        frame_code: 32,
        instruction: Instruction::Lasti {
            offset: 104,
            scale: 1,
        },
        entry: Entry::Every,
        first_line: 40,
        filename: 104,
        name: 112,
        qualname: None,
        line_table: 120,
        table: Table::Lnotab,
        code_adaptive: 0,
        ascii_size: 48,
        code_type: 0,
        unicode_type: 0,
        bytes_type: 0,
    };
    Some(match minor {
        8 | 9 => before_311,
        10 => Layout {
            instruction: Instruction::Lasti {
                offset: 96,
                scale: 2,
            },
            table: Table::Pep626,
            ..before_311
        },
        11 => Layout {
            interpreters_head: 40,
            threads_head: 16,
            tstate_frame: 56,
            cframe_current: Some(8),
            thread_id: ThreadId::Native(160),
            frame_back: 48,
            frame_code: 32,
            instruction: Instruction::Pointer { offset: 56 },
            entry: Entry::Flag(68),
            first_line: 72,
            filename: 112,
            name: 120,
            qualname: Some(128),
            line_table: 136,
            table: Table::Locations,
            code_adaptive: 184,
            ..before_311
        },
        12 => Layout {
            interpreters_head: 40,
            threads_head: 72,
            tstate_frame: 56,
            cframe_current: Some(0),
            thread_id: ThreadId::Native(144),
            frame_back: 8,
            frame_code: 0,
            instruction: Instruction::Pointer { offset: 56 },
            entry: Entry::Shim(70),
            first_line: 68,
            filename: 112,
            name: 120,
            qualname: Some(128),
            line_table: 136,
            table: Table::Locations,
            code_adaptive: 192,
            ascii_size: 40,
            ..before_311
        },
        _ => return None,
    })
}

/// The 3.13 `_Py_DebugOffsets` as 64-bit words, cookie and version first.
pub const DEBUG_OFFSETS_WORDS: usize = 73;

/// The layout of 3.13 from its `_Py_DebugOffsets` (`pycore_runtime.h`):
/// `None` for a free-threaded build, whose objects differ.
pub fn from_debug_offsets_313(w: &[u64; DEBUG_OFFSETS_WORDS]) -> Option<Layout> {
    // Word indexes of the fields used, in the struct's order.
    const FREE_THREADED: usize = 2;
    const INTERPRETERS_HEAD: usize = 5;
    const INTERP_NEXT: usize = 8;
    const THREADS_HEAD: usize = 9;
    const TSTATE_NEXT: usize = 21;
    const CURRENT_FRAME: usize = 23;
    const NATIVE_THREAD_ID: usize = 25;
    const FRAME_PREVIOUS: usize = 29;
    const FRAME_EXECUTABLE: usize = 30;
    const FRAME_INSTR_PTR: usize = 31;
    const FRAME_OWNER: usize = 33;
    const CODE_FILENAME: usize = 35;
    const CODE_NAME: usize = 36;
    const CODE_QUALNAME: usize = 37;
    const CODE_LINETABLE: usize = 38;
    const CODE_FIRSTLINENO: usize = 39;
    const CODE_ADAPTIVE: usize = 43;
    const ASCII_SIZE: usize = 70;
    if w[FREE_THREADED] != 0 {
        return None;
    }
    // Offsets beyond any of these structures' sizes mean a table that is
    // not what it seems.
    let sane = [
        INTERPRETERS_HEAD,
        INTERP_NEXT,
        THREADS_HEAD,
        TSTATE_NEXT,
        CURRENT_FRAME,
        NATIVE_THREAD_ID,
        FRAME_PREVIOUS,
        FRAME_EXECUTABLE,
        FRAME_INSTR_PTR,
        FRAME_OWNER,
        CODE_FILENAME,
        CODE_NAME,
        CODE_QUALNAME,
        CODE_LINETABLE,
        CODE_FIRSTLINENO,
        CODE_ADAPTIVE,
        ASCII_SIZE,
    ]
    .iter()
    .all(|&i| w[i] < 1 << 20);
    sane.then(|| Layout {
        minor: 13,
        interpreters_head: w[INTERPRETERS_HEAD],
        interp_next: w[INTERP_NEXT],
        threads_head: w[THREADS_HEAD],
        tstate_next: w[TSTATE_NEXT],
        tstate_frame: w[CURRENT_FRAME],
        cframe_current: None,
        thread_id: ThreadId::Native(w[NATIVE_THREAD_ID]),
        frame_back: w[FRAME_PREVIOUS],
        frame_code: w[FRAME_EXECUTABLE],
        instruction: Instruction::Pointer {
            offset: w[FRAME_INSTR_PTR],
        },
        entry: Entry::Shim(w[FRAME_OWNER]),
        first_line: w[CODE_FIRSTLINENO],
        filename: w[CODE_FILENAME],
        name: w[CODE_NAME],
        qualname: Some(w[CODE_QUALNAME]),
        line_table: w[CODE_LINETABLE],
        table: Table::Locations,
        code_adaptive: w[CODE_ADAPTIVE],
        ascii_size: w[ASCII_SIZE],
        code_type: 0,
        unicode_type: 0,
        bytes_type: 0,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_per_minor() {
        assert!(for_minor(7).is_none() && for_minor(13).is_none());
        let l10 = for_minor(10).unwrap();
        assert_eq!(l10.table, Table::Pep626);
        assert_eq!(
            l10.instruction,
            Instruction::Lasti {
                offset: 96,
                scale: 2
            }
        );
        assert_eq!(for_minor(11).unwrap().entry, Entry::Flag(68));
        assert_eq!(for_minor(12).unwrap().entry, Entry::Shim(70));
    }

    #[test]
    fn reads_313_debug_offsets() {
        // Values a live 3.13.0 gives.
        let mut w = [0u64; DEBUG_OFFSETS_WORDS];
        w[5] = 0x278;
        w[9] = 0x1cb0;
        w[23] = 0x48;
        w[25] = 0xa0;
        w[31] = 0x38;
        w[33] = 0x46;
        w[43] = 0xc8;
        w[70] = 40;
        let l = from_debug_offsets_313(&w).unwrap();
        assert_eq!(l.interpreters_head, 632);
        assert_eq!(l.thread_id, ThreadId::Native(160));
        assert_eq!(l.entry, Entry::Shim(70));
        assert_eq!(l.code_adaptive, 200);
        w[2] = 1;
        assert!(from_debug_offsets_313(&w).is_none(), "free-threaded");
    }
}
