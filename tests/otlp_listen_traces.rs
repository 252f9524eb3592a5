//! Traces from `logmux listen`: a central aggregator that receives the
//! nginx and the app container's logs over syslog (Docker's driver,
//! `syslog-format=rfc5424micro`, `tag={{.Name}}`, sent here by util-linux
//! `logger` on one TCP connection per container) builds the same spans as
//! `logmux run` does inside the container, and posts them to `/v1/traces`
//! of the receiver built on the official OpenTelemetry protobuf definitions
//! (tests/otlp/receiver.py). The lines are in the image's formats (the
//! `nginx_log_format` and `uwsgi_log_format` of docker/logmux.toml, and
//! the example project's Django log format), with request ids; without
//! ids (the seed's original formats), `--trace-join infer` joins them.

#[path = "support/otlp.rs"]
mod otlp;
#[path = "support/listen.rs"]
mod support;

use std::collections::BTreeMap;
use std::io::Write;
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};

use logmux::trace::ids::{span_id, SpanRole};
use logmux_parsers::trace_context::{to_hex, trace_id};
use otlp::{find_span, image_formats, span_duration, typed, Receiver};
use serde_json::Value;
use support::{hostname, start};

/// The request's end, in whole seconds since the epoch: 2026-12-04 21:00:10 UTC.
const BASE: u64 = 1_796_418_010;

/// One request, as the image's nginx and uWSGI log it.
struct Request {
    id: String,
    path: &'static str,
    status: u16,
    /// `$request_time`, and `$upstream_response_time` / `$upstream_status`
    /// as nginx writes them (`-` for a static file).
    rt: &'static str,
    urt: &'static str,
    us: &'static str,
    /// uWSGI's `%(micros)`, if the request reached uWSGI.
    micros: Option<u64>,
    /// A client's traceparent's parent span id (its trace id is `id`).
    client_parent: Option<&'static str>,
    traceback: bool,
}

impl Request {
    /// The end of request `i`: a second apart, at .250.
    fn end_ms(i: usize) -> u64 {
        (BASE + i as u64) * 1000 + 250
    }

    fn rt_us(&self) -> u64 {
        (self.rt.parse::<f64>().unwrap() * 1e6).round() as u64
    }
}

fn requests() -> Vec<Request> {
    let id = |n: u8| format!("{n:02x}{}", "b7".repeat(15));
    let r = |n, path, status, rt, urt, us, micros| Request {
        id: id(n),
        path,
        status,
        rt,
        urt,
        us,
        micros,
        client_parent: None,
        traceback: false,
    };
    let mut ok = r(1, "/", 200, "0.015", "0.012", "200", Some(11_873));
    ok.client_parent = Some("00f067aa0ba902b7");
    let mut boom = r(3, "/boom/", 500, "0.013", "0.012", "500", Some(11_873));
    boom.traceback = true;
    vec![
        ok,
        r(2, "/nope/", 404, "0.004", "0.003", "404", Some(3_000)),
        boom,
        r(4, "/static/app.css", 200, "0.000", "-", "-", None),
        r(
            5,
            "/retry/",
            200,
            "0.015",
            "0.000, 0.012",
            "502, 200",
            Some(11_000),
        ),
    ]
}

/// nginx's access line in the image's `log_format logmux`.
fn nginx_line(r: &Request, i: usize) -> String {
    let end = Request::end_ms(i);
    let tp = match r.client_parent {
        Some(p) => format!("00-{}-{p}-01", r.id),
        None => "-".into(),
    };
    format!(
        "172.18.0.1 - - [04/Dec/2026:21:00:{:02} +0000] \"GET {} HTTP/1.1\" {} 12 \"-\" \"curl/8.5\" rt={} urt=\"{}\" us=\"{}\" id={} tp=\"{tp}\" t={}.{:03}",
        10 + i,
        r.path,
        r.status,
        r.rt,
        r.urt,
        r.us,
        r.id,
        end / 1000,
        end % 1000
    )
}

