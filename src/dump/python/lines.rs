//! Line numbers from a code object's line table, decoded without
//! allocating, as CPython's `PyCode_Addr2Line` does for each version:
//! `co_lnotab` (3.8, 3.9), the PEP 626 `co_linetable` (3.10) and the
//! location table (3.11 and later, `Objects/locations.md`). Pure functions
//! over the table's bytes (the caller copies a bounded window of it).

/// Which table format a code object carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Table {
    /// `co_lnotab`: (address delta u8, line delta i8) pairs, addresses in
    /// bytes; a pair applies once its address is reached.
    Lnotab,
    /// 3.10's `co_linetable`: (length u8, line delta i8) pairs covering
    /// address ranges in bytes; a delta of -128 is "no line".
    Pep626,
    /// 3.11+: variable-length entries of code units, each starting with a
    /// byte whose top bit is set.
    Locations,
}

/// The line of the instruction at byte offset `addr` (CPython's
/// `PyCode_Addr2Line(code, addr)`), `None` where the table says the
/// instruction has no line (or does not cover it).
pub fn line_at(table: Table, bytes: &[u8], first_line: i32, addr: i64) -> Option<i32> {
    if addr < 0 {
        return Some(first_line);
    }
    match table {
        Table::Lnotab => Some(lnotab(bytes, first_line, addr)),
        Table::Pep626 => pep626(bytes, first_line, addr),
        Table::Locations => locations(bytes, first_line, addr),
    }
}

fn lnotab(bytes: &[u8], first_line: i32, addr: i64) -> i32 {
    let mut line = first_line;
    let mut at: i64 = 0;
    for pair in bytes.chunks_exact(2) {
        at += i64::from(pair[0]);
        if at > addr {
            break;
        }
        line += i32::from(pair[1] as i8);
    }
    line
}

fn pep626(bytes: &[u8], first_line: i32, addr: i64) -> Option<i32> {
    let mut line = first_line;
    let mut start: i64 = 0;
    for pair in bytes.chunks_exact(2) {
        let end = start + i64::from(pair[0]);
        let delta = pair[1] as i8;
        let this = if delta == -128 {
            None
        } else {
            line += i32::from(delta);
            Some(line)
        };
        if end > addr {
            return this;
        }
        start = end;
    }
    None
}

/// An unsigned varint of 6-bit chunks, bit 6 meaning "more".
fn varint(bytes: &[u8], at: &mut usize) -> Option<u32> {
    let mut value: u32 = 0;
    let mut shift = 0;
    loop {
        let b = *bytes.get(*at)?;
        *at += 1;
        value |= u32::from(b & 63).checked_shl(shift)?;
        if b & 64 == 0 {
            return Some(value);
        }
        shift += 6;
        if shift > 30 {
            return None;
        }
    }
}

fn signed_varint(bytes: &[u8], at: &mut usize) -> Option<i32> {
    let v = varint(bytes, at)?;
    Some(if v & 1 != 0 {
        -((v >> 1) as i32)
    } else {
        (v >> 1) as i32
    })
}

fn locations(bytes: &[u8], first_line: i32, addr: i64) -> Option<i32> {
    let mut line = first_line;
    let mut start: i64 = 0;
    let mut at = 0;
    while at < bytes.len() {
        let head = bytes[at];
        if head & 0x80 == 0 {
            // Not at an entry's first byte: the table is not what it seems.
            return None;
        }
        at += 1;
        let code = (head >> 3) & 15;
        let end = start + 2 * (i64::from(head & 7) + 1);
        let this = match code {
            15 => None,
            13 | 14 => {
                line += signed_varint(bytes, &mut at)?;
                Some(line)
            }
            10..=12 => {
                line += i32::from(code) - 10;
                Some(line)
            }
            _ => Some(line),
        };
        if end > addr {
            return this;
        }
        // The rest of the entry (columns): up to the next first byte.
        while at < bytes.len() && bytes[at] & 0x80 == 0 {
            at += 1;
        }
        start = end;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lnotab_pairs_apply_once_reached() {
        // def f():        # line 10
        //     a = 1       # bytes 0..4, line 11
        //     b = 2       # bytes 4..8, line 12
        //     return a    # bytes 8.., line 13
        let t = [0, 1, 4, 1, 4, 1];
        let line = |a| line_at(Table::Lnotab, &t, 10, a);
        assert_eq!(line(0), Some(11));
        assert_eq!(line(3), Some(11));
        assert_eq!(line(4), Some(12));
        assert_eq!(line(9), Some(13));
        assert_eq!(line(-1), Some(10));
        // Negative line deltas (signed since 3.6).
        assert_eq!(line_at(Table::Lnotab, &[2, 5, 2, 0xfe], 1, 5), Some(4));
    }

    #[test]
    fn pep626_ranges_and_no_line() {
        // Bytes 0..2 line 10 (delta 0), 2..6 line 12, 6..8 none, 8..10 line 11.
        let t = [2, 0, 4, 2, 2, 0x80, 2, 0xff];
        let line = |a| line_at(Table::Pep626, &t, 10, a);
        assert_eq!(line(0), Some(10));
        assert_eq!(line(2), Some(12));
        assert_eq!(line(5), Some(12));
        assert_eq!(line(6), None);
        assert_eq!(line(8), Some(11));
        assert_eq!(line(10), None, "past the table");
        // A zero-length entry's delta carries over to the next.
        assert_eq!(line_at(Table::Pep626, &[0, 3, 2, 1], 1, 0), Some(5));
    }

    #[test]
    fn location_table_forms() {
        // Entry 1: short form (code 0), 1 unit, + 1 column byte: line 5.
        // Entry 2: one-line form, delta +2 (code 12), 2 units, 2 bytes.
        // Entry 3: no-columns (code 13), 1 unit, line delta -1 (varint 3).
        // Entry 4: long form (code 14), 3 units, delta +10 (varint 20),
        //          then end line, column, end column varints.
        // Entry 5: no location (code 15), 1 unit.
        let t = [
            0x80,
            0x05, //
            0x80 | 12 << 3 | 1,
            0x01,
            0x02,
            0x80 | 13 << 3,
            0x03,
            0x80 | 14 << 3 | 2,
            20,
            0,
            0x41,
            0x01,
            4,
            0x80 | 15 << 3,
        ];
        let line = |a| line_at(Table::Locations, &t, 5, a);
        assert_eq!(line(0), Some(5));
        assert_eq!(line(2), Some(7));
        assert_eq!(line(5), Some(7));
        assert_eq!(line(6), Some(6));
        assert_eq!(line(8), Some(16));
        assert_eq!(line(13), Some(16));
        assert_eq!(line(14), None);
        assert_eq!(line(16), None, "past the table");
        assert_eq!(line(-2), Some(5));
        // A table that does not start at an entry gives no line.
        assert_eq!(line_at(Table::Locations, &[0x05], 5, 0), None);
    }

    #[test]
    fn varints() {
        let mut at = 0;
        assert_eq!(varint(&[0x41, 0x01], &mut at), Some(65));
        assert_eq!(at, 2);
        at = 0;
        assert_eq!(signed_varint(&[7], &mut at), Some(-3));
        at = 0;
        assert_eq!(varint(&[0x40], &mut at), None, "runs off the end");
    }
}
