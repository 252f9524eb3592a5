//! `logmux listen` against util-linux `logger`, a real syslog sender:
//! RFC 3164 and RFC 5424, over UDP, TCP (newline-framed and octet-counted)
//! and unix datagram and stream sockets, with tags holding `/` and `:` and
//! bodies with leading spaces. Every field of every event is checked.

#[path = "support/listen.rs"]
mod support;

use std::collections::BTreeMap;

use serde_json::{json, Value};
use support::*;

/// An event's fields by dotted name, without the two times (checked apart).
fn fields(e: &Value) -> BTreeMap<String, Value> {
    fn walk(prefix: &str, v: &Value, out: &mut BTreeMap<String, Value>) {
        match v {
            Value::Object(m) => {
                for (k, x) in m {
                    let name = if prefix.is_empty() {
                        k.clone()
                    } else {
                        format!("{prefix}.{k}")
                    };
                    walk(&name, x, out);
                }
            }
            _ => {
                out.insert(prefix.to_string(), v.clone());
            }
        }
    }
    let mut out = BTreeMap::new();
    walk("", e, &mut out);
    out.remove("timestamp");
    out.remove("observed_timestamp");
    out
}

fn expect(pairs: &[(&str, Value)]) -> BTreeMap<String, Value> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect()
}

/// The seconds between an event's `timestamp` and when it was read.
fn age(e: &Value) -> i64 {
    let t = |k: &str| {
        chrono::DateTime::parse_from_rfc3339(e[k].as_str().unwrap())
            .unwrap_or_else(|err| panic!("{k} {}: {err}", e[k]))
            .timestamp()
    };
    t("observed_timestamp") - t("timestamp")
}

const NGINX_404: &str = r#"127.0.0.1 - - [25/Nov/2026:19:39:25 +0000] "GET /missing/?q=1 HTTP/1.1" 404 179 "-" "curl/7.88.1""#;

