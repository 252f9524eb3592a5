//! nginx: the access log (`combined`, `common` or a user's `log_format`) and the error log.
//!
//! This module holds what the three parsers share: `$time_local`, the status
//! to severity rule, and the split of a request line (`METHOD URI PROTOCOL`)
//! into method, URL parts and protocol. The split is deliberately strict,
//! because nginx logs whatever a client sent, TLS handshakes included: a
//! field is only filled when the request line really has it.

pub mod access;
pub mod error;
pub mod escape;
pub mod log_format;

use std::borrow::Cow;
use std::cell::Cell;

use memchr::{memchr, memchr2, memrchr};

use crate::field::{Field, Value};
use crate::record::Record;
use crate::scan::{find_byte, rfind_byte};
use crate::severity::Severity;
use crate::time::{
    four_digits, parse_numeric_offset, remembered, two_digits, LastParsed, Offset, Timestamp,
};

/// The width of `$time_local`, e.g. `05/Mar/2024:10:15:32 +0100`.
pub const TIME_LOCAL_LEN: usize = 26;

/// Parses `$time_local` (`05/Mar/2024:10:15:32 +0100`) from the first
/// [`TIME_LOCAL_LEN`] bytes of `b`.
#[inline]
pub fn parse_time_local(b: &[u8]) -> Option<Timestamp> {
    thread_local! {
        static LAST: LastParsed<TIME_LOCAL_LEN> = const { Cell::new(([0; TIME_LOCAL_LEN], None)) };
    }
    let text: &[u8; TIME_LOCAL_LEN] = b.get(..TIME_LOCAL_LEN)?.try_into().ok()?;
    remembered(&LAST, text, || time_local_fields(text))
}

/// [`parse_time_local`] without the last time remembered.
#[inline]
fn time_local_fields(text: &[u8; TIME_LOCAL_LEN]) -> Option<Timestamp> {
    match text {
        [d1, d2, b'/', m1, m2, m3, b'/', y1, y2, y3, y4, b':', h1, h2, b':', i1, i2, b':', s1, s2, b' ', zone @ ..] =>
        {
            let offset = parse_numeric_offset(zone)?;
            Timestamp::new(
                four_digits(&[*y1, *y2, *y3, *y4])?,
                month(*m1, *m2, *m3)?,
                two_digits(&[*d1, *d2])?,
                two_digits(&[*h1, *h2])?,
                two_digits(&[*i1, *i2])?,
                two_digits(&[*s1, *s2])?,
                Offset::Minutes(offset),
            )
        }
        _ => None,
    }
}

/// `Mar` → 3. A match on three bytes, since `time::month_from_abbr`
/// compares slices and that compiles to `memcmp` calls on the hot path.
#[inline]
fn month(a: u8, b: u8, c: u8) -> Option<u8> {
    Some(match [a, b, c] {
        [b'J', b'a', b'n'] => 1,
        [b'F', b'e', b'b'] => 2,
        [b'M', b'a', b'r'] => 3,
        [b'A', b'p', b'r'] => 4,
        [b'M', b'a', b'y'] => 5,
        [b'J', b'u', b'n'] => 6,
        [b'J', b'u', b'l'] => 7,
        [b'A', b'u', b'g'] => 8,
        [b'S', b'e', b'p'] => 9,
        [b'O', b'c', b't'] => 10,
        [b'N', b'o', b'v'] => 11,
        [b'D', b'e', b'c'] => 12,
        _ => return None,
    })
}

/// The severity of an access-log line: 5xx ERROR, 4xx WARN, else INFO.
#[inline]
pub fn status_severity(status: i64) -> Severity {
    match status {
        500..=599 => Severity::ERROR,
        400..=499 => Severity::WARN,
        _ => Severity::INFO,
    }
}

/// A request line split into its parts. All slices borrow from the line and
/// are still escaped if the line was.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequestLine<'a> {
    /// An uppercase token such as `GET`.
    pub method: &'a str,
    /// The request target: `/path?query`, an absolute URL or `*`.
    pub uri: &'a str,
    /// `1.1` from `HTTP/1.1`; `None` for an HTTP/0.9 request.
    pub version: Option<&'a str>,
    /// The target's parts ([`split_uri`]); `None` for CONNECT's `host:port`.
    pub parts: Option<UriParts<'a>>,
}

