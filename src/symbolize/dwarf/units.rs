//! Finding the compilation unit that holds an address without reading the
//! others: `.debug_aranges` where the compiler wrote it (gcc does), and for
//! units it does not list (clang, rustc, assembler) a scan of unit headers
//! that reads only each unit's root entry and stops at the first unit whose
//! ranges hold the address, remembering how far it got. Also the "light"
//! units used for everything but the unit holding the address: the header,
//! abbreviations and root attributes, without the line program.

use alloc::vec::Vec;
use gimli::{AttributeValue, Dwarf, Unit, UnitHeader};

use super::budget::Budget;
use super::reader::Reader;

/// A range of addresses (file addresses) and the unit holding them.
#[derive(Clone, Copy, Debug)]
struct Span {
    begin: u64,
    end: u64,
    unit: usize,
}

impl Span {
    fn holds(&self, addr: u64) -> bool {
        self.begin <= addr && addr < self.end
    }
}

/// How far back from the last span starting at or before an address to look
/// for one that still reaches it (overlapping spans are rare).
const OVERLAP_LOOKBACK: usize = 64;
/// Budget checks while scanning unit headers.
const CHECK_EVERY: usize = 64;

#[derive(Default)]
pub struct UnitFinder {
    /// `.debug_aranges`, sorted by start; built on first use.
    aranges: Option<Vec<Span>>,
    /// Units `.debug_aranges` lists, sorted: the scan skips them.
    listed: Vec<usize>,
    /// Root-entry ranges of units scanned so far.
    scanned: Vec<Span>,
    /// The next unit the scan reads; `None` once it reached the end.
    scan_next: Option<usize>,
}

impl UnitFinder {
    /// The `.debug_info` offset of the unit holding `addr`.
    pub fn find(&mut self, dwarf: &Dwarf<Reader>, addr: u64, budget: &Budget) -> Option<usize> {
        if self.aranges.is_none() {
            self.index_aranges(dwarf);
        }
        if let Some(unit) = self
            .aranges
            .as_deref()
            .and_then(|spans| lookup(spans, addr))
        {
            return Some(unit);
        }
        if let Some(s) = self.scanned.iter().find(|s| s.holds(addr)) {
            return Some(s.unit);
        }
        self.scan(dwarf, addr, budget)
    }

    fn index_aranges(&mut self, dwarf: &Dwarf<Reader>) {
        let mut spans = Vec::new();
        let mut headers = dwarf.debug_aranges.headers();
        while let Ok(Some(header)) = headers.next() {
            let unit = header.debug_info_offset().0;
            self.listed.push(unit);
            let mut entries = header.entries();
            while let Ok(Some(entry)) = entries.next() {
                let range = entry.range();
                // A start of 0 is a function the linker discarded.
                if range.begin != 0 && range.begin < range.end {
                    spans.push(Span {
                        begin: range.begin,
                        end: range.end,
                        unit,
                    });
                }
            }
        }
        spans.sort_unstable_by_key(|s| s.begin);
        self.listed.sort_unstable();
        self.aranges = Some(spans);
        self.scan_next = Some(0);
    }

    /// Reads unit headers from where the last scan stopped, skipping units
    /// `.debug_aranges` listed, until one's root ranges hold `addr`.
    fn scan(&mut self, dwarf: &Dwarf<Reader>, addr: u64, budget: &Budget) -> Option<usize> {
        let mut count = 0usize;
        while let Some(offset) = self.scan_next {
            count += 1;
            if count.is_multiple_of(CHECK_EVERY) && budget.spent().is_some() {
                return None;
            }
            let Ok(header) = dwarf.unit_header(gimli::DebugInfoOffset(offset)) else {
                self.scan_next = None;
                break;
            };
            let next = offset.checked_add(header.length_including_self());
            self.scan_next = next.filter(|&n| n > offset && n < info_len(dwarf));
            if self.listed.binary_search(&offset).is_ok() {
                continue;
            }
            let Ok(unit) = light_unit(dwarf, header) else {
                continue;
            };
            let mut found = false;
            if let Ok(mut ranges) = dwarf.unit_ranges(&unit) {
                while let Ok(Some(r)) = ranges.next() {
                    let span = Span {
                        begin: r.begin,
                        end: r.end,
                        unit: offset,
                    };
                    found |= span.holds(addr);
                    if span.begin < span.end {
                        self.scanned.push(span);
                    }
                }
            }
            if found {
                return Some(offset);
            }
        }
        None
    }
}

