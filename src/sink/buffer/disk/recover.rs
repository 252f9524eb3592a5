//! What a spool directory holds at start: its segments, where delivery
//! resumes, and the damage found on the way.
//!
//! Each segment from the acknowledged position on is read through once,
//! one record at a time. A record that runs past the end of its file (an
//! append cut short by a crash or a full disk), or damage after which no
//! whole record follows, is cut off: the file is truncated at the last
//! whole record. Damage with whole records after it is left in place and
//! skipped when read (the reader finds the next record by its magic). Both
//! are counted and reported; nothing here panics on any bytes.

use std::fs::{self, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};

use super::ack::{AckFile, Acks, Loaded, Pos};
use super::segment::{read_frame, resync, Frame, ReadAt};

/// One segment file as found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    pub id: u64,
    /// Its length, after any cut.
    pub bytes: u64,
    /// Events in its whole records not yet acknowledged.
    pub events: u64,
}

/// The spool as found at start.
#[derive(Debug, Default)]
pub struct Recovered {
    pub segments: Vec<Found>,
    /// Where delivery resumes.
    pub acked: Pos,
    /// The `ack` file was damaged: delivery resumes at the oldest record.
    pub ack_damaged: bool,
    /// Events between the acknowledged position and the end of the
    /// delivery in progress at the crash: sent again.
    pub redelivered: u64,
    /// Bytes cut off the ends of segments (torn appends).
    pub cut_bytes: u64,
    /// Damaged regions inside segments, and their bytes, to be skipped.
    pub damaged: u64,
    pub damaged_bytes: u64,
}

impl Recovered {
    pub fn pending_events(&self) -> u64 {
        self.segments.iter().map(|s| s.events).sum()
    }
}

/// The file of segment `id`.
pub fn segment_path(dir: &Path, id: u64) -> PathBuf {
    dir.join(format!("{id:020}.seg"))
}

/// The segments of `dir`, oldest first.
fn list(dir: &Path) -> io::Result<Vec<u64>> {
    let mut ids = Vec::new();
    for entry in fs::read_dir(dir)? {
        let name = entry?.file_name();
        let id = name
            .to_str()
            .and_then(|n| n.strip_suffix(".seg"))
            .filter(|n| n.len() == 20)
            .and_then(|n| n.parse::<u64>().ok());
        ids.extend(id);
    }
    ids.sort_unstable();
    Ok(ids)
}

/// Reads the `ack` file and every segment not yet delivered; deletes the
/// delivered ones and cuts torn tails.
pub fn recover(dir: &Path) -> io::Result<Recovered> {
    let acks = match AckFile::new(dir).load()? {
        Loaded::Found(a) => Some(a),
        Loaded::Missing => None,
        Loaded::Damaged => {
            let mut r = recover_from(dir, Acks::default())?;
            r.ack_damaged = true;
            return Ok(r);
        }
    };
    recover_from(dir, acks.unwrap_or_default())
}

fn recover_from(dir: &Path, acks: Acks) -> io::Result<Recovered> {
    let mut r = Recovered::default();
    for id in list(dir)? {
        let path = segment_path(dir, id);
        if id < acks.acked.segment {
            fs::remove_file(&path)?;
            continue;
        }
        let file = OpenOptions::new().read(true).write(true).open(&path)?;
        let len = file.metadata()?.len();
        let start = if id == acks.acked.segment {
            acks.acked.offset.min(len)
        } else {
            0
        };
        let inflight = if id < acks.inflight.segment {
            u64::MAX
        } else if id == acks.inflight.segment {
            acks.inflight.offset
        } else {
            0
        };
        let scan = scan(&file, start, len, inflight)?;
        if scan.whole_end < len {
            file.set_len(scan.whole_end)?;
            r.cut_bytes += len - scan.whole_end;
        }
        r.redelivered += scan.redelivered;
        r.damaged += scan.damaged;
        r.damaged_bytes += scan.damaged_bytes;
        r.segments.push(Found {
            id,
            bytes: scan.whole_end,
            events: scan.events,
        });
    }
    r.acked = match r.segments.first() {
        Some(first) if first.id == acks.acked.segment => acks.acked,
        Some(first) => Pos {
            segment: first.id,
            offset: 0,
        },
        None => acks.acked,
    };
    Ok(r)
}

/// What one pass over a segment found.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Scan {
    /// Events in whole records from the start of the pass.
    pub events: u64,
    /// Of those, the events in records that start before `inflight`.
    pub redelivered: u64,
    /// The end of the last whole record (or the start of the pass).
    pub whole_end: u64,
    pub damaged: u64,
    pub damaged_bytes: u64,
}