/// Splits `METHOD SP URI [SP HTTP/x.y]`.
///
/// Returns `None` for anything that is not plausibly a request line (TLS
/// bytes, an empty request, a lowercase method, a target that is neither a
/// path, an absolute URL nor `*`), so no method or path is invented. The
/// protocol is the last space-separated token, so a URI with spaces (which
/// nginx logs and answers 400) keeps its spaces; without a protocol the URI
/// may not contain spaces.
pub fn split_request(req: &str) -> Option<RequestLine<'_>> {
    let sp = find_byte(b' ', req.as_bytes())?;
    let method = req.get(..sp)?;
    if method.is_empty()
        || !method
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b == b'_' || b == b'-')
    {
        return None;
    }
    let target = req.get(sp + 1..)?;
    let (uri, version) = match rfind_byte(b' ', target.as_bytes()) {
        Some(at) => match target.get(at + 1..).and_then(http_version) {
            Some(v) => (target.get(..at)?, Some(v)),
            None => (target, None),
        },
        None => (target, None),
    };
    if version.is_none() && find_byte(b' ', uri.as_bytes()).is_some() {
        return None;
    }
    let parts = if method == "CONNECT" && is_authority(uri) {
        None
    } else {
        Some(split_uri(uri)?)
    };
    Some(RequestLine {
        method,
        uri,
        version,
        parts,
    })
}

/// `host:port`, the authority form that only CONNECT uses (RFC 9112 3.2.3).
fn is_authority(uri: &str) -> bool {
    match memrchr(b':', uri.as_bytes()) {
        Some(colon) => {
            let (host, port) = uri.as_bytes().split_at(colon);
            let port = port.get(1..).unwrap_or_default();
            !host.is_empty()
                && !port.is_empty()
                && port.iter().all(u8::is_ascii_digit)
                && host
                    .iter()
                    .all(|&b| b.is_ascii_graphic() && !matches!(b, b'/' | b'?' | b'#' | b'"'))
        }
        None => false,
    }
}

/// `1.1` from `HTTP/1.1` (also `HTTP/2.0`, `HTTP/2`); `None` otherwise.
pub fn http_version(proto: &str) -> Option<&str> {
    // A slice pattern, not `strip_prefix`: short compares became `memcmp` calls.
    let v = match proto.as_bytes() {
        [b'H', b'T', b'T', b'P', b'/', ..] => proto.get(5..)?,
        _ => return None,
    };
    let (major, minor) = match find_byte(b'.', v.as_bytes()) {
        Some(dot) => (v.get(..dot)?, v.get(dot + 1..)?),
        None => (v, "1"),
    };
    let digits = |s: &str| !s.is_empty() && s.len() <= 3 && s.bytes().all(|b| b.is_ascii_digit());
    (digits(major) && digits(minor)).then_some(v)
}

/// The parts of a request target. Slices borrow from the target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct UriParts<'a> {
    /// `http` from an absolute URL.
    pub scheme: Option<&'a str>,
    /// The path, without the query; absent for `*` and for `http://host`.
    pub path: Option<&'a str>,
    /// The query without its `?`; absent when there is none or it is empty.
    pub query: Option<&'a str>,
}

/// Splits a request target into scheme, path and query. Returns `None` when
/// the target is not a path (`/...`), an absolute URL (`scheme://...`) or `*`.
pub fn split_uri(uri: &str) -> Option<UriParts<'_>> {
    if let [b'*'] = uri.as_bytes() {
        return Some(UriParts::default());
    }
    let (scheme, rest) = if uri.starts_with('/') {
        (None, uri)
    } else {
        let colon = find_byte(b':', uri.as_bytes())?;
        let scheme = uri.get(..colon)?;
        let mut bytes = scheme.bytes();
        let valid = bytes.next().is_some_and(|b| b.is_ascii_alphabetic())
            && bytes.all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'));
        let after = uri.get(colon + 1..)?.strip_prefix("//")?;
        if !valid {
            return None;
        }
        // Skip the authority: the path starts at the first `/` or `?`.
        let at = memchr2(b'/', b'?', after.as_bytes()).unwrap_or(after.len());
        (Some(scheme), after.get(at..)?)
    };
    let (path, query) = match find_byte(b'?', rest.as_bytes()) {
        Some(q) => (rest.get(..q)?, rest.get(q + 1..)),
        None => (rest, None),
    };
    Some(UriParts {
        scheme,
        path: Some(path).filter(|p| !p.is_empty()),
        query: query.filter(|q| !q.is_empty()),
    })
}

