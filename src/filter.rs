//! `logmux filter`: any mixed log stream in, one JSON event per line out.
//!
//! Reads stdin or files with large reads, frames lines, undoes Docker's
//! wrappers, and runs every line through the pipeline into one output
//! buffer that is written in large blocks of whole events. When reading a
//! pipe, it flushes after every read (low latency for `docker logs -f`) and,
//! if a traceback or a partial line is held back and nothing more arrives
//! for the idle timeout, emits it anyway.

use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, BorrowedFd};
use std::path::PathBuf;
use std::time::Duration;

use logmux_parsers::docker;

use crate::engine::Input;
use crate::engine::{Pipeline, Settings};
use crate::event::{Origin, Stamp};

/// Everything `filter` needs, resolved from flags and the config file.
#[derive(Debug)]
pub struct FilterJob {
    /// Files to read in order; empty means stdin.
    pub inputs: Vec<PathBuf>,
    pub settings: Settings,
    pub max_line_bytes: usize,
    pub idle_flush: Duration,
    /// Print the counters as a logmux event on stderr at the end.
    pub stats: bool,
}

/// How a filter run ended.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Every input was read to the end.
    Done,
    /// The reader went away (`logmux filter | head`): a graceful end.
    OutputClosed,
    /// Some inputs could not be read; the others were.
    InputErrors(usize),
}

const READ_SIZE: usize = 256 * 1024;
const WRITE_SIZE: usize = 128 * 1024;

/// Why one input stopped early.
#[derive(Debug, thiserror::Error)]
enum StepError {
    /// Reading this input failed: report it and go on with the next.
    #[error("cannot read {0}")]
    Read(#[source] io::Error),
    /// Writing the output failed (not a closed reader): stop.
    #[error("cannot write the output")]
    Write(#[source] io::Error),
}

/// Runs a filter job to the end of its inputs.
pub fn run(job: FilterJob) -> anyhow::Result<Outcome> {
    let mut pipeline = Pipeline::new(job.settings);
    let mut out = Output::new();
    let mut failed = 0;
    let inputs: Vec<Option<PathBuf>> = if job.inputs.is_empty() {
        vec![None]
    } else {
        // `-` names stdin, as for cat.
        job.inputs
            .into_iter()
            .map(|p| (p.as_os_str() != "-").then_some(p))
            .collect()
    };
    for input in inputs {
        let (mut reader, origin, name): (Box<dyn ReadFd>, Origin, String) = match &input {
            None => (
                Box::new(io::stdin()),
                Origin::default(),
                "stdin".to_string(),
            ),
            Some(path) => match File::open(path) {
                Ok(file) => {
                    let shown = path.display().to_string();
                    let origin = Origin {
                        container_id: docker::container_id_from_path(&shown).map(str::to_string),
                        file: Some(shown.clone()),
                        ..Origin::default()
                    };
                    (Box::new(file), origin, shown)
                }
                Err(e) => {
                    tracing::error!(file = %path.display(), error = %e, "cannot open input {}: {e}", path.display());
                    failed += 1;
                    continue;
                }
            },
        };
        let step = filter_one(
            reader.as_mut(),
            origin,
            job.max_line_bytes,
            job.idle_flush,
            &mut pipeline,
            &mut out,
        );
        match step {
            Ok(true) => {}
            Ok(false) => return Ok(finish(&pipeline, job.stats, Outcome::OutputClosed)),
            Err(StepError::Read(e)) => {
                tracing::error!(file = %name, error = %e, "cannot read {name}: {e}");
                failed += 1;
            }
            Err(e @ StepError::Write(_)) => return Err(e.into()),
        }
    }
    let outcome = if failed > 0 {
        Outcome::InputErrors(failed)
    } else {
        Outcome::Done
    };
    Ok(finish(&pipeline, job.stats, outcome))
}

fn finish(pipeline: &Pipeline, stats: bool, outcome: Outcome) -> Outcome {
    let s = pipeline.stats;
    if stats {
        tracing::info!(
            lines = s.lines,
            events = s.events,
            empty_lines = s.empty_lines,
            truncated_pieces = s.truncated_pieces,
            invalid_utf8 = s.invalid_utf8,
            parse_errors = s.parse_errors,
            merged = s.merged,
            "filter done: {} lines in, {} events out, {} empty lines skipped",
            s.lines,
            s.events,
            s.empty_lines
        );
    }
    outcome
}

/// A readable input with a file descriptor to poll.
trait ReadFd: Read {
    fn fd(&self) -> BorrowedFd<'_>;
    /// Pipes and terminals can stall; regular files cannot.
    fn may_stall(&self) -> bool;
}

impl ReadFd for io::Stdin {
    fn fd(&self) -> BorrowedFd<'_> {
        self.as_fd()
    }
    fn may_stall(&self) -> bool {
        !crate::sys::is_regular_file(self)
    }
}

impl ReadFd for File {
    fn fd(&self) -> BorrowedFd<'_> {
        self.as_fd()
    }
    fn may_stall(&self) -> bool {
        !crate::sys::is_regular_file(self)
    }
}

/// Filters one input; false when the output was closed.
fn filter_one(
    reader: &mut dyn ReadFd,
    origin: Origin,
    max_line: usize,
    idle: Duration,
    pipeline: &mut Pipeline,
    out: &mut Output,
) -> Result<bool, StepError> {
    let mut input = Input::new(origin, max_line);
    let stalls = reader.may_stall();
    let mut buf = vec![0u8; READ_SIZE];
    loop {
        if stalls && input.is_pending() && !crate::sys::wait_readable(reader.fd(), idle) {
            // Idle: nothing more is coming soon, so emit what is held back.
            input.finish(&Stamp::now(), pipeline, &mut out.buf);
            if !out.flush().map_err(StepError::Write)? {
                return Ok(false);
            }
        }
        let n = match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(StepError::Read(e)),
        };
        // One clock read per read(): every line in it was read at once.
        input.push(&buf[..n], &Stamp::now(), pipeline, &mut out.buf);
        let open = if stalls || out.buf.len() >= WRITE_SIZE {
            out.flush().map_err(StepError::Write)?
        } else {
            true
        };
        if !open {
            return Ok(false);
        }
    }
    input.finish(&Stamp::now(), pipeline, &mut out.buf);
    out.flush().map_err(StepError::Write)
}

/// Buffered stdout that writes whole events only.
struct Output {
    buf: Vec<u8>,
    stdout: io::Stdout,
}

impl Output {
    fn new() -> Output {
        Output {
            buf: Vec::with_capacity(WRITE_SIZE * 2),
            stdout: io::stdout(),
        }
    }

    /// Writes the buffer; false when the reader has gone away.
    fn flush(&mut self) -> io::Result<bool> {
        if self.buf.is_empty() {
            return Ok(true);
        }
        let mut lock = self.stdout.lock();
        let result = lock.write_all(&self.buf).and_then(|()| lock.flush());
        self.buf.clear();
        match result {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(false),
            Err(e) => Err(e),
        }
    }
}
