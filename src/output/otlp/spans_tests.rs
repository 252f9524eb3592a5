//! The span encoder against prost types copied from opentelemetry-proto's
//! `trace/v1/trace.proto` (the receiver test decodes with the official
//! Python ones).

use std::sync::{Arc, LazyLock};

use prost::Message;

use super::encode;
use crate::output::otlp::frames;
use crate::sink::otlp::messages::{any_value, KeyValue, Resource};
use crate::trace::span::{
    AttrValue, Resource as TraceResource, Span, SpanEvent, SpanKind, StatusCode,
};

#[derive(Clone, PartialEq, prost::Message)]
struct PSpan {
    #[prost(bytes = "vec", tag = "1")]
    trace_id: Vec<u8>,
    #[prost(bytes = "vec", tag = "2")]
    span_id: Vec<u8>,
    #[prost(bytes = "vec", tag = "4")]
    parent_span_id: Vec<u8>,
    #[prost(string, tag = "5")]
    name: String,
    #[prost(int32, tag = "6")]
    kind: i32,
    #[prost(fixed64, tag = "7")]
    start: u64,
    #[prost(fixed64, tag = "8")]
    end: u64,
    #[prost(message, repeated, tag = "9")]
    attributes: Vec<KeyValue>,
    #[prost(message, repeated, tag = "11")]
    events: Vec<PEvent>,
    #[prost(message, optional, tag = "15")]
    status: Option<PStatus>,
}

#[derive(Clone, PartialEq, prost::Message)]
struct PEvent {
    #[prost(fixed64, tag = "1")]
    time: u64,
    #[prost(string, tag = "2")]
    name: String,
    #[prost(message, repeated, tag = "3")]
    attributes: Vec<KeyValue>,
}

#[derive(Clone, PartialEq, prost::Message)]
struct PStatus {
    #[prost(string, tag = "2")]
    message: String,
    #[prost(int32, tag = "3")]
    code: i32,
}

static NGINX: LazyLock<TraceResource> = LazyLock::new(|| {
    Arc::new(vec![(
        "service.name".into(),
        AttrValue::Str("nginx".into()),
    )])
});

fn sample() -> Span<'static> {
    Span {
        trace_id: [0x4b; 16],
        span_id: [1, 2, 3, 4, 5, 6, 7, 8],
        parent_span_id: Some([9; 8]),
        name: "GET".into(),
        kind: SpanKind::Server,
        start_unix_nano: 1_700_000_000_000_000_000,
        end_unix_nano: 1_700_000_000_012_000_000,
        http: None,
        attributes: vec![
            ("http.request.method", AttrValue::Str("GET".into())),
            ("http.response.status_code", AttrValue::Int(500)),
            ("x.float", AttrValue::Float(0.5)),
        ],
        events: vec![SpanEvent {
            time_unix_nano: 1_700_000_000_010_000_000,
            name: "exception",
            attributes: vec![("exception.type", AttrValue::Str("KeyError".into()))],
        }],
        status: StatusCode::Error,
        status_message: String::new(),
        resource: &NGINX,
    }
}

fn string(kv: &KeyValue) -> (&str, any_value::Value) {
    (
        kv.key.as_str(),
        kv.value.as_ref().unwrap().value.clone().unwrap(),
    )
}

#[test]
fn a_span_frame_decodes_with_the_trace_proto_field_numbers() {
    let mut out = Vec::new();
    let defaults = vec![("deployment.environment".to_string(), "prod".to_string())];
    encode(&sample(), false, &defaults, &mut out);
    let frame = frames(&out).next().unwrap().unwrap();
    let resource = Resource::decode(frame.resource).unwrap();
    let keys: Vec<_> = resource.attributes.iter().map(string).collect();
    assert_eq!(
        keys,
        [
            (
                "service.name",
                any_value::Value::StringValue("nginx".into())
            ),
            (
                "deployment.environment",
                any_value::Value::StringValue("prod".into())
            )
        ]
    );
    let span = PSpan::decode(frame.record).unwrap();
    assert_eq!(span.trace_id, vec![0x4b; 16]);
    assert_eq!(span.span_id, vec![1, 2, 3, 4, 5, 6, 7, 8]);
    assert_eq!(span.parent_span_id, vec![9; 8]);
    assert_eq!((span.name.as_str(), span.kind), ("GET", 2));
    assert_eq!(span.end - span.start, 12_000_000);
    assert_eq!(
        string(&span.attributes[1]),
        ("http.response.status_code", any_value::Value::IntValue(500))
    );
    assert_eq!(
        string(&span.attributes[2]),
        ("x.float", any_value::Value::DoubleValue(0.5))
    );
    assert_eq!(span.events.len(), 1);
    assert_eq!(span.events[0].name, "exception");
    assert_eq!(span.events[0].time, 1_700_000_000_010_000_000);
    assert_eq!(span.status.unwrap().code, 2);
}

