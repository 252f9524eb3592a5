//! A file sink with size rotation, like logrotate's `size` + `rotate N`:
//! `app.jsonl` is renamed `app.jsonl.1` (and `.1` to `.2`, …, the oldest
//! removed) before a write would take it past `max_size`. SIGUSR1 reopens
//! the file for tools that rotate it from outside.
//!
//! Two promises hold whatever the directory or the disk does. The file is
//! never reached through a symbolic link and is always a regular file: it
//! is opened with `O_NOFOLLOW`, created with `O_EXCL` (rotation included),
//! and anything else is refused with an error naming it, so a link planted
//! in a shared directory cannot make logmux (often root) append to or
//! truncate another file. And the file holds whole events only: a short
//! write (a full disk) is cut back to the last whole event, the events that
//! did not reach the file are counted exactly (see [`Sink::take_lost`]),
//! and the failure and the recovery are each reported once.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use logmux_parsers::Severity;

use super::Sink;

pub struct FileSink {
    path: PathBuf,
    file: File,
    size: u64,
    max_size: Option<u64>,
    max_files: u32,
    /// Events that did not reach the file since last asked.
    lost_events: u64,
    /// Their bytes, for a door that counts bytes (`listen --out-dir`).
    lost_bytes: u64,
    /// The last write failed (reported once per run of failures).
    failing: bool,
}

impl FileSink {
    /// Opens (or creates) the file, warning first when its directory is
    /// shared ([`warn_if_shared`]).
    pub fn open(path: PathBuf, max_size: Option<u64>, max_files: u32) -> io::Result<FileSink> {
        if let Some(dir) = path.parent() {
            if !dir.as_os_str().is_empty() {
                std::fs::create_dir_all(dir)?;
                warn_if_shared(dir);
            }
        }
        FileSink::open_in_checked_dir(path, max_size, max_files)
    }

    /// Opens (or creates) a file whose directory exists and was checked
    /// once by the caller (the keyed sink opens many in one directory).
    pub fn open_in_checked_dir(
        path: PathBuf,
        max_size: Option<u64>,
        max_files: u32,
    ) -> io::Result<FileSink> {
        let file = open_append(&path)?;
        let size = file.metadata().map(|m| m.len()).unwrap_or(0);
        Ok(FileSink {
            path,
            file,
            size,
            max_size,
            max_files,
            lost_events: 0,
            lost_bytes: 0,
            failing: false,
        })
    }

    /// The events and bytes that did not reach the file since last asked.
    pub fn take_losses(&mut self) -> (u64, u64) {
        let taken = (self.lost_events, self.lost_bytes);
        self.lost_events = 0;
        self.lost_bytes = 0;
        taken
    }

    fn rotated(&self, n: u32) -> PathBuf {
        let mut name = self.path.clone().into_os_string();
        name.push(format!(".{n}"));
        PathBuf::from(name)
    }

    fn rotate(&mut self) -> io::Result<()> {
        if self.max_files == 0 {
            // Nothing kept: start the file again (the open file, never a
            // name that could have become a link meanwhile).
            self.file.set_len(0)?;
        } else {
            // Renaming or removing a planted link moves or removes the
            // link only; the new file is created with O_EXCL.
            let _ = std::fs::remove_file(self.rotated(self.max_files));
            for n in (1..self.max_files).rev() {
                let _ = std::fs::rename(self.rotated(n), self.rotated(n + 1));
            }
            std::fs::rename(&self.path, self.rotated(1))?;
            self.file = create_new(&self.path)?;
        }
        self.size = 0;
        Ok(())
    }

    /// Writes `bytes` (whole events); after a short write, cuts the file
    /// back to the last whole event and returns how many bytes of `bytes`
    /// are in the file, with the error.
    fn append(&mut self, bytes: &[u8]) -> Result<(), (usize, io::Error)> {
        let mut done = 0;
        while done < bytes.len() {
            match self.file.write(&bytes[done..]) {
                Ok(0) => return Err(self.cut(bytes, done, io::ErrorKind::WriteZero.into())),
                Ok(n) => done += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(self.cut(bytes, done, e)),
            }
        }
        self.size += done as u64;
        Ok(())
    }

