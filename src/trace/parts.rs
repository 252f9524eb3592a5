//! What the span builder keeps of an event: the few fields a span needs,
//! owned (the event's buffers are reused as soon as it is encoded), a
//! request line's text in one allocation (parts are made on the readers'
//! threads and dropped on the builder's, where each free costs), for
//! the three kinds of event a request's trace is made of: nginx's access
//! line, uWSGI's request line and a Python traceback. Fields are looked up
//! by name, so a field a later version adds to the schema (the traceparent
//! header) is found whether it is a schema field or a merged key.

use std::borrow::Cow;
use std::sync::Arc;

use smallvec::SmallVec;

use logmux_parsers::trace_context;
use logmux_parsers::{Field, Format, Record, Value};

use super::span::{AttrValue, Resource};
use crate::output::otlp::mapping::timestamp_nanos;
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
    /// Every text value, one after another.
    text: String,
    /// Each attribute's value by its place ([`SLOT_FIELDS`]), if the line
    /// had it: kept inline, so that a part costs one allocation (parts are
    /// made on the readers' threads and freed on the span thread's, where
    /// each free contends for the reader's malloc arena).
    slots: [Option<Slot>; SLOTS],
}

/// An attribute's value in [`Http`]: text as its range in `text`.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Slot {
    Str(u32, u32),
    Int(i64),
}

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

impl Http {
    /// No attributes, only a status (`None`: no answer).
    pub fn with_status(status: Option<i64>) -> Http {
        Http {
            status,
            ..Http::default()
        }
    }

    fn put_str(&mut self, slot: usize, value: &str) {
        let start = self.text.len();
        self.text.push_str(value);
        let (Ok(a), Ok(b)) = (u32::try_from(start), u32::try_from(self.text.len())) else {
            self.text.truncate(start);
            return;
        };
        if let Some(s) = self.slots.get_mut(slot) {
            *s = Some(Slot::Str(a, b));
        }
    }

    fn put_int(&mut self, slot: usize, value: i64) {
        if let Some(s) = self.slots.get_mut(slot) {
            *s = Some(Slot::Int(value));
        }
    }

    fn str_at(&self, a: u32, b: u32) -> &str {
        self.text.get(a as usize..b as usize).unwrap_or_default()
    }

    pub fn method(&self) -> Option<&str> {
        match self.slots.first().copied().flatten()? {
            Slot::Str(a, b) => Some(self.str_at(a, b)),
            Slot::Int(_) => None,
        }
    }

    /// The attributes, in order, their text borrowed.
    pub fn attrs(&self) -> impl Iterator<Item = (&'static str, AttrValue<'_>)> + '_ {
        SLOT_FIELDS
            .iter()
            .zip(&self.slots)
            .filter_map(|(field, slot)| {
                let value = match (*slot)? {
                    Slot::Str(a, b) => AttrValue::Str(Cow::Borrowed(self.str_at(a, b))),
                    Slot::Int(i) => AttrValue::Int(i),
                };
                Some((field.name(), value))
            })
    }
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
    cache: &mut Vec<Resource>,
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
            nginx(rec, &found, time),
            resource(rec, &found, statics, cache),
        ),
        Format::UwsgiRequest => Part::Uwsgi(
            Uwsgi {
                time,
                duration_us: micros(found.duration)?,
                http: http(&found, false),
            },
            resource(rec, &found, statics, cache),
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

fn nginx<'r, 'a>(rec: &'r Record<'a>, found: &Found<'r, 'a>, end: u64) -> Nginx {
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
    let http = http(found, true);
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
/// with `protocol`), their text in one allocation of its exact size:
/// parts may wait in their thousands.
fn http(found: &Found<'_, '_>, protocol: bool) -> Http {
    let mut found = found.http;
    if !protocol {
        found[PROTOCOL_SLOT] = None;
    }
    let text_len = found
        .iter()
        .flatten()
        .map(|v| v.as_str().map_or(0, str::len))
        .sum();
    let mut http = Http {
        text: String::with_capacity(text_len),
        ..Http::default()
    };
    for (slot, value) in found.iter().enumerate() {
        match value {
            Some(Value::Str(s)) => http.put_str(slot, s),
            Some(Value::Int(i)) => {
                if SLOT_FIELDS.get(slot) == Some(&Field::HttpResponseStatusCode) {
                    http.status = Some(*i);
                }
                http.put_int(slot, *i);
            }
            _ => {}
        }
    }
    http
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
