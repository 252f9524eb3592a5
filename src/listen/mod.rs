//! `logmux listen`: a syslog server, for Docker's `--log-driver syslog`,
//! `logger`, rsyslog, or any RFC 3164 / RFC 5424 sender.
//!
//! It listens on UDP, TCP, unix datagram and unix stream sockets at once,
//! turns every message into the same typed events as `logmux filter` (the
//! body goes through the same pipeline, so nginx and uWSGI lines come out
//! parsed and tracebacks whole), adds the syslog envelope, and writes them
//! to stdout, to one file per container, or to a sink of the shared sink
//! layer (`--sink NAME`: a `[sink.NAME]` of `--config`, e.g. syslog). A tour:
//! - [`bind`] parses listen addresses (loopback by default) and opens the sockets;
//! - [`fd_limit`] raises the open-file limit to what `--max-connections` needs;
//! - [`tls`] reads the certificate and key, and wraps TCP connections in TLS;
//! - [`stop`] watches TERM and INT on a thread of its own (stopping works with a stalled stdout);
//! - [`throttle`] keeps reports of refused connections to one a second;
//! - [`dgram`] reads UDP and unix datagrams on threads of their own (many per call: [`crate::sys::mmsg`]), [`conn`] TCP and unix stream connections, each read on a thread of its own ([`conn_reader`]);
//! - [`shard`] spreads stream connections over `--threads` parsing threads, each with a [`hub`]; [`common`] is what they share (connection limits and counts, the `--max-held` budget);
//! - [`hub`] is one parsing thread's state, which every message goes through;
//! - [`message`] reads the sender from the header (Docker or not, container, stream);
//! - [`senders`] keeps one pipeline stream per sender, tag and stdout/stderr;
//! - [`join`] rejoins Docker's 16 KiB pieces (bodies that are logmux events are merged by the pipeline: [`logmux_parsers::logmux_event`]);
//! - [`outbox`] and [`out_dir`] write the events (or hand them to the sink).
//!
//! With a `--sink` that is an OTLP sink whose `signals` hold `traces`, one
//! span builder ([`crate::trace::Tracer`]) is shared by every connection:
//! nginx's and uWSGI's lines of one request come from two containers. So is
//! the heuristic join of `--trace-join infer` / `[trace] join = "infer"`.
//!
//! Each parsing thread runs tokio's single-threaded runtime: a connection
//! stays on one thread, so its hub needs no locks, and many connections use
//! every core ([`shard`]). Writing
//! the output (copying it into the kernel) runs on a thread of its own, and
//! so does draining each datagram socket, so that a burst of datagrams
//! waits in memory instead of being dropped by a full kernel buffer, and
//! reading each stream connection, so that copying bytes out of the kernel
//! leaves the parsing thread.

mod bind;
mod common;
mod conn;
mod conn_reader;
mod dgram;
mod fd_limit;
mod hub;
mod join;
mod message;
mod out_dir;
mod outbox;
mod senders;
mod shard;
mod throttle;
mod tls;
mod writer_watch;

use std::cell::RefCell;
use std::io;
use std::path::PathBuf;
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

pub use bind::{parse_inet, Endpoint};
pub use message::{is_container_name, Container};
pub use tls::{TlsError, TlsFiles};

use crate::shutdown::signals::{AtSecond, StopSignals};
use common::{Common, ConnCounts};
use hub::{Counters, End, Hub, HubSettings};
use outbox::Outbox;
use shard::{Dispatch, Intake, ShardEnd, Tasks};

use crate::engine::{Pipeline, Settings};
use crate::metrics::{http, Metrics, MetricsSpec};
use crate::shutdown::Shutdown;
use crate::sink::spec::SinkSpec;
use crate::sink::KeyedFilesSpec;
use crate::trace::infer::{JoinMode, Joiner};
use crate::trace::Tracer;

