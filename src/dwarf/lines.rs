//! A unit's line table, read the way gdb reads it, so that a frame gets the
//! line gdb shows: rows with line 0 are dropped (the row before them goes
//! on); a row that switches file at the address of the previous row without
//! being a statement is dropped; a switch of file or the end of a sequence
//! ends the previous file's run at that address (removing its rows there);
//! the table is sorted by address with those end marks first; an address
//! takes the last row at or before it, and among rows at that same address
//! a statement row.

use gimli::IncompleteLineProgram;

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

/// Budget checks while running a line program.
const CHECK_EVERY: usize = 4096;

pub struct LineTable {
    rows: Vec<Row>,
}

/// A source position: an index into the line program's file table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Position {
    pub file: u64,
    pub line: u32,
}

impl LineTable {
    /// Runs the program. `None` on malformed input or a spent budget.
    pub fn build(program: IncompleteLineProgram<Reader>, budget: &Budget) -> Option<LineTable> {
        let mut builder = Builder::default();
        let mut rows = program.rows();
        let mut count = 0usize;
        while let Some((_, row)) = rows.next_row().ok()? {
            count += 1;
            if count.is_multiple_of(CHECK_EVERY) && budget.spent().is_some() {
                return None;
            }
            let line = row
                .line()
                .map_or(0, |l| u32::try_from(l.get()).unwrap_or(u32::MAX));
            let file = u32::try_from(row.file_index()).unwrap_or(u32::MAX);
            builder.row(row.address(), file, line, row.is_stmt(), row.end_sequence());
        }
        Some(builder.finish())
    }

    /// The position of `addr`, as gdb finds it.
    pub fn lookup(&self, addr: u64) -> Option<Position> {
        let rows = &self.rows;
        let mut best = rows.partition_point(|r| r.addr <= addr).checked_sub(1)?;
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
        (row.line != 0).then_some(Position {
            file: u64::from(row.file),
            line: row.line,
        })
    }
}

#[derive(Default)]
struct Builder {
    rows: Vec<Row>,
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
            self.last_file = None;
            self.last_addr = None;
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
        while let Some(r) = self.rows.last() {
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

    fn finish(mut self) -> LineTable {
        // Stable: program order among equal addresses, end marks first.
        self.rows.sort_by_key(|r| (r.addr, r.line != 0));
        LineTable { rows: self.rows }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(rows: &[(u64, u32, u32, bool, bool)]) -> LineTable {
        let mut b = Builder::default();
        for &(addr, file, line, stmt, end) in rows {
            b.row(addr, file, line, stmt, end);
        }
        b.finish()
    }

    fn at(t: &LineTable, addr: u64) -> Option<(u64, u32)> {
        t.lookup(addr).map(|p| (p.file, p.line))
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
}
