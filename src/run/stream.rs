//! One child stream: read, frame, parse, encode, queue.
//!
//! Each stdout and stderr pipe gets a task of its own with its own line
//! buffer and multi-line state, so two programs' (or two streams') lines are
//! never merged or spliced. Every read becomes one batch of whole events for
//! the stream's sink. A partial last line is emitted at end of stream, or
//! after `idle_flush` of silence, and a traceback still being assembled the
//! same way.

use std::os::fd::OwnedFd;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::AsyncReadExt;
use tokio::net::unix::pipe;

use crate::framing::LineFramer;
use crate::pipeline::{Origin, Pipeline, Settings, Stamp, StreamState};
use crate::run::config::OnFull;
use crate::sink::{Batch, Queue};

/// Read size: large reads keep the per-line cost low under load.
const READ_SIZE: usize = 64 * 1024;

/// Where a stream's events go.
#[derive(Clone)]
pub struct Route {
    pub queue: Arc<Queue>,
    pub on_full: OnFull,
}

impl Route {
    /// Queues a batch as the sink's policy says.
    pub async fn send(&self, batch: Batch) {
        match self.on_full {
            OnFull::Block => self.queue.push_wait(batch).await,
            OnFull::Drop => {
                self.queue.try_push(batch);
            }
        }
    }
}

/// One stream of one run of one program.
pub struct StreamReader {
    pub origin: Origin,
    pub settings: Settings,
    pub max_line: usize,
    pub idle_flush: Duration,
    pub route: Route,
}

impl StreamReader {
    /// Reads `fd` to its end. Returns the number of lines read.
    pub async fn run(self, fd: OwnedFd) -> u64 {
        let name = self.origin.service.clone().unwrap_or_default();
        let which = self.origin.iostream.map_or("", |s| s.name());
        let mut rx = match pipe::Receiver::from_owned_fd(fd) {
            Ok(rx) => rx,
            Err(e) => {
                tracing::error!(program = %name, stream = which, error = %e, "cannot read {name}'s {which}: {e}");
                return 0;
            }
        };
        let mut lines = Lines {
            framer: LineFramer::new(self.max_line),
            pipeline: Pipeline::new(self.settings),
            state: StreamState::new(self.origin),
        };
        let mut buf = vec![0u8; READ_SIZE];
        loop {
            let read = if lines.is_pending() {
                match tokio::time::timeout(self.idle_flush, rx.read(&mut buf)).await {
                    Ok(r) => r,
                    Err(_idle) => {
                        self.route.send(lines.finish()).await;
                        continue;
                    }
                }
            } else {
                rx.read(&mut buf).await
            };
            let n = match read {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    tracing::error!(program = %name, stream = which, error = %e, "reading {name}'s {which} failed: {e}");
                    break;
                }
            };
            self.route.send(lines.push(&buf[..n])).await;
        }
        self.route.send(lines.finish()).await;
        lines.pipeline.stats.lines
    }
}

/// One stream's line state: its framer, and its pipeline and per-stream
/// state (multi-line events, parsing, encoding).
struct Lines {
    framer: LineFramer,
    pipeline: Pipeline,
    state: StreamState,
}

impl Lines {
    /// A partial line or a multi-line event is held back.
    fn is_pending(&self) -> bool {
        self.framer.pending() > 0 || self.state.is_pending()
    }

    /// The events of one read, as one batch; every line in it was read now.
    fn push(&mut self, bytes: &[u8]) -> Batch {
        let stamp = Stamp::now();
        // JSON is 2.5 to 5 times the text: fewer regrowths.
        self.batch(bytes.len() * 3 + 256, |l, out| {
            let (pipeline, state) = (&mut l.pipeline, &mut l.state);
            l.framer.push(bytes, |line| {
                pipeline.line(state, line.bytes, line.truncated, &stamp, out)
            });
        })
    }

    /// The partial last line and whatever multi-line event is held, as one
    /// batch: at the end of the stream, or after `idle_flush` of silence.
    fn finish(&mut self) -> Batch {
        let stamp = Stamp::now();
        self.batch(0, |l, out| {
            let (pipeline, state) = (&mut l.pipeline, &mut l.state);
            l.framer
                .finish(|line| pipeline.line(state, line.bytes, line.truncated, &stamp, out));
            pipeline.flush(state, out);
        })
    }

    /// Runs `encode` into a new batch and counts the events it made.
    fn batch(&mut self, capacity: usize, encode: impl FnOnce(&mut Self, &mut Vec<u8>)) -> Batch {
        let before = self.pipeline.stats.events;
        let mut bytes = Vec::with_capacity(capacity);
        encode(self, &mut bytes);
        let events = self.pipeline.stats.events - before;
        Batch {
            bytes,
            events: u32::try_from(events).unwrap_or(u32::MAX),
        }
    }
}
