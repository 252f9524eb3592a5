//! Spans in the OTLP wire encodings, as frames like the log records' (see
//! the module above): `[resource][span]`, so the OTLP sink batches, groups
//! by resource and wraps them the same way. Field numbers as in
//! opentelemetry-proto v1.5.0 `trace/v1/trace.proto`: Span trace_id 1,
//! span_id 2, parent_span_id 4, name 5, kind 6, start_time_unix_nano 7,
//! end_time_unix_nano 8 (fixed64), attributes 9, events 11, status 15;
//! Span.Event time_unix_nano 1, name 2, attributes 3; Status message 2,
//! code 3.

use prost::encoding::{encode_key, encode_varint, WireType};

use logmux_parsers::Value;

use super::mapping::Attr;
use super::proto::{key_value, nested};
use crate::output::escape_json_str;
use crate::trace::span::{AttrValue, Span, SpanEvent, StatusCode};

/// Appends one frame for `span`; `defaults` are the sink's resource
/// fields (`OTEL_RESOURCE_ATTRIBUTES`) for a resource that lacks them.
pub fn encode(span: &Span<'_>, json: bool, defaults: &[(String, String)], out: &mut Vec<u8>) {
    let mut resource = Vec::new();
    encode_resource(span.resource, json, defaults, &mut resource);
    encode_with(&resource, span, json, out);
}