/// The app container's lines of a request: Django's error record and its
/// traceback (the example project's format), then uWSGI's request line in
/// the image's `log-format`.
fn app_lines(r: &Request, i: usize) -> Vec<String> {
    let Some(micros) = r.micros else {
        return Vec::new();
    };
    let start_us = Request::end_ms(i) * 1000 - r.rt_us();
    let mut out = Vec::new();
    if r.traceback {
        out.extend([
            format!(
                "2026-12-04 21:00:{:02},245 ERROR [django.request] [{}] Internal Server Error: {}",
                10 + i,
                r.id,
                r.path
            ),
            "Traceback (most recent call last):".into(),
            "  File \"/app/project/views.py\", line 12, in boom".into(),
            "    return 1 / 0".into(),
            "ZeroDivisionError: division by zero".into(),
        ]);
    }
    out.push(format!(
        "[pid: 9|wid: 1] 172.18.0.1 () {{38 vars in 512 bytes}} [Fri Dec  4 21:00:{:02} 2026] GET {} => generated 12 bytes in {micros} micros (HTTP/1.1 {}) 2 headers in 80 bytes (1 switches on core 0) request_id={} start={start_us}",
        10 + i,
        r.path,
        r.status,
        r.id
    ));
    out
}

/// util-linux `logger` sending `lines` (one message each) to `to` over
/// TCP as Docker's syslog driver does for container `name`
/// (`rfc5424micro`, tag and MSGID the name, facility daemon, stdout as
/// info and stderr as err).
fn docker_logger(to: SocketAddr, name: &str, pid: u32, stderr: bool, lines: &[String]) -> Child {
    let priority = if stderr { "daemon.err" } else { "daemon.info" };
    let mut child = Command::new("logger")
        .args(["--tcp", "--rfc5424=notq", "-n", &to.ip().to_string()])
        .args(["-P", &to.port().to_string(), "-t", name, "--msgid", name])
        .args([&format!("--id={pid}"), "-p", priority])
        .stdin(Stdio::piped())
        .spawn()
        .expect("util-linux logger (bsdutils) must be installed");
    let mut text = lines.join("\n");
    text.push('\n');
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    child
}

fn wait(child: Child) {
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "logger failed");
}

fn config(dir: &std::path::Path, rx: &Receiver, head: &str) -> String {
    let path = dir.join("listen.toml");
    let text = format!(
        "{head}\n[sink.otel]\ntype = \"otlp\"\nendpoint = \"{}\"\nsignals = [\"logs\", \"traces\"]\n",
        rx.endpoint()
    );
    std::fs::write(&path, text).unwrap();
    path.to_str().unwrap().to_string()
}

/// `logmux listen` on a TCP port with `config`, its `otel` sink, and `extra`.
fn listen_to(config: &str, extra: &[&str]) -> support::Listener {
    let mut args = vec!["--tcp", "127.0.0.1:0", "--config", config, "--sink", "otel"];
    args.extend_from_slice(extra);
    start(&args)
}

fn by_trace(spans: &[Value]) -> BTreeMap<String, Vec<Value>> {
    let mut m: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    for s in spans {
        let id = s["trace_id"].as_str().unwrap().to_string();
        m.entry(id).or_default().push(s.clone());
    }
    m
}

fn hex_span(t: &str, role: SpanRole) -> String {
    to_hex(&span_id(&trace_id(t).unwrap(), role))
}

fn text<'v>(v: &'v Value, key: &str) -> &'v str {
    typed(&v[key], "string_value").as_str().unwrap()
}

fn python() -> Option<std::path::PathBuf> {
    let found = otlp::python();
    if found.is_none() {
        support::skip_or_fail(
            "otlp_listen_traces",
            "no Python with opentelemetry-proto (tests/run-all.sh makes target/otlp-venv)",
        );
    }
    found
}

