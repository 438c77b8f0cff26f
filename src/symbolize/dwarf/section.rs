//! One debug section's bytes, as the DWARF reader sees them: borrowed from a
//! mapped file, or inflated from a compressed section (`SHF_COMPRESSED`
//! zlib, as Debian's `*-dbg` packages and `-gz` ship them, zstd, or the
//! older `.zdebug_*` form) only as far as a reader has asked. A compressed stream
//! has no random access, so reading a unit in the middle of `.debug_info`
//! inflates everything before it, but nothing after it.
//!
//! Signal-safe (dump path): the output buffer is allocated once, at the
//! section's uncompressed size, from the dump's arena; a section that would
//! push the arena past [`SOFT_LIMIT`] is not inflated. Bytes below the
//! inflated length never change again, so slices of them stay valid while
//! more is inflated after them. Inflating stops at the dump's DWARF deadline.

use alloc::boxed::Box;
use core::cell::{Cell, UnsafeCell};
use core::ptr::NonNull;

use miniz_oxide::inflate::stream::{InflateState, inflate};
use miniz_oxide::{DataFormat, MZFlush, MZStatus};
use ruzstd::decoding::{BlockDecodingStrategy, FrameDecoder};
use ruzstd::io::Read as _;

use crate::sys;
use crate::sys::arena::{ARENA, SOFT_LIMIT};

/// `Elf64_Chdr`: type, reserved, uncompressed size, alignment.
const CHDR_SIZE: usize = 24;
const ELFCOMPRESS_ZLIB: u32 = 1;
const ELFCOMPRESS_ZSTD: u32 = 2;
/// Largest zstd window accepted (a corrupted header asks for more).
const MAX_ZSTD_WINDOW: u64 = 64 << 20;
/// Inflate at least this much past what was asked, so that a reader moving
/// forward does not restart the decoder for every few bytes.
const STEP: usize = 16 << 10;
/// Decoding steps in a row that may move nothing before the stream counts
/// as stuck.
const MAX_IDLE_STEPS: usize = 64;

pub struct Section<'s> {
    kind: Kind<'s>,
}

enum Kind<'s> {
    Plain(&'s [u8]),
    Packed(Packed<'s>),
}

struct Packed<'s> {
    out: Buffer,
    /// Bytes of `out` inflated so far; they never change again.
    ready: Cell<usize>,
    /// `None` once the stream ended, failed or ran out of time.
    decoder: UnsafeCell<Option<Decoder<'s>>>,
    deadline_ns: u64,
}

enum Decoder<'s> {
    Zlib {
        state: Box<InflateState>,
        input: &'s [u8],
    },
    Zstd {
        frame: Box<FrameDecoder>,
        input: &'s [u8],
    },
}

/// What one decoding step did.
enum Step {
    /// Wrote this many bytes (maybe 0) and can go on; `false` when it
    /// neither wrote nor read anything.
    More(usize, bool),
    /// Wrote this many bytes and reached the end of the stream.
    End(usize),
    Failed,
}

impl Decoder<'_> {
    /// Decodes into `out` (the bytes right after those decoded so far).
    fn step(&mut self, out: &mut [u8]) -> Step {
        match self {
            Decoder::Zlib { state, input } => {
                let r = inflate(state, input, out, MZFlush::None);
                *input = input.get(r.bytes_consumed..).unwrap_or_default();
                match r.status {
                    Ok(MZStatus::Ok) => {
                        Step::More(r.bytes_written, r.bytes_written + r.bytes_consumed > 0)
                    }
                    Ok(MZStatus::StreamEnd) => Step::End(r.bytes_written),
                    _ => Step::Failed,
                }
            }
            Decoder::Zstd { frame, input } => {
                let before = input.len();
                if frame.can_collect() == 0 && !frame.is_finished() {
                    let want = BlockDecodingStrategy::UptoBytes(out.len());
                    if frame.decode_blocks(&mut *input, want).is_err() {
                        return Step::Failed;
                    }
                }
                let Ok(n) = frame.read(out) else {
                    return Step::Failed;
                };
                if frame.is_finished() && frame.can_collect() == 0 {
                    Step::End(n)
                } else {
                    Step::More(n, n > 0 || input.len() < before)
                }
            }
        }
    }
}

