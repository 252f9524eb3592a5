//! Which parts of a logmux event become what in OTLP: the resource
//! (`service.name`, `host.name`, `container.*`, `process.pid`, then the
//! sink's static resource fields), the record's times, severity, body and
//! ids, and every other field an attribute under its dotted name, its type
//! kept. Both wire encodings (protobuf and OTLP/JSON) walk this one view.

use logmux_parsers::time::Offset;
use logmux_parsers::{trace_context, Field, Record, Timestamp, Value};
use smallvec::SmallVec;

use crate::output::{keeps_original, message, Event, LocalZone};

/// The schema fields that describe the producer, not the line: they go into
/// the OTLP resource. Everything else is a record attribute.
pub const RESOURCE_FIELDS: [Field; 7] = [
    Field::ContainerId,
    Field::ContainerImageName,
    Field::ContainerImageTags,
    Field::ContainerName,
    Field::HostName,
    Field::ProcessPid,
    Field::ServiceName,
];

/// One event as OTLP sees it, borrowing from the event.
pub struct Mapped<'e> {
    /// Resource attributes, in a stable order (the resource's identity).
    pub resource: SmallVec<[(&'e str, Attr<'e>); 8]>,
    pub time_unix_nano: u64,
    pub observed_unix_nano: u64,
    pub severity_number: u8,
    /// The source's own word (`warning`, `crit`), else the OTel range's name.
    pub severity_text: &'e str,
    pub body: &'e str,
    pub attributes: SmallVec<[(&'e str, Attr<'e>); 32]>,
    pub trace_id: Option<[u8; 16]>,
    pub span_id: Option<[u8; 8]>,
}

/// An attribute's value: a field's own value, or one the mapping derives.
#[derive(Clone, Copy)]
pub enum Attr<'e> {
    Value(&'e Value<'e>),
    Str(&'e str),
    Bool(bool),
}

/// Maps `event`. `statics` are the `[resource]` fields, which the record
/// holds as its own keys and which go to the resource; `defaults` are the
/// sink's (`OTEL_RESOURCE_ATTRIBUTES`, `OTEL_SERVICE_NAME`), for a
/// resource that lacks them.
pub fn map<'e, 'a: 'e>(
    event: &'e Event<'e, 'a>,
    statics: &[(String, String)],
    defaults: &'e [(String, String)],
    zone: LocalZone,
) -> Mapped<'e> {
    let record: &'e Record<'a> = event.record;
    let severity = record.severity.unwrap_or_default();
    let observed = unix_nanos(event.observed_unix.0, event.observed_unix.1);
    let mut mapped = Mapped {
        resource: SmallVec::new(),
        time_unix_nano: record
            .timestamp
            .map_or(observed, |t| timestamp_nanos(&t, zone)),
        observed_unix_nano: observed,
        severity_number: severity.number(),
        severity_text: record.severity_text.as_deref().unwrap_or(severity.text()),
        body: message(event),
        attributes: SmallVec::new(),
        trace_id: None,
        span_id: None,
    };
    for (field, value) in &record.fields {
        // Of the schema's fields only these two can be ids: no name match
        // for the others.
        if *field == Field::TraceId && record.trace_id_bytes.is_some() {
            // The stamp's: the field holds these bytes' hex.
            mapped.trace_id = record.trace_id_bytes;
            continue;
        }
        if matches!(field, Field::TraceId | Field::SpanId)
            && take_id(&mut mapped, field.name(), value)
        {
            continue;
        }
        if RESOURCE_FIELDS.contains(field) {
            mapped.resource.push((field.name(), Attr::Value(value)));
        } else {
            mapped.attributes.push((field.name(), Attr::Value(value)));
        }
    }
    for (key, value) in &record.extra {
        let known = mapped.resource.iter().any(|(k, _)| k == key);
        if !known && statics.iter().any(|(k, _)| k == key) {
            mapped.resource.push((key.as_ref(), Attr::Value(value)));
        }
    }
    for (key, value) in defaults {
        if !mapped.resource.iter().any(|(k, _)| k == key) {
            mapped.resource.push((key, Attr::Str(value)));
        }
    }
    if !mapped.resource.iter().any(|(k, _)| *k == "service.name") {
        // As the OTel SDKs do when nothing names the service.
        mapped
            .resource
            .push(("service.name", Attr::Str("unknown_service")));
    }
    if keeps_original(event) {
        mapped
            .attributes
            .push((Field::LogRecordOriginal.name(), Attr::Str(event.raw)));
    }
    mapped
        .attributes
        .push((Field::LogmuxFormat.name(), Attr::Str(record.format.name())));
    if record.invalid_utf8 {
        mapped
            .attributes
            .push((Field::LogmuxInvalidUtf8.name(), Attr::Bool(true)));
    }
    for (key, value) in &record.extra {
        if statics.iter().any(|(k, _)| k == key) {
            continue;
        }
        if !take_id(&mut mapped, key, value) {
            mapped.attributes.push((key.as_ref(), Attr::Value(value)));
        }
    }
    mapped
}