/// Appends the body of a span's resource, as [`encode_with`] takes it: the
/// same for every span of a program, so the builder encodes it once.
pub fn encode_resource(
    resource: &[(String, AttrValue<'_>)],
    json: bool,
    defaults: &[(String, String)],
    out: &mut Vec<u8>,
) {
    let mut all: Vec<(&str, AttrValue<'_>)> = resource
        .iter()
        .map(|(k, v)| (k.as_str(), v.borrowed()))
        .collect();
    for (k, v) in defaults {
        if !all.iter().any(|(r, _)| r == k) {
            all.push((k, AttrValue::Str(v.as_str().into())));
        }
    }
    if !all.iter().any(|(k, _)| *k == "service.name") {
        all.push(("service.name", AttrValue::Str("unknown_service".into())));
    }
    if json {
        json_resource(&all, out);
    } else {
        for (k, v) in &all {
            proto_kv(1, k, v, out);
        }
    }
}

/// Appends one frame for `span` whose resource [`encode_resource`] wrote
/// as `resource`.
pub fn encode_with(resource: &[u8], span: &Span<'_>, json: bool, out: &mut Vec<u8>) {
    let start = out.len();
    out.extend_from_slice(&[0u8; 8]);
    out.extend_from_slice(resource);
    if json {
        json_span(span, out);
    } else {
        proto_span(span, out);
    }
    let span_len = out.len() - start - 8 - resource.len();
    put_len(out, start, resource.len());
    put_len(out, start + 4, span_len);
}

fn put_len(out: &mut [u8], at: usize, v: usize) {
    let bytes = u32::try_from(v).unwrap_or(u32::MAX).to_le_bytes();
    if let Some(slot) = out.get_mut(at..at + 4) {
        slot.copy_from_slice(&bytes);
    }
}

fn proto_span(span: &Span<'_>, out: &mut Vec<u8>) {
    bytes(1, &span.trace_id, out);
    bytes(2, &span.span_id, out);
    if let Some(parent) = &span.parent_span_id {
        bytes(4, parent, out);
    }
    bytes(5, span.name.as_bytes(), out);
    encode_key(6, WireType::Varint, out);
    encode_varint(span.kind as u64, out);
    fixed64(7, span.start_unix_nano, out);
    fixed64(8, span.end_unix_nano, out);
    // The two lists one after the other, as `Span::attrs` chains them;
    // the request line's were encoded as these are when it was read.
    if let Some(http) = span.http {
        out.extend_from_slice(http.encoded());
    }
    for (k, v) in &span.attributes {
        proto_kv(9, k, v, out);
    }
    for event in &span.events {
        nested(11, out, |out| proto_event(event, out));
    }
    if span.status != StatusCode::Unset || !span.status_message.is_empty() {
        nested(15, out, |out| {
            if !span.status_message.is_empty() {
                bytes(2, span.status_message.as_bytes(), out);
            }
            encode_key(3, WireType::Varint, out);
            encode_varint(span.status as u64, out);
        });
    }
}

fn proto_event(event: &SpanEvent<'_>, out: &mut Vec<u8>) {
    fixed64(1, event.time_unix_nano, out);
    bytes(2, event.name.as_bytes(), out);
    for (k, v) in &event.attributes {
        proto_kv(3, k, v, out);
    }
}

/// A `KeyValue` as field `tag`, written as a log record's attributes are.
fn proto_kv(tag: u32, key: &str, value: &AttrValue<'_>, out: &mut Vec<u8>) {
    match value {
        AttrValue::Str(s) => key_value(tag, key, Attr::Str(s), out),
        AttrValue::Int(i) => key_value(tag, key, Attr::Value(&Value::Int(*i)), out),
        AttrValue::Float(f) => key_value(tag, key, Attr::Value(&Value::Float(*f)), out),
    }
}

fn fixed64(tag: u32, v: u64, out: &mut Vec<u8>) {
    encode_key(tag, WireType::SixtyFourBit, out);
    out.extend_from_slice(&v.to_le_bytes());
}

fn bytes(tag: u32, b: &[u8], out: &mut Vec<u8>) {
    encode_key(tag, WireType::LengthDelimited, out);
    encode_varint(b.len() as u64, out);
    out.extend_from_slice(b);
}

fn json_resource(resource: &[(&str, AttrValue<'_>)], out: &mut Vec<u8>) {
    out.extend_from_slice(b"{\"attributes\":");
    json_attrs(resource.iter().map(|(k, v)| (*k, v.borrowed())), out);
    out.push(b'}');
}

fn json_span(span: &Span<'_>, out: &mut Vec<u8>) {
    let mut n = itoa::Buffer::new();
    out.extend_from_slice(b"{\"traceId\":");
    hex(&span.trace_id, out);
    out.extend_from_slice(b",\"spanId\":");
    hex(&span.span_id, out);
    if let Some(parent) = &span.parent_span_id {
        out.extend_from_slice(b",\"parentSpanId\":");
        hex(parent, out);
    }
    out.extend_from_slice(b",\"name\":");
    escape_json_str(out, &span.name);
    out.extend_from_slice(b",\"kind\":");
    out.extend_from_slice(n.format(span.kind as u8).as_bytes());
    out.extend_from_slice(b",\"startTimeUnixNano\":\"");
    out.extend_from_slice(n.format(span.start_unix_nano).as_bytes());
    out.extend_from_slice(b"\",\"endTimeUnixNano\":\"");
    out.extend_from_slice(n.format(span.end_unix_nano).as_bytes());
    out.extend_from_slice(b"\",\"attributes\":");
    json_attrs(span.attrs(), out);
    out.extend_from_slice(b",\"events\":[");
    for (i, e) in span.events.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(b"{\"timeUnixNano\":\"");
        out.extend_from_slice(n.format(e.time_unix_nano).as_bytes());
        out.extend_from_slice(b"\",\"name\":");
        escape_json_str(out, e.name);
        out.extend_from_slice(b",\"attributes\":");
        json_attrs(e.attributes.iter().map(|(k, v)| (*k, v.borrowed())), out);
        out.push(b'}');
    }
    out.extend_from_slice(b"],\"status\":{\"code\":");
    out.extend_from_slice(n.format(span.status as u8).as_bytes());
    if !span.status_message.is_empty() {
        out.extend_from_slice(b",\"message\":");
        escape_json_str(out, &span.status_message);
    }
    out.extend_from_slice(b"}}");
}

fn json_attrs<'k, 'v>(list: impl Iterator<Item = (&'k str, AttrValue<'v>)>, out: &mut Vec<u8>) {
    out.push(b'[');
    for (i, (k, v)) in list.enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(b"{\"key\":");
        escape_json_str(out, k);
        out.extend_from_slice(b",\"value\":");
        match v {
            AttrValue::Str(s) => {
                out.extend_from_slice(b"{\"stringValue\":");
                escape_json_str(out, &s);
                out.push(b'}');
            }
            AttrValue::Int(i) => {
                out.extend_from_slice(b"{\"intValue\":\"");
                out.extend_from_slice(itoa::Buffer::new().format(i).as_bytes());
                out.extend_from_slice(b"\"}");
            }
            AttrValue::Float(f) if f.is_finite() => {
                out.extend_from_slice(b"{\"doubleValue\":");
                out.extend_from_slice(ryu::Buffer::new().format_finite(f).as_bytes());
                out.push(b'}');
            }
            AttrValue::Float(_) => out.extend_from_slice(b"{\"doubleValue\":\"NaN\"}"),
        }
        out.push(b'}');
    }
    out.push(b']');
}

fn hex(id: &[u8], out: &mut Vec<u8>) {
    out.push(b'"');
    out.extend_from_slice(logmux_parsers::trace_context::to_hex(id).as_bytes());
    out.push(b'"');
}

#[cfg(test)]
#[path = "spans_tests.rs"]
mod tests;
