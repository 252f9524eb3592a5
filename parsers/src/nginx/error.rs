//! nginx error-log lines and `nginx: [emerg] ...` startup lines.
//!
//! A line is `YYYY/MM/DD HH:MM:SS [level] PID#TID: [*CID ]MESSAGE` followed,
//! for anything tied to a connection, by a context such as `, client: A,
//! server: S, request: "..."`. The context values are not escaped, so a
//! client's raw `"` (or its TLS bytes) can sit inside `request: "..."`, and
//! nginx cuts lines at about 2048 bytes, sometimes before a closing quote.
//! The context is therefore found from the end: the last `, client: ` that
//! is followed by a well-formed (possibly cut) context tail. Everything
//! before it, ` while ACTION` included, is the message.

use std::borrow::Cow;
use std::sync::OnceLock;

use memchr::{memchr, memmem};

use super::Put;
use crate::field::{Field, Value};
use crate::record::{Format, Record};
use crate::scan::Cursor;
use crate::severity::Severity;
use crate::time::{parse_ymd_hms, Timestamp};

/// Parses one error-log line; on success sets format `nginx.error`.
pub fn parse<'a>(line: &'a str, rec: &mut Record<'a>) -> bool {
    if let Some(rest) = line.strip_prefix("nginx: [") {
        return startup(rest, rec);
    }
    if let Some(rest) = line.strip_prefix("nginx: ") {
        return config_test(rest, rec);
    }
    let Some(head) = header(line) else {
        return false;
    };
    let (message, context) = split_context(head.body);
    rec.format = Format::NginxError;
    rec.timestamp = Some(head.timestamp);
    rec.severity = Some(head.severity);
    rec.severity_text = Some(Cow::Borrowed(head.word));
    rec.message = Some(Cow::Borrowed(message));
    rec.push_int(Field::ProcessPid, head.pid);
    rec.push_int(Field::ThreadId, head.tid);
    if let Some(cid) = head.cid {
        rec.push_int(Field::NginxConnectionId, cid);
    }
    if let Some(ctx) = context {
        push_context(rec, &ctx);
    }
    true
}

/// `nginx: [emerg] bind() to 0.0.0.0:80 failed (98: Address already in use)`,
/// printed to stderr before the log files are open (`rest` is after `[`).
fn startup<'a>(rest: &'a str, rec: &mut Record<'a>) -> bool {
    let mut c = Cursor::new(rest);
    let Some((word, severity)) = c
        .until(b']')
        .and_then(|level| Severity::from_syslog_name(level.as_bytes()).map(|s| (level, s)))
    else {
        return false;
    };
    if !(c.eat_byte(b' ') || c.is_empty()) {
        return false;
    }
    rec.format = Format::NginxError;
    rec.severity = Some(severity);
    rec.severity_text = Some(Cow::Borrowed(word));
    rec.message = Some(Cow::Borrowed(c.rest()));
    true
}

/// `nginx -t`'s verdict lines, printed without a level:
/// `nginx: the configuration file /etc/nginx/nginx.conf syntax is ok`,
/// `nginx: configuration file /etc/nginx/nginx.conf test is successful` or
/// `… test failed`.
fn config_test<'a>(rest: &'a str, rec: &mut Record<'a>) -> bool {
    let about_config =
        rest.starts_with("the configuration file ") || rest.starts_with("configuration file ");
    let severity = if rest.ends_with(" test failed") {
        Severity::ERROR
    } else if rest.ends_with(" syntax is ok") || rest.ends_with(" test is successful") {
        Severity::INFO2
    } else {
        return false;
    };
    if !about_config {
        return false;
    }
    rec.format = Format::NginxError;
    rec.severity = Some(severity);
    rec.message = Some(Cow::Borrowed(rest));
    true
}

/// The fixed part of a line, up to the message.
struct Header<'a> {
    timestamp: Timestamp,
    severity: Severity,
    /// nginx's own level word (`crit`, `notice`), kept as `severity_text`.
    word: &'a str,
    pid: i64,
    tid: i64,
    cid: Option<i64>,
    /// The message and its context.
    body: &'a str,
}