/// How parsed values go into a record.
#[derive(Debug, Clone, Copy)]
struct Put {
    /// Decode nginx's `\xHH` escapes (access log: yes, error log: no).
    decode: bool,
    /// The values use `escape=json` instead (wins over `decode`).
    json: bool,
    /// Skip fields already set, so that an explicit variable of a
    /// `log_format` wins over the same field derived from `$request`.
    once: bool,
}

impl Put {
    /// Adds a string field as it is, even when empty.
    #[inline(always)]
    fn text<'a>(self, rec: &mut Record<'a>, field: Field, s: &'a str) {
        if self.once && rec.get(field).is_some() {
            return;
        }
        // Checked here as well as in `decode`: the common borrowed case then
        // skips a `(Cow, bool)` returned through memory, which measured as a
        // store-forwarding stall per field on the hot path.
        if (self.decode || self.json) && memchr(b'\\', s.as_bytes()).is_some() {
            let (text, bad) = if self.json {
                escape::decode_json(s)
            } else {
                escape::decode(s)
            };
            rec.invalid_utf8 |= bad;
            rec.push(field, Value::Str(text));
        } else {
            rec.push(field, Value::Str(Cow::Borrowed(s)));
        }
    }

    /// Adds a string field unless it is `-` (nginx's "not set") or empty.
    #[inline(always)]
    fn text_unless_dash<'a>(self, rec: &mut Record<'a>, field: Field, s: &'a str) {
        if !s.is_empty() && s != "-" {
            self.text(rec, field, s);
        }
    }

    /// Adds any value.
    #[inline(always)]
    fn value<'a>(self, rec: &mut Record<'a>, field: Field, value: Value<'a>) {
        if !(self.once && rec.get(field).is_some()) {
            rec.push(field, value);
        }
    }

    /// Adds `nginx.request` (kept even when empty) and whatever
    /// [`split_request`] finds in it.
    fn request<'a>(self, rec: &mut Record<'a>, req: &'a str) {
        self.text(rec, Field::NginxRequest, req);
        if let Some(line) = split_request(req) {
            self.value(rec, Field::HttpRequestMethod, Value::str(line.method));
            self.text_unless_dash(rec, Field::UrlOriginal, line.uri);
            if let Some(parts) = line.parts {
                self.uri_parts(rec, parts);
            }
            if let Some(v) = line.version {
                self.protocol(rec, v);
            }
        }
    }

    /// Adds `url.original` and the parts [`split_uri`] finds in it.
    fn uri<'a>(self, rec: &mut Record<'a>, uri: &'a str) {
        self.text_unless_dash(rec, Field::UrlOriginal, uri);
        if let Some(parts) = split_uri(uri) {
            self.uri_parts(rec, parts);
        }
    }

    /// Adds `url.scheme`, `url.path` and `url.query`, those there are.
    fn uri_parts<'a>(self, rec: &mut Record<'a>, parts: UriParts<'a>) {
        if let Some(s) = parts.scheme {
            self.text(rec, Field::UrlScheme, s);
        }
        if let Some(p) = parts.path {
            self.text(rec, Field::UrlPath, p);
        }
        if let Some(q) = parts.query {
            self.text(rec, Field::UrlQuery, q);
        }
    }

    /// Adds `network.protocol.name` (`http`) and `.version` (`1.1`).
    fn protocol<'a>(self, rec: &mut Record<'a>, version: &'a str) {
        self.value(rec, Field::NetworkProtocolName, Value::str("http"));
        self.value(rec, Field::NetworkProtocolVersion, Value::str(version));
    }
}

#[cfg(test)]
pub(crate) mod testutil {
    //! Helpers shared by the parsers' tests.
    use proptest::prelude::*;

    use crate::field::{Field, Value};
    use crate::record::Record;

    /// The string value of a field, failing loudly when it is not one.
    pub fn s<'r>(rec: &'r Record<'_>, field: Field) -> Option<&'r str> {
        rec.get(field).map(|v| v.as_str().expect("a string field"))
    }

    /// The integer value of a field.
    pub fn i(rec: &Record<'_>, field: Field) -> Option<i64> {
        rec.get(field).map(|v| v.as_int().expect("an int field"))
    }

