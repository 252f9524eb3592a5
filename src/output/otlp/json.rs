//! OTLP/JSON as the OTLP specification defines it (the protobuf JSON
//! mapping with its exceptions): lowerCamelCase keys, 64-bit integers as
//! decimal strings, enums as numbers, trace and span ids as hex strings.

use super::mapping::{Attr, Mapped};
use crate::output::escape_json_str;
use logmux_parsers::Value;

/// Appends the `Resource` object.
pub fn resource(mapped: &Mapped<'_>, out: &mut Vec<u8>) {
    out.extend_from_slice(b"{\"attributes\":");
    attributes(&mapped.resource, out);
    out.push(b'}');
}

/// Appends the `LogRecord` object.
pub fn record(mapped: &Mapped<'_>, out: &mut Vec<u8>) {
    let mut n = itoa::Buffer::new();
    out.extend_from_slice(b"{\"timeUnixNano\":\"");
    out.extend_from_slice(n.format(mapped.time_unix_nano).as_bytes());
    out.extend_from_slice(b"\",\"observedTimeUnixNano\":\"");
    out.extend_from_slice(n.format(mapped.observed_unix_nano).as_bytes());
    out.extend_from_slice(b"\",\"severityNumber\":");
    out.extend_from_slice(n.format(mapped.severity_number).as_bytes());
    out.extend_from_slice(b",\"severityText\":\"");
    out.extend_from_slice(mapped.severity_text.as_bytes());
    out.extend_from_slice(b"\",\"body\":{\"stringValue\":");
    escape_json_str(out, mapped.body);
    out.extend_from_slice(b"},\"attributes\":");
    attributes(&mapped.attributes, out);
    if let Some(id) = &mapped.trace_id {
        out.extend_from_slice(b",\"traceId\":");
        hex(id, out);
    }
    if let Some(id) = &mapped.span_id {
        out.extend_from_slice(b",\"spanId\":");
        hex(id, out);
    }
    out.push(b'}');
}

fn attributes(list: &[(&str, Attr<'_>)], out: &mut Vec<u8>) {
    out.push(b'[');
    for (i, (k, v)) in list.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(b"{\"key\":");
        escape_json_str(out, k);
        out.extend_from_slice(b",\"value\":");
        any_value(*v, out);
        out.push(b'}');
    }
    out.push(b']');
}

fn any_value(value: Attr<'_>, out: &mut Vec<u8>) {
    match value {
        Attr::Str(s) => string(s, out),
        Attr::Bool(b) => boolean(b, out),
        Attr::Value(v) => match v {
            Value::Str(s) => string(s, out),
            Value::Bool(b) => boolean(*b, out),
            Value::Int(i) => {
                out.extend_from_slice(b"{\"intValue\":\"");
                out.extend_from_slice(itoa::Buffer::new().format(*i).as_bytes());
                out.extend_from_slice(b"\"}");
            }
            Value::Float(f) => double(*f, out),
            Value::FloatList(list) => {
                out.extend_from_slice(b"{\"arrayValue\":{\"values\":[");
                for (i, f) in list.iter().enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    double(*f, out);
                }
                out.extend_from_slice(b"]}}");
            }
            Value::RawJson(raw) => match serde_json::from_str::<serde_json::Value>(raw) {
                Ok(json) => json_value(&json, out),
                Err(_) => string(raw, out),
            },
        },
    }
}

/// A JSON line's nested value as an `AnyValue`: objects become key-value lists.
fn json_value(json: &serde_json::Value, out: &mut Vec<u8>) {
    use serde_json::Value as J;
    match json {
        J::Null => out.extend_from_slice(b"{}"),
        J::Bool(b) => boolean(*b, out),
        J::Number(n) => match n.as_i64() {
            Some(i) => {
                out.extend_from_slice(b"{\"intValue\":\"");
                out.extend_from_slice(itoa::Buffer::new().format(i).as_bytes());
                out.extend_from_slice(b"\"}");
            }
            None => double(n.as_f64().unwrap_or(f64::NAN), out),
        },
        J::String(s) => string(s, out),
        J::Array(items) => {
            out.extend_from_slice(b"{\"arrayValue\":{\"values\":[");
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                json_value(item, out);
            }
            out.extend_from_slice(b"]}}");
        }
        J::Object(map) => {
            out.extend_from_slice(b"{\"kvlistValue\":{\"values\":[");
            for (i, (k, v)) in map.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                out.extend_from_slice(b"{\"key\":");
                escape_json_str(out, k);
                out.extend_from_slice(b",\"value\":");
                json_value(v, out);
                out.push(b'}');
            }
            out.extend_from_slice(b"]}}");
        }
    }
}

fn string(s: &str, out: &mut Vec<u8>) {
    out.extend_from_slice(b"{\"stringValue\":");
    escape_json_str(out, s);
    out.push(b'}');
}

fn boolean(b: bool, out: &mut Vec<u8>) {
    out.extend_from_slice(if b {
        b"{\"boolValue\":true}"
    } else {
        b"{\"boolValue\":false}"
    });
}

/// A double; the JSON mapping spells the non-finite ones as strings.
fn double(f: f64, out: &mut Vec<u8>) {
    out.extend_from_slice(b"{\"doubleValue\":");
    if f.is_finite() {
        out.extend_from_slice(ryu::Buffer::new().format_finite(f).as_bytes());
    } else if f.is_nan() {
        out.extend_from_slice(b"\"NaN\"");
    } else if f > 0.0 {
        out.extend_from_slice(b"\"Infinity\"");
    } else {
        out.extend_from_slice(b"\"-Infinity\"");
    }
    out.push(b'}');
}

fn hex(id: &[u8], out: &mut Vec<u8>) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    out.push(b'"');
    for b in id {
        out.push(DIGITS[usize::from(b >> 4)]);
        out.push(DIGITS[usize::from(b & 15)]);
    }
    out.push(b'"');
}
