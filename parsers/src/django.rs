//! Django's own log lines as its console handler prints them: the
//! `django.request` messages (`Not Found: /x`, `Internal Server Error: /x`,
//! `Forbidden (CSRF cookie not set.): /x`, ...), `django.security`'s
//! `Invalid HTTP_HOST header`, runserver's `[25/Nov/2026 18:35:12] "GET /x
//! HTTP/1.1" 404 179`, and any of these behind logging's `basicConfig`
//! prefix `WARNING:django.request:`. Also any logger's record behind the
//! request-id format of logmux's example project (docs/django.md),
//! `%(asctime)s %(levelname)s [%(name)s] [%(request_id)s] %(message)s`:
//! level, logger and request id become fields.
//!
//! `django.request` messages are `"%s: %s" % (reason_phrase, request.path)`,
//! so the phrase gives the status back; only the standard HTTP reason
//! phrases are taken, which keeps `Error: /usr/bin/x not found` out.

use std::borrow::Cow;

use memchr::{memchr, memrchr};

use crate::field::Field;
use crate::record::{Format, Record};
use crate::scan::parse_u64;
use crate::severity::Severity;
use crate::time::{four_digits, month_from_abbr, two_digits, Offset, Timestamp};
use crate::uwsgi::{find_short, push_protocol, push_url_parts, rfind_short, severity_of_status};

/// Parses one of Django's own lines.
pub fn parse<'a>(line: &'a str, rec: &mut Record<'a>) -> bool {
    rec.attempt(|r| parse_inner(line.trim_end(), r))
}

fn parse_inner<'a>(line: &'a str, rec: &mut Record<'a>) -> bool {
    if let Some(p) = prefix(line) {
        // The logger (or Django's documented format) says it is Django's:
        // take the line even when the message itself has no shape we know.
        let _ = runserver(p.message, rec) || request_message(p.message, rec);
        p.fill(rec);
        return true;
    }
    if runserver(line, rec) || request_message(line, rec) {
        rec.format = Format::Django;
        return true;
    }
    false
}

/// What a logging formatter put before Django's message.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Prefix<'a> {
    pub severity: Severity,
    /// The level word as the formatter printed it (`WARNING`).
    pub word: &'a str,
    pub timestamp: Option<Timestamp>,
    pub pid: Option<i64>,
    /// The logger's name, where the format shows it for any logger.
    pub logger: Option<&'a str>,
    /// The request's id (`-`, no request, is `None`).
    pub request_id: Option<&'a str>,
    pub message: &'a str,
}

impl<'a> Prefix<'a> {
    /// Sets format, severity (and its word), time, pid, logger and request
    /// id (after the message's own fields).
    pub(crate) fn fill(&self, rec: &mut Record<'a>) {
        rec.format = Format::Django;
        rec.severity = Some(self.severity);
        rec.severity_text = Some(Cow::Borrowed(self.word));
        self.fill_context(rec);
    }

    /// Time, pid, logger and request id: what a traceback behind this
    /// prefix takes from it too.
    pub(crate) fn fill_context(&self, rec: &mut Record<'a>) {
        if self.timestamp.is_some() {
            rec.timestamp = self.timestamp;
        }
        if let Some(pid) = self.pid {
            rec.push_int(Field::ProcessPid, pid);
        }
        if let Some(logger) = self.logger {
            rec.push_str(Field::LogLogger, logger);
        }
        if let Some(id) = self.request_id {
            rec.push_str(Field::HttpRequestId, id);
        }
    }
}

/// The formatter prefixes Django's lines come with: logging's `basicConfig`
/// (`LEVEL:django.x:`), `%(asctime)s %(levelname)s %(name)s %(message)s`
/// with a `django` logger, the docs' `verbose` formatter
/// `{levelname} {asctime} {module} {process:d} {thread:d} {message}`, and
/// the request-id format with any logger.
pub(crate) fn prefix(line: &str) -> Option<Prefix<'_>> {
    if let Some((severity, word, message)) = basic_config(line) {
        return Some(Prefix {
            severity,
            word,
            timestamp: None,
            pid: None,
            logger: None,
            request_id: None,
            message,
        });
    }
    bracketed(line)
        .or_else(|| asctime_first(line))
        .or_else(|| verbose(line))
}

