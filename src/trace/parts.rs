//! What the span builder keeps of an event: the few fields a span needs,
//! owned (the event's buffers are reused as soon as it is encoded), a
//! request line's attributes already encoded as its spans will write them,
//! in one allocation (parts are made on the readers' threads and dropped
//! on the builder's, where each free costs), for
//! the three kinds of event a request's trace is made of: nginx's access
//! line, uWSGI's request line and a Python traceback. Fields are looked up
//! by name, so a field a later version adds to the schema (the traceparent
//! header) is found whether it is a schema field or a merged key.

use std::borrow::Cow;
use std::sync::Arc;

use smallvec::SmallVec;

use logmux_parsers::trace_context;
use logmux_parsers::{Field, Format, Record, Value};

use prost::encoding::decode_varint;

use super::span::{AttrValue, Resource};
use crate::output::otlp::mapping::{timestamp_nanos, Attr};
use crate::output::otlp::proto::key_value;
use crate::output::LocalZone;

/// nginx's access line.
#[derive(Debug, Clone, PartialEq)]
pub struct Nginx {
    /// The line's time: when nginx finished the request.
    pub end: u64,
    /// `$request_time`, in microseconds.
    pub duration_us: u64,
    /// `$upstream_response_time`'s entries, in microseconds (one, but
    /// for a retried request).
    pub tries_us: SmallVec<[u64; 2]>,
    /// `$upstream_status`'s entries (`None` for `-`).
    pub try_status: Vec<Option<i64>>,
    /// `$upstream_addr`'s entries.
    pub try_addr: Vec<String>,
    /// The client's traceparent's parent span id.
    pub parent: Option<[u8; 8]>,
    pub http: Http,
}

/// uWSGI's request line.
#[derive(Debug, Clone, PartialEq)]
pub struct Uwsgi {
    /// The line's time: uWSGI's default line has the request's start.
    pub time: u64,
    pub duration_us: u64,
    pub http: Http,
}

/// A traceback: the `exception` event.
#[derive(Debug, Clone, PartialEq)]
pub struct Exception {
    pub time: u64,
    pub kind: String,
    pub message: String,
    pub stacktrace: String,
}

/// The HTTP attributes a request line has, in the order spans write them.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Http {
    pub status: Option<i64>,
    /// The attributes, encoded on the reader's thread as a span's
    /// (OTLP protobuf `KeyValue`s as `Span.attributes`, field 9): each span
    /// of a request copies them whole, and a part costs one allocation
    /// (parts are made on the readers' threads and freed on the span
    /// thread's, where each free contends for the reader's malloc arena).
    encoded: Vec<u8>,
    /// The method (the spans' name).
    method: Option<Method>,
}

/// A request's method: one of HTTP's, or where its text lies in
/// [`Http`]'s `encoded` (read back, checked, per span).
#[derive(Debug, Clone, Copy, PartialEq)]
enum Method {
    Known(&'static str),
    At(u32, u32),
}

/// HTTP's methods (RFC 9110 and PATCH), the semantic conventions' list.
const KNOWN_METHODS: [&str; 9] = [
    "GET", "POST", "HEAD", "PUT", "DELETE", "OPTIONS", "PATCH", "CONNECT", "TRACE",
];

/// The fields copied from a request line to its spans, in the order spans
/// write them: the HTTP fields, then nginx's protocol version.
const SLOT_FIELDS: [Field; SLOTS] = [
    Field::HttpRequestMethod,
    Field::UrlPath,
    Field::UrlQuery,
    Field::HttpResponseStatusCode,
    Field::ServerAddress,
    Field::ClientAddress,
    Field::UserAgentOriginal,
    Field::NetworkProtocolVersion,
];
const SLOTS: usize = 8;

/// `Span.attributes`' field number.
const SPAN_ATTRIBUTES: u32 = 9;

impl Http {
    /// No attributes, only a status (`None`: no answer).
    pub fn with_status(status: Option<i64>) -> Http {
        Http {
            status,
            ..Http::default()
        }
    }

