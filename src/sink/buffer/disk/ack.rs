//! The spool's persisted positions, in the file `ack` of the spool
//! directory: how far the sink has delivered (`acked`), and how far the
//! delivery in progress reaches (`inflight`).
//!
//! Both are written (to `ack.tmp`, then renamed over `ack`, so a reader
//! sees the old file or the new, never half of one) before a chunk is sent
//! and after it was delivered. After a crash the records between the two
//! may have reached the receiver already: they are sent again and counted
//! as redelivered. The file carries a CRC; a damaged one is reported and the
//! spool starts from its oldest record (at least once, never lost).

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// A place in the spool: a segment's number and a byte offset in it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct Pos {
    pub segment: u64,
    pub offset: u64,
}

/// What the `ack` file holds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Acks {
    /// Everything before it was delivered.
    pub acked: Pos,
    /// A delivery reaching this far had started; `acked` when none had.
    pub inflight: Pos,
}

const LEN: usize = 36;

impl Acks {
    fn encode(&self) -> [u8; LEN] {
        let mut out = [0u8; LEN];
        let words = [
            self.acked.segment,
            self.acked.offset,
            self.inflight.segment,
            self.inflight.offset,
        ];
        for (i, w) in words.iter().enumerate() {
            out[i * 8..i * 8 + 8].copy_from_slice(&w.to_le_bytes());
        }
        let crc = crc32fast::hash(&out[..32]);
        out[32..].copy_from_slice(&crc.to_le_bytes());
        out
    }

    /// The positions in `bytes`; `None` if it is not a whole, checked file.
    pub fn decode(bytes: &[u8]) -> Option<Acks> {
        if bytes.len() != LEN {
            return None;
        }
        let word =
            |i: usize| u64::from_le_bytes(bytes[i * 8..i * 8 + 8].try_into().unwrap_or([0; 8]));
        let crc = u32::from_le_bytes(bytes[32..].try_into().ok()?);
        if crc32fast::hash(&bytes[..32]) != crc {
            return None;
        }
        let acks = Acks {
            acked: Pos {
                segment: word(0),
                offset: word(1),
            },
            inflight: Pos {
                segment: word(2),
                offset: word(3),
            },
        };
        (acks.inflight >= acks.acked).then_some(acks)
    }
}

/// The `ack` file of a spool directory.
pub struct AckFile {
    path: PathBuf,
    tmp: PathBuf,
}

/// What reading the `ack` file found.
#[derive(Debug, PartialEq, Eq)]
pub enum Loaded {
    /// No file: a new spool.
    Missing,
    Found(Acks),
    /// A file that is not whole or fails its check.
    Damaged,
}

impl AckFile {
    pub fn new(dir: &Path) -> AckFile {
        AckFile {
            path: dir.join("ack"),
            tmp: dir.join("ack.tmp"),
        }
    }

    pub fn load(&self) -> io::Result<Loaded> {
        match fs::read(&self.path) {
            Ok(bytes) => Ok(Acks::decode(&bytes).map_or(Loaded::Damaged, Loaded::Found)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Loaded::Missing),
            Err(e) => Err(e),
        }
    }

    /// Replaces the file; `sync`: forced to the disk before the rename.
    pub fn store(&self, acks: &Acks, sync: bool) -> io::Result<()> {
        let mut f = File::create(&self.tmp)?;
        f.write_all(&acks.encode())?;
        if sync {
            f.sync_data()?;
        }
        fs::rename(&self.tmp, &self.path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_survive_a_store_and_load() {
        let dir = tempfile::tempdir().unwrap();
        let file = AckFile::new(dir.path());
        assert_eq!(file.load().unwrap(), Loaded::Missing);
        let acks = Acks {
            acked: Pos {
                segment: 3,
                offset: 4096,
            },
            inflight: Pos {
                segment: 4,
                offset: 12,
            },
        };
        file.store(&acks, true).unwrap();
        assert_eq!(file.load().unwrap(), Loaded::Found(acks));
        assert!(!dir.path().join("ack.tmp").exists());
    }

    #[test]
    fn a_damaged_file_is_reported_as_such() {
        let dir = tempfile::tempdir().unwrap();
        let file = AckFile::new(dir.path());
        let acks = Acks {
            acked: Pos {
                segment: 1,
                offset: 7,
            },
            inflight: Pos {
                segment: 1,
                offset: 9,
            },
        };
        file.store(&acks, false).unwrap();
        let mut bytes = fs::read(dir.path().join("ack")).unwrap();
        bytes[3] ^= 1;
        fs::write(dir.path().join("ack"), &bytes).unwrap();
        assert_eq!(file.load().unwrap(), Loaded::Damaged);
        fs::write(dir.path().join("ack"), &bytes[..10]).unwrap();
        assert_eq!(file.load().unwrap(), Loaded::Damaged);
    }
}
