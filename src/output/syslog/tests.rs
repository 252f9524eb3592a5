use std::borrow::Cow;

use chrono::{FixedOffset, TimeZone};
use logmux_parsers::{Format, Record, Severity};

use super::*;
use crate::event::{IoStream, Origin};
use crate::output::sort_fields;

fn origin() -> Origin {
    Origin {
        service: Some("nginx".into()),
        iostream: Some(IoStream::Stdout),
        pid: Some(4242),
        ..Origin::default()
    }
}

fn settings(protocol: Protocol, framing: Framing, hostname: Option<&str>) -> Syslog {
    Syslog {
        protocol,
        framing,
        facility: 16,
        body: Body::Line,
        hostname: hostname.map(str::to_string),
    }
}

/// Encodes `record` (its raw line `raw`) at `y-m-d h:m:s.micros` in a zone
/// `offset_minutes` east of UTC.
fn encode(
    syslog: &Syslog,
    record: &mut Record<'_>,
    raw: &str,
    origin: &Origin,
    (y, mo, d, h, mi, s, micros): (i32, u32, u32, u32, u32, u32, u32),
    offset_minutes: i32,
) -> String {
    sort_fields(record);
    let zone = FixedOffset::east_opt(offset_minutes * 60).unwrap();
    let when = zone
        .with_ymd_and_hms(y, mo, d, h, mi, s)
        .unwrap()
        .checked_add_signed(chrono::Duration::microseconds(i64::from(micros)))
        .unwrap();
    let event = Event {
        record,
        raw,
        observed: b"2026-11-25T18:35:12.000000000Z",
        observed_unix: (0, 0),
        origin,
    };
    let mut out = Vec::new();
    syslog.encode_at(&Encoder::json(), &event, &when, &mut out);
    String::from_utf8(out).unwrap()
}

fn access_record() -> Record<'static> {
    let mut r = Record {
        format: Format::NginxAccess,
        severity: Some(Severity::WARN),
        ..Record::default()
    };
    r.push_str(Field::HttpRequestMethod, "GET");
    r.push_int(Field::HttpResponseStatusCode, 404);
    r.push_str(Field::UrlPath, "/a\"b\\c]d");
    r.push_str(Field::HttpRequestHeaderXForwardedFor, "10.0.0.1");
    r.push_str(Field::ServiceName, "nginx");
    r.push_str(Field::LogIostream, "stdout");
    r.push_int(Field::ProcessPid, 4242);
    r
}

#[test]
fn rfc3164_pads_the_day_with_a_space_in_local_time() {
    let s = settings(Protocol::Rfc3164, Framing::Lf, Some("web1"));
    let mut r = Record {
        severity: Some(Severity::ERROR),
        ..Record::default()
    };
    // The header shows the wall clock of the zone, whatever its offset.
    let out = encode(
        &s,
        &mut r,
        "boom",
        &origin(),
        (2026, 11, 4, 23, 30, 1, 5),
        60,
    );
    assert_eq!(out, "<131>Nov  4 23:30:01 web1 nginx[4242]: boom\n");
    let out = encode(&s, &mut r, "boom", &origin(), (2026, 11, 5, 0, 0, 1, 0), 90);
    assert_eq!(out, "<131>Nov  5 00:00:01 web1 nginx[4242]: boom\n");
    let out = encode(&s, &mut r, "boom", &origin(), (2026, 1, 25, 9, 5, 7, 0), 0);
    assert_eq!(out, "<131>Jan 25 09:05:07 web1 nginx[4242]: boom\n");
}

#[test]
fn rfc3164_on_a_local_socket_has_no_hostname_and_is_octet_counted() {
    let s = Syslog {
        facility: 1,
        ..settings(Protocol::Rfc3164, Framing::OctetCounting, None)
    };
    let mut r = Record::default();
    let msg = "  leading spaces, ünïcode ✓";
    let out = encode(
        &s,
        &mut r,
        msg,
        &origin(),
        (2026, 12, 31, 23, 59, 59, 0),
        -300,
    );
    let frame = format!("<14>Dec 31 23:59:59 nginx[4242]: {msg}");
    assert_eq!(out, format!("{} {frame}", frame.len()));
    assert_eq!(
        next_frame(out.as_bytes(), Framing::OctetCounting),
        Some((frame.as_bytes(), out.len()))
    );
}

#[test]
fn rfc3164_tag_is_cut_at_32_and_cleaned() {
    let s = settings(Protocol::Rfc3164, Framing::Lf, Some("my host"));
    let o = Origin {
        service: Some("a-very-long-program-name-that-goes-on:and[on]".into()),
        pid: None,
        ..Origin::default()
    };
    let mut r = Record::default();
    let out = encode(&s, &mut r, "x", &o, (2026, 11, 25, 1, 2, 3, 0), 0);
    assert_eq!(
        out,
        "<134>Nov 25 01:02:03 my_host a-very-long-program-name-that-go: x\n"
    );
}

