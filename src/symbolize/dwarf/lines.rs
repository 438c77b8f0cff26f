//! A unit's line table, read the way gdb reads it, so that a frame gets the
//! line gdb shows: rows with line 0 are dropped (the row before them goes
//! on); a row that switches file at the address of the previous row without
//! being a statement is dropped; a switch of file or the end of a sequence
//! ends the previous file's run at that address (removing its rows there);
//! an address takes the last row at or before it, with end marks before
//! rows at the same address, and among rows at that same address a
//! statement row.
//!
//! The program runs only until the sequence holding the address is
//! complete, and resumes from there for the next address of the unit.

use alloc::vec::Vec;
use gimli::{IncompleteLineProgram, LineRows};

use super::budget::Budget;
use super::reader::Reader;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Row {
    addr: u64,
    /// 0 marks the end of a run.
    line: u32,
    file: u32,
    stmt: bool,
}

/// A finished sequence: its address range and its rows.
#[derive(Clone, Copy, Debug)]
struct Sequence {
    begin: u64,
    end: u64,
    rows: (usize, usize),
}

/// Budget checks while running a line program.
const CHECK_EVERY: usize = 4096;

/// A source position: an index into the line program's file table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Position {
    pub file: u64,
    pub line: u32,
}

pub struct LineTable<'s> {
    builder: Builder,
    /// The rest of the program; `None` once it ended or failed.
    program: Option<LineRows<Reader<'s>, IncompleteLineProgram<Reader<'s>>, usize>>,
}

impl<'s> LineTable<'s> {
    pub fn new(program: IncompleteLineProgram<Reader<'s>>) -> LineTable<'s> {
        LineTable {
            builder: Builder::default(),
            program: Some(program.rows()),
        }
    }

    /// The position of `addr`, as gdb finds it, running more of the program
    /// if no sequence read so far holds it.
    pub fn lookup(&mut self, addr: u64, budget: &Budget) -> Option<Position> {
        if let Some(found) = self.builder.lookup(addr) {
            return found;
        }
        let rows = self.program.as_mut()?;
        let mut count = 0usize;
        loop {
            count += 1;
            if count.is_multiple_of(CHECK_EVERY) && budget.spent().is_some() {
                return None;
            }
            let Ok(Some((_, row))) = rows.next_row() else {
                self.program = None;
                return None;
            };
            let line = row
                .line()
                .map_or(0, |l| u32::try_from(l.get()).unwrap_or(u32::MAX));
            let file = u32::try_from(row.file_index()).unwrap_or(u32::MAX);
            let ended = row.end_sequence();
            self.builder
                .row(row.address(), file, line, row.is_stmt(), ended);
            if ended && let Some(found) = self.builder.lookup(addr) {
                return found;
            }
        }
    }
}

#[derive(Default)]
struct Builder {
    rows: Vec<Row>,
    sequences: Vec<Sequence>,
    /// Where the current sequence's rows start.
    start: usize,
    /// The file of the last row kept in this sequence.
    last_file: Option<u32>,
    last_addr: Option<u64>,
}

impl Builder {
    fn row(&mut self, addr: u64, file: u32, line: u32, stmt: bool, end_sequence: bool) {
        if end_sequence {
            if let Some(f) = self.last_file {
                self.end_run(addr, f);
            }
            self.finish_sequence(addr);
            return;
        }
        let file_changed = self.last_file != Some(file);
        let ignore = line == 0 || (file_changed && self.last_addr == Some(addr) && !stmt);
        self.last_addr = Some(addr);
        if ignore {
            return;
        }
        if file_changed && let Some(f) = self.last_file {
            self.end_run(addr, f);
        }
        self.rows.push(Row {
            addr,
            line,
            file,
            stmt,
        });
        self.last_file = Some(file);
    }

    /// The end mark of `file`'s run at `addr`: its rows at that address go,
    /// and a run left empty gets no mark.
    fn end_run(&mut self, addr: u64, file: u32) {
        let mut last_line = None;
        while self.rows.len() > self.start {
            let r = self.rows[self.rows.len() - 1];
            if r.file != file {
                break;
            }
            last_line = Some(r.line);
            if r.addr != addr {
                break;
            }
            self.rows.pop();
        }
        if last_line.is_some_and(|l| l != 0) {
            self.rows.push(Row {
                addr,
                line: 0,
                file,
                stmt: true,
            });
        }
    }

