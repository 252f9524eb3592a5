//! A span as the span builder makes it and the OTLP encoder writes it
//! ([`crate::output::otlp::spans`]): built from a trace's collected parts
//! and encoded at once, so its text is borrowed from them; only a
//! resource (a program's, shared by all its spans) owns its values.

use std::borrow::Cow;
use std::sync::Arc;

use super::parts::Http;

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

/// An attribute's value. A span's text is borrowed from its trace's
/// parts: a request line's values go to each of its spans (and each sink)
/// without a copy.
#[derive(Debug, Clone, PartialEq)]
pub enum AttrValue<'a> {
    Str(Cow<'a, str>),
    Int(i64),
    Float(f64),
}

impl AttrValue<'_> {
    /// The same value, its text borrowed.
    pub fn borrowed(&self) -> AttrValue<'_> {
        match self {
            AttrValue::Str(s) => AttrValue::Str(Cow::Borrowed(s)),
            AttrValue::Int(i) => AttrValue::Int(*i),
            AttrValue::Float(f) => AttrValue::Float(*f),
        }
    }
}

/// Attributes, in the order they are written.
pub type Attrs<'a> = Vec<(&'static str, AttrValue<'a>)>;

/// A resource: the program's (`service.name` …), shared by its spans.
pub type Resource = Arc<Vec<(String, AttrValue<'static>)>>;

/// A span event (the `exception` event of a traceback).
#[derive(Debug, Clone, PartialEq)]
pub struct SpanEvent<'a> {
    pub time_unix_nano: u64,
    pub name: &'static str,
    pub attributes: Attrs<'a>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Span<'a> {
    pub trace_id: [u8; 16],
    pub span_id: [u8; 8],
    pub parent_span_id: Option<[u8; 8]>,
    pub name: Cow<'a, str>,
    pub kind: SpanKind,
    pub start_unix_nano: u64,
    pub end_unix_nano: u64,
    /// The request line's HTTP attributes, written first: read from its
    /// part where they lie, not gathered into a list per span.
    pub http: Option<&'a Http>,
    /// The attributes after them.
    pub attributes: Attrs<'a>,
    pub events: Vec<SpanEvent<'a>>,
    pub status: StatusCode,
    pub status_message: String,
    /// The program's, borrowed from its part (no count moved per span).
    pub resource: &'a Resource,
}

impl Span<'_> {
    /// Every attribute, in the order they are written.
    pub fn attrs(&self) -> impl Iterator<Item = (&str, AttrValue<'_>)> + '_ {
        let http = self.http.into_iter().flat_map(Http::attrs);
        http.chain(self.attributes.iter().map(|(k, v)| (*k, v.borrowed())))
    }
}