/// Whether `line` has the shape of the request-id format: asctime, a level
/// word, then `[`. Cheap, for detection to try it before supervisord's
/// `ASCTIME INFO message`.
pub fn is_bracketed(line: &str) -> bool {
    let b = line.as_bytes();
    b.get(19) == Some(&b',')
        && b.get(23) == Some(&b' ')
        && b.get(24..).is_some_and(|rest| {
            let word = rest.iter().take_while(|c| c.is_ascii_uppercase()).count();
            (4..=8).contains(&word) && rest.get(word..word + 2) == Some(b" [")
        })
}

/// `ASCTIME LEVEL [LOGGER] [REQUEST_ID] MESSAGE`, any logger.
fn bracketed(line: &str) -> Option<Prefix<'_>> {
    if !is_bracketed(line) {
        return None;
    }
    let ts = asctime(line.as_bytes())?;
    let (level, rest) = line.get(24..)?.split_once(' ')?;
    let severity = Severity::from_level_word(level.as_bytes())?;
    let (logger, rest) = bracketed_word(rest)?;
    let (id, message) = bracketed_word(rest)?;
    Some(Prefix {
        severity,
        word: level,
        timestamp: Some(ts),
        pid: None,
        logger: Some(logger).filter(|l| !l.is_empty()),
        request_id: Some(id).filter(|id| !id.is_empty() && *id != "-"),
        message,
    })
}

/// `[WORD] ` (or `[WORD]` at the end) at the start of `s`: the word (no
/// space or `]` in it) and what follows.
fn bracketed_word(s: &str) -> Option<(&str, &str)> {
    let inner = s.strip_prefix('[')?;
    let end = memchr(b']', inner.as_bytes())?;
    let word = inner.get(..end)?;
    if word.contains(' ') {
        return None;
    }
    let rest = inner.get(end + 1..)?;
    let rest = match rest.strip_prefix(' ') {
        Some(r) => r,
        None if rest.is_empty() => rest,
        None => return None,
    };
    Some((word, rest))
}

/// `2026-12-03 14:34:42,884` (logging's default asctime), local time.
fn asctime(b: &[u8]) -> Option<Timestamp> {
    if b.get(19) != Some(&b',') {
        return None;
    }
    crate::time::parse_ymd_hms(b, b'-', b' ')?.with_fraction(b.get(20..23)?)
}

/// `ASCTIME LEVEL django.x MESSAGE`.
fn asctime_first(line: &str) -> Option<Prefix<'_>> {
    let ts = asctime(line.as_bytes())?;
    let rest = line.get(23..)?.strip_prefix(' ')?;
    let (level, rest) = rest.split_once(' ')?;
    let severity = Severity::from_level_word(level.as_bytes())?;
    let (logger, message) = rest.split_once(' ')?;
    if logger != "django" && !logger.starts_with("django.") {
        return None;
    }
    Some(Prefix {
        severity,
        word: level,
        timestamp: Some(ts),
        pid: None,
        logger: None,
        request_id: None,
        message,
    })
}

/// `LEVEL ASCTIME MODULE PID THREAD MESSAGE`.
fn verbose(line: &str) -> Option<Prefix<'_>> {
    let (level, rest) = line.split_once(' ')?;
    let severity = Severity::from_level_word(level.as_bytes())?;
    let ts = asctime(rest.as_bytes())?;
    let mut words = rest.get(24..)?.splitn(4, ' ');
    let module = words.next()?;
    let pid = words.next()?;
    let thread = words.next()?;
    let message = words.next().unwrap_or("");
    let numeric = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    let module_ok = module
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'_');
    if module.is_empty() || !module_ok || !numeric(pid) || !numeric(thread) {
        return None;
    }
    Some(Prefix {
        severity,
        word: level,
        timestamp: Some(ts),
        pid: parse_u64(pid.as_bytes()).map(|p| p as i64),
        logger: None,
        request_id: None,
        message,
    })
}