    /// The attributes' buffer, emptied, for another part.
    pub fn take_buffer(&mut self) -> Vec<u8> {
        let mut buf = std::mem::take(&mut self.encoded);
        buf.clear();
        buf
    }

    /// The attributes as a span's protobuf, ready to copy.
    pub fn encoded(&self) -> &[u8] {
        &self.encoded
    }

    pub fn method(&self) -> Option<&str> {
        match self.method? {
            Method::Known(m) => Some(m),
            Method::At(a, b) => std::str::from_utf8(self.encoded.get(a as usize..b as usize)?).ok(),
        }
    }

    /// The attributes, in order, their text borrowed: read back from
    /// their encoding (for OTLP/JSON and the tests).
    pub fn attrs(&self) -> impl Iterator<Item = (&str, AttrValue<'_>)> + '_ {
        let mut rest = self.encoded.as_slice();
        std::iter::from_fn(move || read_key_value(&mut rest))
    }
}

/// Reads one `KeyValue` written by [`key_value`] as field
/// [`SPAN_ATTRIBUTES`], a text or an integer; `None` at the end.
fn read_key_value<'a>(rest: &mut &'a [u8]) -> Option<(&'a str, AttrValue<'a>)> {
    fn delimited<'a>(b: &mut &'a [u8], key: u8) -> Option<&'a [u8]> {
        let (first, tail) = b.split_first()?;
        *b = tail;
        if *first != key {
            return None;
        }
        let len = usize::try_from(decode_varint(b).ok()?).ok()?;
        let body = b.get(..len)?;
        *b = b.get(len..)?;
        Some(body)
    }
    let mut kv = delimited(rest, ((SPAN_ATTRIBUTES << 3) | 2) as u8)?;
    let key = std::str::from_utf8(delimited(&mut kv, 0x0a)?).ok()?;
    let mut any = delimited(&mut kv, 0x12)?;
    let value = match any.first()? {
        0x0a => AttrValue::Str(Cow::Borrowed(
            std::str::from_utf8(delimited(&mut any, 0x0a)?).ok()?,
        )),
        0x18 => {
            any = any.get(1..)?;
            AttrValue::Int(decode_varint(&mut any).ok()? as i64)
        }
        _ => return None,
    };
    Some((key, value))
}

/// What a stream's feed keeps from one event's part to the next: the
/// resources met (their parts share them) and spare buffers for the
/// attributes, given back by the span thread, so that once warm neither
/// side allocates or frees one per part (a free on another thread than
/// the allocation's contends for the allocating thread's malloc arena).
#[derive(Debug, Default)]
pub struct PartCache {
    pub resources: Vec<Resource>,
    pub buffers: Vec<Vec<u8>>,
}

/// One event's part of a trace.
#[derive(Debug, Clone, PartialEq)]
pub enum Part {
    Nginx(Nginx, Resource),
    Uwsgi(Uwsgi, Resource),
    Exception(Exception),
}

/// Where a field copied from a request line to its spans goes among the
/// spans' attributes ([`SLOT_FIELDS`]), if it is one.
fn http_slot(field: Field) -> Option<usize> {
    // A match, not a search of SLOT_FIELDS: it runs for every field of
    // every request line (the unit test below keeps the two in step).
    Some(match field {
        Field::HttpRequestMethod => 0,
        Field::UrlPath => 1,
        Field::UrlQuery => 2,
        Field::HttpResponseStatusCode => 3,
        Field::ServerAddress => 4,
        Field::ClientAddress => 5,
        Field::UserAgentOriginal => 6,
        Field::NetworkProtocolVersion => 7,
        _ => return None,
    })
}

/// The slot of nginx's protocol version, which uWSGI's spans leave out.
const PROTOCOL_SLOT: usize = 7;

/// Whether `rec` is of a kind a trace is made of (the cheap test first).
pub fn may_have_part(rec: &Record<'_>) -> bool {
    matches!(
        rec.format,
        Format::NginxAccess | Format::UwsgiRequest | Format::PythonTraceback
    )
}