#[test]
fn rfc3164_and_rfc5424_over_udp() {
    let l = start(&["--udp", ":0"]);
    let port = l.udp().port().to_string();
    let udp = ["--udp", "-n", "127.0.0.1", "-P", &port];
    let host = hostname();
    // Shaped like Docker's rfc3164 format: daemon.info, TAG[PID].
    logger(
        &[
            &udp[..],
            &[
                "--rfc3164",
                "-t",
                "nginx:1.25/web-1",
                "-p",
                "daemon.info",
                "--id=4242",
                "  leading spaces: kept",
            ],
        ]
        .concat(),
    );
    // Any other sender: the PRI's severity counts.
    logger(
        &[
            &udp[..],
            &[
                "--rfc3164",
                "-t",
                "a:b/c",
                "-p",
                "user.warning",
                "plain warning",
            ],
        ]
        .concat(),
    );
    // RFC 5424 with structured data and a MSGID: not Docker; the body is nginx's.
    logger(
        &[
            &udp[..],
            &[
                "--rfc5424",
                "-t",
                "nginx:1.25/web-1",
                "-p",
                "local3.err",
                "--id=77",
                "--msgid",
                "REQ",
                NGINX_404,
            ],
        ]
        .concat(),
    );
    // Shaped like Docker's rfc5424: MSGID = APP-NAME, no structured data.
    logger(
        &[
            &udp[..],
            &[
                "--rfc5424=notq",
                "-t",
                "web-1",
                "-p",
                "daemon.err",
                "--id=4242",
                "--msgid",
                "web-1",
                "    indented stderr line",
            ],
        ]
        .concat(),
    );
    l.wait_for(4, 20);
    let done = l.stop();
    assert_eq!(done.code, Some(0), "{}", done.stderr);
    let ev = &done.events;
    assert_eq!(ev.len(), 4, "{ev:#?}");

    let e = one_with_message(ev, "  leading spaces: kept");
    assert_eq!(
        fields(e),
        expect(&[
            ("message", json!("  leading spaces: kept")),
            ("severity_text", json!("INFO")),
            ("severity_number", json!(9)),
            ("service.name", json!("web-1")),
            ("container.name", json!("web-1")),
            ("log.iostream", json!("stdout")),
            ("host.name", json!(host)),
            ("log.syslog.facility.name", json!("daemon")),
            ("log.syslog.appname", json!("nginx:1.25/web-1")),
            ("log.syslog.priority", json!(30)),
            ("log.syslog.hostname", json!(host)),
            ("container.image.name", json!("nginx")),
            ("container.image.tags", json!(["1.25"])),
            ("log.syslog.procid", json!("4242")),
            ("logmux.format", json!("text")),
        ])
    );
    // RFC 3164's time: whole seconds, in the local zone (TZ=UTC here).
    let ts = e["timestamp"].as_str().unwrap();
    assert!(ts.ends_with("+00:00") && ts.len() == 25, "{ts}");
    assert!((0..=5).contains(&age(e)), "{e}");

    let e = one_with_message(ev, "plain warning");
    assert_eq!(
        fields(e),
        expect(&[
            ("message", json!("plain warning")),
            ("severity_text", json!("warning")),
            ("severity_number", json!(13)),
            ("service.name", json!("a:b/c")),
            ("host.name", json!(host)),
            ("log.syslog.facility.name", json!("user")),
            ("log.syslog.appname", json!("a:b/c")),
            ("log.syslog.priority", json!(12)),
            ("log.syslog.hostname", json!(host)),
            ("logmux.format", json!("text")),
        ])
    );

    let e = one_with_message(ev, NGINX_404);
    assert_eq!(
        fields(e),
        expect(&[
            ("message", json!(NGINX_404)),
            // The body's severity (a 404) wins over the PRI's err.
            ("severity_text", json!("WARN")),
            ("severity_number", json!(13)),
            ("service.name", json!("nginx:1.25/web-1")),
            ("host.name", json!(host)),
            ("log.syslog.facility.name", json!("local3")),
            ("log.syslog.appname", json!("nginx:1.25/web-1")),
            ("log.syslog.priority", json!(155)),
            ("log.syslog.hostname", json!(host)),
            ("log.syslog.procid", json!("77")),
            ("log.syslog.msgid", json!("REQ")),
            ("logmux.format", json!("nginx.access")),
            ("client.address", json!("127.0.0.1")),
            ("http.request.method", json!("GET")),
            ("http.response.status_code", json!(404)),
            ("http.response.body.size", json!(179)),
            ("network.protocol.name", json!("http")),
            ("network.protocol.version", json!("1.1")),
            ("nginx.request", json!("GET /missing/?q=1 HTTP/1.1")),
            ("url.original", json!("/missing/?q=1")),
            ("url.path", json!("/missing/")),
            ("url.query", json!("q=1")),
            ("user_agent.original", json!("curl/7.88.1")),
        ])
    );
    // The body's own time wins over the header's.
    assert_eq!(e["timestamp"], "2026-11-25T19:39:25+00:00");

    let e = one_with_message(ev, "    indented stderr line");
    assert_eq!(
        fields(e),
        expect(&[
            ("message", json!("    indented stderr line")),
            // Docker's err only means stderr: no level word, INFO.
            ("severity_text", json!("INFO")),
            ("severity_number", json!(9)),
            ("service.name", json!("web-1")),
            ("container.name", json!("web-1")),
            ("log.iostream", json!("stderr")),
            ("host.name", json!(host)),
            ("log.syslog.facility.name", json!("daemon")),
            ("log.syslog.appname", json!("web-1")),
            ("log.syslog.priority", json!(27)),
            ("log.syslog.hostname", json!(host)),
            ("log.syslog.procid", json!("4242")),
            ("log.syslog.msgid", json!("web-1")),
            ("logmux.format", json!("text")),
        ])
    );
    // RFC 5424's time from the header, microseconds and offset kept.
    let ts = e["timestamp"].as_str().unwrap();
    assert_eq!(ts.len(), "2026-11-25T23:29:21.637935+00:00".len(), "{ts}");
    assert!((0..=5).contains(&age(e)), "{e}");
}

const TRACEBACK: &str = "Traceback (most recent call last):\n  File \"/app/demo/views.py\", line 12, in boom\n    return 1 / 0\nZeroDivisionError: division by zero";

/// A message whose body holds several lines (an octet-counted frame may
/// carry newlines) is one event, parsed whole: here a whole traceback in
/// one message, between plain one-line messages and one with ANSI colour,
/// over one connection. The indented line after it is an event of its own,
/// not a continuation of the traceback.
#[test]
fn a_body_of_several_lines_is_one_event_parsed_whole() {
    let l = start(&["--tcp", ":0"]);
    let frame = |body: &str| {
        let msg =
            format!("<27>1 2026-11-25T23:29:21.123456+00:00 dockerhost web-1 812 web-1 - {body}");
        format!("{} {msg}", msg.len()).into_bytes()
    };
    let mut bytes = frame("plain before");
    bytes.extend(frame(TRACEBACK));
    bytes.extend(frame("    indented after"));
    bytes.extend(frame("\x1b[31mred\x1b[0m after"));
    send_tcp(l.tcp(), &bytes);
    l.wait_for(4, 20);
    let done = l.stop();
    assert_eq!(done.code, Some(0), "{}", done.stderr);
    let ev = &done.events;
    assert_eq!(ev.len(), 4, "{ev:#?}");
    assert_eq!(ev[0]["message"], json!("plain before"));
    assert_eq!(ev[0]["logmux"]["format"], json!("text"));
    let traceback = fields(&ev[1]);
    assert_eq!(traceback["message"], json!(TRACEBACK));
    assert_eq!(traceback["logmux.format"], json!("python.traceback"));
    assert_eq!(traceback["exception.type"], json!("ZeroDivisionError"));
    assert_eq!(traceback["exception.message"], json!("division by zero"));
    assert_eq!(ev[2]["message"], json!("    indented after"));
    // The colour codes are taken out of the text.
    assert_eq!(ev[3]["message"], json!("red after"));
}

