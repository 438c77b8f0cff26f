//! Damaged copies of ELF files, from fixed seeds: what a dump must survive
//! (issue 22). Only what the loader never reads is damaged, so the program
//! still runs as before: the file cut short past its loaded segments,
//! bytes flipped and ranges overwritten in sections the loader does not
//! need (symbol tables, debug sections, unwind tables, notes), the section
//! header table and its fields in the ELF header, garbage inside
//! compressed debug sections. A separate debug file is never loaded: any
//! of it may be damaged.

/// A small deterministic generator (splitmix64): the same seed, the same
/// damage, on every machine.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (`n > 0`).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }

    /// A number in `range` (not empty).
    pub fn within(&mut self, range: std::ops::Range<u64>) -> u64 {
        range.start + self.below(range.end - range.start)
    }

    pub fn fill(&mut self, bytes: &mut [u8]) {
        for b in bytes {
            *b = self.next_u64() as u8;
        }
    }
}

/// What the file is to the process: loaded (a program or library: its
/// loaded segments stay intact) or a separate debug file (never loaded).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Role {
    Loaded,
    Debug,
}

/// A section, as the section header table says.
#[derive(Debug, Clone)]
pub struct Section {
    pub name: String,
    pub flags: u64,
    pub offset: u64,
    pub size: u64,
}

const SHF_ALLOC: u64 = 0x2;
const SHF_COMPRESSED: u64 = 0x800;
const SHT_NOBITS: u32 = 8;
const PT_LOAD: u32 = 1;

fn u16_at(b: &[u8], at: usize) -> u64 {
    u64::from(u16::from_le_bytes(b[at..at + 2].try_into().unwrap()))
}
fn u32_at(b: &[u8], at: usize) -> u64 {
    u64::from(u32::from_le_bytes(b[at..at + 4].try_into().unwrap()))
}
fn u64_at(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(b[at..at + 8].try_into().unwrap())
}

/// The end of the last loaded segment's bytes in the file.
pub fn loaded_end(elf: &[u8]) -> u64 {
    let (phoff, phentsize, phnum) = (u64_at(elf, 0x20), u16_at(elf, 0x36), u16_at(elf, 0x38));
    (0..phnum)
        .map(|i| (phoff + i * phentsize) as usize)
        .filter(|&at| u32_at(elf, at) as u32 == PT_LOAD)
        .map(|at| u64_at(elf, at + 8) + u64_at(elf, at + 0x20))
        .max()
        .unwrap_or(64)
}

/// The sections with bytes in the file (a well-formed 64-bit ELF file).
pub fn sections(elf: &[u8]) -> Vec<Section> {
    let (shoff, shentsize, shnum) = (u64_at(elf, 0x28), u16_at(elf, 0x3a), u16_at(elf, 0x3c));
    let header = |i: u64| (shoff + i * shentsize) as usize;
    let strtab = header(u16_at(elf, 0x3e));
    let names = u64_at(elf, strtab + 0x18) as usize;
    (1..shnum)
        .map(header)
        .filter(|&at| u32_at(elf, at + 4) as u32 != SHT_NOBITS)
        .map(|at| {
            let name_at = names + u32_at(elf, at) as usize;
            let len = elf[name_at..].iter().position(|&b| b == 0).unwrap();
            Section {
                name: String::from_utf8_lossy(&elf[name_at..name_at + len]).into_owned(),
                flags: u64_at(elf, at + 8),
                offset: u64_at(elf, at + 0x18),
                size: u64_at(elf, at + 0x20),
            }
        })
        .filter(|s| s.size > 0)
        .collect()
}

/// The sections that may be damaged in a file of this role: for a loaded
/// file, those not loaded, and the unwind tables and notes (loaded, but
/// read by no one but debuggers and this library).
pub fn damageable(elf: &[u8], role: Role) -> Vec<Section> {
    sections(elf)
        .into_iter()
        .filter(|s| {
            role == Role::Debug
                || s.flags & SHF_ALLOC == 0
                || s.name.starts_with(".eh_frame")
                || s.name.starts_with(".note")
        })
        .collect()
}

/// One damaged copy of `elf` and what was done to it.
pub fn mutate(elf: &[u8], role: Role, rng: &mut Rng) -> (Vec<u8>, String) {
    let mut out = elf.to_vec();
    let targets = damageable(elf, role);
    let compressed: Vec<&Section> = targets
        .iter()
        .filter(|s| s.flags & SHF_COMPRESSED != 0)
        .collect();
    let pick =
        |rng: &mut Rng, from: &[&Section]| from[rng.below(from.len() as u64) as usize].clone();
    let all: Vec<&Section> = targets.iter().collect();
    let what = match rng.below(5) {
        0 => {
            let from = match role {
                Role::Loaded => loaded_end(elf),
                Role::Debug => 64,
            };
            let at = rng.within(from..elf.len() as u64);
            out.truncate(at as usize);
            format!("truncated at {at} of {}", elf.len())
        }
        1 => {
            let s = pick(rng, &all);
            let flips = rng.within(1..17);
            for _ in 0..flips {
                let at = (s.offset + rng.below(s.size)) as usize;
                out[at] ^= 1 << rng.below(8);
            }
            format!("{flips} bits flipped in {}", s.name)
        }
        2 => {
            let s = pick(rng, &all);
            overwrite(&mut out, &s, rng)
        }
        3 => {
            let (shoff, shentsize, shnum) =
                (u64_at(elf, 0x28), u16_at(elf, 0x3a), u16_at(elf, 0x3c));
            if rng.below(3) == 0 {
                // The table's place and size in the ELF header.
                let field = [(0x28, 8), (0x3a, 2), (0x3c, 2), (0x3e, 2)][rng.below(4) as usize];
                rng.fill(&mut out[field.0..field.0 + field.1]);
                format!("ELF header field at {:#x} garbled", field.0)
            } else {
                let table = Section {
                    name: "section headers".into(),
                    flags: 0,
                    offset: shoff,
                    size: shentsize * shnum,
                };
                overwrite(&mut out, &table, rng)
            }
        }
        _ if !compressed.is_empty() => {
            let s = pick(rng, &compressed);
            overwrite(&mut out, &s, rng)
        }
        _ => {
            let s = pick(rng, &all);
            overwrite(&mut out, &s, rng)
        }
    };
    (out, what)
}

/// Overwrites a range of the section: random bytes, zeros or 0xff.
fn overwrite(out: &mut [u8], s: &Section, rng: &mut Rng) -> String {
    let start = s.offset + rng.below(s.size);
    let len = rng.within(1..(s.offset + s.size - start).min(4096) + 1);
    let range = start as usize..(start + len) as usize;
    let kind = rng.below(3);
    match kind {
        0 => rng.fill(&mut out[range.clone()]),
        1 => out[range.clone()].fill(0),
        _ => out[range.clone()].fill(0xff),
    }
    let fill = ["random bytes", "zeros", "0xff"][kind as usize];
    format!(
        "{len} bytes of {} at +{} overwritten with {fill}",
        s.name,
        start - s.offset
    )
}
