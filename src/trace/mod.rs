//! Request tracing from log lines: the ids that tie one request's events
//! together ([`ids`]), and the spans built from a request's lines
//! ([`parts`] kept per trace by [`spans`], turned into spans by [`build`],
//! sampled by [`sample`], all driven by the [`Tracer`]). A request's trace
//! id comes from its log lines (nginx's `$request_id`, or the trace id of
//! the client's `traceparent`) and is put on every event that names its
//! request ([`stamp`]), or joined by a heuristic ([`infer`]); the span ids
//! of the spans logmux builds for it are derived from that trace id, so
//! that every event can carry its span's id without waiting for the others.

pub mod batches;
pub mod build;
pub mod feed;
pub mod ids;
pub mod infer;
pub mod parts;
pub mod sample;
pub mod span;
pub mod spans;
pub mod stamp;
pub mod tracer;

pub use feed::SpanFeed;
pub use tracer::Tracer;

use std::time::Duration;

/// How long a trace waits for its parts (`[trace] window`).
pub const DEFAULT_WINDOW: Duration = Duration::from_secs(5);
/// How many traces may wait at once (`[trace] max_pending`).
pub const DEFAULT_MAX_PENDING: usize = 10_000;

/// The `[trace]` settings, resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceSpec {
    pub window: Duration,
    pub max_pending: usize,
}

impl Default for TraceSpec {
    fn default() -> TraceSpec {
        TraceSpec {
            window: DEFAULT_WINDOW,
            max_pending: DEFAULT_MAX_PENDING,
        }
    }
}