    /// After `done` bytes of `bytes` were written: truncates the part
    /// event that was written, so that the next write starts a line.
    fn cut(&mut self, bytes: &[u8], done: usize, e: io::Error) -> (usize, io::Error) {
        let whole = bytes[..done]
            .iter()
            .rposition(|&b| b == b'\n')
            .map_or(0, |i| i + 1);
        let torn = (done - whole) as u64;
        if torn > 0 {
            let cut = self
                .file
                .metadata()
                .map(|m| m.len().saturating_sub(torn))
                .and_then(|len| self.file.set_len(len));
            if let Err(cut) = cut {
                report(
                    Severity::ERROR,
                    &format!(
                        "{}: cannot cut a torn event off after a failed write: {cut}",
                        self.path.display()
                    ),
                    &self.path,
                );
            }
        }
        self.size += whole as u64;
        (whole, e)
    }

    /// Writes a batch, rotating between events; returns how many of its
    /// bytes reached the file, with the error that stopped it.
    fn write_rotating(&mut self, events: &[u8]) -> Result<(), (usize, io::Error)> {
        let Some(max) = self.max_size else {
            return self.append(events);
        };
        // Rotate between events, never inside one.
        let mut rest = events;
        while !rest.is_empty() {
            let written = events.len() - rest.len();
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
                    self.rotate().map_err(|e| (written, e))?;
                    continue;
                }
                // One event larger than the limit: it gets a file of its own.
                take = rest
                    .iter()
                    .position(|&b| b == b'\n')
                    .map_or(rest.len(), |i| i + 1);
            }
            self.append(&rest[..take])
                .map_err(|(n, e)| (written + n, e))?;
            rest = &rest[take..];
        }
        Ok(())
    }
}

/// Reports a sink's own trouble straight to stderr: this file may be where
/// logmux's events go, and it is the one failing.
fn report(severity: Severity, message: &str, path: &Path) {
    let file = path.display().to_string();
    crate::diag::report_to_stderr(
        severity,
        message,
        &[("file", crate::diag::Detail::Text(&file))],
    );
}