fn header(line: &str) -> Option<Header<'_>> {
    let timestamp = parse_ymd_hms(line.as_bytes(), b'/', b' ')?;
    let mut c = Cursor::new(line.get(19..)?);
    if !c.eat(" [") {
        return None;
    }
    let word = c.until(b']')?;
    let severity = Severity::from_syslog_name(word.as_bytes())?;
    if !c.eat_byte(b' ') {
        return None;
    }
    let pid = c.number()? as i64;
    if !c.eat_byte(b'#') {
        return None;
    }
    let tid = c.number()? as i64;
    if !c.eat_byte(b':') || !(c.eat_byte(b' ') || c.is_empty()) {
        return None;
    }
    // `*CID ` only when the event belongs to a connection.
    let mut cid = None;
    let mut after = c;
    if after.eat_byte(b'*') {
        if let Some(n) = after.number() {
            if after.eat_byte(b' ') || after.is_empty() {
                cid = Some(n as i64);
                c = after;
            }
        }
    }
    Some(Header {
        timestamp,
        severity,
        word,
        pid,
        tid,
        cid,
        body: c.rest(),
    })
}

/// The optional keys after `client` and `server`, in the order nginx
/// (`ngx_http_log_error_handler`) prints them.
const KEYS: [&str; 5] = [
    ", request: \"",
    ", subrequest: \"",
    ", upstream: \"",
    ", host: \"",
    ", referrer: \"",
];

/// The context of one line; values borrow from it, unescaped.
#[derive(Debug, Default, PartialEq, Eq)]
struct Context<'a> {
    client: &'a str,
    server: Option<&'a str>,
    /// request, subrequest, upstream, host, referrer, as in [`KEYS`].
    values: [Option<&'a str>; 5],
}

/// How many `client: ` candidates are tried, from the end, so a line made
/// of them cannot cost quadratic time.
const MAX_CANDIDATES: usize = 8;

/// Splits the message from its context, if it has one.
fn split_context(body: &str) -> (&str, Option<Context<'_>>) {
    let b = body.as_bytes();
    static FINDER: OnceLock<memmem::FinderRev<'static>> = OnceLock::new();
    let finder = FINDER.get_or_init(|| memmem::FinderRev::new(b"client: "));
    let mut end = b.len();
    for _ in 0..MAX_CANDIDATES {
        let Some(at) = b.get(..end).and_then(|h| finder.rfind(h)) else {
            break;
        };
        end = at;
        // The stream module writes `, udp client: ` for UDP sessions.
        let start = if at >= 2 && b.get(at - 2..at) == Some(b", ") {
            at - 2
        } else if at >= 6 && b.get(at - 6..at) == Some(b", udp ") {
            at - 6
        } else {
            continue;
        };
        let tail = body.get(at + 8..).and_then(parse_tail);
        if let (Some(ctx), Some(message)) = (tail, body.get(..start)) {
            return (message, Some(ctx));
        }
    }
    (body, None)
}

/// True when `rest` is cut somewhere inside `lit` (a proper prefix of it).
fn cut_inside(rest: &str, lit: &str) -> bool {
    rest.len() < lit.len() && lit.starts_with(rest)
}

/// Parses what follows `client: `. A line cut anywhere still parses.
fn parse_tail(t: &str) -> Option<Context<'_>> {
    let token = |s: &str| !s.bytes().any(|b| b == b' ' || b == b'"');
    let comma = memchr(b',', t.as_bytes()).unwrap_or(t.len());
    let client = t.get(..comma)?;
    if client.is_empty() || !token(client) {
        return None;
    }
    let mut ctx = Context {
        client,
        ..Context::default()
    };
    let rest = t.get(comma..)?;
    let Some(rest) = rest.strip_prefix(", server: ") else {
        return (rest.is_empty() || cut_inside(rest, ", server: ")).then_some(ctx);
    };
    // An empty server is possible (`server_name ""`).
    let comma = memchr(b',', rest.as_bytes()).unwrap_or(rest.len());
    let server = rest.get(..comma)?;
    if !token(server) {
        return None;
    }
    ctx.server = Some(server);
    let mut rest = rest.get(comma..)?;
    let mut next = 0;
    while !rest.is_empty() {
        let Some(k) = (next..KEYS.len()).find(|&k| rest.starts_with(KEYS[k])) else {
            return KEYS
                .get(next..)?
                .iter()
                .any(|key| cut_inside(rest, key))
                .then_some(ctx);
        };
        let value = rest.get(KEYS[k].len()..)?;
        // Values are raw and may hold `"`: the closing quote is the first
        // one followed by the end or by a later key.
        let mut close = None;
        let mut from = 0;
        while let Some(q) = memchr(b'"', value.as_bytes().get(from..)?) {
            let after = value.get(from + q + 1..)?;
            let ends =
                after.is_empty() || KEYS.get(k + 1..)?.iter().any(|key| after.starts_with(key));
            if ends {
                close = Some(from + q);
                break;
            }
            from += q + 1;
        }
        // No closing quote: the line was cut inside this value.
        let close = close.unwrap_or(value.len());
        ctx.values[k] = Some(value.get(..close)?);
        rest = value.get(close..)?;
        rest = rest.strip_prefix('"').unwrap_or(rest);
        next = k + 1;
    }
    Some(ctx)
}

