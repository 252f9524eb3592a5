use super::*;
use crate::nginx::testutil::{assert_unique, i, s, sorted};
use crate::severity::Severity;
use crate::testing::{edits, for_every_cut, mutate};
use crate::time::Offset;
use proptest::prelude::*;

fn compile(f: &str) -> LogFormat {
    LogFormat::compile(f).unwrap_or_else(|e| panic!("{f}: {e}"))
}

fn compile_err(f: &str) -> String {
    LogFormat::compile(f).expect_err(f).to_string()
}

fn parsed<'a>(fmt: &'a LogFormat, line: &'a str) -> Record<'a> {
    let mut rec = Record::default();
    assert!(fmt.parse(line, &mut rec), "rejected: {line}");
    assert_eq!(rec.format, Format::UwsgiRequest);
    assert_unique(&rec);
    rec
}

fn extra<'r>(rec: &'r Record<'_>, key: &str) -> Option<&'r Value<'r>> {
    rec.extra.iter().find(|(k, _)| k == key).map(|(_, v)| v)
}

fn float(rec: &Record<'_>, f: Field) -> Option<f64> {
    match rec.get(f) {
        Some(Value::Float(x)) => Some(*x),
        other => {
            assert!(other.is_none(), "{f:?} is not a float: {other:?}");
            None
        }
    }
}

/// uWSGI's default request line written as a `log-format`: the app id and
/// the request counters have no logvar, so they are literals here.
const DEFAULT_LIKE: &str = "[pid: %(pid)|app: 0|req: 1/1] %(addr) (%(user)) {%(vars) vars in %(pktsize) bytes} [%(ctime)] %(method) %(uri) => generated %(rsize) bytes in %(msecs) msecs (%(proto) %(status)) %(headers) headers in %(hsize) bytes (%(switches) switches on core %(core))";

/// The format docker/uwsgi.ini uses, and lines real uWSGI 2.0.21 wrote
/// with it (fixtures/uwsgi-log-format.log).
const IMAGE: &str = "[pid: %(pid)|wid: %(wid)] %(addr) (%(user)) {%(vars) vars in %(pktsize) bytes} [%(ctime)] %(method) %(uri) => generated %(rsize) bytes in %(micros) micros (%(proto) %(status)) %(headers) headers in %(hsize) bytes (%(switches) switches on core %(core)) request_id=%(var.HTTP_X_REQUEST_ID) start=%(tmicros)";
const IMAGE_LINE: &str = "[pid: 5862|wid: 1] 127.0.0.1 (-) {26 vars in 344 bytes} [Fri Dec  4 18:33:49 2026] GET /orders?id=7&tenant=acme => generated 4 bytes in 186 micros (HTTP/1.1 200) 2 headers in 53 bytes (1 switches on core 0) request_id=4bf92f3577b34da6a3ce929d0e0e4736 start=1796409229594854";

#[test]
fn the_default_lines_fields_give_the_default_lines_event() {
    let fmt = compile(DEFAULT_LIKE);
    for line in [
        "[pid: 8|app: 0|req: 1/1] 127.0.0.1 () {34 vars in 412 bytes} [Wed Nov 25 18:35:12 2026] GET /hello/?name=x&y=1 => generated 12 bytes in 3 msecs (HTTP/1.1 200) 2 headers in 79 bytes (1 switches on core 0)",
        "[pid: 23174|app: 0|req: 1/1] 10.0.0.9 (bob) {26 vars in 277 bytes} [Thu Dec  3 14:21:33 2026] POST /api/x => generated 0 bytes in 1503 msecs (HTTP/1.0 502) 1 headers in 45 bytes (2 switches on core 1)",
        "[pid: 8|app: 0|req: 1/1] 127.0.0.1 () {34 vars in 412 bytes} [Wed Nov 25 18:35:12 2026] GET /hello/ => generated 12 bytes in 1 msecs ( 404) 0 headers in 0 bytes (1 switches on core 0)",
    ] {
        let mut want = Record::default();
        assert!(super::super::parse_request(line, &mut want), "{line}");
        for f in [
            Field::UwsgiAppId,
            Field::UwsgiRequestAppSeq,
            Field::UwsgiRequestTotalSeq,
        ] {
            want.remove(f);
        }
        let got = parsed(&fmt, line);
        assert_eq!(sorted(&got), sorted(&want), "{line}");
        assert_eq!(got.timestamp, want.timestamp, "{line}");
        assert_eq!(got.severity, want.severity, "{line}");
        assert!(got.extra.is_empty());
    }
}

