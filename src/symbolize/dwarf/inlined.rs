//! The chain of scopes holding an address in one unit: the function
//! (`DW_TAG_subprogram`), then each inlined call (`DW_TAG_inlined_subroutine`)
//! down to the innermost, as gdb builds its inline frames. One pass over the
//! unit's entries that skips (by `DW_AT_sibling` where present) every entry
//! whose ranges do not hold the address, and stops once the innermost scope's
//! children are done.

use alloc::vec::Vec;
use gimli::{AttributeValue, DebuggingInformationEntry, DwTag, Dwarf, Unit, UnitOffset};

use super::budget::Budget;
use super::reader::Reader;

/// A function or inlined call holding the address.
#[derive(Clone, Copy, Debug)]
pub struct Scope {
    pub offset: UnitOffset<usize>,
    pub inlined: bool,
    /// Where an inlined call was made (file index, line); 0 when unknown.
    pub call_file: u64,
    pub call_line: u32,
    /// The function's entry (its low address), for a name without a symbol.
    pub entry: Option<u64>,
    /// The address is where execution enters the inlined call (the byte
    /// before it is outside it).
    pub entered_here: bool,
}

/// Budget checks while walking entries.
const CHECK_EVERY: usize = 4096;

/// The scopes holding `addr`, outermost (the function) first. Empty when no
/// function of the unit holds it.
pub fn chain<'s>(
    dwarf: &Dwarf<Reader<'s>>,
    unit: &Unit<Reader<'s>>,
    addr: u64,
    budget: &Budget,
) -> Option<Vec<Scope>> {
    let mut scopes = Vec::new();
    let mut entries = unit.entries_raw(None).ok()?;
    let mut die = DebuggingInformationEntry::null();
    entries.read_entry(&mut die).ok()?;
    if !die.has_children {
        return Some(scopes);
    }
    // The depth of the next entry (the root's children are at 1), and the
    // depth of the innermost scope found.
    let mut depth: isize = 1;
    let mut inner: isize = 0;
    let mut count = 0usize;
    while !entries.is_empty() {
        count += 1;
        if count.is_multiple_of(CHECK_EVERY) && budget.spent().is_some() {
            return None;
        }
        let at = depth;
        if !entries.read_entry(&mut die).ok()? {
            // The end of a list of children, at depth `at`.
            depth -= 1;
            if depth <= inner || depth <= 0 {
                break;
            }
            continue;
        }
        let inside = match die.tag {
            gimli::DW_TAG_subprogram if scopes.is_empty() => holds(dwarf, unit, &die, addr).ok()?,
            gimli::DW_TAG_inlined_subroutine | gimli::DW_TAG_lexical_block
                if !scopes.is_empty() =>
            {
                holds(dwarf, unit, &die, addr).ok()?
            }
            tag => scopes.is_empty() && is_container(tag),
        };
        if inside {
            if matches!(
                die.tag,
                gimli::DW_TAG_subprogram | gimli::DW_TAG_inlined_subroutine
            ) {
                let mut found = scope(dwarf, unit, &die);
                found.entered_here =
                    found.inlined && !holds(dwarf, unit, &die, addr.wrapping_sub(1)).ok()?;
                scopes.push(found);
                inner = at;
            }
            if die.has_children {
                depth += 1;
            } else if !scopes.is_empty() && die.tag != gimli::DW_TAG_lexical_block {
                break;
            }
        } else if die.has_children {
            match sibling(&die) {
                Some(next) => entries = unit.entries_raw(Some(next)).ok()?,
                None => skip_children(&mut entries, &mut die).ok()?,
            }
        }
    }
    Some(scopes)
}

/// Entries whose children may hold functions: namespaces and types.
fn is_container(tag: DwTag) -> bool {
    matches!(
        tag,
        gimli::DW_TAG_namespace
            | gimli::DW_TAG_module
            | gimli::DW_TAG_class_type
            | gimli::DW_TAG_structure_type
            | gimli::DW_TAG_union_type
            | gimli::DW_TAG_interface_type
    )
}

fn sibling(die: &DebuggingInformationEntry<Reader>) -> Option<UnitOffset<usize>> {
    match die.attr_value(gimli::DW_AT_sibling) {
        Some(AttributeValue::UnitRef(next)) if next.0 > die.offset.0 => Some(next),
        _ => None,
    }
}

/// Reads past the children of the entry just read.
fn skip_children(
    entries: &mut gimli::EntriesRaw<Reader>,
    die: &mut DebuggingInformationEntry<Reader>,
) -> gimli::Result<()> {
    let mut depth = 1usize;
    while depth > 0 {
        match entries.read_abbreviation()? {
            None => depth -= 1,
            Some(abbrev) => {
                entries.skip_attributes(abbrev.attributes())?;
                if abbrev.has_children() {
                    depth += 1;
                }
            }
        }
    }
    die.set_null();
    Ok(())
}

fn holds<'s>(
    dwarf: &Dwarf<Reader<'s>>,
    unit: &Unit<Reader<'s>>,
    die: &DebuggingInformationEntry<Reader<'s>>,
    addr: u64,
) -> gimli::Result<bool> {
    let mut ranges = dwarf.die_ranges(unit, die)?;
    while let Some(r) = ranges.next()? {
        if r.begin <= addr && addr < r.end {
            return Ok(true);
        }
    }
    Ok(false)
}

fn scope<'s>(
    dwarf: &Dwarf<Reader<'s>>,
    unit: &Unit<Reader<'s>>,
    die: &DebuggingInformationEntry<Reader<'s>>,
) -> Scope {
    let udata = |name| die.attr(name).and_then(|a| a.udata_value()).unwrap_or(0);
    let entry = match die.attr_value(gimli::DW_AT_low_pc) {
        Some(v) => dwarf.attr_address(unit, v).ok().flatten(),
        None => dwarf
            .die_ranges(unit, die)
            .ok()
            .and_then(|mut r| r.next().ok().flatten())
            .map(|r| r.begin),
    };
    Scope {
        offset: die.offset,
        inlined: die.tag == gimli::DW_TAG_inlined_subroutine,
        call_file: udata(gimli::DW_AT_call_file),
        call_line: u32::try_from(udata(gimli::DW_AT_call_line)).unwrap_or(0),
        entry,
        entered_here: false,
    }
}
