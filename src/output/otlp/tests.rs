//! The OTLP encoder's output decoded with the prost messages of the OTLP
//! definitions: types kept, resource split, ids, severities, times.

use std::borrow::Cow;

use logmux_parsers::{Field, Format, Record, Severity, Timestamp, Value};
use prost::Message;

use super::{frames, Otlp};
use crate::event::Origin;
use crate::output::{sort_fields, Event};
use crate::sink::otlp::messages::{any_value, AnyValue, LogRecord, Resource};

fn encode(otlp: &Otlp, record: &mut Record<'_>, raw: &str) -> Vec<u8> {
    sort_fields(record);
    let event = Event {
        record,
        raw,
        observed: b"2026-11-25T18:35:12.000000001Z",
        observed_unix: (1_795_631_712, 1),
        origin: &Origin::default(),
    };
    let mut out = Vec::new();
    otlp.encode(&event, &[], crate::output::LocalZone::Fixed(60), &mut out);
    out
}

fn nginx_record() -> Record<'static> {
    let mut r = Record {
        format: Format::NginxAccess,
        severity: Some(Severity::WARN),
        timestamp: Some(Timestamp::from_unix(1_795_631_700, 250_000_000, 3)),
        ..Record::default()
    };
    r.push(Field::ServiceName, Value::str("nginx"));
    r.push(Field::ProcessPid, Value::Int(42));
    r.push(Field::HttpResponseStatusCode, Value::Int(404));
    r.push(Field::HttpServerRequestDuration, Value::Float(0.25));
    r.push(
        Field::NginxUpstreamResponseTime,
        Value::FloatList(vec![0.5, 1.0]),
    );
    r.push(Field::LogmuxTruncated, Value::Bool(true));
    r.push(Field::UrlPath, Value::str("/x"));
    r.extra.push((
        Cow::Borrowed("trace_id"),
        Value::str("4bf92f3577b34da6a3ce929d0e0e4736"),
    ));
    r.extra
        .push((Cow::Borrowed("span_id"), Value::str("00f067aa0ba902b7")));
    r.extra.push((
        Cow::Borrowed("ctx"),
        Value::RawJson(Cow::Borrowed(r#"{"a":[1,"b"]}"#)),
    ));
    r
}

fn attr<'a>(
    list: &'a [crate::sink::otlp::messages::KeyValue],
    key: &str,
) -> Option<&'a any_value::Value> {
    list.iter()
        .find(|kv| kv.key == key)
        .and_then(|kv| kv.value.as_ref())
        .and_then(|v| v.value.as_ref())
}

fn s(text: &str) -> any_value::Value {
    any_value::Value::StringValue(text.to_string())
}

#[test]
fn protobuf_frames_keep_types_split_the_resource_and_carry_ids() {
    let otlp = Otlp {
        json: false,
        resource: vec![
            ("deployment.environment.name".into(), "prod".into()),
            ("service.name".into(), "fallback".into()),
        ],
    };
    let bytes = encode(&otlp, &mut nginx_record(), "the raw line");
    let frame = frames(&bytes).next().unwrap().unwrap();
    assert_eq!(frames(&bytes).count(), 1);
    let resource = Resource::decode(frame.resource).unwrap();
    let keys: Vec<&str> = resource
        .attributes
        .iter()
        .map(|kv| kv.key.as_str())
        .collect();
    assert_eq!(
        keys,
        ["process.pid", "service.name", "deployment.environment.name"]
    );
    assert_eq!(
        attr(&resource.attributes, "service.name"),
        Some(&s("nginx"))
    );
    assert_eq!(
        attr(&resource.attributes, "process.pid"),
        Some(&any_value::Value::IntValue(42))
    );

    let r = LogRecord::decode(frame.record).unwrap();
    assert_eq!(r.time_unix_nano, 1_795_631_700_250_000_000);
    assert_eq!(r.observed_time_unix_nano, 1_795_631_712_000_000_001);
    assert_eq!((r.severity_number, r.severity_text.as_str()), (13, "WARN"));
    assert_eq!(r.body.and_then(|b| b.value), Some(s("the raw line")));
    assert_eq!(hex(&r.trace_id), "4bf92f3577b34da6a3ce929d0e0e4736");
    assert_eq!(hex(&r.span_id), "00f067aa0ba902b7");
    let a = &r.attributes;
    assert_eq!(
        attr(a, "http.response.status_code"),
        Some(&any_value::Value::IntValue(404))
    );
    assert_eq!(
        attr(a, "http.server.request.duration"),
        Some(&any_value::Value::DoubleValue(0.25))
    );
    assert_eq!(
        attr(a, "logmux.truncated"),
        Some(&any_value::Value::BoolValue(true))
    );
    assert_eq!(attr(a, "url.path"), Some(&s("/x")));
    assert_eq!(attr(a, "logmux.format"), Some(&s("nginx.access")));
    let doubles = |v: &[f64]| {
        any_value::Value::ArrayValue(crate::sink::otlp::messages::ArrayValue {
            values: v
                .iter()
                .map(|f| AnyValue {
                    value: Some(any_value::Value::DoubleValue(*f)),
                })
                .collect(),
        })
    };
    assert_eq!(
        attr(a, "nginx.upstream_response_time"),
        Some(&doubles(&[0.5, 1.0]))
    );
    let Some(any_value::Value::KvlistValue(ctx)) = attr(a, "ctx") else {
        panic!("ctx is not a key-value list: {:?}", attr(a, "ctx"));
    };
    assert_eq!(ctx.values[0].key, "a");
    assert!(attr(a, "trace_id").is_none() && attr(a, "service.name").is_none());
    assert_eq!(a.len(), 7, "{a:?}");
}