#[test]
fn the_images_format_on_real_output() {
    let fmt = compile(IMAGE);
    let r = parsed(&fmt, IMAGE_LINE);
    assert_eq!(i(&r, Field::ProcessPid), Some(5862));
    assert_eq!(extra(&r, "uwsgi.wid"), Some(&Value::Int(1)));
    assert_eq!(s(&r, Field::ClientAddress), Some("127.0.0.1"));
    assert_eq!(r.get(Field::UserName), None);
    assert_eq!(i(&r, Field::UwsgiRequestVarsCount), Some(26));
    assert_eq!(i(&r, Field::UwsgiRequestVarsSize), Some(344));
    assert_eq!(s(&r, Field::HttpRequestMethod), Some("GET"));
    assert_eq!(s(&r, Field::UrlOriginal), Some("/orders?id=7&tenant=acme"));
    assert_eq!(s(&r, Field::UrlPath), Some("/orders"));
    assert_eq!(s(&r, Field::UrlQuery), Some("id=7&tenant=acme"));
    assert_eq!(i(&r, Field::HttpResponseBodySize), Some(4));
    assert_eq!(float(&r, Field::HttpServerRequestDuration), Some(0.000186));
    assert_eq!(s(&r, Field::NetworkProtocolName), Some("http"));
    assert_eq!(s(&r, Field::NetworkProtocolVersion), Some("1.1"));
    assert_eq!(i(&r, Field::HttpResponseStatusCode), Some(200));
    assert_eq!(i(&r, Field::UwsgiResponseHeadersCount), Some(2));
    assert_eq!(i(&r, Field::UwsgiResponseHeadersSize), Some(53));
    assert_eq!(i(&r, Field::UwsgiSwitches), Some(1));
    assert_eq!(i(&r, Field::UwsgiCore), Some(0));
    assert_eq!(
        s(&r, Field::HttpRequestId),
        Some("4bf92f3577b34da6a3ce929d0e0e4736")
    );
    assert_eq!(r.severity, Some(Severity::INFO));
    // `%(tmicros)` (UTC, to the microsecond) wins over `%(ctime)`.
    let ts = r.timestamp.expect("timestamp");
    assert_eq!(ts.to_rfc3339(0), "2026-12-04T18:33:49.594854Z");
    assert_eq!(r.extra.len(), 1);

    let line = IMAGE_LINE.replace(
        "request_id=4bf92f3577b34da6a3ce929d0e0e4736",
        "request_id=-",
    );
    let r = parsed(&fmt, &line);
    assert_eq!(r.get(Field::HttpRequestId), None);
}

