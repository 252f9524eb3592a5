//! Metrics and health: what `/metrics` and `/healthz` answer.
//!
//! A lower layer, like [`crate::sink`]: the doors create one [`Metrics`]
//! when asked (`[metrics] listen`, `--metrics-listen`), hand its event part
//! to their pipelines, add their sinks and (under `run`) their programs,
//! and start the HTTP listener ([`http`]). In order:
//! - [`registry`]: counters, gauges and histograms (atomics), families of
//!   them with bounded label sets, and the registry that writes them all;
//! - [`expose`]: the Prometheus text format 0.0.4;
//! - [`events`]: the metrics derived from parsed events;
//! - [`process`]: the standard `process_*` metrics from /proc/self;
//! - [`health`]: the facts `/healthz` answers from;
//! - [`http`]: the small GET-only HTTP server.

pub mod events;
pub mod expose;
pub mod health;
pub mod http;
pub mod process;
pub mod registry;

use std::net::{IpAddr, Ipv4Addr, SocketAddr, ToSocketAddrs};
use std::sync::Arc;

pub use events::{EventCache, EventMetrics};
pub use health::{Health, HealthSource, ProgramFact, ProgramFacts, SinkFacts};
pub use registry::{CopiedCounter, Counter, Family, Gauge, Histogram, Registry};

use crate::sink::Queue;

/// The default port (`[metrics] listen = "9145"`).
pub const DEFAULT_PORT: u16 = 9145;

/// Default latency buckets, in seconds: web requests.
pub const DEFAULT_DURATION_BUCKETS: [f64; 11] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];
/// Default response body size buckets, in bytes.
pub const DEFAULT_SIZE_BUCKETS: [f64; 6] = [100.0, 1e3, 1e4, 1e5, 1e6, 1e7];
/// Distinct exception types counted apart by default.
pub const DEFAULT_MAX_EXCEPTION_TYPES: usize = 100;

/// The `[metrics]` settings, resolved.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricsSpec {
    /// Where the HTTP listener binds; `None`: no listener (the control
    /// socket's `metrics` request still answers under `run`).
    pub listen: Option<SocketAddr>,
    /// Paths as a `route` label: the first N, the rest `other`; 0: none.
    pub route_labels: usize,
    pub max_exception_types: usize,
    pub duration_buckets: Vec<f64>,
    pub size_buckets: Vec<f64>,
}

impl Default for MetricsSpec {
    fn default() -> MetricsSpec {
        MetricsSpec {
            listen: None,
            route_labels: 0,
            max_exception_types: DEFAULT_MAX_EXCEPTION_TYPES,
            duration_buckets: DEFAULT_DURATION_BUCKETS.to_vec(),
            size_buckets: DEFAULT_SIZE_BUCKETS.to_vec(),
        }
    }
}

/// Reads a listen address: `HOST:PORT`, `[V6]:PORT`, or a port alone
/// (`9145` or `:9145`), which means loopback (127.0.0.1).
pub fn parse_listen(text: &str) -> Result<SocketAddr, String> {
    let t = text.trim();
    let port_only = t.strip_prefix(':').unwrap_or(t);
    if let Ok(port) = port_only.parse::<u16>() {
        return Ok(SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), port));
    }
    if let Ok(addr) = t.parse::<SocketAddr>() {
        return Ok(addr);
    }
    match t.to_socket_addrs() {
        Ok(mut addrs) => addrs
            .next()
            .ok_or_else(|| format!("`{t}` names no address")),
        Err(_) => Err(format!(
            "`{t}` is not an address to listen on: expected HOST:PORT, [IPV6]:PORT or a port (e.g. \"127.0.0.1:9145\" or \"9145\")"
        )),
    }
}

/// Checks histogram bounds: at least one, finite, strictly increasing.
pub fn check_buckets(bounds: &[f64]) -> Result<(), String> {
    if bounds.is_empty() {
        return Err("needs at least one bucket bound".into());
    }
    if let Some(b) = bounds.iter().find(|b| !b.is_finite()) {
        return Err(format!("bucket bound {b} is not a finite number"));
    }
    if let Some(w) = bounds.windows(2).find(|w| w[0] >= w[1]) {
        return Err(format!(
            "bucket bounds must increase: {} is not above {}",
            w[1], w[0]
        ));
    }
    Ok(())
}

