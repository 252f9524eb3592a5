//! nginx access lines in the `combined` or `common` format.
//!
//! `combined` is `$remote_addr - $remote_user [$time_local] "$request"
//! $status $body_bytes_sent "$http_referer" "$http_user_agent"`; `common`
//! stops after `$body_bytes_sent`. Text after the user agent's closing quote
//! (people often append `"$http_x_forwarded_for"` or timings) is accepted and
//! ignored. This is the hot path: one left-to-right pass with `memchr`, every
//! part validated before anything is pushed, and strings borrowed unless a
//! `\xHH` escape has to be decoded.

use memchr::memchr;

use super::{parse_time_local, split_request, status_severity, Put, TIME_LOCAL_LEN};
use crate::field::{Field, Value};
use crate::record::{Format, Record};
use crate::scan::{find_byte, parse_u64, Cursor};

/// Field values of one line, before they are pushed.
struct Line<'a> {
    addr: &'a str,
    user: &'a str,
    request: &'a str,
    status: i64,
    bytes: i64,
    referer: Option<&'a str>,
    agent: Option<&'a str>,
    /// `"$http_x_forwarded_for"` ending the line: the nginx image's `main`.
    forwarded_for: Option<&'a str>,
}

/// Parses one access line; on success sets format `nginx.access`, the
/// timestamp from `$time_local`, severity from the status, and the fields.
pub fn parse<'a>(line: &'a str, rec: &mut Record<'a>) -> bool {
    let Some((l, ts)) = split(line) else {
        return false;
    };
    rec.format = Format::NginxAccess;
    rec.timestamp = Some(ts);
    rec.severity = Some(status_severity(l.status));
    // One look for `\\` over the line rather than one per field: without
    // one, no field has an escape to decode.
    let put = Put {
        decode: memchr(b'\\', line.as_bytes()).is_some(),
        json: false,
        once: false,
    };
    push_sorted(rec, put, &l);
    true
}

/// Pushes the fields in schema order, so that sorting the record (which
/// the engine does before adding its envelope) finds nothing to move.
#[inline]
fn push_sorted<'a>(rec: &mut Record<'a>, put: Put, l: &Line<'a>) {
    // `-`: no request started; `""`: the client sent only CRLF.
    let request = Some(l.request).filter(|r| r.as_bytes() != b"-");
    let parts = request.and_then(split_request);
    let uri = parts.and_then(|p| p.parts);
    rec.push_str(Field::ClientAddress, l.addr);
    if let Some(r) = l.referer {
        put.text_unless_dash(rec, Field::HttpRequestHeaderReferer, r);
    }
    if let Some(f) = l.forwarded_for {
        put.text_unless_dash(rec, Field::HttpRequestHeaderXForwardedFor, f);
    }
    if let Some(p) = parts {
        rec.push(Field::HttpRequestMethod, Value::str(p.method));
    }
    rec.push(Field::HttpResponseBodySize, Value::Int(l.bytes));
    rec.push_int(Field::HttpResponseStatusCode, l.status);
    if let Some(v) = parts.and_then(|p| p.version) {
        rec.push(Field::NetworkProtocolName, Value::str("http"));
        rec.push(Field::NetworkProtocolVersion, Value::str(v));
    }
    if let Some(r) = request {
        put.text(rec, Field::NginxRequest, r);
    }
    if let Some(p) = parts {
        put.text_unless_dash(rec, Field::UrlOriginal, p.uri);
    }
    if let Some(u) = uri {
        for (field, value) in [
            (Field::UrlPath, u.path),
            (Field::UrlQuery, u.query),
            (Field::UrlScheme, u.scheme),
        ] {
            if let Some(v) = value {
                put.text(rec, field, v);
            }
        }
    }
    put.text_unless_dash(rec, Field::UserName, l.user);
    if let Some(a) = l.agent {
        put.text_unless_dash(rec, Field::UserAgentOriginal, a);
    }
}

/// Consumes ` "`. Byte by byte: `Cursor::eat` on two bytes is a `memcmp` call.
#[inline]
fn eat_open_quote(c: &mut Cursor<'_>) -> bool {
    let mut ahead = *c;
    if ahead.eat_byte(b' ') && ahead.eat_byte(b'"') {
        *c = ahead;
        return true;
    }
    false
}