#[test]
fn long_values_widen_their_length_prefix() {
    let otlp = Otlp {
        json: false,
        resource: vec![],
    };
    let long = "x".repeat(70_000);
    let mut r = Record::default();
    r.push(Field::UrlPath, Value::str(&long));
    let bytes = encode(&otlp, &mut r, &long);
    let frame = frames(&bytes).next().unwrap().unwrap();
    let r = LogRecord::decode(frame.record).unwrap();
    assert_eq!(attr(&r.attributes, "url.path"), Some(&s(&long)));
    assert_eq!(r.body.and_then(|b| b.value), Some(s(&long)));
    // Local time: read at the encoder's offset (here +60 minutes).
    assert_eq!(r.severity_number, 9);
}

#[test]
fn json_frames_follow_the_otlp_json_mapping() {
    let otlp = Otlp {
        json: true,
        resource: vec![],
    };
    let bytes = encode(&otlp, &mut nginx_record(), "the raw line");
    let frame = frames(&bytes).next().unwrap().unwrap();
    let resource: serde_json::Value = serde_json::from_slice(frame.resource).unwrap();
    assert_eq!(resource["attributes"][0]["value"]["intValue"], "42");
    let r: serde_json::Value = serde_json::from_slice(frame.record).unwrap();
    assert_eq!(r["timeUnixNano"], "1795631700250000000");
    assert_eq!(r["observedTimeUnixNano"], "1795631712000000001");
    assert_eq!(r["severityNumber"], 13);
    assert_eq!(r["traceId"], "4bf92f3577b34da6a3ce929d0e0e4736");
    assert_eq!(r["spanId"], "00f067aa0ba902b7");
    let status = r["attributes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|kv| kv["key"] == "http.response.status_code")
        .unwrap();
    assert_eq!(status["value"], serde_json::json!({"intValue": "404"}));
}

#[test]
fn a_torn_frame_is_reported_not_read() {
    let otlp = Otlp {
        json: false,
        resource: vec![],
    };
    let mut bytes = encode(&otlp, &mut nginx_record(), "line");
    let whole = bytes.len();
    bytes.extend_from_slice(&bytes.clone()[..whole - 1]);
    let got: Vec<_> = frames(&bytes).collect();
    assert_eq!(got.len(), 2);
    assert!(got[0].is_ok());
    assert_eq!(got[1], Err(whole - 1));
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

#[test]
fn a_stamped_records_ids_are_its_request_ids() {
    // The stamp keeps the id's bytes on the record for this writer: they
    // must be the bytes of the id it wrote, however the line spelled it.
    let tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    for (fields, trace) in [
        (
            vec![(Field::HttpRequestId, "0AF7651916CD43DD8448EB211C80319C")],
            "0af7651916cd43dd8448eb211c80319c",
        ),
        (
            vec![
                (Field::HttpRequestId, "0af7651916cd43dd8448eb211c80319c"),
                (Field::HttpRequestHeaderTraceparent, tp),
            ],
            "4bf92f3577b34da6a3ce929d0e0e4736",
        ),
    ] {
        let mut rec = Record {
            format: Format::UwsgiRequest,
            ..Record::default()
        };
        for (f, v) in fields {
            rec.push_str(f, v);
        }
        sort_fields(&mut rec);
        crate::trace::stamp::stamp(&mut rec);
        let otlp = Otlp {
            json: false,
            resource: Vec::new(),
        };
        let bytes = encode(&otlp, &mut rec, "line");
        let frame = frames(&bytes).next().unwrap().unwrap();
        let r = LogRecord::decode(frame.record).unwrap();
        assert_eq!(hex(&r.trace_id), trace);
        let t = logmux_parsers::trace_context::trace_id(trace).unwrap();
        let uwsgi = crate::trace::ids::span_id(&t, crate::trace::ids::SpanRole::Uwsgi);
        assert_eq!(r.span_id, uwsgi);
        assert!(attr(&r.attributes, "trace_id").is_none());
    }
}
