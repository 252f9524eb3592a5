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
//! appending, when its container writes again). This runs on the output's
//! writer thread.

use std::io;
use std::path::PathBuf;

use indexmap::IndexMap;

use super::message::is_container_name;
use crate::sink::{FileSink, Sink};

/// The file of senders that are not containers.
pub const OTHERS: &str = "_syslog";

/// Open files at most.
pub const MAX_OPEN: usize = 256;

/// Files remembered at most (open or not); beyond, closed ones are forgotten.
const MAX_FILES: usize = 4096;

/// How files are rotated.
#[derive(Debug, Clone)]
pub struct OutDirSpec {
    pub dir: PathBuf,
    pub max_file_size: Option<u64>,
    pub max_files: u32,
}

/// The file stem for a container's events (`None`: not a container).
pub fn stem(container: Option<&str>) -> &str {
    match container {
        Some(name) if is_container_name(name) => name,
        _ => OTHERS,
    }
}

struct File {
    sink: Option<FileSink>,
    /// A counter value: larger is more recently written.
    used: u64,
    /// The last write failed (reported once per run of failures).
    failing: bool,
}

/// The files of `--out-dir`.
pub struct OutDir {
    spec: OutDirSpec,
    files: IndexMap<Box<str>, File>,
    open: usize,
    clock: u64,
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
        })
    }

    /// Appends whole events to the file `stem` names (a container name,
    /// or [`OTHERS`]); returns the bytes that could not be written.
    pub fn write(&mut self, stem: &str, events: &[u8]) -> u64 {
        if events.is_empty() {
            return 0;
        }
        let stem = self::stem(Some(stem));
        let index = match self.files.get_index_of(stem) {
            Some(i) => i,
            None => {
                self.forget_closed();
                let file = File {
                    sink: None,
                    used: 0,
                    failing: false,
                };
                self.files.insert_full(Box::from(stem), file).0
            }
        };
        if self.files[index].sink.is_none() {
            if self.open >= MAX_OPEN {
                self.close_least_recent();
            }
            let path = self.spec.dir.join(format!("{stem}.jsonl"));
            let f = &mut self.files[index];
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
                    return events.len() as u64;
                }
            }
        }
        self.clock += 1;
        let f = &mut self.files[index];
        f.used = self.clock;
        let Some(sink) = f.sink.as_mut() else {
            return events.len() as u64;
        };
        match sink.write(events) {
            Ok(()) => {
                f.failing = false;
                0
            }
            Err(e) => {
                if !f.failing {
                    tracing::error!(file = %stem, error = %e, "cannot write {stem}.jsonl: {e}; its events are lost until it can be");
                }
                f.failing = true;
                events.len() as u64
            }
        }
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

    /// Keeps the table bounded: forgets files that are closed.
    fn forget_closed(&mut self) {
        if self.files.len() >= MAX_FILES {
            self.files.retain(|_, f| f.sink.is_some());
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
        assert_eq!(stem(Some("web-1")), "web-1");
        assert_eq!(stem(Some("../../etc/passwd")), OTHERS);
        assert_eq!(stem(Some(".hidden")), OTHERS);
        assert_eq!(stem(None), OTHERS);
        assert_eq!(out.write("web-1", b"{\"a\":1}\n"), 0);
        assert_eq!(out.write(OTHERS, b"{\"b\":2}\n"), 0);
        assert_eq!(out.write("../../etc/passwd", b"{\"c\":3}\n"), 0);
        assert_eq!(out.write("web-1", b"{\"d\":4}\n"), 0);
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
            out.write("db", format!("event-{i:03}\n").as_bytes());
        }
        let read = |name: &str| std::fs::read_to_string(dir.path().join(name)).unwrap();
        assert_eq!(read("db.jsonl"), "event-002\n");
        assert_eq!(read("db.jsonl.1"), "event-000\nevent-001\n");
        assert!(!dir.path().join("db.jsonl.2").exists());
    }

    #[test]
    fn an_unwritable_file_counts_its_bytes_as_lost() {
        let dir = tempfile::tempdir().unwrap();
        let mut out = OutDir::new(OutDirSpec {
            dir: dir.path().to_path_buf(),
            max_file_size: None,
            max_files: 1,
        })
        .unwrap();
        // A directory where the file should be: it cannot be opened.
        std::fs::create_dir(dir.path().join("web-1.jsonl")).unwrap();
        assert_eq!(out.write("web-1", b"12345\n"), 6);
        assert_eq!(out.write("web-1", b"678\n"), 4);
    }
}