impl<'s> Section<'s> {
    pub fn empty() -> Section<'s> {
        Section {
            kind: Kind::Plain(&[]),
        }
    }

    pub fn plain(bytes: &'s [u8]) -> Section<'s> {
        Section {
            kind: Kind::Plain(bytes),
        }
    }

    /// A section with `SHF_COMPRESSED`: an `Elf64_Chdr`, then the stream.
    /// `None` for a kind of compression this reader does not know.
    pub fn compressed(bytes: &'s [u8], deadline_ns: u64) -> Option<Section<'s>> {
        let header = bytes.get(..CHDR_SIZE)?;
        let kind = u32::from_le_bytes(header[0..4].try_into().ok()?);
        let size = u64::from_le_bytes(header[8..16].try_into().ok()?);
        let input = &bytes[CHDR_SIZE..];
        match kind {
            ELFCOMPRESS_ZLIB => Section::zlib(input, size, deadline_ns),
            ELFCOMPRESS_ZSTD => {
                let mut frame = Box::new(FrameDecoder::new());
                frame.set_max_window_size(MAX_ZSTD_WINDOW);
                let mut input = input;
                frame.init(&mut input).ok()?;
                Section::packed(size, Decoder::Zstd { frame, input }, deadline_ns)
            }
            _ => None,
        }
    }

    /// A `.zdebug_*` section: `ZLIB`, the big-endian size, then the stream.
    pub fn zdebug(bytes: &'s [u8], deadline_ns: u64) -> Option<Section<'s>> {
        let rest = bytes.strip_prefix(b"ZLIB")?;
        let size = u64::from_be_bytes(rest.get(..8)?.try_into().ok()?);
        Section::zlib(&rest[8..], size, deadline_ns)
    }

    fn zlib(input: &'s [u8], size: u64, deadline_ns: u64) -> Option<Section<'s>> {
        let state = InflateState::new_boxed(DataFormat::ZLibIgnoreChecksum);
        Section::packed(size, Decoder::Zlib { state, input }, deadline_ns)
    }

    fn packed(size: u64, decoder: Decoder<'s>, deadline_ns: u64) -> Option<Section<'s>> {
        let size = usize::try_from(size).ok()?;
        if size == 0 || ARENA.used().saturating_add(size) > SOFT_LIMIT {
            return None;
        }
        Some(Section {
            kind: Kind::Packed(Packed {
                out: Buffer::new(size)?,
                ready: Cell::new(0),
                decoder: UnsafeCell::new(Some(decoder)),
                deadline_ns,
            }),
        })
    }

    /// The section's full (uncompressed) length.
    pub fn len(&self) -> usize {
        match &self.kind {
            Kind::Plain(b) => b.len(),
            Kind::Packed(p) => p.out.len,
        }
    }

    /// Bytes `start..end`, inflating up to `end` if needed; `None` if the
    /// range is outside the section or cannot be inflated.
    pub fn get(&self, start: usize, end: usize) -> Option<&[u8]> {
        match &self.kind {
            Kind::Plain(b) => b.get(start..end),
            Kind::Packed(p) => {
                if start > end || end > p.out.len {
                    return None;
                }
                if end > p.ready.get() {
                    p.inflate_to(end)?;
                }
                // SAFETY: `start..end` lies below `ready`: inflated bytes
                // that are never written again, in a buffer that lives as
                // long as `self`.
                Some(unsafe {
                    core::slice::from_raw_parts(p.out.ptr.as_ptr().add(start), end - start)
                })
            }
        }
    }

    /// How many bytes have been inflated (all of them for a plain section).
    #[cfg(test)]
    pub fn inflated(&self) -> usize {
        match &self.kind {
            Kind::Plain(b) => b.len(),
            Kind::Packed(p) => p.ready.get(),
        }
    }
}

impl Packed<'_> {
    fn inflate_to(&self, end: usize) -> Option<()> {
        // SAFETY: only this method touches the decoder, and it does not
        // re-enter itself (inflating calls no code of this crate), so this
        // is the only reference to it.
        let slot = unsafe { &mut *self.decoder.get() };
        let mut ready = self.ready.get();
        let target = end.max(ready.saturating_add(STEP)).min(self.out.len);
        // Steps in a row that moved nothing: a stream that is stuck.
        let mut idle = 0;
        while ready < end {
            let decoder = slot.as_mut()?;
            if sys::monotonic_ns() > self.deadline_ns || idle > MAX_IDLE_STEPS {
                *slot = None;
                return None;
            }
            // SAFETY: `ready..target` is inside the buffer and above every
            // slice handed out by `get`, so no other reference covers it.
            let out = unsafe {
                core::slice::from_raw_parts_mut(self.out.ptr.as_ptr().add(ready), target - ready)
            };
            let step = decoder.step(out);
            let (written, moved) = match step {
                Step::More(n, moved) => (n, moved),
                Step::End(n) => (n, true),
                Step::Failed => (0, false),
            };
            ready += written.min(target - ready);
            self.ready.set(ready);
            idle = if moved { 0 } else { idle + 1 };
            match step {
                Step::More(..) => {}
                Step::End(_) | Step::Failed => {
                    *slot = None;
                    return (ready >= end).then_some(());
                }
            }
        }
        Some(())
    }
}

/// An uninitialised byte buffer of fixed size and address.
struct Buffer {
    ptr: NonNull<u8>,
    len: usize,
}

impl Buffer {
    fn new(len: usize) -> Option<Buffer> {
        let layout = core::alloc::Layout::from_size_align(len, 16).ok()?;
        // SAFETY: len is non-zero (checked by the caller).
        let ptr = NonNull::new(unsafe { alloc::alloc::alloc(layout) })?;
        Some(Buffer { ptr, len })
    }
}

impl Drop for Buffer {
    fn drop(&mut self) {
        // SAFETY: allocated in `new` with this layout.
        unsafe {
            alloc::alloc::dealloc(
                self.ptr.as_ptr(),
                core::alloc::Layout::from_size_align_unchecked(self.len, 16),
            )
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn zlib_section(data: &[u8]) -> Vec<u8> {
        let mut bytes = Vec::new();
        bytes.extend_from_slice(&ELFCOMPRESS_ZLIB.to_le_bytes());
        bytes.extend_from_slice(&0u32.to_le_bytes());
        bytes.extend_from_slice(&(data.len() as u64).to_le_bytes());
        bytes.extend_from_slice(&1u64.to_le_bytes());
        bytes.extend_from_slice(&miniz_oxide::deflate::compress_to_vec_zlib(data, 6));
        bytes
    }

    fn sample() -> Vec<u8> {
        (0..3_000_000u32)
            .flat_map(|i| (i % 7919).to_le_bytes())
            .collect()
    }

    #[test]
    fn inflates_only_as_far_as_asked() {
        let data = sample();
        let packed = zlib_section(&data);
        let s = Section::compressed(&packed, u64::MAX).unwrap();
        assert_eq!(s.len(), data.len());
        assert_eq!(s.get(10, 20).unwrap(), &data[10..20]);
        let first = s.inflated();
        assert!(first >= 20 && first < data.len() / 4, "{first}");
        let mid = data.len() / 2;
        assert_eq!(s.get(mid, mid + 100).unwrap(), &data[mid..mid + 100]);
        assert!(s.inflated() < data.len());
        // Earlier slices are still there and unchanged.
        assert_eq!(s.get(0, 100).unwrap(), &data[..100]);
        assert_eq!(s.get(0, data.len()).unwrap(), &data[..]);
        assert!(s.get(0, data.len() + 1).is_none());
    }

    #[test]
    fn refuses_bad_streams_and_headers() {
        let data = sample();
        let mut packed = zlib_section(&data);
        let n = packed.len();
        // Truncated: the end cannot be had, the start still can.
        let s = Section::compressed(&packed[..n / 2], u64::MAX).unwrap();
        assert!(s.get(0, 16).is_some());
        assert!(s.get(data.len() - 1, data.len()).is_none());
        // Garbage in the middle: fails cleanly.
        for b in &mut packed[CHDR_SIZE + 1000..CHDR_SIZE + 1100] {
            *b ^= 0x5a;
        }
        let s = Section::compressed(&packed, u64::MAX).unwrap();
        let _ = s.get(data.len() - 1, data.len());
        // Unknown kind, absurd size, expired deadline.
        let mut unknown = zlib_section(b"abc");
        unknown[0] = 9;
        assert!(Section::compressed(&unknown, u64::MAX).is_none());
        let mut huge = zlib_section(b"abc");
        huge[8..16].copy_from_slice(&(1u64 << 62).to_le_bytes());
        assert!(Section::compressed(&huge, u64::MAX).is_none());
        let late = zlib_section(&data);
        assert!(Section::compressed(&late, 0).unwrap().get(0, 1).is_none());
    }

    #[test]
    fn zstd_sections() {
        let data = sample();
        let mut bytes = Vec::new();
        bytes.extend_from_slice(&ELFCOMPRESS_ZSTD.to_le_bytes());
        bytes.extend_from_slice(&0u32.to_le_bytes());
        bytes.extend_from_slice(&(data.len() as u64).to_le_bytes());
        bytes.extend_from_slice(&1u64.to_le_bytes());
        bytes.extend_from_slice(&ruzstd::encoding::compress_to_vec(
            &data[..],
            ruzstd::encoding::CompressionLevel::Fastest,
        ));
        let s = Section::compressed(&bytes, u64::MAX).unwrap();
        assert_eq!(s.get(100, 200).unwrap(), &data[100..200]);
        assert!(s.inflated() < data.len());
        assert_eq!(s.get(0, data.len()).unwrap(), &data[..]);
        let n = bytes.len();
        let cut = Section::compressed(&bytes[..n / 2], u64::MAX).unwrap();
        assert!(cut.get(data.len() - 1, data.len()).is_none());
    }

    #[test]
    fn zdebug_form() {
        let data = b"hello, debug world".repeat(100);
        let mut bytes = b"ZLIB".to_vec();
        bytes.extend_from_slice(&(data.len() as u64).to_be_bytes());
        bytes.extend_from_slice(&miniz_oxide::deflate::compress_to_vec_zlib(&data, 6));
        let s = Section::zdebug(&bytes, u64::MAX).unwrap();
        assert_eq!(s.get(0, data.len()).unwrap(), &data[..]);
    }
}
