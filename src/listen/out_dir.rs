//! `--out-dir DIR`: one JSON-lines file per container, rotated by size.
//!
//! A container's events go to `DIR/NAME.jsonl` (its name, or its id when
//! the tag is Docker's default), every other sender's to
//! `DIR/_syslog.jsonl`; a container name never starts with `_`, so the two
//! cannot meet. Names come from [`super::message::is_container_name`]
//! (letters, digits, `_`, `.`, `-`, not starting with `.`), and are
//! checked again here, so no tag can name a path outside `DIR`. Each file
//! is a [`FileSink`]: renamed to `.1`, `.2`, … before it would pass
//! `--max-file-size`, keeping `--max-files`. At most [`MAX_OPEN`] files
//! are open at once; the least recently written is closed (and reopened,
//! appending, when its container writes again).

use std::io;
use std::path::PathBuf;

use indexmap::IndexMap;

use super::message::is_container_name;
use crate::sink::{FileSink, Sink};

/// The file of senders that are not containers.
pub const OTHERS: &str = "_syslog";

/// Open files at most.
const MAX_OPEN: usize = 256;

/// Files remembered at most (open or not); beyond, idle ones are forgotten.
const MAX_FILES: usize = 4096;

/// A buffer is written once it holds this much.
pub const WRITE_SIZE: usize = 64 * 1024;

/// How files are rotated.
#[derive(Debug, Clone)]
pub struct OutDirSpec {
    pub dir: PathBuf,
    pub max_file_size: Option<u64>,
    pub max_files: u32,
}

struct File {
    buf: Vec<u8>,
    sink: Option<FileSink>,
    /// A counter value: larger is more recently written.
    used: u64,
    /// The last write failed (reported once per run of failures).
    failing: bool,
}

/// The files of `--out-dir`, each with its own buffer of encoded events.
pub struct OutDir {
    spec: OutDirSpec,
    files: IndexMap<Box<str>, File>,
    open: usize,
    clock: u64,
    /// Bytes that could not be written.
    pub lost_bytes: u64,
}

impl OutDir {
    /// Creates `DIR` if needed.
    pub fn new(spec: OutDirSpec) -> io::Result<OutDir> {
        std::fs::create_dir_all(&spec.dir)?;
        Ok(OutDir {
            spec,
            files: IndexMap::new(),
            open: 0,
            clock: 0,
            lost_bytes: 0,
        })
    }

    /// The buffer for a container's events (`None`: not a container).
    pub fn buffer(&mut self, container: Option<&str>) -> &mut Vec<u8> {
        let stem = match container {
            Some(name) if is_container_name(name) => name,
            _ => OTHERS,
        };
        let index = match self.files.get_index_of(stem) {
            Some(i) => i,
            None => {
                self.forget_idle();
                self.files
                    .insert_full(
                        Box::from(stem),
                        File {
                            buf: Vec::new(),
                            sink: None,
                            used: 0,
                            failing: false,
                        },
                    )
                    .0
            }
        };
        &mut self.files[index].buf
    }

    /// Whether any buffer holds events.
    pub fn has_buffered(&self) -> bool {
        self.files.values().any(|f| !f.buf.is_empty())
    }

    /// Writes the buffers that hold at least `min` bytes.
    pub fn write(&mut self, min: usize) {
        for i in 0..self.files.len() {
            let due = self
                .files
                .get_index(i)
                .is_some_and(|(_, f)| !f.buf.is_empty() && f.buf.len() >= min);
            if due {
                self.write_one(i);
            }
        }
    }