    fn finish_sequence(&mut self, end: u64) {
        let rows = &mut self.rows[self.start..];
        // Addresses only grow within a sequence; broken data is put in order
        // (stable: program order among equal addresses, end marks first).
        if rows.windows(2).any(|w| w[0].addr > w[1].addr) {
            rows.sort_by_key(|r| (r.addr, r.line != 0));
        }
        if let Some(first) = rows.first()
            // A start of 0 is code the linker discarded.
            && first.addr != 0
            && first.addr < end
        {
            self.sequences.push(Sequence {
                begin: first.addr,
                end,
                rows: (self.start, self.rows.len()),
            });
        }
        self.start = self.rows.len();
        self.last_file = None;
        self.last_addr = None;
    }

    /// `Some(answer)` when a finished sequence holds `addr`.
    fn lookup(&self, addr: u64) -> Option<Option<Position>> {
        let seq = self
            .sequences
            .iter()
            .find(|s| s.begin <= addr && addr < s.end)?;
        let rows = &self.rows[seq.rows.0..seq.rows.1];
        let Some(mut best) = rows.partition_point(|r| r.addr <= addr).checked_sub(1) else {
            return Some(None);
        };
        if !rows[best].stmt {
            let mut t = best;
            while t > 0
                && rows[t - 1].addr == rows[t].addr
                && rows[t - 1].line != 0
                && !rows[t].stmt
            {
                t -= 1;
            }
            if rows[t].stmt {
                best = t;
            }
        }
        let row = rows[best];
        Some((row.line != 0).then_some(Position {
            file: u64::from(row.file),
            line: row.line,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(rows: &[(u64, u32, u32, bool, bool)]) -> Builder {
        let mut b = Builder::default();
        for &(addr, file, line, stmt, end) in rows {
            b.row(addr, file, line, stmt, end);
        }
        b
    }

    fn at(t: &Builder, addr: u64) -> Option<(u64, u32)> {
        t.lookup(addr).flatten().map(|p| (p.file, p.line))
    }

    #[test]
    fn last_row_at_or_before_within_a_sequence() {
        let t = table(&[
            (0x10, 1, 5, true, false),
            (0x14, 1, 6, true, false),
            (0x18, 1, 0, true, false), // line 0: row 6 goes on
            (0x1c, 1, 7, true, false),
            (0x20, 1, 7, true, true),
        ]);
        assert_eq!(at(&t, 0x0f), None);
        assert_eq!(at(&t, 0x10), Some((1, 5)));
        assert_eq!(at(&t, 0x13), Some((1, 5)));
        assert_eq!(at(&t, 0x19), Some((1, 6)));
        assert_eq!(at(&t, 0x1f), Some((1, 7)));
        assert_eq!(at(&t, 0x20), None, "past the end of the sequence");
    }

    #[test]
    fn file_switches_and_statements() {
        let t = table(&[
            (0x10, 1, 5, true, false),
            (0x14, 2, 40, true, false), // inlined header code
            (0x14, 2, 41, false, false),
            (0x18, 1, 6, false, false), // back, not a statement, new address
            (0x1c, 1, 8, true, false),
            (0x1c, 3, 9, false, false), // switch at same address, not stmt: dropped
            (0x24, 1, 8, true, true),
        ]);
        assert_eq!(at(&t, 0x14), Some((2, 40)), "the statement row at 0x14");
        assert_eq!(at(&t, 0x17), Some((2, 40)));
        assert_eq!(at(&t, 0x18), Some((1, 6)));
        assert_eq!(at(&t, 0x1d), Some((1, 8)));
    }

    #[test]
    fn a_switch_at_the_same_address_replaces_the_old_files_rows() {
        let t = table(&[
            (0x10, 1, 5, true, false),
            (0x14, 1, 6, true, false),
            (0x14, 2, 30, true, false),
            (0x20, 2, 30, true, true),
        ]);
        assert_eq!(at(&t, 0x14), Some((2, 30)));
        assert_eq!(at(&t, 0x12), Some((1, 5)));
    }

    #[test]
    fn sequences_in_any_order_and_discarded_ones() {
        let t = table(&[
            (0x200, 1, 20, true, false),
            (0x210, 1, 21, true, true),
            (0x0, 1, 99, true, false), // discarded by the linker
            (0x8, 1, 99, true, true),
            (0x100, 1, 10, true, false),
            (0x110, 1, 11, true, true),
        ]);
        assert_eq!(at(&t, 0x105), Some((1, 10)));
        assert_eq!(at(&t, 0x20f), Some((1, 20)));
        assert_eq!(at(&t, 0x4), None);
        assert!(t.lookup(0x150).is_none(), "no sequence holds it");
    }
}
