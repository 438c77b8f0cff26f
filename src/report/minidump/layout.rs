//! The minidump records as bytes (breakpad `minidump_format.h`,
//! rust-minidump `minidump-common/src/format.rs`): little-endian, packed,
//! addressed by 32-bit file offsets (RVAs). Pure: each function fills a
//! fixed array, unit-tested against the offsets the readers use.

/// "MDMP" and the format version.
const SIGNATURE: u32 = 0x504D_444D;
const VERSION: u32 = 0xA793;
pub const HEADER_SIZE: usize = 32;
pub const DIRECTORY_ENTRY_SIZE: usize = 12;
pub const THREAD_SIZE: usize = 48;
/// `MD_MODULE_SIZE`: the stride of the module list, not `sizeof` (112).
pub const MODULE_SIZE: usize = 108;
pub const MEMORY_DESCRIPTOR_SIZE: usize = 16;
pub const THREAD_NAME_SIZE: usize = 12;
pub const SYSTEM_INFO_SIZE: usize = 56;
pub const EXCEPTION_SIZE: usize = 168;
pub const CRASHPAD_INFO_SIZE: usize = 52;

/// Stream types.
pub mod stream {
    pub const THREAD_LIST: u32 = 3;
    pub const MODULE_LIST: u32 = 4;
    pub const MEMORY_LIST: u32 = 5;
    pub const EXCEPTION: u32 = 6;
    pub const SYSTEM_INFO: u32 = 7;
    pub const THREAD_NAMES: u32 = 24;
    pub const LINUX_PROC_STATUS: u32 = 0x4767_0004;
    pub const LINUX_CMD_LINE: u32 = 0x4767_0006;
    pub const LINUX_AUXV: u32 = 0x4767_0008;
    pub const LINUX_MAPS: u32 = 0x4767_0009;
    pub const CRASHPAD_INFO: u32 = 0x4350_0001;
}

/// `MD_OS_LINUX`.
const PLATFORM_LINUX: u32 = 0x8201;
/// 'BpEL': an ELF build id follows.
const CV_SIGNATURE_ELF: u32 = 0x4270_454C;
/// `MD_EXCEPTION_CODE_LIN_DUMP_REQUESTED`: a dump with no fault (a timeout).
pub const EXCEPTION_DUMP_REQUESTED: u32 = 0xFFFF_FFFF;

/// Where a piece of the file is: `MDLocationDescriptor`.
#[derive(Clone, Copy, Default, Debug, PartialEq, Eq)]
pub struct Location {
    pub size: u32,
    pub rva: u32,
}

/// A range of process memory and where its bytes are: `MDMemoryDescriptor`.
#[derive(Clone, Copy, Default, Debug, PartialEq, Eq)]
pub struct MemoryRange {
    pub start: u64,
    pub bytes: Location,
}

fn put(out: &mut [u8], at: usize, bytes: &[u8]) {
    out[at..at + bytes.len()].copy_from_slice(bytes);
}

fn put_location(out: &mut [u8], at: usize, loc: Location) {
    put(out, at, &loc.size.to_le_bytes());
    put(out, at + 4, &loc.rva.to_le_bytes());
}

fn put_memory(out: &mut [u8], at: usize, range: MemoryRange) {
    put(out, at, &range.start.to_le_bytes());
    put_location(out, at + 8, range.bytes);
}

pub fn header(streams: u32, unix_time: u32) -> [u8; HEADER_SIZE] {
    let mut out = [0u8; HEADER_SIZE];
    put(&mut out, 0, &SIGNATURE.to_le_bytes());
    put(&mut out, 4, &VERSION.to_le_bytes());
    put(&mut out, 8, &streams.to_le_bytes());
    // The directory follows the header.
    put(&mut out, 12, &(HEADER_SIZE as u32).to_le_bytes());
    put(&mut out, 20, &unix_time.to_le_bytes());
    out
}