/// Reads the records of `src` from `start` to `end`, skipping damage that
/// whole records follow; `whole_end` is where the segment should be cut.
pub fn scan(src: &(impl ReadAt + ?Sized), start: u64, end: u64, inflight: u64) -> io::Result<Scan> {
    let mut s = Scan {
        whole_end: start,
        ..Scan::default()
    };
    let mut at = start;
    while at < end {
        match read_frame(src, at, end)? {
            Frame::Whole { record, next } => {
                s.events += u64::from(record.events);
                if at < inflight {
                    s.redelivered += u64::from(record.events);
                }
                at = next;
                s.whole_end = next;
            }
            Frame::Torn | Frame::Corrupt => match resync(src, at, end)? {
                Some(next) => {
                    s.damaged += 1;
                    s.damaged_bytes += next - at;
                    at = next;
                }
                None => break,
            },
        }
    }
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::super::segment::encode;
    use super::*;
    use proptest::prelude::*;

    fn three_records() -> (Vec<u8>, [u64; 3]) {
        let mut data = Vec::new();
        let mut ends = [0; 3];
        for (i, end) in ends.iter_mut().enumerate() {
            encode(
                &mut data,
                10 + i as u32,
                None,
                format!("line {i}\n").as_bytes(),
            );
            *end = data.len() as u64;
        }
        (data, ends)
    }

    #[test]
    fn a_torn_tail_is_cut_at_the_last_whole_record() {
        let (data, ends) = three_records();
        let torn = &data[..data.len() - 3];
        let s = scan(torn, 0, torn.len() as u64, 0).unwrap();
        assert_eq!(
            s,
            Scan {
                events: 21,
                redelivered: 0,
                whole_end: ends[1],
                damaged: 0,
                damaged_bytes: 0
            }
        );
    }

    #[test]
    fn damage_in_the_middle_is_skipped_and_counted() {
        let (mut data, ends) = three_records();
        data[ends[0] as usize + 14] ^= 0xff;
        let s = scan(&data[..], 0, data.len() as u64, ends[1]).unwrap();
        assert_eq!(
            s,
            Scan {
                events: 22,
                redelivered: 10,
                whole_end: ends[2],
                damaged: 1,
                damaged_bytes: ends[1] - ends[0],
            }
        );
    }

    #[test]
    fn recovery_cuts_files_deletes_acked_segments_and_counts_redelivery() {
        let dir = tempfile::tempdir().unwrap();
        let (data, ends) = three_records();
        fs::write(segment_path(dir.path(), 1), &data).unwrap();
        let mut torn = data.clone();
        torn.truncate(data.len() - 1);
        fs::write(segment_path(dir.path(), 2), &torn).unwrap();
        fs::write(segment_path(dir.path(), 0), &data).unwrap();
        let acks = Acks {
            acked: Pos {
                segment: 1,
                offset: ends[0],
            },
            inflight: Pos {
                segment: 1,
                offset: ends[2],
            },
        };
        AckFile::new(dir.path()).store(&acks, false).unwrap();
        let r = recover(dir.path()).unwrap();
        assert!(!segment_path(dir.path(), 0).exists());
        assert_eq!(r.acked, acks.acked);
        assert_eq!(
            r.segments,
            vec![
                Found {
                    id: 1,
                    bytes: ends[2],
                    events: 23
                },
                Found {
                    id: 2,
                    bytes: ends[1],
                    events: 21
                },
            ]
        );
        assert_eq!(
            (r.redelivered, r.cut_bytes, r.pending_events()),
            (23, ends[2] - ends[1] - 1, 44)
        );
        assert_eq!(
            fs::metadata(segment_path(dir.path(), 2)).unwrap().len(),
            ends[1]
        );
    }

    proptest! {
        #[test]
        fn scanning_any_bytes_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..2048), start in 0u64..2100) {
            let end = bytes.len() as u64;
            let s = scan(&bytes[..], start, end, end / 2).unwrap();
            prop_assert!(s.whole_end <= end.max(start));
            prop_assert!(s.redelivered <= s.events);
        }

        #[test]
        fn records_among_garbage_are_found(garbage in proptest::collection::vec(any::<u8>(), 0..512), n in 1u32..20) {
            let mut data = garbage.clone();
            for i in 0..n {
                encode(&mut data, 1, None, format!("{i}\n").as_bytes());
            }
            let s = scan(&data[..], 0, data.len() as u64, 0).unwrap();
            // Garbage may hold a false start, never a whole false record
            // with a matching CRC in practice: every real record is found.
            prop_assert!(s.events >= u64::from(n));
            prop_assert_eq!(s.whole_end, data.len() as u64);
        }
    }
}