/// `%(levelname)s:%(name)s:%(message)s` with a `django` logger.
fn basic_config(line: &str) -> Option<(Severity, &str, &str)> {
    let b = line.as_bytes();
    // Level names are at most 9 bytes long.
    let c1 = memchr(b':', b.get(..b.len().min(10))?)?;
    let severity = Severity::from_level_word(b.get(..c1)?)?;
    let rest = line.get(c1 + 1..)?;
    let c2 = memchr(b':', rest.as_bytes())?;
    let logger = rest.get(..c2)?;
    let django = logger == "django" || logger.starts_with("django.");
    if !django || logger.contains(' ') {
        return None;
    }
    Some((severity, line.get(..c1)?, rest.get(c2 + 1..)?))
}

/// runserver's `[DD/Mon/YYYY HH:MM:SS] "REQUEST LINE" STATUS SIZE`; also any
/// other message behind that date, and the request part alone.
fn runserver<'a>(msg: &'a str, rec: &mut Record<'a>) -> bool {
    let mut rest = msg;
    let mut dated = false;
    if msg.starts_with('[') && msg.as_bytes().get(21..23) == Some(b"] ") {
        if let Some(ts) = parse_server_time(msg.as_bytes().get(1..21).unwrap_or(&[])) {
            rec.timestamp = Some(ts);
            rest = msg.get(23..).unwrap_or("");
            dated = true;
        }
    }
    request_summary(rest, rec) || dated
}

/// `"GET /x?y HTTP/1.1" 404 179`.
fn request_summary<'a>(s: &'a str, rec: &mut Record<'a>) -> bool {
    let Some(inner) = s.strip_prefix('"') else {
        return false;
    };
    let Some(q) = rfind_short(inner.as_bytes(), b"\" ") else {
        return false;
    };
    let (request, tail) = (
        inner.get(..q).unwrap_or(""),
        inner.get(q + 2..).unwrap_or(""),
    );
    let Some((status, size)) = tail.split_once(' ') else {
        return false;
    };
    let status = match parse_u64(status.as_bytes()) {
        Some(s) if status.len() == 3 => s as i64,
        _ => return false,
    };
    let size = match size {
        "-" => None,
        s => match parse_u64(s.as_bytes()) {
            Some(n) => Some(n as i64),
            None => return false,
        },
    };
    push_request_line(rec, request);
    rec.push_int(Field::HttpResponseStatusCode, status);
    if let Some(size) = size {
        rec.push_int(Field::HttpResponseBodySize, size);
    }
    rec.severity = Some(severity_of_status(status));
    true
}

/// `METHOD TARGET PROTO` (or `METHOD TARGET` for HTTP/0.9); garbage gives nothing.
fn push_request_line<'a>(rec: &mut Record<'a>, request: &'a str) {
    let b = request.as_bytes();
    let (Some(first), Some(last)) = (memchr(b' ', b), memrchr(b' ', b)) else {
        return;
    };
    let method = request.get(..first).unwrap_or("");
    if method.is_empty() || !method.bytes().all(|c| c.is_ascii_uppercase()) {
        return;
    }
    let (target, proto) = if first == last {
        (request.get(first + 1..).unwrap_or(""), "")
    } else {
        (
            request.get(first + 1..last).unwrap_or(""),
            request.get(last + 1..).unwrap_or(""),
        )
    };
    rec.push_str(Field::HttpRequestMethod, method);
    if !target.is_empty() {
        rec.push_str(Field::UrlOriginal, target);
        push_url_parts(rec, target);
    }
    if proto.starts_with("HTTP/") {
        push_protocol(rec, proto);
    }
}

/// `25/Nov/2026 18:35:12` (http.server's `log_date_time_string`), local time.
fn parse_server_time(b: &[u8]) -> Option<Timestamp> {
    let b = b.get(..20)?;
    if b[2] != b'/' || b[6] != b'/' || b[11] != b' ' || b[14] != b':' || b[17] != b':' {
        return None;
    }
    Timestamp::new(
        four_digits(&b[7..11])?,
        month_from_abbr(&b[3..6])?,
        two_digits(&b[0..2])?,
        two_digits(&b[12..14])?,
        two_digits(&b[15..17])?,
        two_digits(&b[18..20])?,
        Offset::Local,
    )
}

