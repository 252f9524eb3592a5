//! A span as the span builder makes it and the OTLP encoder writes it
//! ([`crate::output::otlp::spans`]): owned values, since a trace's parts
//! come from lines read at different times by different streams.

use std::sync::Arc;

/// `Span.SpanKind` of opentelemetry-proto (`trace/v1/trace.proto`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpanKind {
    Server = 2,
    Client = 3,
}

/// `Status.StatusCode`: UNSET is the default; logmux sets ERROR only.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusCode {
    Unset = 0,
    Error = 2,
}

/// An attribute's value. Text is shared: a request line's values go to
/// each of its spans (and each sink) without a copy.
#[derive(Debug, Clone, PartialEq)]
pub enum AttrValue {
    Str(Arc<str>),
    Int(i64),
    Float(f64),
}

/// Attributes, in the order they are written.
pub type Attrs = Vec<(&'static str, AttrValue)>;

/// A resource: the program's (`service.name` …), shared by its spans.
pub type Resource = Arc<Vec<(String, AttrValue)>>;

/// A span event (the `exception` event of a traceback).
#[derive(Debug, Clone, PartialEq)]
pub struct SpanEvent {
    pub time_unix_nano: u64,
    pub name: &'static str,
    pub attributes: Attrs,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Span {
    pub trace_id: [u8; 16],
    pub span_id: [u8; 8],
    pub parent_span_id: Option<[u8; 8]>,
    pub name: Arc<str>,
    pub kind: SpanKind,
    pub start_unix_nano: u64,
    pub end_unix_nano: u64,
    pub attributes: Attrs,
    pub events: Vec<SpanEvent>,
    pub status: StatusCode,
    pub status_message: String,
    pub resource: Resource,
}
