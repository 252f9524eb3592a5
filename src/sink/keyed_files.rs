//! A file sink keyed by name: one file per key (`listen --out-dir`: one
//! per container), each a [`FileSink`] rotated by size.
//!
//! A batch's key names its file, `DIR/KEY.jsonl`; a key that is not a plain
//! file name (letters, digits, `_`, `.`, `-`, not starting with `.`) goes to
//! the fallback file instead, so no key can name a path outside `DIR`. Each
//! file is renamed to `.1`, `.2`, … before it would pass `max_file_size`,
//! keeping `max_files`. At most [`MAX_OPEN`] files are open at once; the
//! least recently written is closed (and reopened, appending, when its key
//! writes again). A file that cannot be written is reported once (until it
//! works again) and its bytes are counted in `lost_bytes`. A key whose
//! name is a symbolic link, or anything but a regular file, is refused the
//! same way ([`FileSink`] opens with `O_NOFOLLOW`): a link planted in the
//! directory never redirects a container's events to another file.

use std::io;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use indexmap::IndexMap;

use super::{FileSink, Sink};

/// Open files at most.
pub const MAX_OPEN: usize = 256;

/// Files remembered at most (open or not); beyond, closed ones are forgotten.
const MAX_FILES: usize = 4096;

/// Where the files go and how they are rotated.
#[derive(Debug, Clone)]
pub struct KeyedFilesSpec {
    pub dir: PathBuf,
    pub max_file_size: Option<u64>,
    pub max_files: u32,
}

/// Whether `key` can be a file name in the directory as it is.
fn is_plain_name(key: &str) -> bool {
    let b = key.as_bytes();
    !b.is_empty()
        && b.len() <= 200
        && b[0] != b'.'
        && b.iter()
            .all(|&c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b'-'))
}

struct File {
    sink: Option<FileSink>,
    /// A counter value: larger is more recently written.
    used: u64,
    /// The last write failed (reported once per run of failures).
    failing: bool,
}

/// The files of a keyed file sink.
pub struct KeyedFiles {
    spec: KeyedFilesSpec,
    /// The file of batches without a key, or with one that is not a plain name.
    fallback: Box<str>,
    files: IndexMap<Box<str>, File>,
    open: usize,
    clock: u64,
    /// Bytes that could not be written, for the door's report.
    lost_bytes: Arc<AtomicU64>,
}

impl KeyedFiles {
    /// Creates `DIR` if needed.
    pub fn new(
        spec: KeyedFilesSpec,
        fallback: &str,
        lost_bytes: Arc<AtomicU64>,
    ) -> io::Result<KeyedFiles> {
        std::fs::create_dir_all(&spec.dir)?;
        super::file::warn_if_shared(&spec.dir);
        Ok(KeyedFiles {
            spec,
            fallback: Box::from(fallback),
            files: IndexMap::new(),
            open: 0,
            clock: 0,
            lost_bytes,
        })
    }

