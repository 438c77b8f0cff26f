//! A function's name from its entries, as gdb names it: the linkage name
//! (`DW_AT_linkage_name`, demangled) found on the entry or along its
//! `DW_AT_abstract_origin` / `DW_AT_specification` chain; else `DW_AT_name`
//! with the namespaces and classes around the entry that gave it (C++, Rust;
//! C has none).

use alloc::vec::Vec;
use gimli::{AttributeValue, DebuggingInformationEntry, Dwarf, Unit, UnitOffset};

use super::budget::Budget;
use super::reader::Reader;
use super::refs::{File, Place, Refs};
use crate::format::line::Line;
use crate::symbolize::symbols::demangle_into;

/// Bound on origin/specification hops (a cycle in broken data ends here).
const MAX_HOPS: usize = 8;
/// Bound on the nesting of entries walked for a name's scopes.
const MAX_DEPTH: usize = 1024;

pub fn function_name<'s>(
    dwarf: &Dwarf<Reader<'s>>,
    current: &Unit<Reader<'s>>,
    refs: &mut Refs<'s>,
    offset: UnitOffset<usize>,
    budget: &Budget,
) -> Option<Vec<u8>> {
    let mut place = Place::Current(offset);
    let mut plain: Option<(&'s [u8], Place)> = None;
    for _ in 0..MAX_HOPS {
        let (unit, file, at) = refs.unit(place, current);
        let dwarf_here = file_dwarf(dwarf, file)?;
        let die = unit.entry(at).ok()?;
        let string = |name| {
            die.attr_value(name)
                .and_then(|v| dwarf_here.attr_string(unit, v).ok())
                .and_then(|r| r.bytes().ok())
                .filter(|s| !s.is_empty())
        };
        if let Some(linkage) =
            string(gimli::DW_AT_linkage_name).or_else(|| string(gimli::DW_AT_MIPS_linkage_name))
        {
            let mut line = Line::new();
            demangle_into(linkage, &mut line);
            return Some(line.as_bytes().to_vec());
        }
        if plain.is_none() {
            plain = string(gimli::DW_AT_name).map(|n| (n, place));
        }
        let next = die
            .attr_value(gimli::DW_AT_abstract_origin)
            .or_else(|| die.attr_value(gimli::DW_AT_specification));
        match next {
            Some(v) => place = refs.target(dwarf, current, place, v, budget)?,
            None => break,
        }
    }
    let (name, place) = plain?;
    let (unit, file, at) = refs.unit(place, current);
    let mut out = scope_prefix(file_dwarf(dwarf, file)?, unit, at, budget).unwrap_or_default();
    out.extend_from_slice(name);
    Some(out)
}

/// `ns::Class::` for the entry at `target`: the named namespaces and types
/// around it. Empty for C units.
fn file_dwarf<'a, 's>(dwarf: &'a Dwarf<Reader<'s>>, file: File) -> Option<&'a Dwarf<Reader<'s>>> {
    match file {
        File::Main => Some(dwarf),
        File::Sup => dwarf.sup(),
    }
}

fn scope_prefix<'s>(
    dwarf: &Dwarf<Reader<'s>>,
    unit: &Unit<Reader<'s>>,
    target: UnitOffset<usize>,
    budget: &Budget,
) -> Option<Vec<u8>> {
    let mut entries = unit.entries_raw(None).ok()?;
    let mut die = DebuggingInformationEntry::null();
    entries.read_entry(&mut die).ok()?;
    if is_c(&die) {
        return Some(Vec::new());
    }
    // The enclosing scopes' names by depth (None for other entries).
    let mut stack: Vec<Option<&[u8]>> = Vec::new();
    let mut depth = 1usize;
    let mut count = 0usize;
    while !entries.is_empty() {
        count += 1;
        if count.is_multiple_of(4096) && budget.spent().is_some() {
            return None;
        }
        let offset = entries.next_offset();
        if offset.0 > target.0 {
            return None;
        }
        if !entries.read_entry(&mut die).ok()? {
            depth = depth.checked_sub(1)?;
            continue;
        }
        stack.truncate(depth - 1);
        if offset == target {
            let mut out = Vec::new();
            for name in stack.iter().flatten() {
                out.extend_from_slice(name);
                out.extend_from_slice(b"::");
            }
            return Some(out);
        }
        if die.has_children {
            let name = scope_name(dwarf, unit, &die);
            stack.push(name);
            depth += 1;
            if depth > MAX_DEPTH {
                return None;
            }
        }
    }
    None
}

fn scope_name<'s>(
    dwarf: &Dwarf<Reader<'s>>,
    unit: &Unit<Reader<'s>>,
    die: &DebuggingInformationEntry<Reader<'s>>,
) -> Option<&'s [u8]> {
    let named = matches!(
        die.tag,
        gimli::DW_TAG_namespace
            | gimli::DW_TAG_class_type
            | gimli::DW_TAG_structure_type
            | gimli::DW_TAG_union_type
            | gimli::DW_TAG_interface_type
            | gimli::DW_TAG_module
    );
    if !named {
        return None;
    }
    let name = die
        .attr_value(gimli::DW_AT_name)
        .and_then(|v| dwarf.attr_string(unit, v).ok())
        .and_then(|r| r.bytes().ok());
    match name {
        Some(n) => Some(n),
        None if die.tag == gimli::DW_TAG_namespace => Some(b"(anonymous namespace)"),
        None => None,
    }
}

/// Whether a unit is assembly (`DW_LANG_Mips_Assembler`, what GNU as
/// writes). gdb does not take function names from such units (it names
/// those frames from the symbol table, `clone3` rather than `__clone3`),
/// so neither does a dump; their line tables are used all the same.
pub fn is_assembler(unit: &Unit<Reader>) -> bool {
    let Ok(mut entries) = unit.entries_raw(None) else {
        return false;
    };
    let mut root = DebuggingInformationEntry::null();
    entries.read_entry(&mut root).is_ok()
        && matches!(
            root.attr_value(gimli::DW_AT_language),
            Some(AttributeValue::Language(gimli::DW_LANG_Mips_Assembler))
        )
}

fn is_c(root: &DebuggingInformationEntry<Reader>) -> bool {
    matches!(
        root.attr_value(gimli::DW_AT_language),
        Some(AttributeValue::Language(
            gimli::DW_LANG_C
                | gimli::DW_LANG_C89
                | gimli::DW_LANG_C99
                | gimli::DW_LANG_C11
                | gimli::DW_LANG_C17
        ))
    )
}