/// Senders (sender, host, tag, stdout/stderr) kept at most, per shard.
pub const MAX_STREAMS: usize = 4096;

/// Everything `listen` needs, resolved from flags.
#[derive(Debug)]
pub struct ListenJob {
    pub endpoints: Vec<Endpoint>,
    /// How bodies are parsed and events encoded.
    pub settings: Settings,
    pub out_dir: Option<KeyedFilesSpec>,
    /// `--sink NAME`: write there instead of stdout; its encoder is
    /// `settings.encoder`.
    pub sink: Option<SinkSpec>,
    pub max_message: usize,
    pub max_connections: usize,
    /// `--max-connections-per-peer`: TCP connections from one address.
    pub max_per_peer: usize,
    /// `--max-held`: bytes of unfinished frames held over all connections.
    pub max_held: usize,
    /// A connection whose frame stays unfinished this long is closed.
    pub idle_timeout: Duration,
    pub idle_flush: Duration,
    /// At TERM or INT: how long to read what has arrived and write it out
    /// (a second signal ends the wait).
    pub drain_timeout: Duration,
    /// `--tls-cert` and co.: every TCP listener speaks TLS.
    pub tls: Option<TlsFiles>,
    /// `[metrics]` or `--metrics-listen`: count into `/metrics`.
    pub metrics: Option<MetricsSpec>,
    /// `--trace-join` or `[trace] join`: also join request lines that log no id.
    pub trace_join: crate::trace::infer::JoinMode,
    /// `[trace]`: the span builder's settings, when the `--sink` sends traces.
    pub trace: crate::trace::TraceSpec,
    /// `--threads`: shards that parse stream connections (at least 1).
    pub threads: usize,
}

/// How the listener ended.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    /// TERM or INT: everything held was written.
    Stopped,
    /// stdout's reader went away.
    OutputClosed,
}