#[test]
fn combined_shape_with_a_list_and_quotes() {
    // fixtures/uwsgi-log-format-combined.log (--log-x-forwarded-for).
    let fmt = compile(
        r#"%(addr) - %(user) [%(ltime)] "%(method) %(uri) %(proto)" %(status) %(size) "%(referer)" "%(uagent)" rt=%(msecs) cl=%(cl) wid=%(wid) tenant=%(tenant) rid=%(var.HTTP_X_REQUEST_ID)"#,
    );
    let r = parsed(
        &fmt,
        r#"203.0.113.5, 10.0.0.1 - - [04/Dec/2026:18:33:51 +0000] "GET /boom HTTP/1.1" 500 69 "-" "curl/7.88.1" rt=0 cl=0 wid=1 tenant=- rid=-"#,
    );
    assert_eq!(s(&r, Field::ClientAddress), Some("203.0.113.5, 10.0.0.1"));
    assert_eq!(r.timestamp.unwrap().offset, Offset::Minutes(0));
    assert_eq!(i(&r, Field::HttpResponseSize), Some(69));
    assert_eq!(float(&r, Field::HttpServerRequestDuration), Some(0.0));
    assert_eq!(r.severity, Some(Severity::ERROR));
    assert_eq!(extra(&r, "uwsgi.cl"), Some(&Value::Int(0)));
    assert_eq!(extra(&r, "uwsgi.tenant"), None);
    let r = parsed(
        &fmt,
        r#"127.0.0.1 - - [04/Dec/2026:18:33:51 +0000] "GET /missing HTTP/1.1" 404 55 "https://example.com/start" "Mozilla/5.0 (X11; Linux x86_64) "quoted"" rt=0 cl=7 wid=1 tenant=acme rid=req-7f3a"#,
    );
    assert_eq!(
        s(&r, Field::UserAgentOriginal),
        Some(r#"Mozilla/5.0 (X11; Linux x86_64) "quoted""#)
    );
    assert_eq!(
        s(&r, Field::HttpRequestHeaderReferer),
        Some("https://example.com/start")
    );
    assert_eq!(extra(&r, "uwsgi.tenant"), Some(&Value::str("acme")));
    assert_eq!(extra(&r, "uwsgi.cl"), Some(&Value::Int(7)));
    assert_eq!(s(&r, Field::HttpRequestId), Some("req-7f3a"));
    assert_eq!(r.severity, Some(Severity::WARN));
}

#[test]
fn json_shape_times_and_numbers() {
    let fmt = compile(
        r#"{"t":%(tmsecs),"host":"%(host)","secs":%(secs),"rssM":%(rssM),"epoch":%(epoch),"m":%(metric.worker.1.requests),"v":"%(var.REMOTE_PORT)"}"#,
    );
    let r = parsed(
        &fmt,
        r#"{"t":1796409232624,"host":"shop.example","secs":0.000234,"rssM":0,"epoch":1796409233,"m":12,"v":"5123"}"#,
    );
    assert_eq!(
        r.timestamp.unwrap().to_rfc3339(0),
        "2026-12-04T18:33:52.624Z"
    );
    assert_eq!(s(&r, Field::UwsgiVhost), Some("shop.example"));
    assert_eq!(float(&r, Field::HttpServerRequestDuration), Some(0.000234));
    assert_eq!(extra(&r, "uwsgi.rssM"), Some(&Value::Int(0)));
    assert_eq!(
        extra(&r, "uwsgi.metric.worker.1.requests"),
        Some(&Value::Int(12))
    );
    assert_eq!(
        extra(&r, "uwsgi.var.REMOTE_PORT"),
        Some(&Value::str("5123"))
    );
    assert_eq!(extra(&r, "uwsgi.epoch"), None);
    // Alone, `%(epoch)` (the time of writing) is the timestamp.
    let fmt = compile("%(epoch) %(status)");
    let r = parsed(&fmt, "1796409233 200");
    assert_eq!(r.timestamp.unwrap().to_rfc3339(0), "2026-12-04T18:33:53Z");
}

#[test]
fn request_id_vars_and_other_vars() {
    for name in ["HTTP_X_REQUEST_ID", "HTTP_REQUEST_ID", "REQUEST_ID"] {
        let fmt = compile(&format!("%(status) %(var.{name})"));
        let r = parsed(&fmt, "200 abc");
        assert_eq!(s(&r, Field::HttpRequestId), Some("abc"), "{name}");
        assert!(r.extra.is_empty());
    }
    let fmt = compile("%(status) %(var.HTTP_X_TRACE) %(var.http_x_request_id) %(Status)");
    let r = parsed(&fmt, "200 t1 lower 201");
    assert_eq!(extra(&r, "uwsgi.var.HTTP_X_TRACE"), Some(&Value::str("t1")));
    // Names are case-sensitive in uWSGI.
    assert_eq!(
        extra(&r, "uwsgi.var.http_x_request_id"),
        Some(&Value::str("lower"))
    );
    assert_eq!(extra(&r, "uwsgi.Status"), Some(&Value::str("201")));
    assert_eq!(r.get(Field::HttpRequestId), None);
    assert!(matches!(r.extra[0].0, Cow::Borrowed(_)));
}

#[test]
fn times_of_every_kind() {
    let fmt = compile("%(time)|%(ctime)|%(ltime)|%(ftime)");
    let r = parsed(
        &fmt,
        "1796409229|Fri Dec  4 18:33:49 2026|04/Dec/2026:18:33:49 +0100|04/Dec/2026:18:33:49 +0100",
    );
    // `%(ltime)` has a zone: it wins over ctime and time.
    assert_eq!(r.timestamp.unwrap().offset, Offset::Minutes(60));
    let fmt = compile("%(time) %(ctime) %(status)");
    let r = parsed(&fmt, "1796409229 Fri Dec  4 18:33:49 2026 200");
    assert_eq!(r.timestamp.unwrap().offset, Offset::Local);
    let f = compile("%(time) %(status)");
    let r = parsed(&f, "1796409229 200");
    assert_eq!(r.timestamp.unwrap().to_rfc3339(0), "2026-12-04T18:33:49Z");
    // `logformat-strftime` makes ftime the --logdate pattern: kept as text.
    let f = compile("%(ftime) | %(status)");
    let r = parsed(&f, "2026-12-04 18:33:49 | 200");
    assert_eq!(r.timestamp, None);
    assert_eq!(
        extra(&r, "uwsgi.ftime"),
        Some(&Value::str("2026-12-04 18:33:49"))
    );
    let r = parsed(&f, "Fri, 04 Dec 2026 18:33:49 GMT | 200");
    assert_eq!(r.timestamp, None);
    assert_eq!(
        extra(&r, "uwsgi.ftime"),
        Some(&Value::str("Fri, 04 Dec 2026 18:33:49 GMT"))
    );
    for (f, line) in [
        ("%(tmicros) %(status)", "99999999999999999999 200"),
        ("%(tmicros) %(status)", "253402300800000000 200"),
        ("%(ctime) %(status)", "Fri Dex  4 18:33:49 2026 200"),
        ("%(ltime) %(status)", "04/Dec/2026:18:33:49 200"),
        ("%(time) %(status)", "soon 200"),
    ] {
        let f = compile(f);
        assert!(!f.parse(line, &mut Record::default()), "accepted {line}");
    }
}

#[test]
fn dashes_empties_and_bad_numbers() {
    let fmt = compile("%(addr) %(pid) %(status) %(rsize) %(msecs) %(foo) %(uri) %(proto)");
    let r = parsed(&fmt, "- - - - - - - -");
    assert!(r.fields.is_empty() && r.extra.is_empty());
    assert_eq!(r.severity, None);
    let mut rec = Record::default();
    for line in [
        "10.0.0.1 8 2OO 5 1 x / HTTP/1.1",
        "10.0.0.1 8 200 5x 1 x / HTTP/1.1",
        "10.0.0.1 pid 200 5 1 x / HTTP/1.1",
        "10.0.0.1 8 200 5 1.5 x / HTTP/1.1",
        "10.0.0.1 8 200 5 -1 x / HTTP/1.1",
    ] {
        rec.push_str(Field::ServiceName, "web");
        assert!(!fmt.parse(line, &mut rec), "accepted: {line}");
        assert_eq!(rec.fields.len(), 1);
        assert!(rec.extra.is_empty());
        assert_eq!(rec.format, Format::Text);
        rec = Record::default();
    }
}

#[test]
fn first_of_two_equal_variables_wins() {
    let fmt = compile("%(status) %(status) %(msecs) %(micros) %(foo) %(foo)");
    let r = parsed(&fmt, "200 500 3 4000 a b");
    assert_eq!(i(&r, Field::HttpResponseStatusCode), Some(200));
    assert_eq!(r.severity, Some(Severity::INFO));
    assert_eq!(float(&r, Field::HttpServerRequestDuration), Some(0.003));
    assert_eq!(r.extra.len(), 1);
    assert_eq!(extra(&r, "uwsgi.foo"), Some(&Value::str("a")));
}

#[test]
fn prefix_percent_and_trailing_text() {
    let fmt = compile("100% req: %(method) [%(status)]");
    assert_eq!(fmt.variables().collect::<Vec<_>>(), ["method", "status"]);
    let r = parsed(&fmt, "100% req: GET [200] and more");
    assert_eq!(s(&r, Field::HttpRequestMethod), Some("GET"));
    let mut rec = Record::default();
    assert!(!fmt.parse("99% req: GET [200]", &mut rec));
    assert!(!fmt.parse("100% req: GET [200", &mut rec));
    // A variable last takes the rest of the line.
    let f = compile("%(status) %(uagent)");
    let r = parsed(&f, "200 curl/8 (x) y");
    assert_eq!(s(&r, Field::UserAgentOriginal), Some("curl/8 (x) y"));
}

#[test]
fn compile_errors_say_what_and_where() {
    assert_eq!(compile_err(""), "the log-format is empty");
    assert_eq!(
        compile_err("just text, 100%"),
        "the log-format has no `%(variable)`, so it would capture nothing"
    );
    assert_eq!(
        compile_err("%(addr)%(user)"),
        "`%(addr)` (byte 0) is directly followed by `%(user)` (byte 7): \
         with no literal text between them their values cannot be told apart"
    );
    assert_eq!(
        compile_err("x %(status) %(msecs"),
        "`%(` at byte 12 has no closing `)`"
    );
    assert_eq!(compile_err("a %()"), "`%()` at byte 2 names no variable");
    assert_eq!(
        compile_err("%(status) %(var.X Y)"),
        "variable name `var.X Y` at byte 10 contains ' ' at byte 17; \
         a name has no spaces, `%` or `(`"
    );
    assert_eq!(
        compile_err("%(a %(b)"),
        "variable name `a %(b` at byte 0 contains ' ' at byte 3; \
         a name has no spaces, `%` or `(`"
    );
    assert!(LogFormat::compile("%(a) %(b)c%(d)").is_ok());
}

const SAMPLES: &[(&str, &str)] = &[
    (IMAGE, IMAGE_LINE),
    (
        DEFAULT_LIKE,
        "[pid: 8|app: 0|req: 1/1] 127.0.0.1 () {34 vars in 412 bytes} [Wed Nov 25 18:35:12 2026] GET /hello/?name=x&y=1 => generated 12 bytes in 3 msecs (HTTP/1.1 200) 2 headers in 79 bytes (1 switches on core 0)",
    ),
    (
        r#"%(addr) [%(ltime)] "%(method) %(uri) %(proto)" %(status) %(secs) %(tmsecs)"#,
        r#"1.2.3.4, 10.0.0.1 [04/Dec/2026:18:33:51 +0000] "GET /a?b HTTP/1.1" 404 0.000234 1796409232624"#,
    ),
];

#[test]
fn every_prefix_of_the_samples() {
    for (format, line) in SAMPLES {
        let fmt = compile(format);
        for_every_cut(&[line], |cut| {
            let _ = fmt.parse(cut, &mut Record::default());
        });
    }
}

proptest! {
    #[test]
    fn compile_never_panics(bytes in any::<Vec<u8>>()) {
        let f = String::from_utf8_lossy(&bytes);
        if let Ok(fmt) = LogFormat::compile(&f) {
            let _ = fmt.parse(&f, &mut Record::default());
        }
    }

    #[test]
    fn compile_never_panics_on_format_like_text(
        f in r#"([-a-z_ "\[\]:,.%]|%\(|\)|%\(status\)|%\(ctime\)|%\(addr\)){0,24}"#,
        line in r#"[-0-9a-zA-Z_ "\[\]:,./+]{0,60}"#,
    ) {
        if let Ok(fmt) = LogFormat::compile(&f) {
            let mut rec = Record::default();
            if fmt.parse(&line, &mut rec) {
                prop_assert_eq!(rec.format, Format::UwsgiRequest);
            } else {
                prop_assert!(rec.fields.is_empty() && rec.extra.is_empty());
            }
        }
    }

    #[test]
    fn parse_never_panics_on_mutations(which in 0..SAMPLES.len(), edits in edits()) {
        let (format, line) = SAMPLES[which];
        let fmt = compile(format);
        let line = mutate(line, &edits);
        let _ = fmt.parse(&line, &mut Record::default());
    }
}
