//! One thread's Python frames, innermost first, read from its thread state
//! while the thread is stopped: each frame's function, file and line copied
//! out (so that printing, after the threads run again, reads nothing), and
//! how they group into the activations of native evaluation frames.

use alloc::vec::Vec;
use core::ops::Range;

use crate::sys::memory::Memory;

use super::layout::{Entry, FRAME_OWNED_BY_CSTACK, Instruction, Layout};
use super::lines;
use super::strings;

/// Bound on the frames read from one thread (a cycle ends there too).
pub const MAX_FRAMES: usize = 4096;
/// Bound on one line table read (the largest in the standard library are
/// a few KiB).
const MAX_LINE_TABLE: u64 = 1 << 20;

pub struct PyFrame {
    /// Byte ranges of [`PyStack::text`]; empty when unreadable.
    pub function: Range<usize>,
    pub file: Range<usize>,
    pub line: Option<u32>,
}

/// A thread's Python frames, innermost first.
pub struct PyStack {
    pub frames: Vec<PyFrame>,
    /// How many frames each native evaluation frame runs, innermost
    /// activation first (some may run none, as a 3.12 shim just pushed).
    pub activations: Vec<usize>,
    pub text: Vec<u8>,
    /// The walk stopped at [`MAX_FRAMES`].
    pub cut: bool,
}

impl PyStack {
    pub fn function(&self, f: &PyFrame) -> &[u8] {
        &self.text[f.function.clone()]
    }

    pub fn file(&self, f: &PyFrame) -> &[u8] {
        &self.text[f.file.clone()]
    }
}

/// Reads the frames of thread state `tstate`.
pub fn read(memory: &Memory, layout: &Layout, tstate: u64) -> PyStack {
    let mut stack = PyStack {
        frames: Vec::new(),
        activations: Vec::new(),
        text: Vec::new(),
        cut: false,
    };
    let mut frame = memory.read_u64(tstate + layout.tstate_frame).unwrap_or(0);
    if let Some(current) = layout.cframe_current {
        frame = if frame == 0 {
            0
        } else {
            memory.read_u64(frame + current).unwrap_or(0)
        };
    }
    // Frames of the activation being gathered.
    let mut open = 0;
    let mut steps = 0;
    while super::aligned(frame) {
        if steps == MAX_FRAMES {
            stack.cut = true;
            break;
        }
        steps += 1;
        let (shim, closes) = match layout.entry {
            Entry::Every => (false, true),
            Entry::Flag(off) => (false, read_u8(memory, frame + off) != Some(0)),
            Entry::Shim(off) => (
                read_u8(memory, frame + off) == Some(FRAME_OWNED_BY_CSTACK),
                false,
            ),
        };
        if shim {
            stack.activations.push(open);
            open = 0;
        } else {
            let f = read_frame(memory, layout, frame, &mut stack.text);
            stack.frames.push(f);
            open += 1;
            if closes {
                stack.activations.push(open);
                open = 0;
            }
        }
        let back = memory.read_u64(frame + layout.frame_back).unwrap_or(0);
        if back == frame {
            break;
        }
        frame = back;
    }
    if open > 0 {
        stack.activations.push(open);
    }
    stack
}

fn read_u8(memory: &Memory, addr: u64) -> Option<u8> {
    let mut b = [0u8; 1];
    memory.read(addr, &mut b).then_some(b[0])
}

fn read_i32(memory: &Memory, addr: u64) -> Option<i32> {
    let mut b = [0u8; 4];
    memory.read(addr, &mut b).then(|| i32::from_ne_bytes(b))
}

fn read_frame(memory: &Memory, layout: &Layout, frame: u64, text: &mut Vec<u8>) -> PyFrame {
    let mut f = PyFrame {
        function: 0..0,
        file: 0..0,
        line: None,
    };
    let code = memory.read_u64(frame + layout.frame_code).unwrap_or(0);
    if !super::aligned(code) || memory.read_u64(code + 8) != Some(layout.code_type) {
        return f;
    }
    let string = |field: u64, text: &mut Vec<u8>| {
        let start = text.len();
        let obj = memory.read_u64(code + field).unwrap_or(0);
        strings::read(memory, layout, obj, text);
        start..text.len()
    };
    f.function = string(layout.qualname.unwrap_or(layout.name), text);
    if f.function.is_empty() && layout.qualname.is_some() {
        f.function = string(layout.name, text);
    }
    f.file = string(layout.filename, text);
    f.line = line(memory, layout, frame, code);
    f
}

/// The frame's current line, as CPython's faulthandler computes it.
fn line(memory: &Memory, layout: &Layout, frame: u64, code: u64) -> Option<u32> {
    let first = read_i32(memory, code + layout.first_line)?;
    let addr = match layout.instruction {
        Instruction::Lasti { offset, scale } => {
            i64::from(read_i32(memory, frame + offset)?) * scale
        }
        Instruction::Pointer { offset } => {
            let at = memory.read_u64(frame + offset)?;
            (at as i64).wrapping_sub((code + layout.code_adaptive) as i64) & !1
        }
    };
    let table = memory.read_u64(code + layout.line_table)?;
    if !super::aligned(table) || memory.read_u64(table + 8) != Some(layout.bytes_type) {
        return None;
    }
    // PyBytesObject: ob_size at 16, the bytes at 32.
    let len = memory.read_u64(table + 16)?.min(MAX_LINE_TABLE);
    let bytes = if len == 0 {
        &[][..]
    } else {
        memory.slice(table + 32, len)?
    };
    // Read in place: under a recovery point (see `Memory::slice`).
    let line = crate::sys::recover::guarded(|| lines::line_at(layout.table, bytes, first, addr))
        .ok()
        .flatten()?;
    u32::try_from(line).ok()
}
