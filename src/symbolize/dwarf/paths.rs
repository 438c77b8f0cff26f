//! A source file's path as gdb prints it: the unit's own file as the
//! compiler was given it (`DW_AT_name`), any other file as the line table
//! records it, joined to its directory entry when relative (in DWARF 5 entry
//! 0 is the compilation directory; before it, index 0 means "no directory"
//! and the name stays relative). Two entries are the same file when their
//! absolute forms (relative ones joined to `DW_AT_comp_dir`) are equal.

use alloc::vec::Vec;
use gimli::{Dwarf, LineProgramHeader, Unit};

use super::reader::Reader;

pub fn display_path<'s>(
    dwarf: &Dwarf<Reader<'s>>,
    unit: &Unit<Reader<'s>>,
    header: &LineProgramHeader<Reader<'s>>,
    index: u64,
) -> Option<Vec<u8>> {
    let string = |v| dwarf.attr_string(unit, v).ok()?.bytes().ok();
    let file = header.file(index)?;
    let name = string(file.path_name())?;
    let dir_index = file.directory_index();
    let dir = if header.version() >= 5 {
        header
            .include_directories()
            .get(usize::try_from(dir_index).ok()?)
    } else {
        dir_index
            .checked_sub(1)
            .and_then(|i| header.include_directories().get(usize::try_from(i).ok()?))
    };
    let dir = dir.cloned().and_then(string);
    let shown = match dir {
        Some(dir) if !is_absolute(name) => join(dir, name),
        _ => name.to_vec(),
    };
    let comp_dir = unit.comp_dir.and_then(|r| r.bytes().ok());
    if let Some(unit_name) = unit.name.and_then(|r| r.bytes().ok())
        && absolute(comp_dir, &shown) == absolute(comp_dir, unit_name)
    {
        return Some(unit_name.to_vec());
    }
    Some(shown)
}

fn is_absolute(path: &[u8]) -> bool {
    path.first() == Some(&b'/')
}

/// gdb's `path_join`: a `/` between the parts unless the first ends in one.
fn join(dir: &[u8], name: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(dir.len() + 1 + name.len());
    out.extend_from_slice(dir);
    if !dir.is_empty() && !dir.ends_with(b"/") {
        out.push(b'/');
    }
    out.extend_from_slice(name);
    out
}

fn absolute(comp_dir: Option<&[u8]>, path: &[u8]) -> Vec<u8> {
    match comp_dir {
        Some(dir) if !is_absolute(path) => join(dir, path),
        _ => path.to_vec(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn joins_as_gdb_does() {
        assert_eq!(join(b"/usr/include", b"stdio.h"), b"/usr/include/stdio.h");
        assert_eq!(join(b"/", b"x.c"), b"/x.c");
        assert_eq!(join(b"", b"x.c"), b"x.c");
        assert_eq!(join(b"../sysdeps", b"a.c"), b"../sysdeps/a.c");
        assert_eq!(
            absolute(Some(b"/build"), b"./nptl/x.c"),
            b"/build/./nptl/x.c"
        );
        assert_eq!(absolute(Some(b"/build"), b"/abs.c"), b"/abs.c");
        assert_eq!(absolute(None, b"rel.c"), b"rel.c");
    }
}
