//! The builder and the spans it makes, from real nginx and uWSGI lines
//! parsed by logmux's parsers (the trace id added as the reqid stamping
//! will add it) and from parts made by hand.

use std::sync::Arc;
use std::time::{Duration, Instant};

use logmux_parsers::nginx::log_format::LogFormat;
use logmux_parsers::{uwsgi, Field, Format, Record, Value};

use super::{Builder, Collected};
use crate::output::LocalZone;
use crate::trace::build::{is_error, spans};
use crate::trace::ids::{span_id, SpanRole};
use crate::trace::parts::{part_of, Exception, Part, PartCache};
use crate::trace::span::{AttrValue, Span, SpanKind, StatusCode};

const TID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const FORMAT: &str = r#"$remote_addr - - [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent" rt=$request_time urt=$upstream_response_time us=$upstream_status ua=$upstream_addr"#;

/// Every attribute of `s`, in order.
fn attrs<'a>(s: &'a Span<'_>) -> Vec<(&'a str, AttrValue<'a>)> {
    s.attrs().collect()
}

fn tid() -> [u8; 16] {
    logmux_parsers::trace_context::trace_id(TID).unwrap()
}

/// nginx's access line through the custom format, stamped with `TID`.
fn nginx_part(line: &str) -> Part {
    nginx_part_with(line, &mut PartCache::default())
}

fn nginx_part_with(line: &str, cache: &mut PartCache) -> Part {
    let fmt = LogFormat::compile(FORMAT).unwrap();
    let mut rec = Record::default();
    assert!(fmt.parse(line, &mut rec), "{line}");
    rec.format = Format::NginxAccess;
    stamp(&mut rec, "nginx");
    part_of(&rec, 0, LocalZone::Fixed(0), &[], cache).unwrap().1
}

fn uwsgi_part(line: &str) -> Part {
    let mut rec = Record::default();
    assert!(uwsgi::parse_request(line, &mut rec), "{line}");
    stamp(&mut rec, "uwsgi");
    part_of(&rec, 0, LocalZone::Fixed(0), &[], &mut PartCache::default())
        .unwrap()
        .1
}

fn stamp<'a>(rec: &mut Record<'a>, service: &'a str) {
    rec.push(Field::TraceId, Value::str(TID));
    rec.push(Field::ServiceName, Value::str(service));
}

const NGINX_500: &str = r#"127.0.0.1 - - [25/Nov/2026:18:35:12 +0000] "GET /boom/?x=1 HTTP/1.1" 500 145 "-" "curl/8.5.0" rt=0.013 urt=0.012 us=500 ua=unix:/run/uwsgi.sock"#;
const UWSGI_500: &str = "[pid: 8|app: 0|req: 1/1] 127.0.0.1 () {34 vars in 412 bytes} [Wed Nov 25 18:35:12 2026] GET /boom/?x=1 => generated 145 bytes in 11873 micros (HTTP/1.1 500) 2 headers in 79 bytes (1 switches on core 0)";

fn exception() -> Part {
    Part::Exception(Exception {
        time: 1_795_631_712_005_000_000,
        kind: "ZeroDivisionError".into(),
        message: "division by zero".into(),
        stacktrace: "Traceback (most recent call last):\n  ...".into(),
    })
}

fn collect(parts: Vec<Part>) -> (Builder, Vec<Collected>) {
    let mut b = Builder::new(Duration::from_secs(5), 100);
    let mut out = Vec::new();
    let now = Instant::now();
    for p in parts {
        b.add(tid(), p, now, &mut out);
    }
    (b, out)
}