#[test]
fn listen_builds_one_trace_per_request_from_two_containers() {
    let Some(py) = python() else { return };
    let rx = Receiver::start(&py, "", 0);
    let dir = tempfile::tempdir().unwrap();
    let (nginx_format, uwsgi_format) = image_formats();
    let head = format!("nginx_log_format = '{nginx_format}'\nuwsgi_log_format = '{uwsgi_format}'\n[trace]\nwindow = \"30s\"");
    let config = config(dir.path(), &rx, &head);
    let l = listen_to(&config, &[]);
    let requests = requests();
    let nginx: Vec<String> = (requests.iter().enumerate())
        .map(|(i, r)| nginx_line(r, i))
        .collect();
    let app: Vec<String> = (requests.iter().enumerate())
        .flat_map(|(i, r)| app_lines(r, i))
        .collect();
    // Two containers, two connections, at once.
    let senders = [
        docker_logger(l.tcp(), "web-nginx", 812, false, &nginx),
        docker_logger(l.tcp(), "web-app", 813, true, &app),
    ];
    senders.into_iter().for_each(wait);
    // 5 + 2 + 2 + 1 + 4: every request's nginx span, uWSGI's where it
    // answered, the retried request's two tries.
    let spans = rx.wait_for_spans(11, 30);
    let stopped = l.stop();
    assert_eq!(stopped.code, Some(0), "{}", stopped.stderr);
    assert_eq!(rx.spans().len(), 11, "{spans:?}");
    let traces = by_trace(&spans);
    assert_eq!(traces.len(), 5, "one trace per request: {spans:?}");
    let host = hostname();
    for (i, r) in requests.iter().enumerate() {
        let s = &traces[&r.id];
        let n = find_span(s, &hex_span(&r.id, SpanRole::NginxServer));
        assert_eq!(n["name"], "GET", "{n}");
        assert_eq!(n["parent_span_id"], r.client_parent.unwrap_or(""), "{n}");
        // nginx's span ends at $msec and lasts $request_time.
        assert_eq!(n["end"], Request::end_ms(i) * 1_000_000, "{n}");
        assert_eq!(span_duration(n), r.rt_us() * 1000, "{n}");
        assert_eq!(text(&n["resource"], "container.name"), "web-nginx");
        // Under listen a container's service is its name, as for its logs.
        assert_eq!(text(&n["resource"], "service.name"), "web-nginx");
        assert_eq!(text(&n["resource"], "host.name"), host);
        assert_eq!(
            typed(&n["attrs"]["http.response.status_code"], "int_value"),
            r.status
        );
        assert_eq!(n["status"][0], if r.status >= 500 { 2 } else { 0 });
        let Some(micros) = r.micros else {
            assert_eq!(s.len(), 1, "a static file: nginx's span alone");
            continue;
        };
        let u = find_span(s, &hex_span(&r.id, SpanRole::Uwsgi));
        assert_eq!(text(&u["resource"], "container.name"), "web-app");
        assert_eq!(text(&u["resource"], "service.name"), "web-app");
        // To the microsecond of uWSGI's line, ending with its parent.
        assert_eq!(span_duration(u), micros * 1000, "{u}");
        assert_eq!(u["end"], n["end"], "{u}");
        let parent = if r.urt.contains(',') {
            hex_span(&r.id, SpanRole::UpstreamTry(1))
        } else {
            hex_span(&r.id, SpanRole::NginxServer)
        };
        assert_eq!(u["parent_span_id"], parent.as_str(), "{u}");
        let events = u["events"].as_array().unwrap();
        if r.traceback {
            assert_eq!(events.len(), 1, "{u}");
            assert_eq!(events[0]["name"], "exception");
            let attrs = &events[0]["attrs"];
            assert_eq!(text(attrs, "exception.type"), "ZeroDivisionError");
            assert_eq!(text(attrs, "exception.message"), "division by zero");
            assert_eq!(u["status"][0], 2);
            assert_eq!(u["status"][1], "ZeroDivisionError: division by zero");
        } else {
            assert!(events.is_empty(), "{u}");
        }
    }
    // The retried request: two tries end to end under nginx's span.
    let r = &requests[4];
    let s = &traces[&r.id];
    let t0 = find_span(s, &hex_span(&r.id, SpanRole::UpstreamTry(0)));
    let t1 = find_span(s, &hex_span(&r.id, SpanRole::UpstreamTry(1)));
    let n = hex_span(&r.id, SpanRole::NginxServer);
    assert_eq!(
        (t0["parent_span_id"].as_str(), t1["parent_span_id"].as_str()),
        (Some(n.as_str()), Some(n.as_str()))
    );
    assert_eq!((span_duration(t0), span_duration(t1)), (0, 12_000_000));
    assert_eq!(
        (t0["status"][0].as_i64(), t1["status"][0].as_i64()),
        (Some(2), Some(0))
    );
    // Every log record still goes to /v1/logs, with its trace id: 5 nginx
    // lines, 4 uWSGI lines and one traceback.
    let records = rx.wait_for(10, 10);
    assert_eq!(records.len(), 10);
    for r in &records {
        assert!(requests.iter().any(|q| q.id == r["trace_id"]), "{r}");
    }
    assert!(
        stopped
            .stderr
            .contains("traces: 5 complete, 0 sent after the window or at the end"),
        "{}",
        stopped.stderr
    );
}

