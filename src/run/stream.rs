//! One child stream: read, frame, parse, encode, queue.
//!
//! Each stdout and stderr pipe gets a task of its own with its own line
//! buffer and multi-line state, so two programs' (or two streams') lines are
//! never merged or spliced. Every read becomes one batch of whole events per
//! sink: the stream's own, and the sink of each format it routes elsewhere
//! (`route = { "uwsgi.request" = "stdout" }`). A line is parsed once; its
//! event is encoded by the sink it goes to. A partial last line is emitted
//! at end of stream, or after `idle_flush` of silence, and a traceback still
//! being assembled the same way.
//!
//! At exit the supervisor may tell the readers to give up (its one
//! shutdown deadline has passed, [`ExitCounts`]): a reader then stops
//! waiting for a full sink, reads what is still in its pipe, and counts
//! every event it could not queue, so nothing leaves uncounted.

use std::os::fd::{AsFd, OwnedFd};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use logmux_parsers::Format;
use tokio::io::AsyncReadExt;
use tokio::net::unix::pipe;

use crate::engine::LineFramer;
use crate::engine::{Output, Pipeline, Settings, StreamState};
use crate::event::{Burst, BurstClock, Origin, Stamp};
use crate::output::Encoder;
use crate::shutdown::Shutdown;
use crate::sink::Batch;
pub use crate::sink::Route;

/// Read size: large reads keep the per-line cost low under load.
const READ_SIZE: usize = 64 * 1024;

/// Reads of what is left in a pipe after giving up: a pipe holds 64 KiB
/// by default, so this reads it to the end unless something still writes.
const READS_AFTER_GIVING_UP: u32 = 64;

/// What the readers of one `logmux run` tell the supervisor at exit.
#[derive(Clone, Default)]
pub struct ExitCounts {
    /// Triggered at the shutdown deadline: stop waiting, count, and end.
    pub give_up: Shutdown,
    /// Events read (or still in a pipe) that no sink took in time.
    pub not_queued: Arc<AtomicU64>,
    /// Streams whose pipe was still open when told to give up (a process
    /// other than the program kept it).
    pub held_open: Arc<AtomicU64>,
}

/// The sink that the events of one format go to instead of the stream's own.
#[derive(Clone)]
pub struct FormatRoute {
    pub format: Format,
    /// The sink's index in the config: formats routed to one sink share its batch.
    pub sink: usize,
    pub encoder: Encoder,
    pub route: Route,
}

/// One stream of one run of one program.
pub struct StreamReader {
    /// The program's name, for logmux's own messages (`origin` holds its
    /// `service_name`).
    pub program: String,
    pub origin: Origin,
    pub settings: Settings,
    pub max_line: usize,
    pub idle_flush: Duration,
    /// The stream's own sink (its index in the config, and its queue; its
    /// encoder is `settings.encoder`).
    pub sink: usize,
    pub route: Route,
    /// Formats whose events go to another sink.
    pub routes: Vec<FormatRoute>,
    /// Sinks every event also goes to (the stream's `copy`), with their
    /// encoders.
    pub copies: Vec<(Encoder, Route)>,
    /// The program's `merge`: its lines that are logmux events are merged.
    pub merge: bool,
    pub exit: ExitCounts,
}