#[test]
fn a_500_makes_nginx_and_uwsgi_spans_with_the_exception_on_uwsgi() {
    let (b, out) = collect(vec![
        exception(),
        uwsgi_part(UWSGI_500),
        nginx_part(NGINX_500),
    ]);
    assert_eq!((out.len(), b.len(), b.counts.complete), (1, 0, 1));
    let s = spans(&out[0]);
    assert_eq!(s.len(), 2);
    let (n, u) = (&s[0], &s[1]);
    assert_eq!(n.span_id, span_id(&tid(), SpanRole::NginxServer));
    assert_eq!(n.parent_span_id, None);
    assert_eq!((&*n.name, n.kind), ("GET", SpanKind::Server));
    // 18:35:12 UTC on 2026-11-25; $request_time 0.013 s exactly.
    assert_eq!(n.end_unix_nano, 1_795_631_712_000_000_000);
    assert_eq!(n.end_unix_nano - n.start_unix_nano, 13_000_000);
    assert_eq!(n.status, StatusCode::Error);
    assert!(attrs(n).contains(&("http.response.status_code", AttrValue::Int(500))));
    assert!(attrs(n).contains(&("url.query", AttrValue::Str("x=1".into()))));
    assert_eq!(
        n.resource[0],
        ("service.name".to_string(), AttrValue::Str("nginx".into()))
    );
    assert_eq!(u.span_id, span_id(&tid(), SpanRole::Uwsgi));
    assert_eq!(u.parent_span_id, Some(n.span_id));
    // uWSGI's 11873 micros, to the microsecond, ending with nginx's span.
    assert_eq!(u.end_unix_nano - u.start_unix_nano, 11_873_000);
    assert_eq!(u.end_unix_nano, n.end_unix_nano);
    assert_eq!(u.status, StatusCode::Error);
    assert_eq!(u.status_message, "ZeroDivisionError: division by zero");
    assert_eq!(u.events.len(), 1);
    assert_eq!(u.events[0].name, "exception");
    assert_eq!(
        u.events[0].attributes[0],
        ("exception.type", AttrValue::Str("ZeroDivisionError".into()))
    );
    assert!(n.events.is_empty());
    assert!(is_error(&s));
}

/// uWSGI's `micros` can exceed nginx's `$request_time` (nginx is done as
/// soon as it has the whole answer; uWSGI counts its work after that, as
/// the real stack shows): its span then starts with its parent, never
/// before it, and keeps its own duration, ending after the parent.
#[test]
fn a_uwsgi_span_longer_than_its_parent_starts_with_it() {
    let nginx = NGINX_500.replace("rt=0.013 urt=0.012", "rt=0.005 urt=0.005");
    let (_, out) = collect(vec![uwsgi_part(UWSGI_500), nginx_part(&nginx)]);
    let s = spans(&out[0]);
    let (n, u) = (&s[0], &s[1]);
    assert_eq!(n.end_unix_nano - n.start_unix_nano, 5_000_000);
    assert_eq!(u.parent_span_id, Some(n.span_id));
    assert_eq!(u.start_unix_nano, n.start_unix_nano);
    assert_eq!(u.end_unix_nano - u.start_unix_nano, 11_873_000);
    // Under the last of two tries: the same, with the try as the parent.
    let retried = NGINX_500.replace("urt=0.012 us=500", "urt=0.000, 0.004 us=502, 500");
    let (_, out) = collect(vec![uwsgi_part(UWSGI_500), nginx_part(&retried)]);
    let s = spans(&out[0]);
    let (t1, u) = (&s[2], &s[3]);
    assert_eq!(u.parent_span_id, Some(t1.span_id));
    assert_eq!(t1.end_unix_nano - t1.start_unix_nano, 4_000_000);
    assert_eq!(u.start_unix_nano, t1.start_unix_nano);
    assert_eq!(u.end_unix_nano - u.start_unix_nano, 11_873_000);
}

#[test]
fn a_static_file_is_complete_with_nginx_alone() {
    let line = r#"127.0.0.1 - - [25/Nov/2026:18:35:12 +0000] "GET /static/app.css HTTP/1.1" 200 10 "-" "curl/8.5.0" rt=0.000 urt=- us=- ua=-"#;
    let (_, out) = collect(vec![nginx_part(line)]);
    assert_eq!(out.len(), 1);
    assert!(!out[0].incomplete);
    let s = spans(&out[0]);
    assert_eq!(s.len(), 1);
    assert_eq!(s[0].start_unix_nano, s[0].end_unix_nano);
    assert_eq!(s[0].status, StatusCode::Unset);
    assert!(!is_error(&s));
}