    /// Appends whole events to the file `key` names; returns the bytes
    /// that could not be written.
    fn write_file(&mut self, key: Option<&str>, events: &[u8]) -> u64 {
        if events.is_empty() {
            return 0;
        }
        let fallback;
        let stem = match key {
            Some(k) if is_plain_name(k) => k,
            _ => {
                fallback = self.fallback.clone();
                &*fallback
            }
        };
        let index = match self.files.get_index_of(stem) {
            Some(i) => i,
            None => {
                self.forget_closed();
                let file = File {
                    sink: None,
                    used: 0,
                    failing: false,
                };
                let stem = Box::from(stem);
                self.files.insert_full(stem, file).0
            }
        };
        if self.files[index].sink.is_none() {
            if self.open >= MAX_OPEN {
                self.close_least_recent();
            }
            let path = self.spec.dir.join(format!("{stem}.jsonl"));
            let f = &mut self.files[index];
            match FileSink::open_in_checked_dir(
                path.clone(),
                self.spec.max_file_size,
                self.spec.max_files,
            ) {
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
            // A full disk: the sink cut the file back to whole events,
            // reported it, and counts what did not reach the file.
            Ok(()) => {
                f.failing = false;
                sink.take_losses().1
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

impl Sink for KeyedFiles {
    fn write(&mut self, events: &[u8]) -> io::Result<()> {
        self.write_keyed(None, events)
    }

    /// Losses are reported per file as they happen and counted in bytes,
    /// not as lost events: the door reports them.
    fn write_keyed(&mut self, key: Option<&str>, events: &[u8]) -> io::Result<()> {
        let lost = self.write_file(key, events);
        self.lost_bytes.fetch_add(lost, Ordering::Relaxed);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files(dir: &std::path::Path, max_file_size: Option<u64>, max_files: u32) -> KeyedFiles {
        let spec = KeyedFilesSpec {
            dir: dir.to_path_buf(),
            max_file_size,
            max_files,
        };
        KeyedFiles::new(spec, "_syslog", Arc::default()).unwrap()
    }

    #[test]
    fn one_file_per_key_and_one_for_the_rest() {
        let dir = tempfile::tempdir().unwrap();
        let mut out = files(dir.path(), None, 2);
        assert!(is_plain_name("web-1"));
        assert!(!is_plain_name("../../etc/passwd"));
        assert!(!is_plain_name(".hidden"));
        assert_eq!(out.write_file(Some("web-1"), b"{\"a\":1}\n"), 0);
        assert_eq!(out.write_file(None, b"{\"b\":2}\n"), 0);
        assert_eq!(out.write_file(Some("../../etc/passwd"), b"{\"c\":3}\n"), 0);
        assert_eq!(out.write_file(Some("web-1"), b"{\"d\":4}\n"), 0);
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
        let mut out = files(dir.path(), Some(20), 1);
        for i in 0..3 {
            out.write_file(Some("db"), format!("event-{i:03}\n").as_bytes());
        }
        let read = |name: &str| std::fs::read_to_string(dir.path().join(name)).unwrap();
        assert_eq!(read("db.jsonl"), "event-002\n");
        assert_eq!(read("db.jsonl.1"), "event-000\nevent-001\n");
        assert!(!dir.path().join("db.jsonl.2").exists());
    }

    #[test]
    fn an_unwritable_file_counts_its_bytes_as_lost() {
        let dir = tempfile::tempdir().unwrap();
        let mut out = files(dir.path(), None, 1);
        // A directory where the file should be: it cannot be opened.
        std::fs::create_dir(dir.path().join("web-1.jsonl")).unwrap();
        out.write_keyed(Some("web-1"), b"12345\n").unwrap();
        out.write_keyed(Some("web-1"), b"678\n").unwrap();
        assert_eq!(out.lost_bytes.load(Ordering::Relaxed), 10);
    }

    #[test]
    fn a_link_planted_as_a_key_file_is_refused_and_its_bytes_counted() {
        for max_files in [2, 0] {
            let dir = tempfile::tempdir().unwrap();
            let victim = dir.path().join("victim");
            std::fs::write(&victim, "precious\n").unwrap();
            let out_dir = dir.path().join("out");
            std::fs::create_dir(&out_dir).unwrap();
            std::os::unix::fs::symlink(&victim, out_dir.join("evil-2.jsonl")).unwrap();
            let mut out = files(&out_dir, Some(4), max_files);
            out.write_keyed(Some("evil-2"), b"{\"a\":1}\n").unwrap();
            out.write_keyed(Some("evil-2"), b"{\"b\":2}\n").unwrap();
            out.write_keyed(Some("web-1"), b"{\"c\":3}\n").unwrap();
            assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious\n");
            assert_eq!(out.lost_bytes.load(Ordering::Relaxed), 16);
            let web = std::fs::read_to_string(out_dir.join("web-1.jsonl")).unwrap();
            assert_eq!(web, "{\"c\":3}\n");
        }
    }
}
