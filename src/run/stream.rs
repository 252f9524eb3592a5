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
        let mut framer = LineFramer::new(self.max_line);
        let mut pipeline = Pipeline::new(self.settings);
        let mut state = StreamState::new(self.origin);
        let mut buf = vec![0u8; READ_SIZE];
        loop {
            let pending = framer.pending() > 0 || state.is_pending();
            let read = if pending {
                match tokio::time::timeout(self.idle_flush, rx.read(&mut buf)).await {
                    Ok(r) => r,
                    Err(_idle) => {
                        let mut out = Batch::default();
                        finish(&mut framer, &mut pipeline, &mut state, &mut out);
                        self.route.send(out).await;
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
            let stamp = Stamp::now();
            let mut out = Batch {
                // JSON is 2.5 to 5 times the text: fewer regrowths.
                bytes: Vec::with_capacity(n * 3 + 256),
                events: 0,
            };
            let before = pipeline.stats.events;
            framer.push(&buf[..n], |line| {
                pipeline.line(
                    &mut state,
                    line.bytes,
                    line.truncated,
                    &stamp,
                    &mut out.bytes,
                )
            });
            out.events = u32::try_from(pipeline.stats.events - before).unwrap_or(u32::MAX);
            self.route.send(out).await;
        }
        let mut out = Batch::default();
        finish(&mut framer, &mut pipeline, &mut state, &mut out);
        self.route.send(out).await;
        pipeline.stats.lines
    }
}

/// Emits the partial last line and whatever multi-line event is held.
fn finish(
    framer: &mut LineFramer,
    pipeline: &mut Pipeline,
    state: &mut StreamState,
    out: &mut Batch,
) {
    let stamp = Stamp::now();
    let before = pipeline.stats.events;
    framer.finish(|line| pipeline.line(state, line.bytes, line.truncated, &stamp, &mut out.bytes));
    pipeline.flush(state, &mut out.bytes);
    out.events = u32::try_from(pipeline.stats.events - before).unwrap_or(u32::MAX);
}