#[test]
fn two_upstream_tries_become_two_client_spans_end_to_end() {
    let line = r#"127.0.0.1 - - [25/Nov/2026:18:35:12 +0000] "POST /api HTTP/1.1" 200 2 "-" "curl/8.5.0" rt=0.015 urt=0.000, 0.012 us=502, 200 ua=10.0.0.7:8000, 10.0.0.8:8000"#;
    let uw = "[pid: 8|app: 0|req: 1/1] 127.0.0.1 () {34 vars in 412 bytes} [Wed Nov 25 18:35:12 2026] POST /api => generated 2 bytes in 11 msecs (HTTP/1.1 200) 2 headers in 79 bytes (1 switches on core 0)";
    // nginx first: it waits for uWSGI's line (it had an upstream).
    let (b, out) = collect(vec![nginx_part(line)]);
    assert_eq!((out.len(), b.len()), (0, 1));
    let (_, out) = collect(vec![nginx_part(line), uwsgi_part(uw)]);
    let s = spans(&out[0]);
    assert_eq!(s.len(), 4);
    let (n, t0, t1, u) = (&s[0], &s[1], &s[2], &s[3]);
    assert_eq!((t0.kind, t1.kind), (SpanKind::Client, SpanKind::Client));
    assert_eq!(t0.span_id, span_id(&tid(), SpanRole::UpstreamTry(0)));
    assert_eq!(t1.span_id, span_id(&tid(), SpanRole::UpstreamTry(1)));
    assert_eq!(t0.parent_span_id, Some(n.span_id));
    assert_eq!(t1.parent_span_id, Some(n.span_id));
    assert_eq!(t1.end_unix_nano, n.end_unix_nano);
    assert_eq!(t1.end_unix_nano - t1.start_unix_nano, 12_000_000);
    assert_eq!(t0.end_unix_nano, t1.start_unix_nano);
    assert_eq!(t0.end_unix_nano - t0.start_unix_nano, 0);
    assert_eq!(t0.status, StatusCode::Error);
    assert_eq!(t1.status, StatusCode::Unset);
    assert!(attrs(t0).contains(&("server.address", AttrValue::Str("10.0.0.7:8000".into()))));
    assert!(attrs(t1).contains(&("http.request.resend_count", AttrValue::Int(1))));
    assert_eq!(u.parent_span_id, Some(t1.span_id));
    assert_eq!(u.end_unix_nano - u.start_unix_nano, 11_000_000);
    // A failed try is a client-span error, not the request's: the
    // server span is fine.
    assert_eq!(n.status, StatusCode::Unset);
}

#[test]
fn the_client_traceparent_is_the_server_spans_parent() {
    let mut rec = Record {
        format: Format::NginxAccess,
        ..Record::default()
    };
    rec.push(Field::TraceId, Value::str(TID));
    rec.push(Field::HttpServerRequestDuration, Value::Float(0.002));
    rec.extra.push((
        "http.request.header.traceparent".into(),
        Value::str("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"),
    ));
    let (_, part) = part_of(
        &rec,
        5_000_000_000,
        LocalZone::Fixed(0),
        &[],
        &mut PartCache::default(),
    )
    .unwrap();
    let (_, out) = collect(vec![part]);
    let s = spans(&out[0]);
    assert_eq!(
        s[0].parent_span_id,
        Some([0, 0xf0, 0x67, 0xaa, 0x0b, 0xa9, 0x02, 0xb7])
    );
    // No time on the line: its read time.
    assert_eq!(s[0].end_unix_nano, 5_000_000_000);
    assert_eq!(&*s[0].name, "HTTP");
}