#[test]
fn rfc5424_has_micros_offset_procid_msgid_and_escaped_sd() {
    let s = settings(Protocol::Rfc5424, Framing::OctetCounting, Some("web1"));
    let mut r = access_record();
    let raw = "127.0.0.1 - - [25/Nov/2026:23:30:01 +0100] \"GET /a HTTP/1.1\" 404 0";
    let out = encode(
        &s,
        &mut r,
        raw,
        &origin(),
        (2026, 11, 25, 23, 30, 1, 123_456),
        60,
    );
    let frame = format!(
        "<132>1 2026-11-25T23:30:01.123456+01:00 web1 nginx 4242 nginx.access \
         [logmux@32473 stream=\"stdout\" format=\"nginx.access\" \
         request.header.x-forwarded-for=\"10.0.0.1\" http.request.method=\"GET\" \
         http.response.status_code=\"404\" url.path=\"/a\\\"b\\\\c\\]d\"] {raw}"
    );
    assert_eq!(out, format!("{} {frame}", frame.len()));
}

#[test]
fn rfc5424_times_in_utc_and_west_of_it() {
    let s = settings(Protocol::Rfc5424, Framing::Lf, None);
    let mut r = Record::default();
    let o = Origin::default();
    let out = encode(&s, &mut r, "m", &o, (2026, 3, 5, 7, 8, 9, 42), 0);
    assert_eq!(
        out,
        "<134>1 2026-03-05T07:08:09.000042Z - - - text [logmux@32473 format=\"text\"] m\n"
    );
    let out = encode(&s, &mut r, "m", &o, (2026, 3, 5, 7, 8, 9, 0), -570);
    assert!(
        out.starts_with("<134>1 2026-03-05T07:08:09.000000-09:30 "),
        "{out}"
    );
}