#[test]
fn tcp_with_and_without_octet_counting() {
    let l = start(&["--tcp", ":0"]);
    let port = l.tcp().port().to_string();
    let tcp = ["--tcp", "-n", "127.0.0.1", "-P", &port];
    let host = hostname();
    let file = l.path("traceback.txt");
    std::fs::write(&file, format!("{TRACEBACK}\n")).unwrap();
    let file = file.to_str().unwrap();
    logger(
        &[
            &tcp[..],
            &[
                "--rfc3164",
                "-t",
                "nginx:1.25/web-1",
                "   three leading spaces",
            ],
        ]
        .concat(),
    );
    logger(
        &[
            &tcp[..],
            &[
                "--octet-count",
                "--rfc5424",
                "-t",
                "app/x:y",
                "-p",
                "local0.notice",
                " one leading space",
            ],
        ]
        .concat(),
    );
    // One connection, one message per line, as Docker sends a traceback:
    // the lines become one event, newline-framed and octet-counted alike.
    for framing in [&[][..], &["--octet-count"][..]] {
        logger(
            &[
                &tcp[..],
                framing,
                &[
                    "--rfc3164",
                    "-t",
                    "django",
                    "--id=5",
                    "-p",
                    "daemon.err",
                    "-f",
                    file,
                ],
            ]
            .concat(),
        );
    }
    l.wait_for(4, 20);
    let done = l.stop();
    assert_eq!(done.code, Some(0), "{}", done.stderr);
    let ev = &done.events;
    assert_eq!(ev.len(), 4, "{ev:#?}");

    assert_eq!(
        fields(one_with_message(ev, "   three leading spaces")),
        expect(&[
            ("message", json!("   three leading spaces")),
            ("severity_text", json!("notice")),
            ("severity_number", json!(10)),
            ("service.name", json!("nginx:1.25/web-1")),
            ("host.name", json!(host)),
            ("log.syslog.facility.name", json!("user")),
            ("log.syslog.appname", json!("nginx:1.25/web-1")),
            ("log.syslog.priority", json!(13)),
            ("log.syslog.hostname", json!(host)),
            ("logmux.format", json!("text")),
        ])
    );
    assert_eq!(
        fields(one_with_message(ev, " one leading space")),
        expect(&[
            ("message", json!(" one leading space")),
            ("severity_text", json!("notice")),
            ("severity_number", json!(10)),
            ("service.name", json!("app/x:y")),
            ("host.name", json!(host)),
            ("log.syslog.facility.name", json!("local0")),
            ("log.syslog.appname", json!("app/x:y")),
            ("log.syslog.priority", json!(133)),
            ("log.syslog.hostname", json!(host)),
            ("logmux.format", json!("text")),
        ])
    );
    let tracebacks = with_message(ev, TRACEBACK);
    assert_eq!(tracebacks.len(), 2, "{ev:#?}");
    for e in tracebacks {
        assert_eq!(
            fields(e),
            expect(&[
                ("message", json!(TRACEBACK)),
                ("severity_text", json!("ERROR")),
                ("severity_number", json!(17)),
                ("service.name", json!("django")),
                ("container.name", json!("django")),
                ("log.iostream", json!("stderr")),
                ("host.name", json!(host)),
                ("log.syslog.facility.name", json!("daemon")),
                ("log.syslog.appname", json!("django")),
                ("log.syslog.priority", json!(27)),
                ("log.syslog.hostname", json!(host)),
                ("log.syslog.procid", json!("5")),
                ("logmux.format", json!("python.traceback")),
                ("exception.type", json!("ZeroDivisionError")),
                ("exception.message", json!("division by zero")),
                ("exception.stacktrace", json!(TRACEBACK)),
            ])
        );
    }
}