fn lookup(spans: &[Span], addr: u64) -> Option<usize> {
    let end = spans.partition_point(|s| s.begin <= addr);
    spans[..end]
        .iter()
        .rev()
        .take(OVERLAP_LOOKBACK)
        .find(|s| s.holds(addr))
        .map(|s| s.unit)
}

/// Length of `.debug_info`, for bounding the scan.
fn info_len(dwarf: &Dwarf<Reader>) -> usize {
    use gimli::{Reader as _, Section as _};
    dwarf.debug_info.reader().len()
}

/// A unit with its abbreviations and root attributes (the bases that
/// indexed forms need, `low_pc`, name, directory) but no line program.
pub fn light_unit<'s>(
    dwarf: &Dwarf<Reader<'s>>,
    header: UnitHeader<Reader<'s>>,
) -> gimli::Result<Unit<Reader<'s>>> {
    let abbreviations = dwarf.abbreviations(&header)?;
    let encoding = header.encoding();
    let mut unit = Unit {
        abbreviations,
        name: None,
        comp_dir: None,
        low_pc: 0,
        str_offsets_base: gimli::DebugStrOffsetsBase::default_for_encoding_and_file(
            encoding,
            dwarf.file_type,
        ),
        addr_base: gimli::DebugAddrBase(0),
        loclists_base: gimli::DebugLocListsBase::default_for_encoding_and_file(
            encoding,
            dwarf.file_type,
        ),
        rnglists_base: gimli::DebugRngListsBase::default_for_encoding_and_file(
            encoding,
            dwarf.file_type,
        ),
        line_program: None,
        dwo_id: None,
        header,
    };
    let mut low_pc = None;
    let (mut name, mut comp_dir) = (None, None);
    {
        let mut entries = unit.header.entries_raw(&unit.abbreviations, None)?;
        let mut root = gimli::DebuggingInformationEntry::null();
        entries.read_entry(&mut root)?;
        for attr in root.attrs() {
            match (attr.name(), attr.value()) {
                (gimli::DW_AT_str_offsets_base, AttributeValue::DebugStrOffsetsBase(b)) => {
                    unit.str_offsets_base = b;
                }
                (
                    gimli::DW_AT_addr_base | gimli::DW_AT_GNU_addr_base,
                    AttributeValue::DebugAddrBase(b),
                ) => unit.addr_base = b,
                (
                    gimli::DW_AT_rnglists_base | gimli::DW_AT_GNU_ranges_base,
                    AttributeValue::DebugRngListsBase(b),
                ) => unit.rnglists_base = b,
                (gimli::DW_AT_low_pc, v) => low_pc = Some(v),
                (gimli::DW_AT_name, v) => name = Some(v),
                (gimli::DW_AT_comp_dir, v) => comp_dir = Some(v),
                _ => {}
            }
        }
    }
    if let Some(v) = low_pc {
        unit.low_pc = dwarf.attr_address(&unit, v)?.unwrap_or(0);
    }
    unit.name = name.and_then(|v| dwarf.attr_string(&unit, v).ok());
    unit.comp_dir = comp_dir.and_then(|v| dwarf.attr_string(&unit, v).ok());
    Ok(unit)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_find_their_unit() {
        let spans = [
            Span {
                begin: 0x100,
                end: 0x200,
                unit: 1,
            },
            Span {
                begin: 0x200,
                end: 0x280,
                unit: 2,
            },
            Span {
                begin: 0x300,
                end: 0x400,
                unit: 3,
            },
        ];
        assert_eq!(lookup(&spans, 0x100), Some(1));
        assert_eq!(lookup(&spans, 0x1ff), Some(1));
        assert_eq!(lookup(&spans, 0x200), Some(2));
        assert_eq!(lookup(&spans, 0x2a0), None);
        assert_eq!(lookup(&spans, 0xff), None);
        assert_eq!(lookup(&spans, 0x3ff), Some(3));
        assert_eq!(lookup(&spans, 0x400), None);
    }
}
