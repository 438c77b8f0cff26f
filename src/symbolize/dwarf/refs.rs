//! Following a reference from one entry to another: inside the unit
//! (`DW_FORM_ref*`), to another unit of the file (`DW_FORM_ref_addr`, as LTO
//! writes abstract origins), or into the `dwz` supplementary file
//! (`DW_FORM_GNU_ref_alt` / `DW_FORM_ref_sup*`). Other units are read as
//! light units (no line program) and kept for the rest of the dump; finding
//! the unit holding an offset reads unit headers from the start of the file
//! once, as far as needed.

use alloc::vec::Vec;
use gimli::{AttributeValue, DebugInfoOffset, Dwarf, Unit, UnitOffset};

use super::budget::Budget;
use super::reader::Reader;
use super::units::light_unit;

/// Which file an entry is in.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum File {
    Main = 0,
    Sup = 1,
}

/// Where an entry is: in the unit being resolved, or in a unit kept here.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Place {
    Current(UnitOffset<usize>),
    Kept(usize, UnitOffset<usize>),
}

struct Kept<'s> {
    file: File,
    start: usize,
    end: usize,
    unit: Unit<Reader<'s>>,
}

/// Unit headers read so far in one file: `(start, end)` of each unit.
#[derive(Default)]
struct Headers {
    spans: Vec<(usize, usize)>,
    next: usize,
    done: bool,
}

#[derive(Default)]
pub struct Refs<'s> {
    kept: Vec<Kept<'s>>,
    headers: [Headers; 2],
}

/// Bound on units kept for references (each holds its abbreviations).
const MAX_KEPT: usize = 256;

impl<'s> Refs<'s> {
    /// The unit and file of a place; `current` is the unit being resolved.
    pub fn unit<'a>(
        &'a self,
        place: Place,
        current: &'a Unit<Reader<'s>>,
    ) -> (&'a Unit<Reader<'s>>, File, UnitOffset<usize>) {
        match place {
            Place::Current(o) => (current, File::Main, o),
            Place::Kept(i, o) => (&self.kept[i].unit, self.kept[i].file, o),
        }
    }

    /// Where a reference found at `from` points.
    pub fn target(
        &mut self,
        dwarf: &Dwarf<Reader<'s>>,
        current: &Unit<Reader<'s>>,
        from: Place,
        value: AttributeValue<Reader<'s>>,
        budget: &Budget,
    ) -> Option<Place> {
        let (_, file, _) = self.unit(from, current);
        let (file, offset) = match value {
            AttributeValue::UnitRef(o) => {
                return Some(match from {
                    Place::Current(_) => Place::Current(o),
                    Place::Kept(i, _) => Place::Kept(i, o),
                });
            }
            AttributeValue::DebugInfoRef(o) => (file, o.0),
            AttributeValue::DebugInfoRefSup(o) => (File::Sup, o.0),
            _ => return None,
        };
        // A reference into the unit it came from.
        if file == File::Main
            && let Some(o) = DebugInfoOffset(offset).to_unit_offset(&current.header)
        {
            return Some(Place::Current(o));
        }
        let dwarf = match file {
            File::Main => dwarf,
            File::Sup => dwarf.sup()?,
        };
        let i = self.keep(dwarf, file, offset, budget)?;
        Some(Place::Kept(i, UnitOffset(offset - self.kept[i].start)))
    }

    /// The kept unit of `file` holding `offset`, reading it if needed.
    fn keep(
        &mut self,
        dwarf: &Dwarf<Reader<'s>>,
        file: File,
        offset: usize,
        budget: &Budget,
    ) -> Option<usize> {
        if let Some(i) = self
            .kept
            .iter()
            .position(|k| k.file == file && k.start <= offset && offset < k.end)
        {
            return Some(i);
        }
        if self.kept.len() >= MAX_KEPT {
            return None;
        }
        let (start, end) = self.headers[file as usize].find(dwarf, offset, budget)?;
        let header = dwarf.unit_header(DebugInfoOffset(start)).ok()?;
        let unit = light_unit(dwarf, header).ok()?;
        self.kept.push(Kept {
            file,
            start,
            end,
            unit,
        });
        Some(self.kept.len() - 1)
    }
}

impl Headers {
    fn find(
        &mut self,
        dwarf: &Dwarf<Reader>,
        offset: usize,
        budget: &Budget,
    ) -> Option<(usize, usize)> {
        let i = self.spans.partition_point(|&(s, _)| s <= offset);
        if let Some(&(s, e)) = i.checked_sub(1).and_then(|i| self.spans.get(i))
            && offset < e
        {
            return Some((s, e));
        }
        while !self.done && self.next <= offset {
            if budget.spent().is_some() {
                return None;
            }
            let start = self.next;
            let Ok(header) = dwarf.unit_header(DebugInfoOffset(start)) else {
                self.done = true;
                break;
            };
            let end = start.checked_add(header.length_including_self())?;
            if end <= start {
                self.done = true;
                break;
            }
            self.spans.push((start, end));
            self.next = end;
            if offset < end {
                return Some((start, end));
            }
        }
        None
    }
}
