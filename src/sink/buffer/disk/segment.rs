//! The framing of a spool segment file: records one after the other, each
//! `magic (4) | length (4) | crc32 (4) | payload`, integers little-endian.
//!
//! The payload is one queued batch, opaque to the spool: its event count
//! (4), its key's length (2), the key, then the encoded bytes. The CRC covers
//! the length and the payload, so a flipped length is caught as surely as a
//! flipped byte; the magic lets a reader find the next whole record after a
//! damaged one without trying every offset. Reading is positional
//! ([`ReadAt`]) and one record at a time: a segment is never loaded whole.

use std::io;
use std::os::unix::fs::FileExt;

/// "LMS1": the start of every record.
pub const MAGIC: [u8; 4] = *b"LMS1";
/// Bytes before the payload.
pub const HEADER: usize = 12;
/// A length above this is damage, not a record (a queued batch is bounded
/// by the sink's queue, at most 1 GiB; the spool refuses larger ones).
pub const MAX_PAYLOAD: u32 = 1 << 30;
/// Bytes of payload before the key and the encoded events.
const PAYLOAD_HEAD: usize = 6;

/// One record read back: a batch as the readers queued it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Record {
    pub events: u32,
    pub key: Option<Box<str>>,
    pub bytes: Vec<u8>,
}

/// The bytes a record takes on disk.
pub fn frame_len(key: Option<&str>, bytes: &[u8]) -> u64 {
    (HEADER + PAYLOAD_HEAD + key.map_or(0, str::len) + bytes.len()) as u64
}

/// Appends one framed record to `out`. A key longer than 65,535 bytes
/// (never a container name) is cut.
pub fn encode(out: &mut Vec<u8>, events: u32, key: Option<&str>, bytes: &[u8]) {
    let key = key.map_or(&[][..], |k| &k.as_bytes()[..k.len().min(u16::MAX as usize)]);
    let len = (PAYLOAD_HEAD + key.len() + bytes.len()) as u32;
    let start = out.len();
    out.extend_from_slice(&MAGIC);
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(&[0; 4]);
    out.extend_from_slice(&events.to_le_bytes());
    out.extend_from_slice(&(key.len() as u16).to_le_bytes());
    out.extend_from_slice(key);
    out.extend_from_slice(bytes);
    let crc = checksum(&out[start + 4..start + 8], &out[start + HEADER..]);
    out[start + 8..start + 12].copy_from_slice(&crc.to_le_bytes());
}

fn checksum(len: &[u8], payload: &[u8]) -> u32 {
    let mut h = crc32fast::Hasher::new();
    h.update(len);
    h.update(payload);
    h.finalize()
}

/// Where bytes are read from: a segment file, or a slice (tests, fuzzing).
pub trait ReadAt {
    /// Reads `buf.len()` bytes at `offset`, or fails with `UnexpectedEof`.
    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()>;
}

impl ReadAt for std::fs::File {
    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()> {
        FileExt::read_exact_at(self, buf, offset)
    }
}

impl ReadAt for [u8] {
    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()> {
        let start = usize::try_from(offset).unwrap_or(usize::MAX);
        let end = start.checked_add(buf.len());
        match end.and_then(|end| self.get(start..end)) {
            Some(src) => {
                buf.copy_from_slice(src);
                Ok(())
            }
            None => Err(io::ErrorKind::UnexpectedEof.into()),
        }
    }
}

/// What is at an offset of a segment.
#[derive(Debug, PartialEq, Eq)]
pub enum Frame {
    /// A whole record, checked; the next one starts at `next`.
    Whole { record: Record, next: u64 },
    /// A record that runs past the end: the tail of an append cut short.
    Torn,
    /// Not a record: a bad magic, length or checksum.
    Corrupt,
}

/// Reads the frame at `at`, knowing the segment's bytes end at `end`.
pub fn read_frame(src: &(impl ReadAt + ?Sized), at: u64, end: u64) -> io::Result<Frame> {
    if at + HEADER as u64 > end {
        return Ok(Frame::Torn);
    }
    let mut head = [0u8; HEADER];
    src.read_exact_at(&mut head, at)?;
    let len = u32::from_le_bytes([head[4], head[5], head[6], head[7]]);
    if head[..4] != MAGIC || !(PAYLOAD_HEAD as u32..=MAX_PAYLOAD).contains(&len) {
        return Ok(Frame::Corrupt);
    }
    let next = at + HEADER as u64 + u64::from(len);
    if next > end {
        return Ok(Frame::Torn);
    }
    let mut payload = vec![0u8; len as usize];
    src.read_exact_at(&mut payload, at + HEADER as u64)?;
    let crc = u32::from_le_bytes([head[8], head[9], head[10], head[11]]);
    if checksum(&head[4..8], &payload) != crc {
        return Ok(Frame::Corrupt);
    }
    Ok(match decode(payload) {
        Some(record) => Frame::Whole { record, next },
        None => Frame::Corrupt,
    })
}