pub fn directory_entry(kind: u32, loc: Location) -> [u8; DIRECTORY_ENTRY_SIZE] {
    let mut out = [0u8; DIRECTORY_ENTRY_SIZE];
    put(&mut out, 0, &kind.to_le_bytes());
    put_location(&mut out, 4, loc);
    out
}

/// The `u32` count that starts every list stream.
pub fn count(n: usize) -> [u8; 4] {
    (n as u32).to_le_bytes()
}

/// `MDRawThread`.
pub fn thread(tid: u32, stack: MemoryRange, context: Location) -> [u8; THREAD_SIZE] {
    let mut out = [0u8; THREAD_SIZE];
    put(&mut out, 0, &tid.to_le_bytes());
    put_memory(&mut out, 24, stack);
    put_location(&mut out, 40, context);
    out
}

pub fn memory_descriptor(range: MemoryRange) -> [u8; MEMORY_DESCRIPTOR_SIZE] {
    let mut out = [0u8; MEMORY_DESCRIPTOR_SIZE];
    put_memory(&mut out, 0, range);
    out
}

/// `MDRawThreadName`: the tid and the 64-bit RVA of an `MDString`.
pub fn thread_name(tid: u32, name_rva: u32) -> [u8; THREAD_NAME_SIZE] {
    let mut out = [0u8; THREAD_NAME_SIZE];
    put(&mut out, 0, &tid.to_le_bytes());
    put(&mut out, 4, &u64::from(name_rva).to_le_bytes());
    out
}

/// `MDRawModule`: base and size of the image, the `MDString` of its path,
/// its CodeView record.
pub fn module(base: u64, size: u32, name_rva: u32, cv: Location) -> [u8; MODULE_SIZE] {
    let mut out = [0u8; MODULE_SIZE];
    put(&mut out, 0, &base.to_le_bytes());
    put(&mut out, 8, &size.to_le_bytes());
    put(&mut out, 20, &name_rva.to_le_bytes());
    put_location(&mut out, 76, cv);
    out
}

/// The CodeView record of an ELF module: 'BpEL' and the build id's bytes,
/// from which readers derive the code id (the id in hex) and the debug id.
pub fn codeview_head() -> [u8; 4] {
    CV_SIGNATURE_ELF.to_le_bytes()
}

/// What SystemInfo says of the processor.
pub struct Cpu {
    pub arch: u16,
    pub level: u16,
    pub revision: u16,
    pub count: u8,
    /// The 24-byte CPU union: x86's cpuid vendor, version and features.
    pub info: [u8; 24],
}

/// `MDRawSystemInfo`: Linux, its version numbers, the `MDString` of the
/// full uname line.
pub fn system_info(cpu: &Cpu, version: [u32; 3], csd_rva: u32) -> [u8; SYSTEM_INFO_SIZE] {
    let mut out = [0u8; SYSTEM_INFO_SIZE];
    put(&mut out, 0, &cpu.arch.to_le_bytes());
    put(&mut out, 2, &cpu.level.to_le_bytes());
    put(&mut out, 4, &cpu.revision.to_le_bytes());
    out[6] = cpu.count;
    for (i, v) in version.iter().enumerate() {
        put(&mut out, 8 + i * 4, &v.to_le_bytes());
    }
    put(&mut out, 20, &PLATFORM_LINUX.to_le_bytes());
    put(&mut out, 24, &csd_rva.to_le_bytes());
    put(&mut out, 32, &cpu.info);
    out
}

/// `MDRawExceptionStream`: the crashing thread, the signal as the exception
/// code, `si_code` as its flags, the fault address, and the context.
pub fn exception(
    tid: u32,
    signal: u32,
    code: u32,
    address: u64,
    context: Location,
) -> [u8; EXCEPTION_SIZE] {
    let mut out = [0u8; EXCEPTION_SIZE];
    put(&mut out, 0, &tid.to_le_bytes());
    put(&mut out, 8, &signal.to_le_bytes());
    put(&mut out, 12, &code.to_le_bytes());
    put(&mut out, 24, &address.to_le_bytes());
    put_location(&mut out, 160, context);
    out
}