/// Opens `path` to append, creating it if missing; never through a
/// symbolic link, and only a regular file.
pub fn open_append(path: &Path) -> io::Result<File> {
    let existing = OpenOptions::new()
        .append(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(path);
    match existing {
        Ok(file) => regular(path, file),
        Err(e) if e.kind() == io::ErrorKind::NotFound => match create_new(path) {
            // Created by someone else between the two opens: look again.
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => open_append_existing(path),
            created => created,
        },
        Err(e) => Err(refusal(path, e)),
    }
}

fn open_append_existing(path: &Path) -> io::Result<File> {
    let file = OpenOptions::new()
        .append(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(path)
        .map_err(|e| refusal(path, e))?;
    regular(path, file)
}

/// Creates `path`, which must not exist (not even as a dangling link).
fn create_new(path: &Path) -> io::Result<File> {
    let file = OpenOptions::new()
        .append(true)
        .create_new(true)
        .custom_flags(libc::O_NOFOLLOW)
        .mode(0o644)
        .open(path)
        .map_err(|e| refusal(path, e))?;
    regular(path, file)
}

/// Why an open was refused, in words: a symbolic link in the last
/// component fails `O_NOFOLLOW` with ELOOP.
fn refusal(path: &Path, e: io::Error) -> io::Error {
    if e.raw_os_error() == Some(libc::ELOOP) {
        return io::Error::other(format!(
            "{} is a symbolic link; logmux does not follow links to its output files",
            path.display()
        ));
    }
    // O_NONBLOCK makes a FIFO without a reader fail at once (ENXIO)
    // instead of hanging the open.
    if e.raw_os_error() == Some(libc::ENXIO) {
        return not_regular(path);
    }
    e
}

fn not_regular(path: &Path) -> io::Error {
    io::Error::other(format!(
        "{} is not a regular file; logmux writes only regular files",
        path.display()
    ))
}

fn regular(path: &Path, file: File) -> io::Result<File> {
    if crate::sys::is_regular_file(&file) {
        return Ok(file);
    }
    Err(not_regular(path))
}

/// Warns when `dir` can be written by others (group or world) without the
/// sticky bit: anyone who can write there can plant links or files where
/// logmux's files go. They are refused, but the operator should know.
pub fn warn_if_shared(dir: &Path) {
    let Ok(meta) = std::fs::metadata(dir) else {
        return;
    };
    let mode = meta.permissions().mode();
    if mode & 0o022 != 0 && mode & 0o1000 == 0 {
        tracing::warn!(
            dir = %dir.display(),
            "{} is writable by group or others (mode {:o}) without the sticky bit: others can place links or files where logmux writes; they are refused, and events for them are lost",
            dir.display(),
            mode & 0o7777
        );
    }
}

impl Sink for FileSink {
    fn write(&mut self, events: &[u8]) -> io::Result<()> {
        match self.write_rotating(events) {
            Ok(()) => {
                if self.failing {
                    self.failing = false;
                    let message = format!("{}: writing again", self.path.display());
                    report(Severity::INFO, &message, &self.path);
                }
            }
            Err((written, e)) => {
                let rest = &events[written..];
                let lost = rest.iter().filter(|&&b| b == b'\n').count() as u64;
                self.lost_events += lost.max(u64::from(!rest.is_empty()));
                self.lost_bytes += rest.len() as u64;
                if !self.failing {
                    self.failing = true;
                    let message = format!(
                        "{}: write failed: {e}; the file ends at the last whole event, and events are counted as lost until it recovers",
                        self.path.display()
                    );
                    report(Severity::ERROR, &message, &self.path);
                }
            }
        }
        Ok(())
    }

    fn reopen(&mut self) -> io::Result<()> {
        self.file = open_append(&self.path)?;
        self.size = self.file.metadata().map(|m| m.len()).unwrap_or(0);
        Ok(())
    }

    fn take_lost(&mut self) -> u64 {
        let (events, _) = self.take_losses();
        events
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
        // 10-byte events, 20 bytes a file: two fit exactly (a write that
        // reaches max_size does not pass it), the third rotates.
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

    /// A directory someone else can write to, with `victim` outside it and
    /// `link` inside pointing at it.
    fn planted(name: &str) -> (tempfile::TempDir, PathBuf, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let victim = dir.path().join("victim");
        std::fs::write(&victim, "precious\n").unwrap();
        let out = dir.path().join("out");
        std::fs::create_dir(&out).unwrap();
        let link = out.join(name);
        std::os::unix::fs::symlink(&victim, &link).unwrap();
        (dir, victim, link)
    }

    #[test]
    fn a_link_where_the_file_goes_is_refused_and_the_victim_untouched() {
        let (_dir, victim, link) = planted("app.jsonl");
        let err = FileSink::open(link.clone(), None, 2)
            .err()
            .expect("refused");
        assert!(err.to_string().contains("is a symbolic link"), "{err}");
        let err = FileSink::open(link, Some(5), 0).err().expect("refused");
        assert!(err.to_string().contains("is a symbolic link"), "{err}");
        assert_eq!(std::fs::read_to_string(victim).unwrap(), "precious\n");
    }

    #[test]
    fn a_dangling_link_is_not_created_through() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("created-elsewhere");
        let link = dir.path().join("app.jsonl");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        assert!(FileSink::open(link, None, 1).is_err());
        assert!(!target.exists());
    }

    #[test]
    fn a_fifo_is_not_a_file_to_write() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("app.jsonl");
        nix::unistd::mkfifo(&path, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
        let err = FileSink::open(path, None, 1).err().expect("refused");
        assert!(err.to_string().contains("not a regular file"), "{err}");
    }

    #[test]
    fn rotation_over_planted_links_leaves_the_victim_untouched() {
        let (_dir, victim, link) = planted("app.jsonl.1");
        let path = link.with_file_name("app.jsonl");
        let mut sink = FileSink::open(path.clone(), Some(10), 2).unwrap();
        for i in 0..6 {
            sink.write(format!("event-{i:03}\n").as_bytes()).unwrap();
        }
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious\n");
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "event-005\n");
        assert_eq!(sink.take_lost(), 0);
    }

    #[test]
    fn rotation_moves_a_link_planted_at_the_name_and_never_writes_through_it() {
        let (_dir, victim, link) = planted("app.jsonl");
        std::fs::remove_file(&link).unwrap();
        let mut sink = FileSink::open(link.clone(), Some(10), 1).unwrap();
        sink.write(b"event-000\n").unwrap();
        // The file is moved away by hand and a link takes its name: the
        // next rotation renames the link and creates a file of its own.
        std::fs::rename(&link, link.with_file_name("moved")).unwrap();
        std::os::unix::fs::symlink(&victim, &link).unwrap();
        sink.write(b"event-001\n").unwrap();
        assert_eq!(sink.take_lost(), 0);
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious\n");
        assert_eq!(std::fs::read_to_string(&link).unwrap(), "event-001\n");
        assert!(std::fs::symlink_metadata(&link).unwrap().is_file());
    }

    #[test]
    fn a_shared_directory_is_recognised() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
        // Only a warning: the file opens.
        assert!(FileSink::open(dir.path().join("a.log"), None, 1).is_ok());
    }
}