#[test]
fn a_span_in_otlp_json_has_hex_ids_and_string_nanoseconds() {
    let mut out = Vec::new();
    let mut span = sample();
    span.status = StatusCode::Unset;
    span.parent_span_id = None;
    encode(&span, true, &[], &mut out);
    let frame = frames(&out).next().unwrap().unwrap();
    let r: serde_json::Value = serde_json::from_slice(frame.resource).unwrap();
    assert_eq!(r["attributes"][0]["value"]["stringValue"], "nginx");
    let s: serde_json::Value = serde_json::from_slice(frame.record).unwrap();
    assert_eq!(s["traceId"], "4b".repeat(16));
    assert_eq!(s["spanId"], "0102030405060708");
    assert!(s.get("parentSpanId").is_none());
    assert_eq!(s["kind"], 2);
    assert_eq!(s["startTimeUnixNano"], "1700000000000000000");
    assert_eq!(s["attributes"][1]["value"]["intValue"], "500");
    assert_eq!(s["events"][0]["name"], "exception");
    assert_eq!(s["status"]["code"], 0);
}

mod short_kv {
    use proptest::prelude::*;

    use prost::encoding::{encode_key, encode_varint, WireType};

    use super::super::proto_kv;
    use crate::output::otlp::proto::nested;
    use crate::trace::span::AttrValue;

    /// The reference: every length found after the fact.
    fn nested_kv(tag: u32, key: &str, value: &AttrValue<'_>, out: &mut Vec<u8>) {
        nested(tag, out, |out| {
            encode_key(1, WireType::LengthDelimited, out);
            encode_varint(key.len() as u64, out);
            out.extend_from_slice(key.as_bytes());
            nested(2, out, |out| match value {
                AttrValue::Str(s) => {
                    encode_key(1, WireType::LengthDelimited, out);
                    encode_varint(s.len() as u64, out);
                    out.extend_from_slice(s.as_bytes());
                }
                AttrValue::Int(i) => {
                    encode_key(3, WireType::Varint, out);
                    encode_varint(*i as u64, out);
                }
                AttrValue::Float(f) => {
                    encode_key(4, WireType::SixtyFourBit, out);
                    out.extend_from_slice(&f.to_le_bytes());
                }
            });
        });
    }

    fn general(tag: u32, key: &str, value: &AttrValue<'_>) -> Vec<u8> {
        let mut out = Vec::new();
        nested_kv(tag, key, value, &mut out);
        out
    }

    fn fast(tag: u32, key: &str, value: &AttrValue<'_>) -> Vec<u8> {
        let mut out = vec![0xee];
        proto_kv(tag, key, value, &mut out);
        out.remove(0);
        out
    }

    #[test]
    fn lengths_at_the_edge_of_one_byte_are_written_as_the_general_encoder_does() {
        for len in 100..140 {
            let text = "x".repeat(len);
            for value in [AttrValue::Str(text.as_str().into()), AttrValue::Int(-1)] {
                for key in ["url.path", text.as_str()] {
                    assert_eq!(fast(9, key, &value), general(9, key, &value), "{len}");
                }
            }
        }
        for i in [0, 1, 127, 128, 200, 16_383, 16_384, i64::MAX, i64::MIN, -1] {
            let value = AttrValue::Int(i);
            assert_eq!(
                fast(9, "http.response.status_code", &value),
                general(9, "http.response.status_code", &value)
            );
        }
        let value = AttrValue::Float(0.25);
        assert_eq!(fast(3, "f", &value), general(3, "f", &value));
        assert_eq!(
            fast(16, "k", &AttrValue::Int(1)),
            general(16, "k", &AttrValue::Int(1))
        );
    }

    proptest! {
        #[test]
        fn every_attribute_is_written_as_the_general_encoder_does(
            tag in 1u32..20,
            key in ".{0,140}",
            text in proptest::option::of(".{0,140}"),
            int in any::<i64>(),
        ) {
            let value = match &text {
                Some(t) => AttrValue::Str(t.as_str().into()),
                None => AttrValue::Int(int),
            };
            prop_assert_eq!(fast(tag, &key, &value), general(tag, &key, &value));
        }
    }
}