/// `MinidumpCrashpadInfo` version 1: no report or client id, the simple
/// annotations (a `MinidumpSimpleStringDictionary`), an empty module list.
pub fn crashpad_info(annotations: Location, modules: Location) -> [u8; CRASHPAD_INFO_SIZE] {
    let mut out = [0u8; CRASHPAD_INFO_SIZE];
    put(&mut out, 0, &1u32.to_le_bytes());
    put_location(&mut out, 36, annotations);
    put_location(&mut out, 44, modules);
    out
}

/// One `MinidumpSimpleStringDictionaryEntry`: the RVAs of two
/// `MinidumpUTF8String`s.
pub fn dictionary_entry(key_rva: u32, value_rva: u32) -> [u8; 8] {
    let mut out = [0u8; 8];
    put(&mut out, 0, &key_rva.to_le_bytes());
    put(&mut out, 4, &value_rva.to_le_bytes());
    out
}

/// Encodes `text` (UTF-8 where it is; any other byte as the character of
/// the same value) as an `MDString` into `out`: a byte length, UTF-16LE,
/// a 16-bit NUL. Returns the bytes used; what does not fit is cut.
pub fn md_string(text: &[u8], out: &mut [u8]) -> usize {
    let mut at = 4;
    let mut push = |unit: u16, at: &mut usize| {
        if *at + 4 <= out.len() {
            put(out, *at, &unit.to_le_bytes());
            *at += 2;
        }
    };
    for chunk in text.utf8_chunks() {
        for c in chunk.valid().chars() {
            let mut units = [0u16; 2];
            for &unit in c.encode_utf16(&mut units).iter() {
                push(unit, &mut at);
            }
        }
        for &b in chunk.invalid() {
            push(u16::from(b), &mut at);
        }
    }
    put(out, 0, &((at - 4) as u32).to_le_bytes());
    put(out, at, &[0, 0]);
    at + 2
}

/// The bytes an `MDString` of `text` takes at most.
pub fn md_string_size(text: &[u8]) -> usize {
    4 + text.len() * 2 + 2
}