/// The trace id and part of `rec`, when it has a trace id and is one of
/// the three kinds; `observed` (Unix nanoseconds) stands in for a line
/// without a time of its own; `statics` are the `[resource]` keys.
pub fn part_of(
    rec: &Record<'_>,
    observed: u64,
    zone: LocalZone,
    statics: &[(String, String)],
    cache: &mut PartCache,
) -> Option<([u8; 16], Part)> {
    if !may_have_part(rec) {
        return None;
    }
    let found = Found::gather(rec);
    let trace_id = match rec.trace_id_bytes {
        // The stamp's: the field holds these bytes' hex.
        Some(bytes) if found.trace_id.is_some() => bytes,
        _ => {
            let id = found.trace_id.or_else(|| {
                rec.extra
                    .iter()
                    .find(|(k, _)| k == "trace_id")
                    .map(|(_, v)| v)
            })?;
            trace_context::trace_id(id.as_str()?)?
        }
    };
    let time = rec
        .timestamp
        .map_or(observed, |t| timestamp_nanos(&t, zone));
    let part = match rec.format {
        Format::NginxAccess => Part::Nginx(
            nginx(rec, &found, time, cache.buffers.pop()),
            resource(rec, &found, statics, &mut cache.resources),
        ),
        Format::UwsgiRequest => Part::Uwsgi(
            Uwsgi {
                time,
                duration_us: micros(found.duration)?,
                http: http(&found, false, cache.buffers.pop()),
            },
            resource(rec, &found, statics, &mut cache.resources),
        ),
        _ => Part::Exception(Exception {
            time,
            kind: text(rec, Field::ExceptionType).unwrap_or_default().into(),
            message: text(rec, Field::ExceptionMessage)
                .unwrap_or_default()
                .into(),
            stacktrace: text(rec, Field::ExceptionStacktrace)
                .unwrap_or_default()
                .into(),
        }),
    };
    Some((trace_id, part))
}