#[test]
fn events_without_a_trace_id_or_of_other_formats_are_not_kept() {
    let mut rec = Record {
        format: Format::NginxAccess,
        ..Record::default()
    };
    assert!(part_of(&rec, 0, LocalZone::Fixed(0), &[], &mut PartCache::default()).is_none());
    rec.push(
        Field::TraceId,
        Value::str("00000000000000000000000000000000"),
    );
    assert!(part_of(&rec, 0, LocalZone::Fixed(0), &[], &mut PartCache::default()).is_none());
    let mut django = Record {
        format: Format::Json,
        ..Record::default()
    };
    django.push(Field::TraceId, Value::str(TID));
    assert!(part_of(
        &django,
        0,
        LocalZone::Fixed(0),
        &[],
        &mut PartCache::default()
    )
    .is_none());
}

#[test]
fn the_window_hands_out_a_lone_uwsgi_line_as_a_root_span() {
    let mut b = Builder::new(Duration::from_secs(5), 100);
    let mut out = Vec::new();
    let t0 = Instant::now();
    b.add(tid(), uwsgi_part(UWSGI_500), t0, &mut out);
    b.expire(t0 + Duration::from_millis(4999), &mut out);
    assert!(out.is_empty());
    assert_eq!(b.next_deadline(), Some(t0 + Duration::from_secs(5)));
    b.expire(t0 + Duration::from_secs(5), &mut out);
    assert_eq!((out.len(), b.counts.expired), (1, 1));
    assert!(out[0].incomplete);
    let s = spans(&out[0]);
    assert_eq!(s.len(), 1);
    assert_eq!(s[0].parent_span_id, None);
    // Its line's time is the request's start.
    assert_eq!(s[0].start_unix_nano, 1_795_631_712_000_000_000);
    assert_eq!(s[0].end_unix_nano - s[0].start_unix_nano, 11_873_000);
    // Tracebacks alone make no span.
    let (_, lone) = collect(vec![exception()]);
    assert!(lone.is_empty());
    let mut b = Builder::new(Duration::from_secs(5), 100);
    b.add(tid(), exception(), t0, &mut out);
    let mut drained = Vec::new();
    b.drain(&mut drained);
    assert!(spans(&drained[0]).is_empty());
}

#[test]
fn past_max_pending_the_oldest_traces_go_first_and_none_is_lost() {
    let mut b = Builder::new(Duration::from_secs(5), 100);
    let mut out = Vec::new();
    let now = Instant::now();
    let id = |i: u32| {
        let mut t = [7u8; 16];
        t[12..].copy_from_slice(&i.to_be_bytes());
        t
    };
    let nginx = match nginx_part(NGINX_500) {
        Part::Nginx(n, _) => n,
        _ => unreachable!(),
    };
    for i in 0..10_000 {
        b.add(
            id(i),
            Part::Nginx(nginx.clone(), Arc::new(Vec::new())),
            now,
            &mut out,
        );
    }
    assert_eq!(b.len(), 100);
    assert_eq!(out.len(), 9_900);
    assert_eq!(b.counts.evicted, 9_900);
    assert!(out
        .iter()
        .enumerate()
        .all(|(i, c)| c.trace_id == id(i as u32)));
    b.drain(&mut out);
    assert_eq!(out.len(), 10_000);
    assert!(b.is_empty());
    // The order queue stays bounded as traces complete in between.
    let mut b = Builder::new(Duration::from_secs(5), 10);
    let mut out = Vec::new();
    for i in 0..10_000 {
        b.add(
            id(i),
            Part::Nginx(nginx.clone(), Arc::new(Vec::new())),
            now,
            &mut out,
        );
        b.add(id(i), uwsgi_part(UWSGI_500), now, &mut out);
    }
    assert_eq!((out.len(), b.counts.complete, b.len()), (10_000, 10_000, 0));
    assert!(b.order.len() <= 2 * 10 + 64);
}

mod props {
    use super::*;
    use crate::trace::parts::{Http, Nginx, Uwsgi};
    use proptest::prelude::*;

