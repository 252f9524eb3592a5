//! `logmux filter -f FILE`: follow a file as `tail -F` does.
//!
//! The file is read from its start, then every line appended to it as it
//! comes. When the name is given to a new file (logrotate's rename and
//! create), the old file is read to its end and the new one from its start;
//! when the file is cut shorter than what was read (truncation, logrotate's
//! `copytruncate`), it is read again from its start. A name without a file
//! for a while (between the rename and the create) is waited for. Nothing
//! here needs inotify: the file is looked at every [`POLL`], as GNU tail
//! does without it, which costs nothing when lines come and little when not.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// How often a file with nothing new is looked at again.
const POLL: Duration = Duration::from_millis(100);

/// Bytes [`Follow::wait_for`] reads at most at once.
const WAIT_READ: usize = 64 * 1024;

/// A file followed by name; its `read` returns only when there are bytes.
pub(super) struct Follow {
    path: PathBuf,
    file: File,
    /// The open file's device and inode: another means a new file at the name.
    id: (u64, u64),
    /// Bytes read from the open file: a shorter file was truncated.
    pos: u64,
    /// Bytes already read by [`Follow::wait_for`], handed out first.
    pending: Vec<u8>,
}

impl Follow {
    /// Opens `path`, which must exist now.
    pub(super) fn open(path: &Path) -> io::Result<Follow> {
        let file = File::open(path)?;
        let meta = file.metadata()?;
        Ok(Follow {
            path: path.to_path_buf(),
            file,
            id: (meta.dev(), meta.ino()),
            pos: 0,
            pending: Vec::new(),
        })
    }

    /// Waits up to `idle` for something to read; false when nothing came.
    pub(super) fn wait_for(&mut self, idle: Duration) -> io::Result<bool> {
        let deadline = Instant::now() + idle;
        while self.pending.is_empty() {
            // Read straight into `pending`: its room is kept from one call
            // to the next (called once per read of a followed file).
            let mut room = std::mem::take(&mut self.pending);
            room.resize(WAIT_READ, 0);
            let n = self.read_now(&mut room);
            room.truncate(*n.as_ref().unwrap_or(&0));
            self.pending = room;
            if n? == 0 {
                let left = deadline.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    return Ok(false);
                }
                std::thread::sleep(left.min(POLL));
            }
        }
        Ok(true)
    }

    /// One look without waiting: the open file's next bytes, else those of
    /// a new file at the name, or of this one after a truncation.
    fn read_now(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.read_open(buf)?;
        if n > 0 {
            return Ok(n);
        }
        let meta = match std::fs::metadata(&self.path) {
            Ok(meta) => meta,
            // Renamed away and not yet created again: wait for it.
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(0),
            Err(e) => return Err(e),
        };
        if (meta.dev(), meta.ino()) != self.id {
            // The writer may have added to the old file between the read
            // that found its end and the rename: take that first.
            let late = self.read_open(buf)?;
            if late > 0 {
                return Ok(late);
            }
            match File::open(&self.path) {
                Ok(file) => {
                    tracing::info!(file = %self.path.display(), "{} is a new file (rotated): following it", self.path.display());
                    self.id = (meta.dev(), meta.ino());
                    self.file = file;
                    self.pos = 0;
                }
                Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(0),
                Err(e) => return Err(e),
            }
        } else if meta.len() < self.pos {
            tracing::info!(file = %self.path.display(), "{} was truncated: reading it from its start", self.path.display());
            self.file.seek(SeekFrom::Start(0))?;
            self.pos = 0;
        } else {
            return Ok(0);
        }
        self.read_open(buf)
    }

    fn read_open(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            match self.file.read(buf) {
                Ok(n) => {
                    self.pos += n as u64;
                    return Ok(n);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        }
    }
}

impl Read for Follow {
    /// Blocks until there are bytes: a followed file has no end.
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            if !self.pending.is_empty() {
                let n = self.pending.len().min(buf.len());
                buf[..n].copy_from_slice(&self.pending[..n]);
                self.pending.drain(..n);
                return Ok(n);
            }
            let n = self.read_now(buf)?;
            if n > 0 || buf.is_empty() {
                return Ok(n);
            }
            std::thread::sleep(POLL);
        }
    }
}