/// The metrics of one logmux process: its registry, event metrics and
/// health.
pub struct Metrics {
    pub registry: Registry,
    pub events: Arc<EventMetrics>,
    pub health: Health,
    pub input_lines: Arc<Family<Counter>>,
    pub input_bytes: Arc<Family<Counter>>,
}

impl Metrics {
    /// Registers the event and input families and the process metrics.
    pub fn new(spec: &MetricsSpec) -> Arc<Metrics> {
        let registry = Registry::new();
        let events = Arc::new(EventMetrics::register(&registry, spec));
        let input_lines = registry.register(Family::new(
            "logmux_input_lines_total",
            "Lines read, per program (or input) and stream.",
            &["program", "stream"],
            (),
            10_000,
        ));
        let input_bytes = registry.register(Family::new(
            "logmux_input_bytes_total",
            "Bytes read, per program (or input) and stream.",
            &["program", "stream"],
            (),
            10_000,
        ));
        registry.add_collector(Box::new(process::collect));
        Arc::new(Metrics {
            registry,
            events,
            health: Health::default(),
            input_lines,
            input_bytes,
        })
    }

    /// Adds the sinks: their counters and gauges at each scrape, and
    /// their state to health.
    pub fn add_sinks(&self, sinks: Vec<(String, Arc<Queue>)>) {
        let facts = Arc::new(SinkFacts { sinks });
        let read = Arc::clone(&facts);
        self.registry
            .add_collector(Box::new(move |out| sink_metrics(&read.sinks, out)));
        self.health.add(facts);
    }

    /// Registers the program families (`logmux run` only) and adds the
    /// programs to health.
    pub fn add_programs(&self) -> ProgramMetrics {
        let facts = Arc::new(ProgramFacts::default());
        self.health.add(Arc::clone(&facts) as Arc<dyn HealthSource>);
        ProgramMetrics {
            up: self.registry.register(program_family(
                "logmux_program_up",
                "1 while the program runs (started, and ready if it has a probe).",
            )),
            restarts: self.registry.register(program_family(
                "logmux_program_restarts_total",
                "Times logmux started the program again.",
            )),
            exit_code: self.registry.register(program_family(
                "logmux_program_exit_code",
                "The program's last exit code; minus the signal's number if a signal ended it.",
            )),
            healthy: self.registry.register(program_family(
                "logmux_program_healthy",
                "1 while the program's health probe passes (programs with a `health` probe only).",
            )),
            facts,
        }
    }

    /// The exposition text.
    pub fn render(&self) -> String {
        self.registry.render()
    }
}

fn program_family<M: registry::Metric<Init = ()>>(
    name: &'static str,
    help: &'static str,
) -> Family<M> {
    Family::new(name, help, &["program"], (), 10_000)
}

/// The program families and health facts, set by `run`'s supervisor.
pub struct ProgramMetrics {
    pub up: Arc<Family<Gauge>>,
    pub restarts: Arc<Family<CopiedCounter>>,
    pub exit_code: Arc<Family<Gauge>>,
    /// From the active health probes (`health = { … }`).
    pub healthy: Arc<Family<Gauge>>,
    pub facts: Arc<ProgramFacts>,
}

/// The sink families, read from the queues.
fn sink_metrics(sinks: &[(String, Arc<Queue>)], out: &mut expose::Writer) {
    type Read = fn(&Queue) -> f64;
    let families: [(&str, &str, &str, Read); 6] = [
        ("logmux_sink_events_written_total", "counter", "Events the sink delivered.", |q| q.written() as f64),
        ("logmux_sink_events_dropped_total", "counter", "Events dropped (on_full = \"drop\", a full spool) or lost (the destination refused them).", |q| (q.dropped() + q.lost()) as f64),
        ("logmux_sink_queue_events", "gauge", "Events queued or being written.", |q| q.queued_events() as f64),
        ("logmux_sink_spool_bytes", "gauge", "Bytes in the sink's disk spool.", |q| q.spool_bytes() as f64),
        ("logmux_sink_up", "gauge", "1 while the sink delivers, 0 after a failed delivery.", |q| f64::from(u8::from(!q.is_failing()))),
        ("logmux_sink_queue_bytes", "gauge", "Bytes queued or being written.", |q| q.queued_bytes() as f64),
    ];
    for (name, kind, help, read) in families {
        out.header(name, help, kind);
        for (sink, q) in sinks {
            out.sample(name, "", &[("sink", sink)], None, read(q));
        }
    }
}

#[cfg(test)]
mod tests;