#[test]
fn rfc5424_header_fields_respect_their_limits() {
    let host = "h".repeat(300);
    let s = settings(Protocol::Rfc5424, Framing::Lf, Some(&host));
    let o = Origin {
        service: Some("p".repeat(60)),
        pid: Some(7),
        ..Origin::default()
    };
    let mut r = Record::default();
    r.push_int(Field::ProcessPid, 99);
    r.extra
        .push((Cow::Borrowed("weird key=\"]"), Value::Int(1)));
    r.extra
        .push((Cow::Owned("k".repeat(40)), Value::Bool(false)));
    // A JSON line's values: a string is written as the string it holds.
    r.extra.push((
        Cow::Borrowed("s"),
        Value::RawJson(Cow::Borrowed(r#""a\"b""#)),
    ));
    r.extra.push((
        Cow::Borrowed("o"),
        Value::RawJson(Cow::Borrowed(r#"{"n":[1]}"#)),
    ));
    let out = encode(&s, &mut r, "m", &o, (2026, 3, 5, 7, 8, 9, 0), 0);
    let expected = format!(
        "<134>1 2026-03-05T07:08:09.000000Z {} {} 7 text [logmux@32473 format=\"text\" \
         process.pid=\"99\" {}=\"false\" o=\"{{\\\"n\\\":[1\\]}}\" s=\"a\\\"b\" \
         weird_key___=\"1\"] m\n",
        "h".repeat(255),
        "p".repeat(48),
        "k".repeat(32)
    );
    assert_eq!(out, expected);
}

#[test]
fn lf_framing_escapes_newlines_inside_the_message() {
    let s = settings(Protocol::Rfc3164, Framing::Lf, Some("h"));
    let mut r = Record {
        format: Format::PythonTraceback,
        severity: Some(Severity::ERROR),
        ..Record::default()
    };
    let tb = "Traceback (most recent call last):\n  File \"x.py\", line 1\nZeroDivisionError: x";
    let out = encode(&s, &mut r, tb, &origin(), (2026, 11, 25, 1, 2, 3, 0), 0);
    assert_eq!(
        out,
        "<131>Nov 25 01:02:03 h nginx[4242]: Traceback (most recent call last):#012  File \"x.py\", line 1#012ZeroDivisionError: x\n"
    );
    assert_eq!(
        next_frame(out.as_bytes(), Framing::Lf).map(|f| f.1),
        Some(out.len())
    );
}

#[test]
fn octet_counting_keeps_a_traceback_whole() {
    let s = settings(Protocol::Rfc5424, Framing::OctetCounting, Some("h"));
    let mut r = Record::default();
    let tb = "Traceback (most recent call last):\n  File \"x.py\"\nKeyError: 'a'";
    let mut batch = encode(&s, &mut r, tb, &origin(), (2026, 11, 25, 1, 2, 3, 0), 0);
    batch.push_str(&encode(
        &s,
        &mut r,
        "second",
        &origin(),
        (2026, 11, 25, 1, 2, 3, 0),
        0,
    ));
    let mut rest = batch.as_bytes();
    let mut bodies = Vec::new();
    while let Some((frame, used)) = next_frame(rest, Framing::OctetCounting) {
        let text = std::str::from_utf8(frame).unwrap();
        bodies.push(text.rsplit("] ").next().unwrap().to_string());
        rest = &rest[used..];
    }
    assert_eq!(bodies, [tb, "second"]);
}

#[test]
fn the_json_body_is_the_json_event() {
    let s = Syslog {
        body: Body::Json,
        ..settings(Protocol::Rfc3164, Framing::Lf, Some("h"))
    };
    let mut r = access_record();
    let out = encode(
        &s,
        &mut r,
        "line\nwith LF",
        &origin(),
        (2026, 11, 25, 1, 2, 3, 0),
        0,
    );
    let body = out
        .strip_prefix("<132>Nov 25 01:02:03 h nginx[4242]: ")
        .and_then(|b| b.strip_suffix('\n'))
        .unwrap();
    let v: serde_json::Value = serde_json::from_str(body).unwrap();
    assert_eq!(v["message"], "line\nwith LF");
    assert_eq!(v["http"]["response"]["status_code"], 404);
    assert_eq!(v["severity_text"], "WARN");
}

#[test]
fn a_frame_that_is_not_one_ends_the_batch() {
    assert_eq!(next_frame(b"", Framing::OctetCounting), None);
    assert_eq!(next_frame(b"12 short", Framing::OctetCounting), None);
    assert_eq!(next_frame(b"x1 ab", Framing::OctetCounting), None);
    assert_eq!(
        next_frame(b"2 ab3 xyz", Framing::OctetCounting),
        Some((&b"ab"[..], 4))
    );
    assert_eq!(
        next_frame(b"no end", Framing::Lf),
        Some((&b"no end"[..], 6))
    );
}

mod props {
    use std::sync::Arc;

    use proptest::prelude::*;

    use super::*;
    use crate::engine::Input;
    use crate::engine::{Pipeline, Settings};
    use crate::event::Stamp;

    /// Pieces that make lines worth framing: tracebacks, LFs, the
    /// characters SD escapes, digits and spaces like a length prefix,
    /// UTF-8, JSON.
    fn piece() -> impl Strategy<Value = String> {
        prop_oneof![
            Just("Traceback (most recent call last):\n".to_string()),
            Just("  File \"x.py\", line 1, in <module>\n".to_string()),
            Just("ValueError: bad ] \"quote\" \\ here\n".to_string()),
            Just("{\"level\":\"error\",\"k]\":\"v\\\"\\n\"}\n".to_string()),
            Just("12 34 <13>1 \n".to_string()),
            Just("\n".to_string()),
            Just("    indented\n".to_string()),
            Just("ünïcödé ✓ 日本\n".to_string()),
            "[ -~]{0,40}",
        ]
    }

    proptest! {
        #[test]
        fn every_event_is_one_recoverable_frame(
            pieces in proptest::collection::vec(piece(), 0..30),
            sel in 0u8..16,
        ) {
            let framing = if sel & 2 == 0 { Framing::OctetCounting } else { Framing::Lf };
            let syslog = Syslog {
                protocol: if sel & 1 == 0 { Protocol::Rfc5424 } else { Protocol::Rfc3164 },
                framing,
                facility: 23,
                body: if sel & 4 == 0 { Body::Line } else { Body::Json },
                hostname: (sel & 8 == 0).then(|| "host".to_string()),
            };
            let encoder = Encoder { syslog: Some(Arc::new(syslog)), ..Encoder::json() };
            let mut pipeline = Pipeline::new(Settings { forced: None, nginx_format: None, uwsgi_logdate: None, uwsgi_format: None, encoder });
            let mut input = Input::new(origin(), 64);
            let stamp = Stamp::now();
            let mut out = Vec::new();
            input.push(pieces.concat().as_bytes(), &stamp, &mut pipeline, &mut out);
            input.finish(&stamp, &mut pipeline, &mut out);

            let mut rest = &out[..];
            let mut frames = 0;
            while let Some((frame, used)) = next_frame(rest, framing) {
                let text = std::str::from_utf8(frame).unwrap();
                prop_assert!(text.starts_with('<'), "{text:?}");
                if framing == Framing::Lf {
                    prop_assert_eq!(text.find('\n'), Some(text.len() - 1));
                }
                frames += 1;
                rest = &rest[used..];
            }
            prop_assert!(rest.is_empty());
            prop_assert_eq!(frames, pipeline.stats.events);
        }
    }
}