/// The fields a request line's part is made of, found in one pass over
/// the record's (the first of a name counts, as [`Record::get`] finds).
struct Found<'r, 'a> {
    trace_id: Option<&'r Value<'a>>,
    duration: Option<&'r Value<'a>>,
    upstream_time: Option<&'r Value<'a>>,
    traceparent: Option<&'r Value<'a>>,
    /// By their place among the spans' attributes ([`SLOT_FIELDS`]).
    http: [Option<&'r Value<'a>>; SLOTS],
    /// The resource's fields, in the record's order.
    resource: SmallVec<[(&'r str, &'r Value<'a>); 8]>,
}

impl<'r, 'a> Found<'r, 'a> {
    fn gather(rec: &'r Record<'a>) -> Found<'r, 'a> {
        let mut f = Found {
            trace_id: None,
            duration: None,
            upstream_time: None,
            traceparent: None,
            http: [None; SLOTS],
            resource: SmallVec::new(),
        };
        for (field, value) in &rec.fields {
            let first = match field {
                Field::TraceId => &mut f.trace_id,
                Field::HttpServerRequestDuration => &mut f.duration,
                Field::NginxUpstreamResponseTime => &mut f.upstream_time,
                Field::HttpRequestHeaderTraceparent => &mut f.traceparent,
                _ => match http_slot(*field) {
                    Some(slot) => &mut f.http[slot],
                    None => {
                        if is_resource(*field) && owned_kind(value) {
                            f.resource.push((field.name(), value));
                        }
                        continue;
                    }
                },
            };
            first.get_or_insert(value);
        }
        f
    }
}

/// Whether `field` is one of [`RESOURCE_FIELDS`] (a match, not a search:
/// it runs for every field of every request line; a unit test keeps the
/// two in step).
fn is_resource(field: Field) -> bool {
    matches!(
        field,
        Field::ContainerId
            | Field::ContainerImageName
            | Field::ContainerImageTags
            | Field::ContainerName
            | Field::HostName
            | Field::ProcessPid
            | Field::ServiceName
    )
}

fn nginx<'r, 'a>(
    rec: &'r Record<'a>,
    found: &Found<'r, 'a>,
    end: u64,
    buffer: Option<Vec<u8>>,
) -> Nginx {
    let tries_us: SmallVec<[u64; 2]> = match found.upstream_time {
        Some(Value::FloatList(list)) => list.iter().map(|s| seconds_to_us(*s)).collect(),
        Some(Value::Float(s)) => smallvec::smallvec![seconds_to_us(*s)],
        Some(Value::RawJson(raw)) => serde_json::from_str::<Vec<f64>>(raw)
            .map(|l| l.into_iter().map(seconds_to_us).collect())
            .unwrap_or_default(),
        _ => SmallVec::new(),
    };
    let list = |f: Field| -> Vec<String> {
        text(rec, f)
            .map(|t| t.split(',').map(|s| s.trim().to_string()).collect())
            .unwrap_or_default()
    };
    let parent = traceparent(rec, found)
        .and_then(Value::as_str)
        .and_then(trace_context::traceparent)
        .map(|tp| tp.parent_id);
    let http = http(found, true, buffer);
    Nginx {
        end,
        duration_us: micros(found.duration).unwrap_or(0),
        // Only tries of their own (two or more) use them.
        try_status: if tries_us.len() < 2 {
            Vec::new()
        } else {
            list(Field::NginxUpstreamStatus)
                .iter()
                .map(|s| s.parse().ok())
                .collect()
        },
        try_addr: if tries_us.len() < 2 {
            Vec::new()
        } else {
            list(Field::NginxUpstreamAddr)
        },
        tries_us,
        parent,
        http,
    }
}

/// The request line's HTTP attributes (and nginx's protocol version,
/// with `protocol`), encoded in `buffer` (a spare one's room, else one
/// allocation of about their size: parts may wait in their thousands).
fn http(found: &Found<'_, '_>, protocol: bool, buffer: Option<Vec<u8>>) -> Http {
    let mut found = found.http;
    if !protocol {
        found[PROTOCOL_SLOT] = None;
    }
    // A key, a value and at most 12 bytes of tags and lengths each.
    let size = SLOT_FIELDS
        .iter()
        .zip(&found)
        .filter_map(|(f, v)| Some(f.name().len() + v.as_ref()?.as_str().map_or(10, str::len) + 12))
        .sum();
    let mut encoded = buffer.unwrap_or_default();
    encoded.clear();
    encoded.reserve(size);
    let mut http = Http {
        encoded,
        ..Http::default()
    };
    for (field, value) in SLOT_FIELDS.iter().zip(found) {
        match value {
            Some(Value::Str(s)) => {
                key_value(
                    SPAN_ATTRIBUTES,
                    field.name(),
                    Attr::Str(s),
                    &mut http.encoded,
                );
                if *field == Field::HttpRequestMethod {
                    http.method = method(s, http.encoded.len());
                }
            }
            Some(v @ Value::Int(i)) => {
                if *field == Field::HttpResponseStatusCode {
                    http.status = Some(*i);
                }
                key_value(
                    SPAN_ATTRIBUTES,
                    field.name(),
                    Attr::Value(v),
                    &mut http.encoded,
                );
            }
            _ => {}
        }
    }
    http
}

/// The method `s`, its text ending at `end` in the encoded attributes.
fn method(s: &str, end: usize) -> Option<Method> {
    if let Some(known) = KNOWN_METHODS.iter().find(|m| **m == s) {
        return Some(Method::Known(known));
    }
    let start = u32::try_from(end.checked_sub(s.len())?).ok()?;
    Some(Method::At(start, u32::try_from(end).ok()?))
}

/// The program's resource: the event's resource fields (`service.name` …)
/// and the `[resource]` keys the pipeline added to it. The few resources
/// of a door are kept in `cache` and shared: a program's events find
/// theirs without allocating.
fn resource<'r, 'a>(
    rec: &'r Record<'a>,
    found: &Found<'r, 'a>,
    statics: &[(String, String)],
    cache: &mut Vec<Resource>,
) -> Resource {
    let mut pairs = found.resource.clone();
    for (key, value) in &rec.extra {
        let key: &str = key;
        if statics.iter().any(|(k, _)| k == key)
            && !pairs.iter().any(|(k, _)| *k == key)
            && owned_kind(value)
        {
            pairs.push((key, value));
        }
    }
    let same = |r: &Resource| {
        r.len() == pairs.len()
            && r.iter().zip(&pairs).all(|((k, v), (pk, pv))| {
                k == pk
                    && match (v, pv) {
                        (AttrValue::Str(a), Value::Str(b)) => a.as_ref() == b.as_ref(),
                        (AttrValue::Int(a), Value::Int(b)) => a == b,
                        (AttrValue::Float(a), Value::Float(b)) => a.to_bits() == b.to_bits(),
                        _ => false,
                    }
            })
    };
    if let Some(r) = cache.iter().find(|r| same(r)) {
        return Arc::clone(r);
    }
    let r: Resource = Arc::new(
        pairs
            .iter()
            .filter_map(|(k, v)| owned(v).map(|v| (k.to_string(), v)))
            .collect(),
    );
    if cache.len() >= MAX_CACHED_RESOURCES {
        cache.remove(0);
    }
    cache.push(Arc::clone(&r));
    r
}

/// Resources kept for sharing (a door has one per program or container).
const MAX_CACHED_RESOURCES: usize = 64;

fn owned_kind(value: &Value<'_>) -> bool {
    matches!(value, Value::Str(_) | Value::Int(_) | Value::Float(_))
}

fn owned(value: &Value<'_>) -> Option<AttrValue<'static>> {
    match value {
        Value::Str(s) => Some(AttrValue::Str(Cow::Owned(s.to_string()))),
        Value::Int(i) => Some(AttrValue::Int(*i)),
        Value::Float(f) => Some(AttrValue::Float(*f)),
        _ => None,
    }
}

/// The client's traceparent header: its schema field, else a merged key
/// of that name (a JSON line's own).
fn traceparent<'r, 'a>(rec: &'r Record<'a>, found: &Found<'r, 'a>) -> Option<&'r Value<'a>> {
    const NAME: &str = "http.request.header.traceparent";
    found
        .traceparent
        .or_else(|| rec.extra.iter().find(|(k, _)| k == NAME).map(|(_, v)| v))
}

fn text<'r>(rec: &'r Record<'_>, field: Field) -> Option<&'r str> {
    rec.get(field).and_then(Value::as_str)
}

/// A duration field (seconds) in whole microseconds: nginx's milliseconds
/// and uWSGI's microseconds come back exactly.
fn micros(v: Option<&Value<'_>>) -> Option<u64> {
    match v? {
        Value::Float(s) => Some(seconds_to_us(*s)),
        Value::Int(s) => Some(seconds_to_us(*s as f64)),
        _ => None,
    }
}

fn seconds_to_us(s: f64) -> u64 {
    if s.is_finite() && s > 0.0 {
        (s * 1e6).round() as u64
    } else {
        0
    }
}

#[cfg(test)]
mod tests {
    use super::{http_slot, SLOT_FIELDS};

    #[test]
    fn the_resource_match_is_the_resource_list() {
        use crate::output::otlp::mapping::RESOURCE_FIELDS;
        for field in logmux_parsers::field::ALL {
            assert_eq!(
                super::is_resource(*field),
                RESOURCE_FIELDS.contains(field),
                "{field:?}"
            );
        }
    }

    #[test]
    fn each_slot_field_has_its_own_place() {
        for (i, field) in SLOT_FIELDS.iter().enumerate() {
            assert_eq!(http_slot(*field), Some(i), "{field:?}");
        }
        assert_eq!(http_slot(logmux_parsers::Field::TraceId), None);
    }
}