impl StreamReader {
    /// Reads `fd` to its end. Returns the number of lines read.
    pub async fn run(self, fd: OwnedFd) -> u64 {
        let name = self.program;
        let which = self.origin.iostream.map_or("", |s| s.name());
        let mut rx = match pipe::Receiver::from_owned_fd(fd) {
            Ok(rx) => rx,
            Err(e) => {
                tracing::error!(program = %name, stream = which, error = %e, "cannot read {name}'s {which}: {e}");
                return 0;
            }
        };
        let exit = self.exit;
        let mut lines = Lines {
            framer: LineFramer::new(self.max_line),
            split: Split::new(self.route, self.sink, self.routes, exit.clone())
                .with_copies(self.copies),
            pipeline: Pipeline::new(self.settings)
                .for_program(self.merge)
                .joining_bursts(),
            state: StreamState::new(self.origin),
        };
        let mut buf = vec![0u8; READ_SIZE];
        let mut bursts = BurstClock::default();
        loop {
            // How the read waits for its bytes tells where a burst ends.
            let started = std::time::Instant::now();
            let waiting = crate::sys::wait_readable(rx.as_fd(), std::time::Duration::ZERO);
            let read = tokio::select! {
                // A read in progress finishes first (its batch is counted
                // if no sink takes it).
                biased;
                read = lines.read(&mut rx, &mut buf, self.idle_flush) => read,
                () = exit.give_up.triggered() => break,
            };
            let n = match read {
                None => continue,
                Some(Ok(0)) => break,
                Some(Ok(n)) => n,
                Some(Err(e)) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Some(Err(e)) => {
                    tracing::error!(program = %name, stream = which, error = %e, "reading {name}'s {which} failed: {e}");
                    break;
                }
            };
            lines.push(&buf[..n], bursts.read_returned(started, waiting));
            lines.split.send().await;
        }
        if exit.give_up.is_triggered() {
            lines.read_what_is_left(&rx, &mut buf, &exit).await;
        }
        lines.finish();
        lines.split.send().await;
        lines.pipeline.stats.lines
    }
}

/// One stream's line state: its framer, and its pipeline and per-stream
/// state (multi-line events, parsing, encoding), and the batches being
/// filled for its sinks.
struct Lines {
    framer: LineFramer,
    split: Split,
    pipeline: Pipeline,
    state: StreamState,
}

impl Lines {
    /// The next read; `None` after `idle_flush` of silence with something
    /// held back (which is then emitted).
    async fn read(
        &mut self,
        rx: &mut pipe::Receiver,
        buf: &mut [u8],
        idle_flush: Duration,
    ) -> Option<std::io::Result<usize>> {
        if !self.is_pending() {
            return Some(rx.read(buf).await);
        }
        match tokio::time::timeout(idle_flush, rx.read(buf)).await {
            Ok(r) => Some(r),
            Err(_idle) => {
                self.finish();
                self.split.send().await;
                None
            }
        }
    }

    /// After giving up: reads what is in the pipe now, without waiting
    /// (straight from the descriptor, not the runtime's idea of readiness),
    /// so that its events are counted.
    async fn read_what_is_left(&mut self, rx: &pipe::Receiver, buf: &mut [u8], exit: &ExitCounts) {
        use std::os::fd::AsRawFd;
        for _ in 0..READS_AFTER_GIVING_UP {
            match nix::unistd::read(rx.as_raw_fd(), buf) {
                Ok(0) => return,
                // No sink takes more now: count the lines, without parsing
                // them (a slow machine would outlast the give-up grace and
                // the reader would be aborted before it counted).
                Ok(n) => {
                    let lines = memchr::memchr_iter(b'\n', &buf[..n]).count();
                    exit.not_queued.fetch_add(lines as u64, Ordering::Relaxed);
                }
                Err(nix::errno::Errno::EINTR) => {}
                Err(nix::errno::Errno::EAGAIN) => break,
                Err(_) => return,
            }
        }
        // Empty for now, or still filling: some process holds it open.
        exit.held_open.fetch_add(1, Ordering::Relaxed);
    }

    /// A partial line or a multi-line event is held back.
    fn is_pending(&self) -> bool {
        self.framer.pending() > 0 || self.state.is_pending()
    }

    /// Encodes the events of one read; every line in it was read now.
    /// `bursts`: how the read's first line came, and its others.
    fn push(&mut self, bytes: &[u8], bursts: (Burst, Burst)) {
        let mut stamp = Stamp::now();
        // JSON is 2.5 to 5 times the text: fewer regrowths.
        self.split.own.bytes.reserve(bytes.len() * 3 + 256);
        let (pipeline, state, split) = (&mut self.pipeline, &mut self.state, &mut self.split);
        self.framer.push_read(bytes, bursts, |line, line_burst| {
            stamp.burst = line_burst;
            pipeline.line(state, line.bytes, line.truncated, &stamp, split);
        });
    }