/// Cuts a line into its fields without touching the record.
#[inline]
fn split(line: &str) -> Option<(Line<'_>, crate::time::Timestamp)> {
    let mut c = Cursor::new(line);
    let addr = c.until(b' ')?;
    if addr.is_empty() || !addr.bytes().all(|b| b.is_ascii_graphic() && b != b'"') {
        return None;
    }
    if !(c.eat_byte(b'-') && c.eat_byte(b' ')) {
        return None;
    }
    // `$remote_user` is escaped but may hold spaces or `[`: the time is the
    // first ` [` followed by a valid `$time_local]`.
    let rest = c.rest();
    let mut from = 0;
    let (user, ts) = loop {
        let at = from + find_byte(b'[', rest.as_bytes().get(from..)?)?;
        let user = at
            .checked_sub(1)
            .and_then(|end| (rest.as_bytes().get(end) == Some(&b' ')).then(|| rest.get(..end))?);
        let time = rest.as_bytes().get(at + 1..)?;
        if let (Some(user), Some(ts)) = (user, parse_time_local(time)) {
            if let Some([b']', b' ', b'"']) = time.get(TIME_LOCAL_LEN..TIME_LOCAL_LEN + 3) {
                c = Cursor::new(rest.get(at + 1 + TIME_LOCAL_LEN + 3..)?);
                break (user, ts);
            }
        }
        from = at + 1;
    };
    // Default escaping writes `"` as `\x22`, so the first quote closes.
    let request = c.until(b'"')?;
    if !c.eat_byte(b' ') {
        return None;
    }
    let status = c.rest().as_bytes().get(..3)?;
    let status = parse_u64(status)? as i64;
    c = Cursor::new(c.rest().get(3..)?);
    if !c.eat_byte(b' ') {
        return None;
    }
    let bytes = c.number()? as i64;
    if !(c.is_empty() || c.peek() == Some(b' ')) {
        return None;
    }
    let mut referer = None;
    let mut agent = None;
    let mut forwarded_for = None;
    if eat_open_quote(&mut c) {
        referer = Some(c.until(b'"')?);
        if eat_open_quote(&mut c) {
            agent = Some(c.until(b'"')?);
            // Only when it ends the line: other trailing fields stay ignored.
            let mut ahead = c;
            if eat_open_quote(&mut ahead) {
                let value = ahead.until(b'"');
                if ahead.is_empty() {
                    forwarded_for = value;
                }
            }
        }
    }
    Some((
        Line {
            addr,
            user,
            request,
            status,
            bytes,
            referer,
            agent,
            forwarded_for,
        },
        ts,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nginx::testutil::{assert_unique, i, mutate, mutation, s};
    use crate::severity::Severity;
    use crate::time::Offset;
    use proptest::prelude::*;

    const LINE: &str = r#"203.0.113.9 - alice [05/Mar/2024:10:15:32 +0100] "GET /search?q=rust&page=2 HTTP/1.1" 200 5316 "https://example.com/start" "Mozilla/5.0 (X11; Linux x86_64; rv:123.0) Gecko/20100101 Firefox/123.0""#;

    fn parsed(line: &str) -> Record<'_> {
        let mut rec = Record::default();
        assert!(parse(line, &mut rec), "rejected: {line}");
        assert_eq!(rec.format, Format::NginxAccess);
        assert_unique(&rec);
        rec
    }

    fn rejects(line: &str) {
        let mut rec = Record::default();
        assert!(!parse(line, &mut rec), "accepted: {line}");
        assert!(rec.fields.is_empty() && rec.timestamp.is_none());
    }

    #[test]
    fn combined() {
        let r = parsed(LINE);
        let ts = r.timestamp.unwrap();
        assert_eq!(ts.offset, Offset::Minutes(60));
        assert_eq!(ts.to_rfc3339(0), "2024-03-05T10:15:32+01:00");
        assert_eq!(r.severity, Some(Severity::INFO));
        assert_eq!(s(&r, Field::ClientAddress), Some("203.0.113.9"));
        assert_eq!(s(&r, Field::UserName), Some("alice"));
        assert_eq!(
            s(&r, Field::NginxRequest),
            Some("GET /search?q=rust&page=2 HTTP/1.1")
        );
        assert_eq!(s(&r, Field::HttpRequestMethod), Some("GET"));
        assert_eq!(s(&r, Field::UrlOriginal), Some("/search?q=rust&page=2"));
        assert_eq!(s(&r, Field::UrlPath), Some("/search"));
        assert_eq!(s(&r, Field::UrlQuery), Some("q=rust&page=2"));
        assert_eq!(s(&r, Field::NetworkProtocolName), Some("http"));
        assert_eq!(s(&r, Field::NetworkProtocolVersion), Some("1.1"));
        assert_eq!(i(&r, Field::HttpResponseStatusCode), Some(200));
        assert_eq!(i(&r, Field::HttpResponseBodySize), Some(5316));
        assert_eq!(
            s(&r, Field::HttpRequestHeaderReferer),
            Some("https://example.com/start")
        );
        assert_eq!(
            s(&r, Field::UserAgentOriginal),
            Some("Mozilla/5.0 (X11; Linux x86_64; rv:123.0) Gecko/20100101 Firefox/123.0")
        );
        assert_eq!(r.fields.len(), 13);
        assert!(!r.invalid_utf8);
        assert!(r.message.is_none());
    }

    #[test]
    fn fields_are_pushed_in_schema_order() {
        for line in [
            LINE,
            r#"10.0.0.1 - bob [05/Mar/2024:10:15:33 +0000] "GET http://example.com/a?b=c HTTP/1.1" 200 5 "https://r/" "curl/8" "198.51.100.7""#,
            r#"10.0.0.1 - - [05/Mar/2024:10:15:33 +0000] "CONNECT example.com:443 HTTP/1.1" 200 0 "-" "-""#,
        ] {
            let r = parsed(line);
            let order: Vec<Field> = r.fields.iter().map(|(f, _)| *f).collect();
            let mut sorted = order.clone();
            sorted.sort();
            assert_eq!(order, sorted, "{line}");
        }
    }

    #[test]
    fn common_and_dashes() {
        let r = parsed(
            r#"192.168.1.20 - - [05/Mar/2024:10:15:33 -0530] "POST /api/items HTTP/2.0" 502 157"#,
        );
        assert_eq!(r.timestamp.unwrap().offset, Offset::Minutes(-330));
        assert_eq!(r.severity, Some(Severity::ERROR));
        assert_eq!(s(&r, Field::UserName), None);
        assert_eq!(s(&r, Field::UrlPath), Some("/api/items"));
        assert_eq!(s(&r, Field::UrlQuery), None);
        assert_eq!(s(&r, Field::NetworkProtocolVersion), Some("2.0"));
        assert_eq!(i(&r, Field::HttpResponseStatusCode), Some(502));
        assert_eq!(s(&r, Field::HttpRequestHeaderReferer), None);
        assert_eq!(s(&r, Field::UserAgentOriginal), None);

        let r = parsed(
            r#"10.0.0.1 - - [05/Mar/2024:10:15:33 +0000] "GET /missing HTTP/1.1" 404 0 "-" "-""#,
        );
        assert_eq!(r.severity, Some(Severity::WARN));
        assert_eq!(s(&r, Field::HttpRequestHeaderReferer), None);
        assert_eq!(s(&r, Field::UserAgentOriginal), None);
        assert_eq!(r.fields.len(), 9);
    }

    #[test]
    fn captured_tls_garbage() {
        let r = parsed(
            r#"127.0.0.1 - - [25/Nov/2026:18:35:12 +0000] "\x16\x03\x01\x00\xA5\x01\x00\x00\xA1\x03\x03garbage" 400 157 "-" "-""#,
        );
        assert_eq!(
            s(&r, Field::NginxRequest),
            Some("\u{16}\u{3}\u{1}\u{0}\u{FFFD}\u{1}\u{0}\u{0}\u{FFFD}\u{3}\u{3}garbage")
        );
        assert!(r.invalid_utf8);
        assert_eq!(r.get(Field::HttpRequestMethod), None);
        assert_eq!(r.get(Field::UrlOriginal), None);
        assert_eq!(r.get(Field::NetworkProtocolVersion), None);
        assert_eq!(i(&r, Field::HttpResponseStatusCode), Some(400));
        assert_eq!(r.severity, Some(Severity::WARN));
    }

    #[test]
    fn captured_empty_request() {
        let r = parsed(r#"127.0.0.1 - - [25/Nov/2026:18:35:15 +0000] "" 400 0 "-" "-""#);
        assert_eq!(s(&r, Field::NginxRequest), Some(""));
        assert_eq!(r.get(Field::HttpRequestMethod), None);
        assert_eq!(r.get(Field::UrlPath), None);
        assert_eq!(i(&r, Field::HttpResponseBodySize), Some(0));
        assert_eq!(r.fields.len(), 4);
    }

    #[test]
    fn no_request_at_all() {
        let r = parsed(r#"127.0.0.1 - - [25/Nov/2026:18:35:15 +0000] "-" 408 0 "-" "-""#);
        assert_eq!(r.get(Field::NginxRequest), None);
        assert_eq!(i(&r, Field::HttpResponseStatusCode), Some(408));
    }

    #[test]
    fn http_0_9() {
        let r =
            parsed(r#"127.0.0.1 - - [25/Nov/2026:18:36:01 +0000] "GET /hello/" 200 12 "-" "-""#);
        assert_eq!(s(&r, Field::NginxRequest), Some("GET /hello/"));
        assert_eq!(s(&r, Field::HttpRequestMethod), Some("GET"));
        assert_eq!(s(&r, Field::UrlOriginal), Some("/hello/"));
        assert_eq!(s(&r, Field::UrlPath), Some("/hello/"));
        assert_eq!(r.get(Field::NetworkProtocolName), None);
        assert_eq!(r.get(Field::NetworkProtocolVersion), None);
    }

    #[test]
    fn spaces_in_url() {
        let r = parsed(
            r#"127.0.0.1 - - [25/Nov/2026:18:36:07 +0000] "GET /my file.txt?a=b c HTTP/1.1" 400 157 "-" "curl/7.88.1""#,
        );
        assert_eq!(
            s(&r, Field::NginxRequest),
            Some("GET /my file.txt?a=b c HTTP/1.1")
        );
        assert_eq!(s(&r, Field::HttpRequestMethod), Some("GET"));
        assert_eq!(s(&r, Field::UrlOriginal), Some("/my file.txt?a=b c"));
        assert_eq!(s(&r, Field::UrlPath), Some("/my file.txt"));
        assert_eq!(s(&r, Field::UrlQuery), Some("a=b c"));
        assert_eq!(s(&r, Field::NetworkProtocolVersion), Some("1.1"));
        assert_eq!(s(&r, Field::UserAgentOriginal), Some("curl/7.88.1"));

        // Spaces but no protocol: nothing is split out.
        let r = parsed(
            r#"127.0.0.1 - - [25/Nov/2026:18:36:07 +0000] "GET /my file.txt" 400 157 "-" "-""#,
        );
        assert_eq!(s(&r, Field::NginxRequest), Some("GET /my file.txt"));
        assert_eq!(r.get(Field::HttpRequestMethod), None);
        assert_eq!(r.get(Field::UrlOriginal), None);
    }

    #[test]
    fn scanner_requests_keep_only_the_raw_line() {
        for (req, method) in [
            ("\\x05\\x01\\x00", None),
            ("SSH-2.0-Go", None),
            ("get / HTTP/1.1", None),
            ("CONNECT example.com:443 HTTP/1.1", Some("CONNECT")),
            ("GET example.com:443 HTTP/1.1", None),
            ("GET http://example.com/proxy HTTP/1.1", Some("GET")),
            ("OPTIONS * HTTP/1.1", Some("OPTIONS")),
        ] {
            let line =
                format!(r#"198.51.100.7 - - [25/Nov/2026:18:35:12 +0000] "{req}" 400 150 "-" "-""#);
            let r = parsed(&line);
            assert!(s(&r, Field::NginxRequest).is_some());
            assert_eq!(s(&r, Field::HttpRequestMethod), method, "{req}");
        }
        let r = parsed(
            r#"198.51.100.7 - - [25/Nov/2026:18:35:12 +0000] "GET http://example.com/proxy?x=1 HTTP/1.1" 400 150 "-" "-""#,
        );
        assert_eq!(s(&r, Field::UrlScheme), Some("http"));
        assert_eq!(s(&r, Field::UrlPath), Some("/proxy"));
        assert_eq!(s(&r, Field::UrlQuery), Some("x=1"));
        assert_eq!(
            s(&r, Field::UrlOriginal),
            Some("http://example.com/proxy?x=1")
        );
        let r = parsed(
            r#"198.51.100.7 - - [25/Nov/2026:18:35:12 +0000] "OPTIONS * HTTP/1.1" 400 150 "-" "-""#,
        );
        assert_eq!(s(&r, Field::UrlOriginal), Some("*"));
        assert_eq!(r.get(Field::UrlPath), None);
        // RFC 9112 3.2.3 authority form, as nginx 1.22 logged it (it answers 400).
        let r = parsed(
            r#"127.0.0.1 - - [03/Dec/2026:14:30:01 +0000] "CONNECT example.org:443 HTTP/1.1" 400 157 "-" "-""#,
        );
        assert_eq!(s(&r, Field::HttpRequestMethod), Some("CONNECT"));
        assert_eq!(s(&r, Field::UrlOriginal), Some("example.org:443"));
        assert_eq!(s(&r, Field::NetworkProtocolVersion), Some("1.1"));
        assert_eq!(r.get(Field::UrlPath), None);
    }

    #[test]
    fn ipv6_clients() {
        let r = parsed(
            r#"::1 - - [05/Mar/2024:10:15:32 +0100] "GET / HTTP/1.1" 200 612 "-" "curl/8.5.0""#,
        );
        assert_eq!(s(&r, Field::ClientAddress), Some("::1"));
        let r = parsed(
            r#"2001:db8::8a2e:370:7334 - - [05/Mar/2024:10:15:32 +0100] "HEAD / HTTP/1.1" 200 0 "-" "-""#,
        );
        assert_eq!(s(&r, Field::ClientAddress), Some("2001:db8::8a2e:370:7334"));
        assert_eq!(s(&r, Field::HttpRequestMethod), Some("HEAD"));
    }

    #[test]
    fn escapes_are_decoded() {
        let r = parsed(
            r#"10.0.0.2 - j\xC3\xB6rg [05/Mar/2024:10:15:32 +0100] "GET /caf\xC3\xA9?q=\x22hi\x22 HTTP/1.1" 200 1 "https://example.com/\x5Cpath" "Agent \x22quoted\x22""#,
        );
        assert_eq!(s(&r, Field::UserName), Some("jörg"));
        assert_eq!(
            s(&r, Field::NginxRequest),
            Some("GET /café?q=\"hi\" HTTP/1.1")
        );
        assert_eq!(s(&r, Field::UrlOriginal), Some("/café?q=\"hi\""));
        assert_eq!(s(&r, Field::UrlPath), Some("/café"));
        assert_eq!(s(&r, Field::UrlQuery), Some("q=\"hi\""));
        assert_eq!(
            s(&r, Field::HttpRequestHeaderReferer),
            Some("https://example.com/\\path")
        );
        assert_eq!(s(&r, Field::UserAgentOriginal), Some("Agent \"quoted\""));
        assert!(!r.invalid_utf8);
    }

    #[test]
    fn invalid_utf8_after_decoding() {
        let r = parsed(
            r#"10.0.0.2 - - [05/Mar/2024:10:15:32 +0100] "GET /caf\xE9 HTTP/1.1" 404 0 "-" "-""#,
        );
        assert_eq!(s(&r, Field::UrlPath), Some("/caf\u{FFFD}"));
        assert!(r.invalid_utf8);
    }

    #[test]
    fn users_with_spaces_and_brackets() {
        let r = parsed(
            r#"10.0.0.2 - john doe [x] [05/Mar/2024:10:15:32 +0100] "GET / HTTP/1.1" 401 0 "-" "-""#,
        );
        assert_eq!(s(&r, Field::UserName), Some("john doe [x]"));
        assert_eq!(i(&r, Field::HttpResponseStatusCode), Some(401));
    }

    #[test]
    fn trailing_fields_are_ignored() {
        let line = format!(r#"{LINE} "198.51.100.1, 10.0.0.1" 0.004"#);
        let r = parsed(&line);
        assert_eq!(r.fields.len(), 13);
        assert_eq!(
            s(&r, Field::UserAgentOriginal),
            Some("Mozilla/5.0 (X11; Linux x86_64; rv:123.0) Gecko/20100101 Firefox/123.0")
        );
        let r = parsed(r#"10.0.0.1 - - [05/Mar/2024:10:15:33 +0000] "GET / HTTP/1.1" 200 3 0.001"#);
        assert_eq!(i(&r, Field::HttpResponseBodySize), Some(3));
        // A referer but no user agent.
        let r = parsed(
            r#"10.0.0.1 - - [05/Mar/2024:10:15:33 +0000] "GET / HTTP/1.1" 200 3 "http://a/""#,
        );
        assert_eq!(s(&r, Field::HttpRequestHeaderReferer), Some("http://a/"));
    }

    /// The official nginx image's `main` format (combined plus
    /// `"$http_x_forwarded_for"`), as nginx 1.22 wrote it
    /// (fixtures/nginx-main.log).
    #[test]
    fn official_image_main_format_keeps_x_forwarded_for() {
        let r = parsed(
            r#"127.0.0.1 - - [03/Dec/2026:14:25:38 +0000] "GET /fwd?x=1 HTTP/1.1" 200 3 "-" "curl/7.88.1" "203.0.113.7, 10.0.0.1""#,
        );
        assert_eq!(
            s(&r, Field::HttpRequestHeaderXForwardedFor),
            Some("203.0.113.7, 10.0.0.1")
        );
        assert_eq!(s(&r, Field::UserAgentOriginal), Some("curl/7.88.1"));
        let r = parsed(
            r#"127.0.0.1 - - [03/Dec/2026:14:25:38 +0000] "GET /esc HTTP/1.1" 200 3 "http://ref.example/a\x22b" "say \x22hi\x22" "-""#,
        );
        assert_eq!(r.get(Field::HttpRequestHeaderXForwardedFor), None);
        assert_eq!(s(&r, Field::UserAgentOriginal), Some("say \"hi\""));
    }

    #[test]
    fn rejects_other_shapes() {
        rejects("");
        rejects("hello world");
        rejects(r#"10.0.0.1 - - [05/Mar/2024:10:15:33 +0000] "GET / HTTP/1.1" 200"#);
        rejects(r#"10.0.0.1 - - [05/Mar/2024:10:15:33 +0000] "GET / HTTP/1.1" 20 3"#);
        rejects(r#"10.0.0.1 - - [05/Mar/2024:10:15:33 +0000] "GET / HTTP/1.1" 200 3x"#);
        rejects(r#"10.0.0.1 - - [05/Mar/2024:10:15:33 +0000] "GET / HTTP/1.1 200 3"#);
        rejects(r#"10.0.0.1 - - [05/Mar/2024:10:15:33] "GET / HTTP/1.1" 200 3"#);
        rejects(r#"10.0.0.1 - - [2024-03-05T10:15:33+00:00] "GET / HTTP/1.1" 200 3"#);
        rejects(r#"10.0.0.1 - - [05/Mar/2024:10:15:33 +0000] "GET / HTTP/1.1" 200 3 "-"#);
        rejects(r#"10.0.0.1 x - [05/Mar/2024:10:15:33 +0000] "GET / HTTP/1.1" 200 3"#);
        rejects(r#" - - [05/Mar/2024:10:15:33 +0000] "GET / HTTP/1.1" 200 3"#);
        rejects(r#"127.0.0.1 - - [25/Nov/2026:18:35:12 +0000] "GET /"#);
    }

    #[test]
    fn rejected_lines_leave_the_record_alone() {
        let mut rec = Record::default();
        rec.push_str(Field::ServiceName, "web");
        assert!(!parse("10.0.0.1 - - [bad", &mut rec));
        assert_eq!(rec.fields.len(), 1);
        assert_eq!(rec.format, Format::Text);
    }

    proptest! {
        #[test]
        fn never_panics_on_bytes(bytes in any::<Vec<u8>>()) {
            let line = String::from_utf8_lossy(&bytes);
            let mut rec = Record::default();
            let _ = parse(&line, &mut rec);
        }

        #[test]
        fn never_panics_on_mutations(edits in prop::collection::vec(mutation(), 1..6)) {
            let line = mutate(LINE, &edits);
            let mut rec = Record::default();
            if parse(&line, &mut rec) {
                prop_assert!(rec.timestamp.is_some());
                prop_assert!(rec.get(Field::HttpResponseStatusCode).is_some());
            }
        }
    }
}