/// Python's `http.HTTPStatus` phrases for 4xx and 5xx (with the pre-3.13
/// spellings), which Django logs as `response.reason_phrase`.
const PHRASES: &[(&str, i64)] = &[
    ("Bad Request", 400),
    ("Unauthorized", 401),
    ("Payment Required", 402),
    ("Forbidden", 403),
    ("Not Found", 404),
    ("Method Not Allowed", 405),
    ("Not Acceptable", 406),
    ("Proxy Authentication Required", 407),
    ("Request Timeout", 408),
    ("Conflict", 409),
    ("Gone", 410),
    ("Length Required", 411),
    ("Precondition Failed", 412),
    ("Request Entity Too Large", 413),
    ("Content Too Large", 413),
    ("Request-URI Too Long", 414),
    ("URI Too Long", 414),
    ("Unsupported Media Type", 415),
    ("Requested Range Not Satisfiable", 416),
    ("Range Not Satisfiable", 416),
    ("Expectation Failed", 417),
    ("I'm a Teapot", 418),
    ("Misdirected Request", 421),
    ("Unprocessable Entity", 422),
    ("Unprocessable Content", 422),
    ("Locked", 423),
    ("Failed Dependency", 424),
    ("Too Early", 425),
    ("Upgrade Required", 426),
    ("Precondition Required", 428),
    ("Too Many Requests", 429),
    ("Request Header Fields Too Large", 431),
    ("Unavailable For Legal Reasons", 451),
    ("Internal Server Error", 500),
    ("Not Implemented", 501),
    ("Bad Gateway", 502),
    ("Service Unavailable", 503),
    ("Gateway Timeout", 504),
    ("HTTP Version Not Supported", 505),
    ("Variant Also Negotiates", 506),
    ("Insufficient Storage", 507),
    ("Loop Detected", 508),
    ("Not Extended", 510),
    ("Network Authentication Required", 511),
];

/// The status of a reason phrase; case-insensitive for Django's own
/// `Bad request (Unable to parse request body)`.
pub fn status_of_phrase(phrase: &str) -> Option<i64> {
    PHRASES
        .iter()
        .find(|(p, _)| p.eq_ignore_ascii_case(phrase))
        .map(|&(_, s)| s)
}

