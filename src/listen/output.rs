//! Where the listener's events go: stdout (the default), or `--out-dir`.
//!
//! Events are encoded into buffers and written in large blocks of whole
//! events: when a buffer fills, and when the listener goes idle, so a quiet
//! sender's line still shows up at once. Writes block the listener: a slow
//! reader of stdout slows the senders down (TCP) rather than growing memory.

use std::io::{self, Write};
use std::os::fd::{AsFd, OwnedFd};

use super::out_dir::{self, OutDir};

/// stdout is written once its buffer holds this much.
const STDOUT_WRITE_SIZE: usize = 128 * 1024;

pub enum Output {
    Stdout { buf: Vec<u8>, file: std::fs::File },
    Dir(OutDir),
}

impl Output {
    /// stdout, written through a duplicate of fd 1 (not Rust's
    /// line-buffered `Stdout`).
    pub fn stdout() -> io::Result<Output> {
        let fd: OwnedFd = io::stdout().as_fd().try_clone_to_owned()?;
        Ok(Output::Stdout {
            buf: Vec::with_capacity(2 * STDOUT_WRITE_SIZE),
            file: std::fs::File::from(fd),
        })
    }

    /// The buffer for events of a container (`None`: not a container).
    pub fn buffer(&mut self, container: Option<&str>) -> &mut Vec<u8> {
        match self {
            Output::Stdout { buf, .. } => buf,
            Output::Dir(dir) => dir.buffer(container),
        }
    }

    /// Whether events wait in a buffer.
    pub fn has_buffered(&self) -> bool {
        match self {
            Output::Stdout { buf, .. } => !buf.is_empty(),
            Output::Dir(dir) => dir.has_buffered(),
        }
    }

    /// Writes the buffers that are full; `Ok(false)` when stdout's reader
    /// has gone away.
    pub fn write_full(&mut self) -> io::Result<bool> {
        match self {
            Output::Stdout { buf, .. } if buf.len() < STDOUT_WRITE_SIZE => Ok(true),
            Output::Dir(dir) => {
                dir.write(out_dir::WRITE_SIZE);
                Ok(true)
            }
            _ => self.flush(),
        }
    }

    /// Writes everything buffered; `Ok(false)` when stdout's reader has
    /// gone away. A file that cannot be written is reported and counted,
    /// not fatal.
    pub fn flush(&mut self) -> io::Result<bool> {
        match self {
            Output::Stdout { buf, file } => {
                if buf.is_empty() {
                    return Ok(true);
                }
                let result = file.write_all(buf);
                buf.clear();
                match result {
                    Ok(()) => Ok(true),
                    Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(false),
                    Err(e) => Err(e),
                }
            }
            Output::Dir(dir) => {
                dir.write(0);
                Ok(true)
            }
        }
    }

    /// Bytes of events that could not be written (`--out-dir` files).
    pub fn lost_bytes(&self) -> u64 {
        match self {
            Output::Stdout { .. } => 0,
            Output::Dir(dir) => dir.lost_bytes,
        }
    }
}