/// Why the listener could not start or go on.
#[derive(Debug, thiserror::Error)]
pub enum ListenError {
    #[error("cannot listen on {what}: {source}")]
    Bind {
        what: String,
        #[source]
        source: io::Error,
    },
    #[error("cannot use --out-dir {dir}: {source}")]
    OutDir {
        dir: String,
        #[source]
        source: io::Error,
    },
    #[error("cannot write the output: {0}")]
    Output(#[source] io::Error),
    #[error("metrics: cannot listen on {addr}: {source}")]
    Metrics {
        addr: std::net::SocketAddr,
        #[source]
        source: io::Error,
    },
    /// Stopped by a signal, but stdout's reader did not take everything.
    #[error("{events} events were not written: stdout's reader did not read them within --drain-timeout {drain_timeout:?}")]
    Unwritten {
        events: u64,
        drain_timeout: Duration,
    },
    /// Stopped by a signal, but the sockets were not read to their end.
    #[error("{bytes} bytes received were left unread: stopping gave up reading the connections (--drain-timeout {drain_timeout:?}, or a second signal)")]
    Unread { bytes: u64, drain_timeout: Duration },
    #[error(transparent)]
    Sink(#[from] crate::sink::OpenError),
    #[error("cannot start the listener: {0}")]
    Runtime(#[source] io::Error),
    #[error(transparent)]
    Tls(#[from] TlsError),
}

/// A socket bound before the runtime starts, so that a bad address fails
/// before anything runs.
enum Bound {
    Udp(std::net::UdpSocket),
    Tcp(std::net::TcpListener),
    UnixDgram(std::os::unix::net::UnixDatagram, PathBuf),
    UnixStream(std::os::unix::net::UnixListener, PathBuf),
}

impl Bound {
    fn open(endpoint: &Endpoint) -> Result<(Bound, String), ListenError> {
        let fail = |source| ListenError::Bind {
            what: endpoint.describe(),
            source,
        };
        let bound = match endpoint {
            Endpoint::Udp(a) => Bound::Udp(bind::udp(*a).map_err(fail)?),
            Endpoint::Tcp(a) => Bound::Tcp(bind::tcp(*a).map_err(fail)?),
            Endpoint::UnixDgram(p) => {
                Bound::UnixDgram(bind::unix_dgram(p).map_err(fail)?, p.clone())
            }
            Endpoint::UnixStream(p) => {
                Bound::UnixStream(bind::unix_stream(p).map_err(fail)?, p.clone())
            }
        };
        // The address actually bound (port 0 gets one from the kernel).
        let name = match &bound {
            Bound::Udp(s) => s.local_addr().map(|a| format!("udp://{a}")),
            Bound::Tcp(l) => l.local_addr().map(|a| format!("tcp://{a}")),
            Bound::UnixDgram(_, _) | Bound::UnixStream(_, _) => Ok(endpoint.describe()),
        }
        .unwrap_or_else(|_| endpoint.describe());
        Ok((bound, name))
    }

    fn path(&self) -> Option<&PathBuf> {
        match self {
            Bound::UnixDgram(_, p) | Bound::UnixStream(_, p) => Some(p),
            Bound::Udp(_) | Bound::Tcp(_) => None,
        }
    }
}

/// Runs the listener until TERM or INT (or until stdout's reader leaves).
pub fn run(job: ListenJob) -> Result<Outcome, ListenError> {
    if job.settings.encoder.format == crate::output::OutputFormat::Pretty {
        // A pretty output shows logmux's own events pretty too (on stderr,
        // as before, in the output's view).
        crate::diag::route_in_view(job.settings.encoder.clone());
        crate::diag::route_to(|line| crate::diag::write_stderr(&line));
    }
    // A bad certificate or key fails before anything is bound.
    let tls = job.tls.as_ref().map(tls::server_config).transpose()?;
    let files = if job.out_dir.is_some() {
        crate::sink::keyed_files::MAX_OPEN
    } else {
        0
    };
    let needed = fd_limit::needed(job.max_connections, job.endpoints.len(), files);
    fd_limit::raise(needed, job.max_connections);
    let mut bound = Vec::with_capacity(job.endpoints.len());
    let mut paths = Vec::new();
    for endpoint in &job.endpoints {
        let opened = Bound::open(endpoint);
        let (b, name) = match opened {
            Ok(x) => x,
            Err(e) => {
                remove_sockets(&paths);
                return Err(e);
            }
        };
        paths.extend(b.path().cloned());
        bound.push((b, name));
    }
    let result = start(job, bound, tls);
    remove_sockets(&paths);
    result
}

fn start(
    job: ListenJob,
    bound: Vec<(Bound, String)>,
    tls: Option<Arc<rustls::ServerConfig>>,
) -> Result<Outcome, ListenError> {
    // TERM, INT, or an output that ends: every task and thread stops.
    let shutdown = Shutdown::new();
    let stop =
        StopSignals::start(job.drain_timeout, AtSecond::GiveUp).map_err(ListenError::Runtime)?;
    let mut out = match (&job.out_dir, &job.sink) {
        (Some(spec), _) => Outbox::dir(spec.clone()).map_err(|source| ListenError::OutDir {
            dir: spec.dir.display().to_string(),
            source,
        })?,
        (None, Some(sink)) => Outbox::sink(sink)?,
        (None, None) => Outbox::stdout(shutdown.clone()).map_err(ListenError::Output)?,
    };
    out.set_stop(Arc::clone(&stop));
    let tracer = start_tracer(&job)?;
    let metrics = match &job.metrics {
        Some(spec) => Some(start_metrics(spec, &out, tracer.as_deref())?),
        None => None,
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(ListenError::Runtime)?;
    let local = tokio::task::LocalSet::new();
    local.block_on(
        &runtime,
        serve(
            job,
            bound,
            out,
            (shutdown, stop),
            Extras {
                tls,
                metrics,
                tracer,
            },
        ),
    )
}

/// What the listener may have besides its sockets and output.
struct Extras {
    /// `--tls-cert`: every TCP listener speaks TLS.
    tls: Option<Arc<rustls::ServerConfig>>,
    metrics: Option<Arc<Metrics>>,
    /// The span builder, when the `--sink` sends traces.
    tracer: Option<Arc<Tracer>>,
}

/// The span builder and the traces twin of the `--sink`, when it is an
/// OTLP sink whose `signals` hold `traces`; shared by every connection,
/// since nginx's and uWSGI's lines of one request come from two containers.
fn start_tracer(job: &ListenJob) -> Result<Option<Arc<Tracer>>, ListenError> {
    let Some(spec) = &job.sink else {
        return Ok(None);
    };
    let encoder = &job.settings.encoder;
    let statics = encoder.resource.as_deref().unwrap_or(&[]);
    Ok(Tracer::start(
        std::slice::from_ref(spec),
        &job.trace,
        statics,
        encoder.zone,
    )?)
}

/// The metrics of this listener, with its sinks (if any) and the HTTP listener.
fn start_metrics(
    spec: &MetricsSpec,
    out: &Outbox,
    tracer: Option<&Tracer>,
) -> Result<Arc<Metrics>, ListenError> {
    let metrics = Metrics::new(spec);
    let mut queues = out.queues();
    queues.extend(tracer.map(Tracer::queues).unwrap_or_default());
    metrics.add_sinks(queues);
    if let Some(addr) = spec.listen {
        http::start(addr, Arc::clone(&metrics))
            .map_err(|source| ListenError::Metrics { addr, source })?;
    }
    Ok(metrics)
}

fn remove_sockets(paths: &[PathBuf]) {
    for p in paths {
        let _ = std::fs::remove_file(p);
    }
}

async fn serve(
    job: ListenJob,
    bound: Vec<(Bound, String)>,
    out: Outbox,
    (shutdown, stop): (Shutdown, Arc<StopSignals>),
    Extras {
        tls,
        metrics,
        tracer,
    }: Extras,
) -> Result<Outcome, ListenError> {
    let drain_timeout = job.drain_timeout;
    let common = Arc::new(Common::new(
        job.max_connections,
        job.max_per_peer,
        job.max_held,
    ));
    let limits = conn::Limits {
        idle_timeout: job.idle_timeout,
        tls,
    };
    let threads = job.threads;
    let parts = HubParts::new(job, metrics, tracer.clone(), &shutdown, &common);
    let (dispatch, mut intakes) = Dispatch::new(threads);
    let own_intake = intakes.remove(0);
    let signals = (shutdown.clone(), Arc::clone(&stop));
    let shards = start_shards(intakes, &parts, &out, &signals, drain_timeout)?;
    let hub = Rc::new(RefCell::new(parts.hub(out)));
    let tasks = Tasks::default();
    tasks.spawn(shard::intake(own_intake, Rc::clone(&hub), tasks.clone()));
    let sockets = Sockets {
        hub: &hub,
        common: &common,
        shutdown: &shutdown,
        limits: &limits,
        tasks: &tasks,
    };
    if let Err(e) = sockets.open(bound, dispatch) {
        shutdown.trigger();
        return Err(e);
    }
    shard::keep(&hub, &shutdown);

    tokio::select! {
        () = stop.requested.triggered() => {}
        () = shutdown.triggered() => {}
    };
    let why = stop.first().unwrap_or("the output closed");
    tracing::debug!(reason = why, "stopping: {why}");
    // Stop accepting and reading; each socket first reads what has arrived.
    shutdown.trigger();
    shard::drain(&tasks, drain_timeout, &stop).await;
    let mut h = hub.borrow_mut();
    h.flush_all();
    // Every shard has handed its buffers and its spans over.
    let mut totals = Totals::of(&h);
    for shard in shards {
        match shard.join() {
            Ok(end) => totals.add(end),
            Err(_) => tracing::error!("a listener shard ended abnormally; its counts are missing"),
        }
    }
    // The traces still waiting are sent (the last lines are in) before
    // the output closes.
    let spans_missing = tracer.map_or(0, |t| t.close(Instant::now() + drain_timeout));
    h.finish_output(drain_timeout);
    totals.end = totals.end.or(h.end.take());
    let unwritten = report(&h, &totals, common.counts());
    match totals.end {
        None if unwritten > 0 => Err(ListenError::Unwritten {
            events: unwritten,
            drain_timeout,
        }),
        None if totals.counters.unread_bytes > 0 => Err(ListenError::Unread {
            bytes: totals.counters.unread_bytes,
            drain_timeout,
        }),
        None if spans_missing > 0 => Err(ListenError::Output(io::Error::other(format!(
            "{spans_missing} spans were not delivered to the sink"
        )))),
        None => Ok(Outcome::Stopped),
        Some(End::OutputClosed) => Ok(Outcome::OutputClosed),
        Some(End::OutputFailed(e)) => Err(ListenError::Output(e)),
    }
}

/// What every shard's hub is made of.
#[derive(Clone)]
struct HubParts {
    settings: Settings,
    metrics: Option<Arc<crate::metrics::EventMetrics>>,
    join: Option<Arc<Joiner>>,
    tracer: Option<Arc<Tracer>>,
    hub: HubSettings,
    shutdown: Shutdown,
    common: Arc<Common>,
}

impl HubParts {
    fn new(
        job: ListenJob,
        metrics: Option<Arc<Metrics>>,
        tracer: Option<Arc<Tracer>>,
        shutdown: &Shutdown,
        common: &Arc<Common>,
    ) -> HubParts {
        let join =
            (job.trace_join == JoinMode::Infer).then(|| Arc::new(Joiner::from_spec(&job.trace)));
        HubParts {
            hub: HubSettings {
                max_message: job.max_message,
                idle_flush: job.idle_flush,
                max_streams: MAX_STREAMS,
                local_offset_minutes: job.settings.encoder.zone.minutes_now(),
            },
            settings: job.settings,
            metrics: metrics.map(|m| Arc::clone(&m.events)),
            join,
            tracer,
            shutdown: shutdown.clone(),
            common: Arc::clone(common),
        }
    }

    fn hub(self, out: Outbox) -> Hub {
        let pipeline = Pipeline::new(self.settings)
            .keeping_empty()
            .with_metrics(self.metrics)
            .with_join(self.join)
            .with_spans(self.tracer);
        Hub::new(pipeline, out, self.hub, self.shutdown, self.common)
    }
}

/// Starts the shards past the first (the listener's own thread), each
/// with an outbox of its own on the same writer.
fn start_shards(
    intakes: Vec<Intake>,
    parts: &HubParts,
    out: &Outbox,
    (shutdown, stop): &(Shutdown, Arc<StopSignals>),
    drain_timeout: Duration,
) -> Result<Vec<std::thread::JoinHandle<ShardEnd>>, ListenError> {
    let mut shards = Vec::with_capacity(intakes.len());
    for (i, intake) in intakes.into_iter().enumerate() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(ListenError::Runtime)?;
        let parts = parts.clone();
        let sibling = out.sibling();
        let signals = (shutdown.clone(), Arc::clone(stop));
        let make = move || parts.hub(sibling);
        let started = shard::start(i + 1, runtime, make, intake, signals, drain_timeout);
        shards.push(started.map_err(ListenError::Runtime)?);
    }
    Ok(shards)
}

/// What opening the sockets on the listener's thread needs.
struct Sockets<'a> {
    hub: &'a Rc<RefCell<Hub>>,
    common: &'a Arc<Common>,
    shutdown: &'a Shutdown,
    limits: &'a conn::Limits,
    tasks: &'a Tasks,
}

impl Sockets<'_> {
    /// Starts reading every bound socket: datagram sockets on this shard,
    /// stream listeners' connections on the shard `dispatch` picks.
    fn open(&self, bound: Vec<(Bound, String)>, dispatch: Dispatch) -> Result<(), ListenError> {
        for (i, (b, name)) in bound.into_iter().enumerate() {
            let listener = u16::try_from(i).unwrap_or(u16::MAX);
            // Datagram sockets are read by threads of their own.
            let datagrams = |socket| {
                self.tasks.spawn(dgram::serve(
                    socket,
                    listener,
                    name.clone(),
                    Rc::clone(self.hub),
                    (self.shutdown.clone(), self.tasks.given_up()),
                ));
                Ok(())
            };
            // Stream listeners accept connections on a thread each; the
            // shard's tasks include it, so stopping waits for its end.
            let connections = |l: conn::StdListener| {
                let acceptor = conn::accept_on_own_thread(
                    l,
                    name.clone(),
                    Arc::clone(self.common),
                    self.shutdown.clone(),
                    (self.limits.clone(), dispatch.clone()),
                )?;
                self.tasks.spawn(acceptor);
                Ok(())
            };
            let registered = match b {
                Bound::Udp(s) => datagrams(dgram::DgramSocket::Udp(s)),
                Bound::UnixDgram(s, _) => datagrams(dgram::DgramSocket::Unix(s)),
                Bound::Tcp(l) => connections(conn::StdListener::Tcp(l)),
                Bound::UnixStream(l, _) => connections(conn::StdListener::Unix(l)),
            };
            registered.map_err(|source| ListenError::Bind {
                what: name.clone(),
                source,
            })?;
            tracing::info!(address = %name, "listening on {name}");
        }
        Ok(())
    }
}

/// The counts of every shard, summed.
struct Totals {
    counters: Counters,
    stats: crate::engine::Stats,
    end: Option<End>,
}

impl Totals {
    fn of(h: &Hub) -> Totals {
        Totals {
            counters: h.counters,
            stats: h.pipeline_stats(),
            end: None,
        }
    }

    fn add(&mut self, shard: ShardEnd) {
        self.counters += shard.counters;
        self.stats += shard.stats;
        self.end = self.end.take().or(shard.end);
    }
}

/// The counts, as one logmux event; returns the events not written to
/// stdout (its reader stalled).
fn report(h: &Hub, totals: &Totals, conns: ConnCounts) -> u64 {
    let c = totals.counters;
    let s = totals.stats;
    let lost_bytes = h.lost_bytes();
    let unwritten = h.unwritten();
    // JSON and logfmt write one line an event.
    let unwritten_events = if unwritten.bytes > 0 {
        s.events.saturating_sub(unwritten.written_lines)
    } else {
        0
    };
    tracing::info!(
        messages = c.messages,
        events = s.events,
        malformed = c.malformed,
        truncated = c.truncated,
        empty = c.empty,
        merged = s.merged,
        invalid_utf8 = s.invalid_utf8,
        connections = conns.connections,
        refused_connections = conns.refused_connections,
        idle_closed = conns.idle_closed,
        tls_failures = conns.tls_failures,
        held_cuts = c.held_cuts,
        held_flushes = c.held_flushes,
        evicted_streams = c.evicted_streams,
        discarded_bytes = c.discarded_bytes,
        lost_bytes,
        unread_bytes = c.unread_bytes,
        unwritten_events,
        unwritten_bytes = unwritten.bytes,
        "listen stopped: {} messages in, {} events out, {} not syslog, {} connections refused, {} bytes left unread, {} bytes lost, {} events not written",
        c.messages,
        s.events,
        c.malformed,
        conns.refused_connections,
        c.unread_bytes,
        lost_bytes,
        unwritten_events,
    );
    unwritten_events
}