    /// Encodes the partial last line and whatever multi-line event is held:
    /// at the end of the stream, or after `idle_flush` of silence.
    fn finish(&mut self) {
        let stamp = Stamp::now();
        let (pipeline, state, split) = (&mut self.pipeline, &mut self.state, &mut self.split);
        self.framer
            .finish(|line| pipeline.line(state, line.bytes, line.truncated, &stamp, split));
        pipeline.flush(state, split);
    }
}

/// The batches of one read, one per sink, each with the encoder of its sink.
struct Split {
    own: Pending,
    /// Format → index into `routed`; none for formats that stay.
    formats: Vec<(Format, usize)>,
    routed: Vec<Pending>,
    /// Every event also goes to these (encoder always set).
    copies: Vec<Pending>,
    exit: ExitCounts,
}

/// A batch being filled for one sink.
struct Pending {
    /// `None`: the pipeline's (the stream's own sink's) encoder.
    encoder: Option<Encoder>,
    route: Route,
    bytes: Vec<u8>,
    events: u32,
}

impl Pending {
    fn new(encoder: Option<Encoder>, route: Route) -> Pending {
        Pending {
            encoder,
            route,
            bytes: Vec::new(),
            events: 0,
        }
    }

    /// Queues what was encoded since the last send, if anything; once told
    /// to give up, a batch the sink does not take at once is counted.
    async fn send(&mut self, exit: &ExitCounts) {
        if self.bytes.is_empty() {
            return;
        }
        let events = self.events;
        let batch = Batch {
            bytes: std::mem::take(&mut self.bytes),
            events: std::mem::take(&mut self.events),
            key: None,
        };
        tokio::select! {
            // A push either puts the batch in the queue within one poll or
            // waits: dropped while waiting, it was not queued.
            biased;
            () = self.route.send(batch) => {}
            () = exit.give_up.triggered() => {
                exit.not_queued.fetch_add(u64::from(events), Ordering::Relaxed);
            }
        }
    }
}

impl Split {
    /// `own_sink` is the stream's own sink: a route there changes nothing.
    fn new(own: Route, own_sink: usize, routes: Vec<FormatRoute>, exit: ExitCounts) -> Split {
        let mut split = Split {
            own: Pending::new(None, own),
            formats: Vec::new(),
            routed: Vec::new(),
            copies: Vec::new(),
            exit,
        };
        let mut sinks: Vec<usize> = Vec::new();
        for r in routes {
            if r.sink == own_sink {
                continue;
            }
            let i = match sinks.iter().position(|&s| s == r.sink) {
                Some(i) => i,
                None => {
                    sinks.push(r.sink);
                    split.routed.push(Pending::new(Some(r.encoder), r.route));
                    split.routed.len() - 1
                }
            };
            split.formats.push((r.format, i));
        }
        split
    }

    fn with_copies(mut self, copies: Vec<(Encoder, Route)>) -> Split {
        self.copies = copies
            .into_iter()
            .map(|(encoder, route)| Pending::new(Some(encoder), route))
            .collect();
        self
    }

    /// Queues each sink's batch: the stream's own first. Each sink gets its
    /// events in the order they were read; `on_full` applies per sink.
    async fn send(&mut self) {
        self.own.send(&self.exit).await;
        for p in self.routed.iter_mut().chain(&mut self.copies) {
            p.send(&self.exit).await;
        }
    }
}

impl Output for Split {
    #[inline]
    fn target(&mut self, format: Format) -> (Option<&Encoder>, &mut Vec<u8>) {
        let to = self
            .formats
            .iter()
            .find(|(f, _)| *f == format)
            .and_then(|&(_, i)| self.routed.get_mut(i));
        let p = match to {
            Some(p) => p,
            None => &mut self.own,
        };
        p.events = p.events.saturating_add(1);
        (p.encoder.as_ref(), &mut p.bytes)
    }

    #[inline]
    fn copy(&mut self, i: usize) -> Option<(&Encoder, &mut Vec<u8>)> {
        let p = self.copies.get_mut(i)?;
        p.events = p.events.saturating_add(1);
        Some((p.encoder.as_ref()?, &mut p.bytes))
    }
}
