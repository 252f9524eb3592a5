//! Reads the spool's records back in order, a chunk at a time, for the
//! delivery thread: from the acknowledged position, segment by segment, up
//! to what the writer has published. A chunk stays within one segment and
//! holds about [`CHUNK_BYTES`], so memory stays small whatever the spool's
//! size. Damaged records are skipped to the next whole one, counted.

use std::fs::File;
use std::io;
use std::time::Duration;

use logmux_parsers::Severity;

use super::ack::Pos;
use super::segment::{read_frame, resync, Frame, Record};
use super::Spool;

/// What one chunk holds at most (plus one record).
pub const CHUNK_BYTES: u64 = 1 << 20;

/// Records to deliver, up to `end`, in one segment.
pub struct Chunk {
    pub records: Vec<Record>,
    pub events: u64,
    pub end: Pos,
}

pub struct Reader<'a> {
    spool: &'a Spool,
    pos: Pos,
    file: Option<(u64, File)>,
}

/// What the reader found.
pub enum Next {
    Chunk(Chunk),
    /// Nothing to read yet.
    Idle,
    /// The writer is done and everything was read.
    End,
}

impl<'a> Reader<'a> {
    pub fn new(spool: &'a Spool, from: Pos) -> Reader<'a> {
        Reader {
            spool,
            pos: from,
            file: None,
        }
    }

    /// The next chunk, waiting up to `timeout` for one.
    pub fn next(&mut self, timeout: Duration) -> io::Result<Next> {
        let mut waited = false;
        loop {
            let mut s = self.spool.lock();
            let here = s
                .segments
                .iter()
                .find(|seg| seg.id == self.pos.segment)
                .cloned();
            let after = s
                .segments
                .iter()
                .find(|seg| seg.id > self.pos.segment)
                .map(|seg| seg.id);
            match here {
                Some(seg) if self.pos.offset < seg.bytes => {
                    drop(s);
                    return self.read_chunk(seg.bytes).map(Next::Chunk);
                }
                Some(seg) if !seg.sealed => {}
                _ => {
                    if let Some(next) = after {
                        self.pos = Pos {
                            segment: next,
                            offset: 0,
                        };
                        s.read_segment = next;
                        continue;
                    }
                }
            }
            if s.writer_done && after.is_none() {
                return Ok(Next::End);
            }
            if waited {
                return Ok(Next::Idle);
            }
            drop(self.spool.wait(s, timeout));
            waited = true;
        }
    }

    fn read_chunk(&mut self, end: u64) -> io::Result<Chunk> {
        let id = self.pos.segment;
        if self.file.as_ref().map(|(f, _)| *f) != Some(id) {
            self.file = Some((id, File::open(self.spool.segment_path(id))?));
        }
        let Some((_, file)) = &self.file else {
            return Err(io::ErrorKind::NotFound.into());
        };
        let mut chunk = Chunk {
            records: Vec::new(),
            events: 0,
            end: self.pos,
        };
        let mut at = self.pos.offset;
        let mut bytes = 0;
        while at < end && bytes < CHUNK_BYTES {
            match read_frame(file, at, end)? {
                Frame::Whole { record, next } => {
                    bytes += next - at;
                    chunk.events += u64::from(record.events);
                    chunk.records.push(record);
                    at = next;
                }
                Frame::Torn | Frame::Corrupt => {
                    let next = resync(file, at, end)?.unwrap_or(end);
                    self.report_damage(id, at, next);
                    at = next;
                }
            }
        }
        self.pos.offset = at;
        chunk.end = self.pos;
        Ok(chunk)
    }

    fn report_damage(&self, id: u64, from: u64, to: u64) {
        let path = self.spool.segment_path(id);
        self.spool.report(
            Severity::ERROR,
            &format!(
                "sink {}: skipped {} damaged bytes at offset {from} of {}",
                self.spool.name,
                to - from,
                path.display()
            ),
            &[("damaged_bytes", (to - from))],
        );
    }
}