    /// The fields sorted by key, for comparing two records.
    pub fn sorted<'a>(rec: &Record<'a>) -> Vec<(Field, Value<'a>)> {
        let mut v: Vec<_> = rec.fields.iter().cloned().collect();
        v.sort_by_key(|(f, _)| *f);
        v
    }

    /// Asserts no field appears twice.
    pub fn assert_unique(rec: &Record<'_>) {
        let fields = sorted(rec);
        for pair in fields.windows(2) {
            assert_ne!(pair[0].0, pair[1].0, "duplicate field in {rec:?}");
        }
    }

    /// One edit of a line: overwrite, insert or delete a byte, or cut there.
    pub fn mutation() -> impl Strategy<Value = (prop::sample::Index, u8, u8)> {
        (any::<prop::sample::Index>(), 0u8..4, any::<u8>())
    }

    /// Applies edits to a valid line and returns it as (lossy) UTF-8.
    pub fn mutate(line: &str, edits: &[(prop::sample::Index, u8, u8)]) -> String {
        let mut b = line.as_bytes().to_vec();
        for (at, op, byte) in edits {
            if b.is_empty() {
                break;
            }
            let i = at.index(b.len());
            match op {
                0 => b[i] = *byte,
                1 => b.insert(i, *byte),
                2 => {
                    b.remove(i);
                }
                _ => b.truncate(i),
            }
        }
        String::from_utf8_lossy(&b).into_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn time_local() {
        let t = parse_time_local(b"05/Mar/2024:10:15:32 +0100] rest").unwrap();
        assert_eq!(t.to_rfc3339(0), "2024-03-05T10:15:32+01:00");
        let t = parse_time_local(b"25/Nov/2026:18:35:12 -0530").unwrap();
        assert_eq!(t.offset, Offset::Minutes(-330));
        assert!(parse_time_local(b"05/Mar/2024:10:15:32 +010").is_none());
        assert!(parse_time_local(b"05/Mxr/2024:10:15:32 +0100").is_none());
        assert!(parse_time_local(b"31/Feb/2024:10:15:32 +0100").is_none());
        assert!(parse_time_local(b"05/Mar/2024 10:15:32 +0100").is_none());
    }

    #[test]
    fn months_match_the_shared_table() {
        for (i, m) in [
            "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
        ]
        .iter()
        .enumerate()
        {
            let b = m.as_bytes();
            assert_eq!(month(b[0], b[1], b[2]), Some(i as u8 + 1));
            assert_eq!(crate::time::month_from_abbr(b), Some(i as u8 + 1));
        }
        assert_eq!(month(b'm', b'a', b'r'), None);
    }

    #[test]
    fn severity_from_status() {
        assert_eq!(status_severity(200), Severity::INFO);
        assert_eq!(status_severity(304), Severity::INFO);
        assert_eq!(status_severity(404), Severity::WARN);
        assert_eq!(status_severity(499), Severity::WARN);
        assert_eq!(status_severity(502), Severity::ERROR);
        assert_eq!(status_severity(0), Severity::INFO);
    }

    #[test]
    fn request_lines() {
        let r = split_request("GET /a?b=1 HTTP/1.1").unwrap();
        assert_eq!((r.method, r.uri, r.version), ("GET", "/a?b=1", Some("1.1")));
        let r = split_request("GET /hello/").unwrap();
        assert_eq!((r.method, r.uri, r.version), ("GET", "/hello/", None));
        let r = split_request("GET /a b/c d HTTP/1.1").unwrap();
        assert_eq!((r.uri, r.version), ("/a b/c d", Some("1.1")));
        let r = split_request("OPTIONS * HTTP/1.1").unwrap();
        assert_eq!(r.uri, "*");
        let r = split_request("GET http://example.com/x HTTP/1.0").unwrap();
        assert_eq!((r.uri, r.version), ("http://example.com/x", Some("1.0")));
        let r = split_request("PRI * HTTP/2.0").unwrap();
        assert_eq!(r.version, Some("2.0"));

        assert!(split_request("").is_none());
        assert!(split_request("-").is_none());
        assert!(split_request(r"\x16\x03\x01\x00\xA5 garbage").is_none());
        assert!(split_request("get / HTTP/1.1").is_none());
        assert!(split_request("GET /a b").is_none());
        assert!(split_request("GET HTTP/1.1").is_none());
        assert!(split_request("GET  / HTTP/1.1").is_none());
        assert!(split_request("GET example.com:443 HTTP/1.1").is_none());
        assert!(split_request("CONNECT example.com HTTP/1.1").is_none());
        let r = split_request("CONNECT example.com:443 HTTP/1.1").unwrap();
        assert_eq!((r.method, r.uri), ("CONNECT", "example.com:443"));
        assert!(split_request("GET / HTTP/1.1 junk").is_none());
    }

    #[test]
    fn versions() {
        assert_eq!(http_version("HTTP/1.1"), Some("1.1"));
        assert_eq!(http_version("HTTP/2"), Some("2"));
        assert_eq!(http_version("HTTP/"), None);
        assert_eq!(http_version("HTTP/1."), None);
        assert_eq!(http_version("HTTPS/1.1"), None);
        assert_eq!(http_version("HTTP/x.y"), None);
    }

    #[test]
    fn uris() {
        let p = split_uri("/a/b?x=1&y=2").unwrap();
        assert_eq!(
            (p.scheme, p.path, p.query),
            (None, Some("/a/b"), Some("x=1&y=2"))
        );
        let p = split_uri("/a?").unwrap();
        assert_eq!((p.path, p.query), (Some("/a"), None));
        let p = split_uri("https://example.com:8443/p?q").unwrap();
        assert_eq!(
            (p.scheme, p.path, p.query),
            (Some("https"), Some("/p"), Some("q"))
        );
        let p = split_uri("http://example.com").unwrap();
        assert_eq!((p.scheme, p.path, p.query), (Some("http"), None, None));
        let p = split_uri("http://example.com?q=1").unwrap();
        assert_eq!((p.path, p.query), (None, Some("q=1")));
        assert_eq!(split_uri("*"), Some(UriParts::default()));
        assert!(split_uri("example.com:443").is_none());
        assert!(split_uri("1http://x/").is_none());
        assert!(split_uri("").is_none());
    }

    proptest! {
        #[test]
        fn helpers_never_panic(bytes in any::<Vec<u8>>()) {
            let s = String::from_utf8_lossy(&bytes);
            let _ = parse_time_local(s.as_bytes());
            let _ = http_version(&s);
            let _ = split_uri(&s);
            if let Some(r) = split_request(&s) {
                // The parts are always slices of the request, in order.
                prop_assert!(s.starts_with(r.method));
                prop_assert!(split_uri(r.uri).is_some());
            }
        }

        /// The time remembered from the line before is the time the text
        /// gives: over runs of repeated, changed and broken texts, each
        /// result is the fields' own.
        #[test]
        fn a_remembered_time_local_is_the_texts_own(
            picks in proptest::collection::vec((0usize..6, 0usize..26, any::<u8>()), 1..40),
        ) {
            let pool: [&[u8; TIME_LOCAL_LEN]; 6] = [
                b"05/Mar/2024:10:15:32 +0100",
                b"05/Mar/2024:10:15:33 +0100",
                b"05/Mar/2024:10:15:32 -0530",
                b"29/Feb/2024:23:59:60 +0000",
                b"29/Feb/2023:23:59:59 +0000",
                b"31/Dec/1999:00:00:00 +1400",
            ];
            for (pick, at, byte) in picks {
                let mut text = *pool[pick];
                // Every third text has one byte changed, most often broken.
                if byte % 3 == 0 {
                    text[at] = byte;
                }
                prop_assert_eq!(parse_time_local(&text), time_local_fields(&text));
            }
        }

        #[test]
        fn split_request_finds_what_was_built(
            method in "[A-Z]{1,8}",
            path in "/[a-z0-9/ ._-]{0,20}",
            query in proptest::option::of("[a-z0-9=&]{1,10}"),
            minor in 0u8..2,
        ) {
            let uri = match &query {
                Some(q) => format!("{path}?{q}"),
                None => path.clone(),
            };
            let req = format!("{method} {uri} HTTP/1.{minor}");
            let r = split_request(&req).unwrap();
            let version = format!("1.{minor}");
            prop_assert_eq!(r.method, method.as_str());
            prop_assert_eq!(r.uri, uri.as_str());
            prop_assert_eq!(r.version, Some(version.as_str()));
            let parts = split_uri(r.uri).unwrap();
            prop_assert_eq!(parts.path, Some(path.as_str()));
            prop_assert_eq!(parts.query, query.as_deref());
        }
    }
}