/// `major.minor.build` of a kernel release (`6.1.0-18-amd64`).
pub fn kernel_version(release: &[u8]) -> [u32; 3] {
    let mut out = [0u32; 3];
    let mut parts = release.split(|&b| b == b'.');
    for slot in &mut out {
        let Some(part) = parts.next() else { break };
        let digits = part.iter().take_while(|b| b.is_ascii_digit());
        *slot = digits.fold(0u32, |n, &d| {
            n.saturating_mul(10).saturating_add(u32::from(d - b'0'))
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn u32_at(b: &[u8], at: usize) -> u32 {
        u32::from_le_bytes(b[at..at + 4].try_into().unwrap())
    }

    fn u64_at(b: &[u8], at: usize) -> u64 {
        u64::from_le_bytes(b[at..at + 8].try_into().unwrap())
    }

    #[test]
    fn header_and_directory() {
        let h = header(9, 1_700_000_000);
        assert_eq!(&h[..4], b"MDMP");
        assert_eq!(u32_at(&h, 4), 0xA793);
        assert_eq!(u32_at(&h, 8), 9);
        assert_eq!(u32_at(&h, 12), 32);
        assert_eq!(u32_at(&h, 16), 0);
        assert_eq!(u32_at(&h, 20), 1_700_000_000);
        let d = directory_entry(stream::LINUX_MAPS, Location { size: 7, rva: 99 });
        assert_eq!(
            (u32_at(&d, 0), u32_at(&d, 4), u32_at(&d, 8)),
            (0x47670009, 7, 99)
        );
    }

    #[test]
    fn thread_record() {
        let stack = MemoryRange {
            start: 0x7ffd_0000_1000,
            bytes: Location {
                size: 0x8000,
                rva: 0x400,
            },
        };
        let t = thread(
            4242,
            stack,
            Location {
                size: 1232,
                rva: 0x100,
            },
        );
        assert_eq!(u32_at(&t, 0), 4242);
        assert_eq!(u64_at(&t, 24), 0x7ffd_0000_1000);
        assert_eq!((u32_at(&t, 32), u32_at(&t, 36)), (0x8000, 0x400));
        assert_eq!((u32_at(&t, 40), u32_at(&t, 44)), (1232, 0x100));
    }

    #[test]
    fn module_record_and_codeview() {
        let m = module(
            0x5555_0000_0000,
            0x3000,
            0x200,
            Location {
                size: 24,
                rva: 0x300,
            },
        );
        assert_eq!(u64_at(&m, 0), 0x5555_0000_0000);
        assert_eq!(u32_at(&m, 8), 0x3000);
        assert_eq!(u32_at(&m, 20), 0x200);
        assert_eq!((u32_at(&m, 76), u32_at(&m, 80)), (24, 0x300));
        assert_eq!(&codeview_head(), b"LEpB");
    }

    #[test]
    fn system_info_and_exception() {
        let cpu = Cpu {
            arch: 9,
            level: 6,
            revision: 0x5507,
            count: 2,
            info: [7; 24],
        };
        let s = system_info(&cpu, [6, 1, 0], 0x500);
        assert_eq!(u16::from_le_bytes([s[0], s[1]]), 9);
        assert_eq!(s[6], 2);
        assert_eq!((u32_at(&s, 8), u32_at(&s, 12)), (6, 1));
        assert_eq!(u32_at(&s, 20), 0x8201);
        assert_eq!(u32_at(&s, 24), 0x500);
        assert_eq!(s[32..], [7; 24]);
        let e = exception(
            77,
            11,
            1,
            0xdead,
            Location {
                size: 1232,
                rva: 0x80,
            },
        );
        assert_eq!(u32_at(&e, 0), 77);
        assert_eq!((u32_at(&e, 8), u32_at(&e, 12)), (11, 1));
        assert_eq!(u64_at(&e, 24), 0xdead);
        assert_eq!((u32_at(&e, 160), u32_at(&e, 164)), (1232, 0x80));
    }

    #[test]
    fn strings_are_utf16_with_a_byte_length() {
        let mut buf = [0u8; 64];
        let n = md_string("a/é".as_bytes(), &mut buf);
        assert_eq!(u32_at(&buf, 0), 6);
        assert_eq!(&buf[4..n], &[b'a', 0, b'/', 0, 0xe9, 0, 0, 0]);
        // A byte that is not UTF-8 becomes the character of its value.
        let n = md_string(b"\xff", &mut buf);
        assert_eq!(&buf[..n], &[2, 0, 0, 0, 0xff, 0, 0, 0]);
        // Cut to the buffer, still terminated.
        let mut small = [0u8; 10];
        let n = md_string(b"abcdef", &mut small);
        assert_eq!(n, 10);
        assert_eq!(u32_at(&small, 0), 4);
        assert!(md_string_size(b"abcdef") >= 4 + 12 + 2);
    }

    #[test]
    fn kernel_versions() {
        assert_eq!(kernel_version(b"6.1.0-18-amd64"), [6, 1, 0]);
        assert_eq!(kernel_version(b"5.15.153.1-microsoft"), [5, 15, 153]);
        assert_eq!(kernel_version(b"4"), [4, 0, 0]);
    }

    #[test]
    fn crashpad_info_record() {
        let c = crashpad_info(
            Location {
                size: 20,
                rva: 0x40,
            },
            Location { size: 4, rva: 0x60 },
        );
        assert_eq!(u32_at(&c, 0), 1);
        assert_eq!((u32_at(&c, 36), u32_at(&c, 40)), (20, 0x40));
        assert_eq!((u32_at(&c, 44), u32_at(&c, 48)), (4, 0x60));
        let e = dictionary_entry(1, 2);
        assert_eq!((u32_at(&e, 0), u32_at(&e, 4)), (1, 2));
    }
}