/// Takes the record's `trace_id`/`span_id` fields (which the JSON parser
/// takes from the line's own trace context keys), or such a key merged
/// from a logmux event, as the record's ids; says whether it did.
fn take_id(mapped: &mut Mapped<'_>, key: &str, value: &Value<'_>) -> bool {
    let Some(text) = value.as_str() else {
        return false;
    };
    match key {
        "trace_id" | "trace.id" | "traceId" => trace_context::trace_id(text)
            .map(|id| mapped.trace_id = Some(id))
            .is_some(),
        "span_id" | "span.id" | "spanId" => trace_context::span_id(text)
            .map(|id| mapped.span_id = Some(id))
            .is_some(),
        _ => false,
    }
}

fn unix_nanos(secs: i64, nanos: u32) -> u64 {
    u64::try_from(secs)
        .unwrap_or(0)
        .saturating_mul(1_000_000_000)
        .saturating_add(u64::from(nanos))
}

/// A line's calendar time as nanoseconds since the Unix epoch; a time
/// printed without a zone is read in `zone`'s rules for its date.
pub fn timestamp_nanos(t: &Timestamp, zone: LocalZone) -> u64 {
    let offset = match t.offset {
        Offset::Utc => 0,
        Offset::Minutes(m) => m,
        Offset::Local => zone.minutes_at(t),
    };
    let days = days_from_civil(i64::from(t.year), i64::from(t.month), i64::from(t.day));
    let secs =
        days * 86_400 + i64::from(t.hour) * 3600 + i64::from(t.minute) * 60 + i64::from(t.second)
            - i64::from(offset) * 60;
    unix_nanos(secs, t.nanos)
}

/// Days since 1970-01-01 (Howard Hinnant's days_from_civil).
pub(crate) fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calendar_times_become_unix_nanoseconds() {
        let t = Timestamp::from_unix(1_795_631_712, 123_456_789, 9);
        assert_eq!(
            timestamp_nanos(&t, LocalZone::Fixed(0)),
            1_795_631_712_123_456_789
        );
        let plus_one = Timestamp {
            offset: Offset::Minutes(60),
            ..t
        };
        assert_eq!(
            timestamp_nanos(&plus_one, LocalZone::Fixed(0)),
            1_795_628_112_123_456_789
        );
        let local = Timestamp {
            offset: Offset::Local,
            ..t
        };
        assert_eq!(
            timestamp_nanos(&local, LocalZone::Fixed(-120)),
            1_795_638_912_123_456_789
        );
        let leap = Timestamp::from_unix(951_782_400, 0, 0); // 2000-02-29
        assert_eq!((leap.month, leap.day), (2, 29));
        assert_eq!(
            timestamp_nanos(&leap, LocalZone::Fixed(0)),
            951_782_400_000_000_000
        );
    }
}
