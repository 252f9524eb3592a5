//! OTLP protobuf, written by hand on the reader's hot path: a record's
//! `LogRecord` message and its `Resource` message, field numbers as in
//! opentelemetry-proto v1.5.0 (`opentelemetry/proto/logs/v1/logs.proto`,
//! `common/v1/common.proto`, `resource/v1/resource.proto`). prost's
//! varint and key helpers do the wire details; nested messages reserve one
//! length byte and widen it only when the body passes 127 bytes.

use prost::encoding::{encode_key, encode_varint, encoded_len_varint, WireType};

use super::mapping::{Attr, Mapped};
use logmux_parsers::Value;

// LogRecord fields.
const TIME_UNIX_NANO: u32 = 1;
const SEVERITY_NUMBER: u32 = 2;
const SEVERITY_TEXT: u32 = 3;
const BODY: u32 = 5;
const ATTRIBUTES: u32 = 6;
const TRACE_ID: u32 = 9;
const SPAN_ID: u32 = 10;
const OBSERVED_TIME_UNIX_NANO: u32 = 11;
// Resource: attributes = 1. KeyValue: key = 1, value = 2.
// AnyValue: string 1, bool 2, int 3, double 4, array 5, kvlist 6.
// ArrayValue and KeyValueList: values = 1.

/// Appends the body of the `Resource` message.
pub fn resource(mapped: &Mapped<'_>, out: &mut Vec<u8>) {
    for (k, v) in &mapped.resource {
        key_value(1, k, *v, out);
    }
}

/// Appends the body of the `LogRecord` message.
pub fn record(mapped: &Mapped<'_>, out: &mut Vec<u8>) {
    fixed64(TIME_UNIX_NANO, mapped.time_unix_nano, out);
    encode_key(SEVERITY_NUMBER, WireType::Varint, out);
    encode_varint(u64::from(mapped.severity_number), out);
    string(SEVERITY_TEXT, mapped.severity_text, out);
    encode_key(BODY, WireType::LengthDelimited, out);
    encode_varint(field_len(mapped.body.len()) as u64, out);
    string(1, mapped.body, out);
    for (k, v) in &mapped.attributes {
        key_value(ATTRIBUTES, k, *v, out);
    }
    if let Some(id) = &mapped.trace_id {
        bytes(TRACE_ID, id, out);
    }
    if let Some(id) = &mapped.span_id {
        bytes(SPAN_ID, id, out);
    }
    fixed64(OBSERVED_TIME_UNIX_NANO, mapped.observed_unix_nano, out);
}

/// A `KeyValue` as field `tag`. Strings, integers and booleans (nearly
/// every attribute) have their lengths computed up front; other values
/// go through [`nested`].
pub fn key_value(tag: u32, key: &str, value: Attr<'_>, out: &mut Vec<u8>) {
    if short_key_value(tag, key, value, out) {
        return;
    }
    let Some(any_len) = scalar_len(value) else {
        return nested(tag, out, |out| {
            string(1, key, out);
            nested(2, out, |out| any_value(value, out));
        });
    };
    let kv_len = field_len(key.len()) + field_len(any_len);
    encode_key(tag, WireType::LengthDelimited, out);
    encode_varint(kv_len as u64, out);
    string(1, key, out);
    encode_key(2, WireType::LengthDelimited, out);
    encode_varint(any_len as u64, out);
    any_value(value, out);
}

/// [`key_value`] for the common attribute: a small field number, a text
/// or integer value and every length under 128, so that each length is
/// one byte known before the bytes, and the whole is written in a few
/// copies instead of a call per key and length. Byte for byte what the
/// general path writes; false, having written nothing, otherwise.
fn short_key_value(tag: u32, key: &str, value: Attr<'_>, out: &mut Vec<u8>) -> bool {
    let mut int = [0u8; 10];
    // AnyValue's one field: its key, whether a length follows, its bytes.
    let (field, text, value): (u8, bool, &[u8]) = match value {
        Attr::Str(s) => (0x0a, true, s.as_bytes()), // string_value, 1
        Attr::Value(Value::Str(s)) => (0x0a, true, s.as_bytes()),
        Attr::Value(Value::Int(i)) => {
            let len = encoded_len_varint(*i as u64);
            encode_varint(*i as u64, &mut &mut int[..]);
            (0x18, false, &int[..len]) // int_value, 3
        }
        _ => return false,
    };
    let any_len = 1 + usize::from(text) + value.len();
    let kv_len = 2 + key.len() + 2 + any_len;
    if tag >= 16 || kv_len >= 128 {
        return false;
    }
    out.reserve(2 + kv_len);
    out.extend_from_slice(&[((tag << 3) | 2) as u8, kv_len as u8, 0x0a, key.len() as u8]);
    out.extend_from_slice(key.as_bytes());
    out.extend_from_slice(&[0x12, any_len as u8, field]);
    if text {
        out.push(value.len() as u8);
    }
    out.extend_from_slice(value);
    true
}