    fn part() -> impl Strategy<Value = (u8, Part)> {
        let nginx = (
            any::<u64>(),
            any::<u64>(),
            proptest::collection::vec(any::<u64>(), 0..4),
            proptest::collection::vec(proptest::option::of(any::<i64>()), 0..4),
            proptest::option::of(any::<i64>()),
        )
            .prop_map(|(end, duration_us, tries_us, try_status, status)| {
                Part::Nginx(
                    Nginx {
                        end,
                        duration_us,
                        tries_us: tries_us.into(),
                        try_status,
                        try_addr: Vec::new(),
                        parent: None,
                        http: Http::with_status(status),
                    },
                    Arc::new(Vec::new()),
                )
            });
        let uwsgi = (
            any::<u64>(),
            any::<u64>(),
            proptest::option::of(any::<i64>()),
        )
            .prop_map(|(time, duration_us, status)| {
                Part::Uwsgi(
                    Uwsgi {
                        time,
                        duration_us,
                        http: Http::with_status(status),
                    },
                    Arc::new(Vec::new()),
                )
            });
        let exc = any::<u64>().prop_map(|time| {
            Part::Exception(Exception {
                time,
                kind: "E".into(),
                message: "".into(),
                stacktrace: "".into(),
            })
        });
        (0u8..20, prop_oneof![nginx, uwsgi, exc])
    }

    proptest! {
        /// Any parts, in any order, at any bound: no panic, every trace
        /// handed out exactly once by the end, spans never end before
        /// they start, uWSGI's never before its parent.
        #[test]
        fn the_builder_never_panics_or_loses_a_trace(
            parts in proptest::collection::vec(part(), 0..60),
            max in 1usize..8,
        ) {
            let mut b = Builder::new(Duration::from_millis(10), max);
            let mut out = Vec::new();
            let t0 = Instant::now();
            let mut handed = 0;
            for (i, (id, p)) in parts.into_iter().enumerate() {
                let mut t = [1u8; 16];
                t[15] = id;
                b.add(t, p, t0 + Duration::from_millis(i as u64), &mut out);
                prop_assert!(b.len() <= max);
                b.expire(t0 + Duration::from_millis(i as u64), &mut out);
                for c in out.drain(..) {
                    handed += 1;
                    let built = spans(&c);
                    for s in &built {
                        prop_assert!(s.start_unix_nano <= s.end_unix_nano);
                        // uWSGI's span never starts before its parent.
                        let parent = built.iter().find(|p| Some(p.span_id) == s.parent_span_id);
                        if let (Some(p), SpanKind::Server) = (parent, s.kind) {
                            prop_assert!(s.start_unix_nano >= p.start_unix_nano);
                        }
                    }
                    // The sampler's shortcut agrees with the spans.
                    prop_assert_eq!(
                        crate::trace::build::has_error(&c),
                        is_error(&built) || (built.is_empty() && !c.exceptions.is_empty())
                    );
                }
            }
            let waiting = b.len();
            b.drain(&mut out);
            prop_assert_eq!(out.len(), waiting);
            prop_assert!(b.is_empty());
            let c = b.counts;
            prop_assert_eq!(c.complete + c.expired + c.evicted, handed + waiting as u64);
        }
    }
}

#[test]
fn a_programs_events_share_one_resource() {
    let mut cache = PartCache::default();
    let mut part = |service: &'static str| {
        let mut rec = Record::default();
        assert!(uwsgi::parse_request(UWSGI_500, &mut rec));
        stamp(&mut rec, service);
        match part_of(&rec, 0, LocalZone::Fixed(0), &[], &mut cache)
            .unwrap()
            .1
        {
            Part::Uwsgi(_, r) => r,
            _ => unreachable!(),
        }
    };
    let (a, b, c) = (part("uwsgi"), part("uwsgi"), part("app"));
    assert!(Arc::ptr_eq(&a, &b));
    assert!(!Arc::ptr_eq(&a, &c));
    assert_eq!(
        c.as_slice(),
        [
            ("process.pid".to_string(), AttrValue::Int(8)),
            ("service.name".to_string(), AttrValue::Str("app".into()))
        ]
    );
}