fn push_context<'a>(rec: &mut Record<'a>, ctx: &Context<'a>) {
    let put = Put {
        decode: false,
        json: false,
        once: false,
    };
    rec.push_str(Field::ClientAddress, ctx.client);
    if let Some(server) = ctx.server.filter(|s| !s.is_empty()) {
        rec.push_str(Field::ServerAddress, server);
    }
    let [request, subrequest, upstream, host, referrer] = ctx.values;
    if let Some(r) = request {
        put.request(rec, r);
    }
    if let Some(s) = subrequest.filter(|s| !s.is_empty()) {
        rec.extra
            .push((Cow::Borrowed("nginx.subrequest"), Value::str(s)));
    }
    for (field, value) in [
        (Field::NginxUpstream, upstream),
        (Field::HttpRequestHeaderHost, host),
        (Field::HttpRequestHeaderReferer, referrer),
    ] {
        if let Some(v) = value.filter(|v| !v.is_empty()) {
            rec.push_str(field, v);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nginx::testutil::{assert_unique, i, mutate, mutation, s};
    use crate::time::Offset;
    use proptest::prelude::*;

    const LINE: &str = r#"2026/11/25 18:40:02 [error] 29#29: *5 open() "/usr/share/nginx/html/favicon.ico" failed (2: No such file or directory), client: 172.17.0.1, server: localhost, request: "GET /favicon.ico HTTP/1.1", host: "localhost:8080", referrer: "http://localhost:8080/""#;

    #[test]
    fn severity_text_is_nginx_s_own_word() {
        let r = parsed("2026/11/25 18:40:02 [crit] 29#29: disk full");
        assert_eq!(r.severity_text.as_deref(), Some("crit"));
        assert_eq!(r.severity.map(|s| s.number()), Some(18));
        let r = parsed("nginx: [emerg] bind() to 0.0.0.0:80 failed");
        assert_eq!(r.severity_text.as_deref(), Some("emerg"));
    }

    fn parsed(line: &str) -> Record<'_> {
        let mut rec = Record::default();
        assert!(parse(line, &mut rec), "rejected: {line}");
        assert_eq!(rec.format, Format::NginxError);
        assert_unique(&rec);
        rec
    }

    fn message<'r>(rec: &'r Record<'_>) -> &'r str {
        rec.message.as_deref().expect("a message")
    }

    #[test]
    fn full_context() {
        let r = parsed(LINE);
        let ts = r.timestamp.unwrap();
        assert_eq!(ts.offset, Offset::Local);
        assert_eq!(ts.to_rfc3339(60), "2026-11-25T18:40:02+01:00");
        assert_eq!(r.severity, Some(Severity::ERROR));
        assert_eq!(
            message(&r),
            r#"open() "/usr/share/nginx/html/favicon.ico" failed (2: No such file or directory)"#
        );
        assert_eq!(i(&r, Field::ProcessPid), Some(29));
        assert_eq!(i(&r, Field::ThreadId), Some(29));
        assert_eq!(i(&r, Field::NginxConnectionId), Some(5));
        assert_eq!(s(&r, Field::ClientAddress), Some("172.17.0.1"));
        assert_eq!(s(&r, Field::ServerAddress), Some("localhost"));
        assert_eq!(
            s(&r, Field::NginxRequest),
            Some("GET /favicon.ico HTTP/1.1")
        );
        assert_eq!(s(&r, Field::HttpRequestMethod), Some("GET"));
        assert_eq!(s(&r, Field::UrlOriginal), Some("/favicon.ico"));
        assert_eq!(s(&r, Field::UrlPath), Some("/favicon.ico"));
        assert_eq!(s(&r, Field::NetworkProtocolName), Some("http"));
        assert_eq!(s(&r, Field::NetworkProtocolVersion), Some("1.1"));
        assert_eq!(s(&r, Field::HttpRequestHeaderHost), Some("localhost:8080"));
        assert_eq!(
            s(&r, Field::HttpRequestHeaderReferer),
            Some("http://localhost:8080/")
        );
        assert_eq!(r.fields.len(), 13);
    }

    #[test]
    fn upstream_and_while() {
        let r = parsed(
            r#"2026/11/25 18:41:10 [error] 29#29: *7 connect() failed (111: Connection refused) while connecting to upstream, client: 172.17.0.1, server: example.com, request: "POST /api/v1/items?x=1 HTTP/1.1", upstream: "uwsgi://unix:/run/uwsgi.sock:", host: "example.com""#,
        );
        assert_eq!(
            message(&r),
            "connect() failed (111: Connection refused) while connecting to upstream"
        );
        assert_eq!(s(&r, Field::UrlQuery), Some("x=1"));
        assert_eq!(s(&r, Field::UrlPath), Some("/api/v1/items"));
        assert_eq!(
            s(&r, Field::NginxUpstream),
            Some("uwsgi://unix:/run/uwsgi.sock:")
        );
        assert_eq!(s(&r, Field::HttpRequestHeaderHost), Some("example.com"));
        assert_eq!(r.get(Field::HttpRequestHeaderReferer), None);
    }

    #[test]
    fn subrequest_goes_to_extra() {
        let r = parsed(
            r#"2026/11/25 18:41:10 [error] 29#29: *9 auth request unexpected status: 502 while sending to client, client: 10.1.2.3, server: app, request: "GET /private HTTP/1.1", subrequest: "/auth", upstream: "http://127.0.0.1:9000/auth", host: "app""#,
        );
        assert_eq!(r.extra.len(), 1);
        assert_eq!(r.extra[0].0, "nginx.subrequest");
        assert_eq!(r.extra[0].1, Value::str("/auth"));
        assert_eq!(
            s(&r, Field::NginxUpstream),
            Some("http://127.0.0.1:9000/auth")
        );
    }

    #[test]
    fn without_connection_or_context() {
        let r = parsed("2026/11/25 18:35:12 [notice] 1#1: start worker process 31");
        assert_eq!(r.severity, Some(Severity::INFO2));
        assert_eq!(message(&r), "start worker process 31");
        assert_eq!(i(&r, Field::ProcessPid), Some(1));
        assert_eq!(r.get(Field::NginxConnectionId), None);
        assert_eq!(r.fields.len(), 2);

        let r = parsed(
            r#"2026/11/25 18:35:12 [warn] 1#1: conflicting server name "example.com" on 0.0.0.0:80, ignored"#,
        );
        assert_eq!(r.severity, Some(Severity::WARN));
        assert_eq!(
            message(&r),
            r#"conflicting server name "example.com" on 0.0.0.0:80, ignored"#
        );
        assert_eq!(r.get(Field::ClientAddress), None);
    }

    #[test]
    fn connection_without_request() {
        let r = parsed("2026/11/25 18:35:12 [info] 30#30: *1 client closed connection while SSL handshaking, client: ::1, server: 0.0.0.0:443");
        assert_eq!(r.severity, Some(Severity::INFO));
        assert_eq!(
            message(&r),
            "client closed connection while SSL handshaking"
        );
        assert_eq!(s(&r, Field::ClientAddress), Some("::1"));
        assert_eq!(s(&r, Field::ServerAddress), Some("0.0.0.0:443"));
        assert_eq!(r.get(Field::NginxRequest), None);
    }

    #[test]
    fn raw_quote_inside_request() {
        let r = parsed(
            r#"2026/11/25 18:42:00 [info] 30#30: *11 client sent invalid request while reading client request line, client: 10.0.0.9, server: _, request: "GET /a"b HTTP/1.1", host: "x.example""#,
        );
        assert_eq!(s(&r, Field::NginxRequest), Some(r#"GET /a"b HTTP/1.1"#));
        assert_eq!(s(&r, Field::UrlPath), Some(r#"/a"b"#));
        assert_eq!(s(&r, Field::HttpRequestHeaderHost), Some("x.example"));
        assert_eq!(s(&r, Field::ServerAddress), Some("_"));
    }

    #[test]
    fn tls_bytes_inside_request() {
        let line = "2026/11/25 18:35:12 [info] 30#30: *3 client sent invalid method while reading client request line, client: 127.0.0.1, server: localhost, request: \"\u{16}\u{3}\u{1}\u{0}\u{FFFD}\u{1}\u{0}\u{0}\u{FFFD}\u{3}\u{3}garbage\"";
        let r = parsed(line);
        assert_eq!(
            s(&r, Field::NginxRequest),
            Some("\u{16}\u{3}\u{1}\u{0}\u{FFFD}\u{1}\u{0}\u{0}\u{FFFD}\u{3}\u{3}garbage")
        );
        assert_eq!(r.get(Field::HttpRequestMethod), None);
        assert_eq!(r.get(Field::UrlPath), None);
        assert_eq!(
            message(&r),
            "client sent invalid method while reading client request line"
        );
    }

    #[test]
    fn cut_lines() {
        // Cut inside the request value: no closing quote.
        let long = "a".repeat(1900);
        let line = format!(
            r#"2026/11/25 18:43:00 [error] 31#31: *20 upstream sent too big header while reading response header from upstream, client: 10.0.0.3, server: example.com, request: "GET /{long}"#
        );
        let r = parsed(&line);
        let req = s(&r, Field::NginxRequest).unwrap();
        assert_eq!(req.len(), 1905);
        assert!(req.starts_with("GET /aaa"));
        // Without a protocol and with no spaces it reads as HTTP/0.9.
        assert_eq!(s(&r, Field::HttpRequestMethod), Some("GET"));
        assert_eq!(
            message(&r),
            "upstream sent too big header while reading response header from upstream"
        );

        // Cut inside a key, after the server, or inside the client.
        for (tail, server) in [
            (
                ", client: 10.0.0.3, server: example.com, requ",
                Some("example.com"),
            ),
            (", client: 10.0.0.3, server: exa", Some("exa")),
            (", client: 10.0.0.3, serv", None),
            (", client: 10.0", None),
        ] {
            let line = format!("2026/11/25 18:43:00 [error] 31#31: *20 boom{tail}");
            let r = parsed(&line);
            assert_eq!(message(&r), "boom", "{tail}");
            assert_eq!(s(&r, Field::ServerAddress), server, "{tail}");
            assert!(s(&r, Field::ClientAddress).is_some());
            assert_eq!(r.get(Field::NginxRequest), None);
        }

        // Cut inside the header.
        let r = parsed("2026/11/25 18:43:00 [error] 31#31: *20");
        assert_eq!(i(&r, Field::NginxConnectionId), Some(20));
        assert_eq!(message(&r), "");
    }

    #[test]
    fn client_text_in_the_message_is_not_the_context() {
        let r = parsed(
            r#"2026/11/25 18:44:00 [info] 30#30: *12 client sent invalid header line: "X-A: 1, client: 6.6.6.6, server: evil" while reading client request headers, client: 10.0.0.5, server: _, request: "GET / HTTP/1.1", host: "a.example""#,
        );
        assert_eq!(s(&r, Field::ClientAddress), Some("10.0.0.5"));
        assert_eq!(
            message(&r),
            r#"client sent invalid header line: "X-A: 1, client: 6.6.6.6, server: evil" while reading client request headers"#
        );
        // ... nor is one inside the request.
        let r = parsed(
            r#"2026/11/25 18:44:00 [info] 30#30: *12 client sent invalid request, client: 10.0.0.5, server: _, request: "GET /, client: 6.6.6.6, server: evil HTTP/1.1""#,
        );
        assert_eq!(s(&r, Field::ClientAddress), Some("10.0.0.5"));
        assert_eq!(
            s(&r, Field::NginxRequest),
            Some("GET /, client: 6.6.6.6, server: evil HTTP/1.1")
        );
    }

    #[test]
    fn empty_server_name_and_udp() {
        let r = parsed(
            r#"2026/11/25 18:44:00 [error] 30#30: *2 boom, client: 10.0.0.5, server: , request: "GET / HTTP/1.1""#,
        );
        assert_eq!(r.get(Field::ServerAddress), None);
        assert_eq!(s(&r, Field::UrlPath), Some("/"));
        let r = parsed("2026/11/25 18:44:00 [error] 30#30: *2 upstream timed out, udp client: 10.0.0.5, server: 0.0.0.0:53, upstream: \"10.0.0.53:53\"");
        assert_eq!(message(&r), "upstream timed out");
        assert_eq!(s(&r, Field::NginxUpstream), Some("10.0.0.53:53"));
    }

    #[test]
    fn unknown_tail_keeps_the_whole_message() {
        let r = parsed(
            r#"2026/11/25 18:44:00 [error] 30#30: *2 boom, client: 10.0.0.5, server: mail, login: "bob""#,
        );
        assert_eq!(
            message(&r),
            r#"boom, client: 10.0.0.5, server: mail, login: "bob""#
        );
        assert_eq!(r.get(Field::ClientAddress), None);
    }

    #[test]
    fn startup_lines() {
        let r = parsed("nginx: [emerg] bind() to 0.0.0.0:80 failed (98: Address already in use)");
        assert_eq!(r.severity, Some(Severity::FATAL));
        assert_eq!(r.timestamp, None);
        assert_eq!(
            message(&r),
            "bind() to 0.0.0.0:80 failed (98: Address already in use)"
        );
        assert!(r.fields.is_empty());
        let r = parsed(
            r#"nginx: [warn] the "user" directive makes sense only if the master process runs with super-user privileges, ignored in /etc/nginx/nginx.conf:1"#,
        );
        assert_eq!(r.severity, Some(Severity::WARN));

        let mut rec = Record::default();
        assert!(!parse("nginx: [loud] oops", &mut rec));
        assert!(!parse("nginx: hello", &mut rec));
        let r = parsed("nginx: the configuration file /etc/nginx/nginx.conf syntax is ok");
        assert_eq!(r.severity, Some(Severity::INFO2));
        assert_eq!(
            message(&r),
            "the configuration file /etc/nginx/nginx.conf syntax is ok"
        );
        let r = parsed("nginx: configuration file /etc/nginx/nginx.conf test failed");
        assert_eq!(r.severity, Some(Severity::ERROR));
    }

    #[test]
    fn rejects_other_shapes() {
        let mut rec = Record::default();
        for line in [
            "",
            "2026/11/25 18:35:12",
            "2026/11/25 18:35:12 [verbose] 1#1: x",
            "2026/11/25 18:35:12 [notice] 1: x",
            "2026/11/25 18:35:12 [notice] 1#1 x",
            "2026/11/25 18:35:12 [notice] x#1: x",
            "2026-11-25 18:35:12 [notice] 1#1: x",
            "2026/13/25 18:35:12 [notice] 1#1: x",
        ] {
            assert!(!parse(line, &mut rec), "accepted: {line}");
        }
        assert!(rec.fields.is_empty() && rec.message.is_none());
    }

    proptest! {
        #[test]
        fn never_panics_on_bytes(bytes in any::<Vec<u8>>()) {
            let line = String::from_utf8_lossy(&bytes);
            let mut rec = Record::default();
            let _ = parse(&line, &mut rec);
            let with_prefix = format!("2026/11/25 18:35:12 [error] 1#1: *1 x, client: {line}");
            let _ = parse(&with_prefix, &mut Record::default());
        }

        #[test]
        fn never_panics_on_mutations(edits in prop::collection::vec(mutation(), 1..6)) {
            let line = mutate(LINE, &edits);
            let mut rec = Record::default();
            if parse(&line, &mut rec) {
                prop_assert!(rec.message.is_some());
            }
        }
    }
}