/// The length of a string, integer or boolean `AnyValue`'s body.
fn scalar_len(value: Attr<'_>) -> Option<usize> {
    match value {
        Attr::Str(s) => Some(field_len(s.len())),
        Attr::Bool(_) => Some(2),
        Attr::Value(Value::Str(s)) => Some(field_len(s.len())),
        Attr::Value(Value::Bool(_)) => Some(2),
        Attr::Value(Value::Int(i)) => Some(1 + encoded_len_varint(*i as u64)),
        Attr::Value(Value::Float(_)) => Some(9),
        Attr::Value(_) => None,
    }
}

/// A length-delimited field of `len` bytes, with its one-byte key.
fn field_len(len: usize) -> usize {
    1 + encoded_len_varint(len as u64) + len
}

/// The body of an `AnyValue`.
fn any_value(value: Attr<'_>, out: &mut Vec<u8>) {
    match value {
        Attr::Str(s) => string(1, s, out),
        Attr::Bool(b) => bool_value(b, out),
        Attr::Value(v) => match v {
            Value::Str(s) => string(1, s, out),
            Value::Bool(b) => bool_value(*b, out),
            Value::Int(i) => {
                encode_key(3, WireType::Varint, out);
                encode_varint(*i as u64, out);
            }
            Value::Float(f) => double(*f, out),
            Value::FloatList(list) => nested(5, out, |out| {
                for f in list {
                    nested(1, out, |out| double(*f, out));
                }
            }),
            Value::RawJson(raw) => match serde_json::from_str::<serde_json::Value>(raw) {
                Ok(json) => json_value(&json, out),
                Err(_) => string(1, raw, out),
            },
        },
    }
}

/// A JSON line's nested value (an object or array kept verbatim) as an
/// `AnyValue` body: objects become key-value lists.
fn json_value(json: &serde_json::Value, out: &mut Vec<u8>) {
    use serde_json::Value as J;
    match json {
        J::Null => {}
        J::Bool(b) => bool_value(*b, out),
        J::Number(n) => match n.as_i64() {
            Some(i) => {
                encode_key(3, WireType::Varint, out);
                encode_varint(i as u64, out);
            }
            None => double(n.as_f64().unwrap_or(f64::NAN), out),
        },
        J::String(s) => string(1, s, out),
        J::Array(items) => nested(5, out, |out| {
            for item in items {
                nested(1, out, |out| json_value(item, out));
            }
        }),
        J::Object(map) => nested(6, out, |out| {
            for (k, v) in map {
                nested(1, out, |out| {
                    string(1, k, out);
                    nested(2, out, |out| json_value(v, out));
                });
            }
        }),
    }
}

fn bool_value(b: bool, out: &mut Vec<u8>) {
    encode_key(2, WireType::Varint, out);
    out.push(u8::from(b));
}

fn double(f: f64, out: &mut Vec<u8>) {
    encode_key(4, WireType::SixtyFourBit, out);
    out.extend_from_slice(&f.to_le_bytes());
}

fn fixed64(tag: u32, v: u64, out: &mut Vec<u8>) {
    encode_key(tag, WireType::SixtyFourBit, out);
    out.extend_from_slice(&v.to_le_bytes());
}

fn string(tag: u32, s: &str, out: &mut Vec<u8>) {
    bytes(tag, s.as_bytes(), out);
}

fn bytes(tag: u32, b: &[u8], out: &mut Vec<u8>) {
    encode_key(tag, WireType::LengthDelimited, out);
    encode_varint(b.len() as u64, out);
    out.extend_from_slice(b);
}

/// A length-delimited field whose body `body` writes: one length byte is
/// reserved and widened afterwards if the body is longer than 127 bytes
/// (rare for attributes, so cheaper than measuring every body first).
pub fn nested(tag: u32, out: &mut Vec<u8>, body: impl FnOnce(&mut Vec<u8>)) {
    encode_key(tag, WireType::LengthDelimited, out);
    let at = out.len();
    out.push(0);
    body(out);
    let len = out.len() - at - 1;
    if len < 128 {
        out[at] = len as u8;
    } else {
        let mut prefix = Vec::with_capacity(5);
        encode_varint(len as u64, &mut prefix);
        out.splice(at..at + 1, prefix);
    }
}