#[test]
fn a_part_has_the_trace_id_the_stamp_gave_its_event() {
    // The stamp keeps the id's bytes with the record; the part takes them.
    let upper = "0AF7651916CD43DD8448EB211C80319C";
    let mut rec = Record::default();
    assert!(uwsgi::parse_request(UWSGI_500, &mut rec));
    rec.push(Field::HttpRequestId, Value::str(upper));
    crate::output::sort_fields(&mut rec);
    crate::trace::stamp::stamp(&mut rec);
    let (id, _) = part_of(&rec, 0, LocalZone::Fixed(0), &[], &mut PartCache::default()).unwrap();
    let want = logmux_parsers::trace_context::trace_id("0af7651916cd43dd8448eb211c80319c");
    assert_eq!(Some(id), want);
}

/// A request line's attributes are encoded when it is read: a user agent
/// past 127 bytes takes two-byte lengths, and both the spans' copy (read
/// by prost's types of `common/v1/common.proto`) and the text read back
/// for OTLP/JSON hold every attribute exactly, in the spans' order.
#[test]
fn a_long_user_agent_is_encoded_and_read_back_whole() {
    use crate::sink::otlp::messages::{any_value, KeyValue};
    use prost::Message;

    let agent = format!("Mozilla/5.0 ({})", "x".repeat(200));
    let line = NGINX_500.replace("curl/8.5.0", &agent);
    let Part::Nginx(n, _) = nginx_part(&line) else {
        panic!("not nginx's part");
    };
    let want: Vec<(&str, AttrValue)> = vec![
        ("http.request.method", AttrValue::Str("GET".into())),
        ("url.path", AttrValue::Str("/boom/".into())),
        ("url.query", AttrValue::Str("x=1".into())),
        ("http.response.status_code", AttrValue::Int(500)),
        ("client.address", AttrValue::Str("127.0.0.1".into())),
        ("user_agent.original", AttrValue::Str(agent.as_str().into())),
        ("network.protocol.version", AttrValue::Str("1.1".into())),
    ];
    assert_eq!(n.http.attrs().collect::<Vec<_>>(), want);
    assert_eq!(n.http.method(), Some("GET"));

    // The bytes as a Span's field 9, one KeyValue after another.
    let mut rest = n.http.encoded();
    let mut decoded = Vec::new();
    while !rest.is_empty() {
        assert_eq!(rest[0], 9 << 3 | 2);
        rest = &rest[1..];
        let kv = KeyValue::decode_length_delimited(&mut rest).unwrap();
        let value = match kv.value.and_then(|v| v.value) {
            Some(any_value::Value::StringValue(s)) => AttrValue::Str(s.into()),
            Some(any_value::Value::IntValue(i)) => AttrValue::Int(i),
            other => panic!("{other:?}"),
        };
        decoded.push((kv.key, value));
    }
    let want: Vec<(String, AttrValue)> = want.into_iter().map(|(k, v)| (k.into(), v)).collect();
    assert_eq!(decoded, want);
}

/// The span thread gives a trace's attribute buffers back, and a reader's
/// next part writes into one of them instead of allocating.
#[test]
fn a_traces_attribute_buffers_are_reused_by_the_next_parts() {
    let (_, mut out) = collect(vec![uwsgi_part(UWSGI_500), nginx_part(NGINX_500)]);
    let mut spare = Vec::new();
    out[0].give_buffers(&mut spare);
    assert_eq!(spare.len(), 2);
    assert!(spare.iter().all(|b| b.is_empty() && b.capacity() > 0));
    assert!(out[0].nginx.as_ref().unwrap().0.http.encoded().is_empty());
    // A spare of a size no fresh buffer has (a fresh one is sized to its
    // line, and an allocator may hand the same address back).
    let mut cache = PartCache {
        buffers: vec![Vec::with_capacity(4000)],
        ..PartCache::default()
    };
    let Part::Nginx(mut n, _) = nginx_part_with(NGINX_500, &mut cache) else {
        panic!("not nginx's part");
    };
    assert_eq!(n.http.method(), Some("GET"));
    assert!(cache.buffers.is_empty());
    assert_eq!(n.http.take_buffer().capacity(), 4000);
}