/// `PHRASE: /path` or `PHRASE (DETAIL): /path`, and `Invalid HTTP_HOST header`.
fn request_message<'a>(msg: &'a str, rec: &mut Record<'a>) -> bool {
    if let Some(rest) = msg.strip_prefix("Invalid HTTP_HOST header: '") {
        // django.security.DisallowedHost, logged at error level.
        if let Some(end) = memchr(b'\'', rest.as_bytes()) {
            rec.push_str(Field::HttpRequestHeaderHost, rest.get(..end).unwrap_or(""));
        }
        rec.push_int(Field::HttpResponseStatusCode, 400);
        rec.severity = Some(Severity::ERROR);
        return true;
    }
    let b = msg.as_bytes();
    let Some(colon) = find_short(b, b": /") else {
        return false;
    };
    let (phrase, detail, path) = match find_short(b, b" (") {
        Some(p) if p < colon => {
            let Some(close) = find_short(b.get(p..).unwrap_or(&[]), b"): /") else {
                return false;
            };
            (
                msg.get(..p).unwrap_or(""),
                msg.get(p + 2..p + close).unwrap_or(""),
                msg.get(p + close + 3..).unwrap_or(""),
            )
        }
        _ => (
            msg.get(..colon).unwrap_or(""),
            "",
            msg.get(colon + 2..).unwrap_or(""),
        ),
    };
    let Some(status) = status_of_phrase(phrase) else {
        return false;
    };
    if status == 405 && !detail.is_empty() && detail.bytes().all(|c| c.is_ascii_uppercase()) {
        rec.push_str(Field::HttpRequestMethod, detail);
    }
    rec.push_str(Field::UrlPath, path);
    rec.push_int(Field::HttpResponseStatusCode, status);
    rec.severity = Some(severity_of_status(status));
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::field::Value;
    use proptest::prelude::*;

    fn ok(line: &str) -> Record<'_> {
        let mut r = Record::default();
        assert!(parse(line, &mut r), "rejected: {line}");
        assert_eq!(r.format, Format::Django);
        r
    }

    fn s<'r>(r: &'r Record<'_>, f: Field) -> Option<&'r str> {
        r.get(f).and_then(Value::as_str)
    }

    fn int(r: &Record<'_>, f: Field) -> Option<i64> {
        r.get(f).and_then(Value::as_int)
    }

    /// Django 3.2.25 on Python 3.11.2 with the formatter
    /// `%(asctime)s %(levelname)s %(name)s %(message)s` and the docs'
    /// `verbose` one (fixtures/django-formats.log).
    #[test]
    fn asctime_and_verbose_formats() {
        let cases: &[(&str, Severity, &str, i64, Option<i64>)] = &[
            ("2026-12-03 14:34:42,884 WARNING django.request Not Found: /nope/", Severity::WARN, "/nope/", 404, None),
            ("2026-12-03 14:34:42,884 ERROR django.request Internal Server Error: /boom/", Severity::ERROR, "/boom/", 500, None),
            ("WARNING 2026-12-03 14:34:42,884 log 16414 140380256527040 Not Found: /nope/", Severity::WARN, "/nope/", 404, Some(16414)),
            ("ERROR 2026-12-03 14:34:42,884 log 16414 140380256527040 Internal Server Error: /boom/", Severity::ERROR, "/boom/", 500, Some(16414)),
        ];
        for &(line, sev, path, status, pid) in cases {
            let mut r = Record::default();
            crate::detect::Parser::AUTO.parse(line, &mut r);
            assert_eq!(r.format, Format::Django, "{line}");
            assert_eq!(r.severity, Some(sev), "{line}");
            assert_eq!(s(&r, Field::UrlPath), Some(path), "{line}");
            assert_eq!(
                int(&r, Field::HttpResponseStatusCode),
                Some(status),
                "{line}"
            );
            assert_eq!(int(&r, Field::ProcessPid), pid, "{line}");
            let ts = r.timestamp.unwrap_or_else(|| panic!("no time: {line}"));
            assert_eq!(ts.to_rfc3339(0), "2026-12-03T14:34:42.884+00:00", "{line}");
        }
        // Another logger's line in the asctime format is not Django's.
        let mut r = Record::default();
        assert!(!parse(
            "2026-12-03 14:34:42,884 INFO myapp.views Not Found: /nope/",
            &mut r
        ));
    }

    /// The example project's request-id format (docs/django.md): any
    /// logger, its level, name and request id; `-` is no request.
    #[test]
    fn request_id_format() {
        let id = "4bf92f3577b34da6a3ce929d0e0e4736";
        // line, severity, its word, logger, request id, status
        type Case<'c> = (
            &'c str,
            Severity,
            &'c str,
            &'c str,
            Option<&'c str>,
            Option<i64>,
        );
        let cases: &[Case] = &[
            ("2026-12-04 18:33:46,123 WARNING [django.request] [4bf92f3577b34da6a3ce929d0e0e4736] Not Found: /nope/", Severity::WARN, "WARNING", "django.request", Some(id), Some(404)),
            ("2026-12-04 18:33:46,123 WARNING [demo] [4bf92f3577b34da6a3ce929d0e0e4736] demo warning: disk almost full (97% used)", Severity::WARN, "WARNING", "demo", Some(id), None),
            ("2026-12-04 18:33:46,123 INFO [demo.views] [-] started", Severity::INFO, "INFO", "demo.views", None, None),
            ("2026-12-04 18:33:46,123 CRITICAL [x] [req-7] ", Severity::ERROR2, "CRITICAL", "x", Some("req-7"), None),
            ("2026-12-04 18:33:46,123 DEBUG [django.db.backends] [-] (0.000) SELECT 1; args=()", Severity::DEBUG, "DEBUG", "django.db.backends", None, None),
        ];
        for &(line, sev, word, logger, rid, status) in cases {
            let mut r = Record::default();
            crate::detect::Parser::AUTO.parse(line, &mut r);
            assert_eq!(r.format, Format::Django, "{line}");
            assert_eq!(r.severity, Some(sev), "{line}");
            assert_eq!(r.severity_text.as_deref(), Some(word), "{line}");
            assert_eq!(s(&r, Field::LogLogger), Some(logger), "{line}");
            assert_eq!(s(&r, Field::HttpRequestId), rid, "{line}");
            assert_eq!(int(&r, Field::HttpResponseStatusCode), status, "{line}");
            assert_eq!(
                r.timestamp.map(|t| t.to_rfc3339(0)).as_deref(),
                Some("2026-12-04T18:33:46.123+00:00"),
                "{line}"
            );
        }
        // Not this format: a space in the brackets, no second bracket, no level.
        for line in [
            "2026-12-04 18:33:46,123 INFO [a b] [-] x",
            "2026-12-04 18:33:46,123 INFO [demo] x",
            "2026-12-04 18:33:46,123 LOUD [demo] [-] x",
            "2026-12-04 18:33:46,123 INFO [demo][-] x",
        ] {
            assert!(!parse(line, &mut Record::default()), "{line}");
        }
        // supervisord's own INFO lines are still supervisord's.
        let mut r = Record::default();
        crate::detect::Parser::AUTO.parse(
            "2026-12-04 18:33:46,123 INFO spawned: 'x' with pid 5",
            &mut r,
        );
        assert_eq!(r.format, Format::Supervisord);
    }

    #[test]
    fn request_messages() {
        let cases: &[(&str, Severity, &str, i64)] = &[
            ("Not Found: /favicon.ico", Severity::WARN, "/favicon.ico", 404),
            ("Internal Server Error: /api/orders/", Severity::ERROR, "/api/orders/", 500),
            ("Bad Request: /upload", Severity::WARN, "/upload", 400),
            ("Forbidden (CSRF cookie not set.): /login/", Severity::WARN, "/login/", 403),
            ("Forbidden (Permission denied): /admin/", Severity::WARN, "/admin/", 403),
            ("Forbidden (Origin checking failed - https://evil.example does not match any trusted origins.): /form/", Severity::WARN, "/form/", 403),
            ("Bad request (Unable to parse request body): /upload", Severity::WARN, "/upload", 400),
            ("Service Unavailable: /health", Severity::ERROR, "/health", 503),
            ("Gone: /old", Severity::WARN, "/old", 410),
            ("Not Found: /caf\\xe9", Severity::WARN, "/caf\\xe9", 404),
            ("Not Found: /with space/x", Severity::WARN, "/with space/x", 404),
        ];
        for (line, sev, path, status) in cases {
            let r = ok(line);
            assert_eq!(r.severity, Some(*sev), "{line}");
            assert_eq!(s(&r, Field::UrlPath), Some(*path), "{line}");
            assert_eq!(
                int(&r, Field::HttpResponseStatusCode),
                Some(*status),
                "{line}"
            );
            assert_eq!(r.get(Field::HttpRequestMethod), None, "{line}");
            assert_eq!(r.timestamp, None);
        }
    }

    #[test]
    fn method_not_allowed() {
        let r = ok("Method Not Allowed (POST): /articles/");
        assert_eq!(s(&r, Field::HttpRequestMethod), Some("POST"));
        assert_eq!(s(&r, Field::UrlPath), Some("/articles/"));
        assert_eq!(int(&r, Field::HttpResponseStatusCode), Some(405));
        assert_eq!(r.severity, Some(Severity::WARN));
    }

    #[test]
    fn disallowed_host() {
        let r = ok("Invalid HTTP_HOST header: 'evil.example'. You may need to add 'evil.example' to ALLOWED_HOSTS.");
        assert_eq!(s(&r, Field::HttpRequestHeaderHost), Some("evil.example"));
        assert_eq!(r.severity, Some(Severity::ERROR));
    }

    #[test]
    fn basic_config_prefix() {
        let r = ok("WARNING:django.request:Not Found: /x");
        assert_eq!(r.severity, Some(Severity::WARN));
        assert_eq!(r.severity_text.as_deref(), Some("WARNING"));
        assert_eq!(s(&r, Field::UrlPath), Some("/x"));
        assert_eq!(int(&r, Field::HttpResponseStatusCode), Some(404));
        let r = ok("ERROR:django.request:Internal Server Error: /boom");
        assert_eq!(r.severity, Some(Severity::ERROR));
        let r = ok("WARNING:django.security.csrf:Forbidden (CSRF token missing.): /api/");
        assert_eq!(int(&r, Field::HttpResponseStatusCode), Some(403));
        // A Django logger with a message of no known shape: the prefix's level.
        let r = ok("DEBUG:django.db.backends:(0.001) SELECT 1; args=()");
        assert_eq!(r.severity, Some(Severity::DEBUG));
        assert!(r.fields.is_empty());
        let r = ok("INFO:django.server:\"GET /x HTTP/1.1\" 200 12");
        assert_eq!(r.severity, Some(Severity::INFO));
        assert_eq!(int(&r, Field::HttpResponseStatusCode), Some(200));
    }

    #[test]
    fn runserver_lines() {
        let r = ok("[25/Nov/2026 18:35:12] \"GET /x?page=2 HTTP/1.1\" 404 179");
        let ts = r.timestamp.unwrap();
        assert_eq!(
            (ts.year, ts.month, ts.day, ts.hour, ts.minute, ts.second, ts.offset),
            (2026, 11, 25, 18, 35, 12, Offset::Local)
        );
        assert_eq!(s(&r, Field::HttpRequestMethod), Some("GET"));
        assert_eq!(s(&r, Field::UrlOriginal), Some("/x?page=2"));
        assert_eq!(s(&r, Field::UrlPath), Some("/x"));
        assert_eq!(s(&r, Field::UrlQuery), Some("page=2"));
        assert_eq!(s(&r, Field::NetworkProtocolName), Some("http"));
        assert_eq!(s(&r, Field::NetworkProtocolVersion), Some("1.1"));
        assert_eq!(int(&r, Field::HttpResponseStatusCode), Some(404));
        assert_eq!(int(&r, Field::HttpResponseBodySize), Some(179));
        assert_eq!(r.severity, Some(Severity::WARN));

        let r = ok("[25/Nov/2026 18:35:12] \"POST /api HTTP/1.1\" 500 -");
        assert_eq!(r.severity, Some(Severity::ERROR));
        assert_eq!(r.get(Field::HttpResponseBodySize), None);

        let r =
            ok("[05/Mar/2024 09:01:02] code 400, message Bad request version ('\\x16\\x03\\x01')");
        assert!(r.timestamp.is_some());
        assert!(r.fields.is_empty());

        let r = ok("[25/Nov/2026 18:35:12] \"\\x16\\x03\\x01garbage\" 400 -");
        assert_eq!(r.get(Field::HttpRequestMethod), None);
        assert_eq!(int(&r, Field::HttpResponseStatusCode), Some(400));
    }

    #[test]
    fn rejects_other_lines() {
        for line in [
            "",
            "Error: /usr/bin/foo not found",
            "Not Found",
            "Not Found: relative",
            "Forbidden (never closed: /x",
            "WARNING:myapp.views:Not Found: /x",
            "WARNING:root:something",
            "[25/Nov/2026 18:35:12 something",
            "\"GET / HTTP/1.1\" 2000 12",
            "Traceback (most recent call last):",
        ] {
            let mut r = Record::default();
            assert!(!parse(line, &mut r), "accepted: {line}");
            assert!(r.fields.is_empty());
            assert_eq!(r.timestamp, None);
            assert_eq!(r.severity, None);
        }
    }

    const SAMPLES: &[&str] = &[
        "Forbidden (CSRF cookie not set.): /login/",
        "Method Not Allowed (POST): /articles/",
        "WARNING:django.request:Not Found: /caf\\xe9",
        "[25/Nov/2026 18:35:12] \"GET /x?page=2 HTTP/1.1\" 404 179",
        "Invalid HTTP_HOST header: 'evil.example'. You may need to add it.",
    ];

    use crate::testing::{edits, for_every_cut, mutate};

    #[test]
    fn every_prefix_of_the_samples() {
        for_every_cut(SAMPLES, |line| {
            let _ = parse(line, &mut Record::default());
        });
    }

    proptest! {
        #[test]
        fn never_panics_on_bytes(bytes in any::<Vec<u8>>()) {
            let _ = parse(&String::from_utf8_lossy(&bytes), &mut Record::default());
        }

        #[test]
        fn never_panics_on_mutated_lines(
            which in 0..SAMPLES.len(),
            edits in edits(),
        ) {
            let _ = parse(&mutate(SAMPLES[which], &edits), &mut Record::default());
        }
    }
}