/// The record in a checked payload; `None` if its parts do not add up.
fn decode(mut payload: Vec<u8>) -> Option<Record> {
    let events = u32::from_le_bytes(payload.get(..4)?.try_into().ok()?);
    let key_len = usize::from(u16::from_le_bytes(payload.get(4..6)?.try_into().ok()?));
    let key = match key_len {
        0 => None,
        n => Some(Box::from(std::str::from_utf8(payload.get(6..6 + n)?).ok()?)),
    };
    payload.drain(..PAYLOAD_HEAD + key_len);
    Some(Record {
        events,
        key,
        bytes: payload,
    })
}

/// The first whole record after `from` (exclusive) and before `end`, found
/// by its magic; `None` if there is none. Reads 64 KiB windows.
pub fn resync(src: &(impl ReadAt + ?Sized), from: u64, end: u64) -> io::Result<Option<u64>> {
    const WINDOW: u64 = 64 * 1024;
    let mut at = from + 1;
    let mut buf = vec![0u8; WINDOW as usize];
    while at + HEADER as u64 <= end {
        let n = WINDOW.min(end - at) as usize;
        src.read_exact_at(&mut buf[..n], at)?;
        for i in memchr::memmem::find_iter(&buf[..n], &MAGIC) {
            let candidate = at + i as u64;
            if let Frame::Whole { .. } = read_frame(src, candidate, end)? {
                return Ok(Some(candidate));
            }
        }
        // Step back by the magic's length, less one, so that a magic split
        // between two windows is still found.
        at += (n as u64).saturating_sub(MAGIC.len() as u64 - 1).max(1);
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn framed(records: &[(u32, Option<&str>, &[u8])]) -> Vec<u8> {
        let mut out = Vec::new();
        for (events, key, bytes) in records {
            encode(&mut out, *events, *key, bytes);
        }
        out
    }

    #[test]
    fn a_record_reads_back_whole() {
        let data = framed(&[(2, Some("web"), b"a\nb\n"), (1, None, b"c\n")]);
        assert_eq!(
            data.len() as u64,
            frame_len(Some("web"), b"a\nb\n") + frame_len(None, b"c\n")
        );
        let end = data.len() as u64;
        let Frame::Whole { record, next } = read_frame(&data[..], 0, end).unwrap() else {
            panic!("not whole");
        };
        assert_eq!(
            record,
            Record {
                events: 2,
                key: Some("web".into()),
                bytes: b"a\nb\n".to_vec()
            }
        );
        assert_eq!(next, 25);
        let Frame::Whole { record, next } = read_frame(&data[..], next, end).unwrap() else {
            panic!("not whole");
        };
        assert_eq!(
            (record.events, record.key, record.bytes),
            (1, None, b"c\n".to_vec())
        );
        assert_eq!(next, end);
    }

    #[test]
    fn a_flipped_byte_or_length_is_corrupt_and_a_short_tail_is_torn() {
        let data = framed(&[(1, None, b"hello\n")]);
        let end = data.len() as u64;
        for i in 0..data.len() {
            let mut bad = data.clone();
            bad[i] ^= 0x40;
            let frame = read_frame(&bad[..], 0, end).unwrap();
            assert!(
                matches!(frame, Frame::Corrupt | Frame::Torn),
                "byte {i}: {frame:?}"
            );
        }
        for cut in 0..data.len() {
            assert_eq!(
                read_frame(&data[..cut], 0, cut as u64).unwrap(),
                Frame::Torn,
                "cut at {cut}"
            );
        }
    }

    #[test]
    fn resync_finds_the_next_whole_record() {
        let mut data = framed(&[(1, None, b"first\n")]);
        let second = data.len() as u64;
        data.extend(framed(&[(1, None, b"second\n")]));
        data[13] ^= 0xff;
        let end = data.len() as u64;
        assert_eq!(read_frame(&data[..], 0, end).unwrap(), Frame::Corrupt);
        assert_eq!(resync(&data[..], 0, end).unwrap(), Some(second));
        assert_eq!(resync(&data[..], second, end).unwrap(), None);
    }

    #[test]
    fn resync_finds_a_magic_across_windows() {
        let mut data = vec![0u8; 64 * 1024 - 2];
        let at = data.len() as u64;
        data.extend(framed(&[(1, None, b"x\n")]));
        let end = data.len() as u64;
        assert_eq!(resync(&data[..], 0, end).unwrap(), Some(at));
    }
}