    fn write_one(&mut self, i: usize) {
        if self
            .files
            .get_index(i)
            .is_some_and(|(_, f)| f.sink.is_none())
        {
            if self.open >= MAX_OPEN {
                self.close_least_recent();
            }
            let Some((stem, f)) = self.files.get_index_mut(i) else {
                return;
            };
            let path = self.spec.dir.join(format!("{stem}.jsonl"));
            match FileSink::open(path.clone(), self.spec.max_file_size, self.spec.max_files) {
                Ok(sink) => {
                    f.sink = Some(sink);
                    self.open += 1;
                }
                Err(e) => {
                    if !f.failing {
                        tracing::error!(file = %path.display(), error = %e, "cannot open {}: {e}; its events are lost until it can be", path.display());
                    }
                    f.failing = true;
                    self.lost_bytes += f.buf.len() as u64;
                    f.buf.clear();
                    return;
                }
            }
        }
        self.clock += 1;
        let clock = self.clock;
        let Some((stem, f)) = self.files.get_index_mut(i) else {
            return;
        };
        let Some(sink) = f.sink.as_mut() else {
            return;
        };
        f.used = clock;
        match sink.write(&f.buf) {
            Ok(()) => f.failing = false,
            Err(e) => {
                if !f.failing {
                    tracing::error!(file = %stem, error = %e, "cannot write {stem}.jsonl: {e}; its events are lost until it can be");
                }
                f.failing = true;
                self.lost_bytes += f.buf.len() as u64;
            }
        }
        f.buf.clear();
    }

    fn close_least_recent(&mut self) {
        let oldest = self
            .files
            .values_mut()
            .filter(|f| f.sink.is_some())
            .min_by_key(|f| f.used);
        if let Some(f) = oldest {
            f.sink = None;
            self.open -= 1;
        }
    }

    /// Keeps the table bounded: forgets closed files with nothing buffered.
    fn forget_idle(&mut self) {
        if self.files.len() < MAX_FILES {
            return;
        }
        self.files
            .retain(|_, f| f.sink.is_some() || !f.buf.is_empty());
        if self.files.len() >= MAX_FILES {
            // Every file open or busy: close the least recent to make room.
            self.write(0);
            self.close_least_recent();
            self.files
                .retain(|_, f| f.sink.is_some() || !f.buf.is_empty());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_file_per_container_and_one_for_the_rest() {
        let dir = tempfile::tempdir().unwrap();
        let mut out = OutDir::new(OutDirSpec {
            dir: dir.path().to_path_buf(),
            max_file_size: None,
            max_files: 2,
        })
        .unwrap();
        out.buffer(Some("web-1")).extend_from_slice(b"{\"a\":1}\n");
        out.buffer(None).extend_from_slice(b"{\"b\":2}\n");
        out.buffer(Some("../../etc/passwd"))
            .extend_from_slice(b"{\"c\":3}\n");
        out.buffer(Some("web-1")).extend_from_slice(b"{\"d\":4}\n");
        assert!(out.has_buffered());
        out.write(0);
        assert!(!out.has_buffered());
        let read = |name: &str| std::fs::read_to_string(dir.path().join(name)).unwrap();
        assert_eq!(read("web-1.jsonl"), "{\"a\":1}\n{\"d\":4}\n");
        assert_eq!(read("_syslog.jsonl"), "{\"b\":2}\n{\"c\":3}\n");
        let mut names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        assert_eq!(names, ["_syslog.jsonl", "web-1.jsonl"]);
    }

    #[test]
    fn files_rotate_by_size() {
        let dir = tempfile::tempdir().unwrap();
        let mut out = OutDir::new(OutDirSpec {
            dir: dir.path().to_path_buf(),
            max_file_size: Some(20),
            max_files: 1,
        })
        .unwrap();
        for i in 0..3 {
            out.buffer(Some("db"))
                .extend_from_slice(format!("event-{i:03}\n").as_bytes());
            out.write(0);
        }
        let read = |name: &str| std::fs::read_to_string(dir.path().join(name)).unwrap();
        assert_eq!(read("db.jsonl"), "event-002\n");
        assert_eq!(read("db.jsonl.1"), "event-000\nevent-001\n");
        assert!(!dir.path().join("db.jsonl.2").exists());
    }
}