/// HTTP's own methods and any other a line has (WebDAV's) name the spans.
#[test]
fn a_span_is_named_by_its_method_whichever_it_is() {
    for method in ["GET", "DELETE", "PROPFIND"] {
        let line = NGINX_500.replace("GET /boom", &format!("{method} /boom"));
        let (mut b, mut out) = collect(vec![nginx_part(&line)]);
        b.drain(&mut out);
        let s = spans(&out[0]);
        assert_eq!(&*s[0].name, method);
        assert!(attrs(&s[0]).contains(&("http.request.method", AttrValue::Str(method.into()))));
    }
}

/// OTLP/JSON reads a span's attributes back from their protobuf: the
/// same keys, values and order as the protobuf span, the status code an
/// `intValue` string.
#[test]
fn a_spans_attributes_in_otlp_json_are_the_lines_fields() {
    use crate::output::otlp::{frames, spans::encode};

    let (_, out) = collect(vec![uwsgi_part(UWSGI_500), nginx_part(NGINX_500)]);
    let s = spans(&out[0]);
    let mut json = Vec::new();
    encode(&s[0], true, &[], &mut json);
    let frame = frames(&json).next().unwrap().unwrap();
    let v: serde_json::Value = serde_json::from_slice(frame.record).unwrap();
    assert_eq!(v["name"], "GET");
    assert_eq!(
        v["attributes"],
        serde_json::json!([
            {"key": "http.request.method", "value": {"stringValue": "GET"}},
            {"key": "url.path", "value": {"stringValue": "/boom/"}},
            {"key": "url.query", "value": {"stringValue": "x=1"}},
            {"key": "http.response.status_code", "value": {"intValue": "500"}},
            {"key": "client.address", "value": {"stringValue": "127.0.0.1"}},
            {"key": "user_agent.original", "value": {"stringValue": "curl/8.5.0"}},
            {"key": "network.protocol.version", "value": {"stringValue": "1.1"}},
        ])
    );
}

mod attributes_read_back {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        /// Whatever text and status a request line has, its attributes
        /// read back from their encoding are its fields, whole, in the
        /// spans' order.
        #[test]
        fn every_attribute_comes_back_whole(
            method in "\\PC{0,12}",
            path in "\\PC{0,300}",
            agent in "\\PC{0,300}",
            status in any::<i64>(),
        ) {
            let mut rec = Record {
                format: Format::NginxAccess,
                ..Record::default()
            };
            rec.push(Field::HttpRequestMethod, Value::str(&method));
            rec.push(Field::UrlPath, Value::str(&path));
            rec.push(Field::HttpResponseStatusCode, Value::Int(status));
            rec.push(Field::UserAgentOriginal, Value::str(&agent));
            stamp(&mut rec, "nginx");
            let part = part_of(&rec, 0, LocalZone::Fixed(0), &[], &mut PartCache::default());
            let Some((_, Part::Nginx(n, _))) = part else {
                panic!("no nginx part");
            };
            let want = vec![
                ("http.request.method", AttrValue::Str(method.as_str().into())),
                ("url.path", AttrValue::Str(path.as_str().into())),
                ("http.response.status_code", AttrValue::Int(status)),
                ("user_agent.original", AttrValue::Str(agent.as_str().into())),
            ];
            prop_assert_eq!(n.http.attrs().collect::<Vec<_>>(), want);
            prop_assert_eq!(n.http.method(), Some(method.as_str()));
            prop_assert_eq!(n.http.status, Some(status));
        }
    }
}
