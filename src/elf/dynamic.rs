//! A loaded module's dynamic symbol tables, as the loader itself uses them:
//! `DT_SYMTAB`, `DT_STRTAB`, `DT_VERSYM` and the `DT_GNU_HASH` / `DT_HASH`
//! tables, read from the module's `PT_DYNAMIC` in memory.
//!
//! Used in two places: in a dump, to name addresses of a module whose file
//! cannot be used (reads through [`crate::sys::memory::Memory`]); and outside any
//! handler, to find a function by name in the loaded modules without
//! `dlsym` (see [`crate::sys::libpthread`]). Memory is read through the `read`
//! closures the callers pass, so the logic is the same for both.

use core::ops::Range;

use object::elf;

/// Where a module's dynamic tables are, as run-time addresses.
#[derive(Debug, Default, Clone, Copy)]
pub struct DynamicTables {
    pub symtab: u64,
    pub strtab: u64,
    pub strsz: u64,
    hash: u64,
    gnu_hash: u64,
    versym: u64,
}

const SYM_SIZE: u64 = 24;
/// `VERSYM_HIDDEN`: a version that is not the default one (`name@VER`).
const VERSYM_HIDDEN: u16 = 0x8000;

impl DynamicTables {
    /// Reads the `PT_DYNAMIC` entries at `dynamic` (`len` bytes) of a module
    /// loaded with `bias` whose segments span `avma`.
    pub fn read(
        read_u64: &impl Fn(u64) -> Option<u64>,
        dynamic: u64,
        len: u64,
        bias: u64,
        avma: &Range<u64>,
    ) -> Option<DynamicTables> {
        // glibc relocates these entries in place for most objects, not all
        // (the vDSO's, read-only ones): take a value inside the module as it
        // is, else add the bias.
        let absolute = |v: u64| {
            if avma.contains(&v) {
                v
            } else {
                v.wrapping_add(bias)
            }
        };
        let mut t = DynamicTables::default();
        for i in 0..len / 16 {
            let tag = elf::DynamicTag(read_u64(dynamic + i * 16)? as i64);
            let value = read_u64(dynamic + i * 16 + 8)?;
            match tag {
                elf::DT_NULL => break,
                elf::DT_SYMTAB => t.symtab = absolute(value),
                elf::DT_STRTAB => t.strtab = absolute(value),
                elf::DT_STRSZ => t.strsz = value,
                elf::DT_HASH => t.hash = absolute(value),
                elf::DT_GNU_HASH => t.gnu_hash = absolute(value),
                elf::DT_VERSYM => t.versym = absolute(value),
                _ => {}
            }
        }
        (t.symtab != 0 && t.strtab != 0).then_some(t)
    }

    /// How many symbols the table holds.
    pub fn symbol_count(&self, read_u32: &impl Fn(u64) -> Option<u32>) -> Option<u64> {
        if self.hash != 0 {
            read_u32(self.hash + 4).map(u64::from)
        } else if self.gnu_hash != 0 {
            crate::elf::gnu_hash_symbol_count(self.gnu_hash, read_u32)
        } else {
            None
        }
    }

    /// The address of the function `name` defines, in its default version,
    /// found through the GNU hash table (or a scan where there is none).
    /// `read` copies memory of the module.
    pub fn lookup_function(
        &self,
        name: &[u8],
        bias: u64,
        read: &impl Fn(u64, &mut [u8]) -> bool,
    ) -> Option<u64> {
        self.lookup(name, elf::STT_FUNC, bias, read)
    }