/// The seed's original formats, no ids: uWSGI's default request line and
/// nginx's `combined`, for request `i` of `path` answered with `status`.
fn seed_lines(i: usize, path: &str, status: u16, msecs: u64) -> (String, String) {
    let uwsgi = format!(
        "[pid: 9|app: 0|req: {n}/{n}] 172.18.0.1 () {{38 vars in 512 bytes}} [Fri Dec  4 21:01:{i:02} 2026] GET {path} => generated 12 bytes in {msecs} msecs (HTTP/1.1 {status}) 2 headers in 80 bytes (1 switches on core 0)",
        n = i + 1
    );
    let nginx = format!(
        "172.18.0.1 - - [04/Dec/2026:21:01:{i:02} +0000] \"GET {path} HTTP/1.1\" {status} 12 \"-\" \"curl/8.5\""
    );
    (uwsgi, nginx)
}

#[test]
fn trace_join_infer_joins_two_containers_lines_without_ids_into_one_trace() {
    let Some(py) = python() else { return };
    let rx = Receiver::start(&py, "", 0);
    let dir = tempfile::tempdir().unwrap();
    // A lone line's trace waits to the end, however loaded the machine.
    let config = config(dir.path(), &rx, "[trace]\nwindow = \"60s\"");
    let l = listen_to(&config, &["--trace-join", "infer"]);
    // Three requests; nginx's third line answers another status than
    // uWSGI's: it must join nothing.
    let lines = [
        seed_lines(1, "/a/", 200, 3),
        seed_lines(2, "/b/?x=1", 404, 7),
        seed_lines(3, "/c/", 200, 5),
    ];
    let app: Vec<String> = lines.iter().map(|(u, _)| u.clone()).collect();
    let mut nginx: Vec<String> = lines.iter().map(|(_, n)| n.clone()).collect();
    nginx[2] = nginx[2].replace(" 200 12 ", " 502 12 ");
    // uWSGI logs before nginx: its lines are in first.
    wait(docker_logger(l.tcp(), "web-app", 813, true, &app));
    rx.wait_for(3, 20);
    wait(docker_logger(l.tcp(), "web-nginx", 812, false, &nginx));
    let records = rx.wait_for(6, 20);
    let stopped = l.stop();
    assert_eq!(stopped.code, Some(0), "{}", stopped.stderr);
    let (app_recs, nginx_recs): (Vec<&Value>, Vec<&Value>) = records
        .iter()
        .partition(|r| text(&r["resource"], "container.name") == "web-app");
    assert_eq!((app_recs.len(), nginx_recs.len()), (3, 3));
    for (i, (a, n)) in app_recs.iter().zip(&nginx_recs).enumerate() {
        let joined = i < 2;
        assert_eq!(a["trace_id"].as_str().unwrap().len(), 32, "{a}");
        assert_eq!(a["attrs"].get("logmux.trace_join"), None, "{a}");
        assert_eq!(a["trace_id"] == n["trace_id"], joined, "{a}\n{n}");
        if joined {
            assert_eq!(text(&n["attrs"], "logmux.trace_join"), "inferred");
        } else {
            assert_eq!(n["attrs"].get("logmux.trace_join"), None, "{n}");
        }
    }
    // The spans: the two joined requests one trace each, nginx's span the
    // parent of uWSGI's; the lone lines a trace each.
    let spans = rx.spans();
    let traces = by_trace(&spans);
    assert_eq!(spans.len(), 6, "{spans:?}");
    assert_eq!(traces.len(), 4, "{spans:?}");
    for (i, a) in app_recs.iter().take(2).enumerate() {
        let id = a["trace_id"].as_str().unwrap();
        let s = &traces[id];
        assert_eq!(s.len(), 2, "{s:?}");
        let n = find_span(s, &hex_span(id, SpanRole::NginxServer));
        let u = find_span(s, &hex_span(id, SpanRole::Uwsgi));
        assert_eq!(n["parent_span_id"], "");
        assert_eq!(u["parent_span_id"], n["span_id"]);
        assert_eq!(text(&n["resource"], "container.name"), "web-nginx");
        assert_eq!(text(&u["resource"], "container.name"), "web-app");
        // uWSGI's msecs, to the millisecond its line carries.
        assert_eq!(span_duration(u), [3, 7][i] * 1_000_000, "{u}");
    }
}