#[test]
fn unix_datagram_and_stream_sockets() {
    let l = start(&[
        "--unix",
        "@DIR@/dgram.sock",
        "--unix-stream",
        "@DIR@/stream.sock",
    ]);
    let dgram = l.path("dgram.sock");
    let stream = l.path("stream.sock");
    let (dgram, stream) = (dgram.to_str().unwrap(), stream.to_str().unwrap());
    let host = hostname();
    // logger's own format for a local socket has no hostname.
    logger(&["-u", dgram, "-t", "tg", " dgram, local format"]);
    logger(&[
        "-u",
        dgram,
        "--rfc5424",
        "-t",
        "nginx:1.25/web-1",
        "dgram, rfc5424",
    ]);
    logger(&[
        "-u",
        stream,
        "-t",
        "tg",
        "-p",
        "mail.crit",
        "  stream, newline",
    ]);
    logger(&[
        "-u",
        stream,
        "--octet-count",
        "-t",
        "tg",
        "stream, octet-counted",
    ]);
    l.wait_for(4, 20);
    let done = l.stop();
    assert_eq!(done.code, Some(0), "{}", done.stderr);
    let ev = &done.events;
    assert_eq!(ev.len(), 4, "{ev:#?}");
    let plain = |msg: &str, sev: (&str, i64, i64), facility: &str| {
        expect(&[
            ("message", json!(msg)),
            ("severity_text", json!(sev.0)),
            ("severity_number", json!(sev.1)),
            ("service.name", json!("tg")),
            ("log.syslog.facility.name", json!(facility)),
            ("log.syslog.appname", json!("tg")),
            ("log.syslog.priority", json!(sev.2)),
            ("logmux.format", json!("text")),
        ])
    };
    assert_eq!(
        fields(one_with_message(ev, " dgram, local format")),
        plain(" dgram, local format", ("notice", 10, 13), "user")
    );
    assert_eq!(
        fields(one_with_message(ev, "  stream, newline")),
        plain("  stream, newline", ("crit", 18, 18), "mail")
    );
    assert_eq!(
        fields(one_with_message(ev, "stream, octet-counted")),
        plain("stream, octet-counted", ("notice", 10, 13), "user")
    );
    assert_eq!(
        fields(one_with_message(ev, "dgram, rfc5424")),
        expect(&[
            ("message", json!("dgram, rfc5424")),
            ("severity_text", json!("notice")),
            ("severity_number", json!(10)),
            ("service.name", json!("nginx:1.25/web-1")),
            ("host.name", json!(host)),
            ("log.syslog.facility.name", json!("user")),
            ("log.syslog.appname", json!("nginx:1.25/web-1")),
            ("log.syslog.priority", json!(13)),
            ("log.syslog.hostname", json!(host)),
            ("logmux.format", json!("text")),
        ])
    );
    // The socket files go with the listener.
    assert!(!exists(&done.dir.path().join("dgram.sock")));
    assert!(!exists(&done.dir.path().join("stream.sock")));
}

/// `--uwsgi-log-format` on `logmux listen`: a request line uWSGI 2.0.21
/// wrote with a `log-format` (fixtures/uwsgi-log-format-combined.log), sent
/// as the body of an RFC 3164 datagram, is a `uwsgi.request` event with the
/// request id; a body that is not the format's stays text.
#[test]
fn a_uwsgi_log_format_reads_request_lines_in_messages() {
    let format = r#"%(addr) - %(user) [%(ltime)] "%(method) %(uri) %(proto)" %(status) %(size) "%(referer)" "%(uagent)" rt=%(msecs) cl=%(cl) wid=%(wid) tenant=%(tenant) rid=%(var.HTTP_X_REQUEST_ID)"#;
    let l = start(&["--udp", ":0", "--uwsgi-log-format", format]);
    let lines: [&[u8]; 2] = [
        br#"<14>Dec  4 18:33:51 vm uwsgi[5862]: 127.0.0.1 - - [04/Dec/2026:18:33:51 +0000] "POST /echo HTTP/1.1" 200 64 "-" "curl/7.88.1" rt=3 cl=7 wid=1 tenant=- rid=0af7651916cd43dd8448eb211c80319c"#,
        b"<14>Dec  4 18:33:52 vm uwsgi[5862]: plain words",
    ];
    send_udp(l.udp(), &lines);
    l.wait_for(2, 20);
    let done = l.stop();
    assert_eq!(done.events.len(), 2);
    let e = fields(&done.events[0]);
    assert_eq!(e["logmux.format"], json!("uwsgi.request"));
    assert_eq!(
        e["http.request.id"],
        json!("0af7651916cd43dd8448eb211c80319c")
    );
    assert_eq!(e["http.request.method"], json!("POST"));
    assert_eq!(e["url.path"], json!("/echo"));
    assert_eq!(e["http.response.status_code"], json!(200));
    assert_eq!(e["http.response.size"], json!(64));
    assert_eq!(e["http.server.request.duration"], json!(0.003));
    assert_eq!(e["uwsgi.cl"], json!(7));
    assert_eq!(e["service.name"], json!("uwsgi"));
    assert_eq!(
        done.events[0]["timestamp"],
        json!("2026-12-04T18:33:51+00:00")
    );
    assert_eq!(done.events[1]["logmux"]["format"], json!("text"));
}