    /// The address of the symbol `name` of type `kind` (`STT_FUNC`,
    /// `STT_OBJECT`) defines, as [`DynamicTables::lookup_function`].
    pub fn lookup(
        &self,
        name: &[u8],
        kind: elf::SymbolType,
        bias: u64,
        read: &impl Fn(u64, &mut [u8]) -> bool,
    ) -> Option<u64> {
        let read_u32 = |a: u64| {
            let mut b = [0u8; 4];
            read(a, &mut b).then(|| u32::from_le_bytes(b))
        };
        let matches = |index: u64| -> Option<u64> {
            let mut sym = [0u8; SYM_SIZE as usize];
            if !read(self.symtab + index * SYM_SIZE, &mut sym) {
                return None;
            }
            let st_name = u64::from(u32::from_le_bytes(sym[0..4].try_into().ok()?));
            let st_info = sym[4];
            let st_shndx = u16::from_le_bytes(sym[6..8].try_into().ok()?);
            let st_value = u64::from_le_bytes(sym[8..16].try_into().ok()?);
            if st_info & 0xf != kind.0 || st_shndx == 0 || st_value == 0 {
                return None;
            }
            if st_name + name.len() as u64 >= self.strsz {
                return None;
            }
            let mut text = [0u8; 64];
            let text = text.get_mut(..=name.len())?;
            // Compared byte by byte, not as slices: a slice comparison is a
            // call of the C library's memcmp, whose page of code nothing
            // else touches in a short process (start-up runs this lookup).
            if !read(self.strtab + st_name, text)
                || !text.iter().zip(name).all(|(a, b)| a == b)
                || text[name.len()] != 0
            {
                return None;
            }
            if self.versym != 0 {
                let mut v = [0u8; 2];
                if !read(self.versym + index * 2, &mut v)
                    || u16::from_le_bytes(v) & VERSYM_HIDDEN != 0
                {
                    return None;
                }
            }
            Some(st_value.wrapping_add(bias))
        };
        if self.gnu_hash == 0 {
            return (0..self.symbol_count(&read_u32)?).find_map(matches);
        }
        let nbuckets = u64::from(read_u32(self.gnu_hash)?);
        let symoffset = u64::from(read_u32(self.gnu_hash + 4)?);
        let bloom_size = u64::from(read_u32(self.gnu_hash + 8)?);
        if nbuckets == 0 {
            return None;
        }
        let hash = gnu_hash(name);
        let buckets = self.gnu_hash + 16 + bloom_size * 8;
        let chains = buckets + nbuckets * 4;
        let index = u64::from(read_u32(buckets + u64::from(hash) % nbuckets * 4)?);
        if index < symoffset {
            return None;
        }
        // Each chain ends at an entry with its low bit set; bounded anyway.
        for index in index..index + (1 << 20) {
            let chain = read_u32(chains + (index - symoffset) * 4)?;
            if chain | 1 == hash | 1
                && let Some(addr) = matches(index)
            {
                return Some(addr);
            }
            if chain & 1 != 0 {
                return None;
            }
        }
        None
    }
}

/// Whether the dynamic section at `dynamic` (`len` bytes, run-time
/// address) asks for text relocations: `DT_TEXTREL`, or `DF_TEXTREL` in
/// `DT_FLAGS`. Then the loader made read-only segments writable to relocate
/// them, and wrote copy-on-write pages into them. `None` if unreadable.
pub fn has_text_relocations(
    read_u64: &impl Fn(u64) -> Option<u64>,
    dynamic: u64,
    len: u64,
) -> Option<bool> {
    for i in 0..len / 16 {
        let tag = elf::DynamicTag(read_u64(dynamic + i * 16)? as i64);
        match tag {
            elf::DT_NULL => break,
            elf::DT_TEXTREL => return Some(true),
            elf::DT_FLAGS if read_u64(dynamic + i * 16 + 8)? & elf::DF_TEXTREL.0 != 0 => {
                return Some(true);
            }
            _ => {}
        }
    }
    Some(false)
}

/// The hash function of `DT_GNU_HASH` tables.
pub fn gnu_hash(name: &[u8]) -> u32 {
    name.iter().fold(5381u32, |h, &c| {
        h.wrapping_mul(33).wrapping_add(u32::from(c))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gnu_hash_values() {
        // Values from the GNU hash specification's examples.
        assert_eq!(gnu_hash(b""), 0x0000_1505);
        assert_eq!(gnu_hash(b"printf"), 0x156b_2bb8);
        assert_eq!(gnu_hash(b"exit"), 0x7c96_7e3f);
    }
}
