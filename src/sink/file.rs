//! A file sink with size rotation, like logrotate's `size` + `rotate N`:
//! `app.jsonl` is renamed `app.jsonl.1` (and `.1` to `.2`, …, the oldest
//! removed) before a write would take it past `max_size`. SIGUSR1 reopens
//! the file for tools that rotate it from outside.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::PathBuf;

use super::Sink;

pub struct FileSink {
    path: PathBuf,
    file: File,
    size: u64,
    max_size: Option<u64>,
    max_files: u32,
}

impl FileSink {
    pub fn open(path: PathBuf, max_size: Option<u64>, max_files: u32) -> io::Result<FileSink> {
        if let Some(dir) = path.parent() {
            if !dir.as_os_str().is_empty() {
                std::fs::create_dir_all(dir)?;
            }
        }
        let file = open_append(&path)?;
        let size = file.metadata().map(|m| m.len()).unwrap_or(0);
        Ok(FileSink {
            path,
            file,
            size,
            max_size,
            max_files,
        })
    }

    fn rotated(&self, n: u32) -> PathBuf {
        let mut name = self.path.clone().into_os_string();
        name.push(format!(".{n}"));
        PathBuf::from(name)
    }

    fn rotate(&mut self) -> io::Result<()> {
        if self.max_files == 0 {
            // Nothing kept: start the file again.
            self.file.set_len(0)?;
        } else {
            let _ = std::fs::remove_file(self.rotated(self.max_files));
            for n in (1..self.max_files).rev() {
                let _ = std::fs::rename(self.rotated(n), self.rotated(n + 1));
            }
            std::fs::rename(&self.path, self.rotated(1))?;
            self.file = open_append(&self.path)?;
        }
        self.size = 0;
        Ok(())
    }
}

fn open_append(path: &PathBuf) -> io::Result<File> {
    OpenOptions::new().create(true).append(true).open(path)
}

impl Sink for FileSink {
    fn write(&mut self, events: &[u8]) -> io::Result<()> {
        let Some(max) = self.max_size else {
            self.size += events.len() as u64;
            return self.file.write_all(events);
        };
        // Rotate between events, never inside one.
        let mut rest = events;
        while !rest.is_empty() {
            let room = max.saturating_sub(self.size);
            let mut take = 0;
            for line in rest.split_inclusive(|&b| b == b'\n') {
                if (take + line.len()) as u64 > room {
                    break;
                }
                take += line.len();
            }
            if take == 0 {
                if self.size > 0 {
                    self.rotate()?;
                    continue;
                }
                // One event larger than the limit: it gets a file of its own.
                take = rest
                    .iter()
                    .position(|&b| b == b'\n')
                    .map_or(rest.len(), |i| i + 1);
            }
            self.file.write_all(&rest[..take])?;
            self.size += take as u64;
            rest = &rest[take..];
        }
        Ok(())
    }

    fn reopen(&mut self) -> io::Result<()> {
        self.file = open_append(&self.path)?;
        self.size = self.file.metadata().map(|m| m.len()).unwrap_or(0);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rotates_between_events_and_keeps_n_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("app.jsonl");
        let mut sink = FileSink::open(path.clone(), Some(20), 2).unwrap();
        for i in 0..10 {
            sink.write(format!("event-{i:03}\n").as_bytes()).unwrap();
        }
        let read = |p: PathBuf| std::fs::read_to_string(p).unwrap_or_default();
        assert_eq!(read(path.clone()), "event-008\nevent-009\n");
        assert_eq!(read(sink.rotated(1)), "event-006\nevent-007\n");
        assert_eq!(read(sink.rotated(2)), "event-004\nevent-005\n");
        assert!(!sink.rotated(3).exists());
    }

    #[test]
    fn reopen_follows_an_outside_rename() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.log");
        let mut sink = FileSink::open(path.clone(), None, 0).unwrap();
        sink.write(b"one\n").unwrap();
        std::fs::rename(&path, dir.path().join("a.log.old")).unwrap();
        sink.reopen().unwrap();
        sink.write(b"two\n").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "two\n");
    }
}
