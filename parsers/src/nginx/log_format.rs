//! A user's nginx `log_format` compiled into a parser.
//!
//! The format is nginx's own syntax, literal text and `$variable` or
//! `${variable}` tokens, as one string (the quoted pieces of the config
//! directive joined). It compiles into a prefix literal and a list of steps,
//! each a variable and the literal that ends it: a value runs to the first
//! occurrence of that literal. That is sound inside quotes because nginx
//! escapes `"` in values; two variables with nothing between them cannot be
//! told apart and are refused. A few variables get help where a plain search
//! would cut them short: `$time_local` contains a space and has a fixed
//! width, and upstream lists (`0.004, 0.010 : 0.002`) are read as lists.
//! Known variables become schema fields; any other `$foo` becomes the extra
//! key `nginx.foo`.

use std::borrow::Cow;

use memchr::{memchr, memmem};

pub use super::escape::Escape;
use super::{http_version, parse_time_local, status_severity, Put, TIME_LOCAL_LEN};
use crate::field::{Field, Value};
use crate::record::{Format, Record};
use crate::scan::{parse_decimal, parse_i64, parse_u64};
use crate::time::{parse_rfc3339, Timestamp};

/// nginx's predefined `combined` format.
pub const COMBINED: &str = r#"$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent""#;

/// The `main` format of nginx's packages and official Docker image:
/// `combined` plus `"$http_x_forwarded_for"`. The access parser reads it too.
pub const MAIN: &str = r#"$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent" "$http_x_forwarded_for""#;

/// The width of `$time_iso8601`, e.g. `2024-03-05T10:15:32+01:00`.
const TIME_ISO8601_LEN: usize = 25;

/// What a variable's value becomes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Target {
    Str(Field),
    Int(Field),
    Float(Field),
    FloatList(Field),
    TimeLocal,
    TimeIso8601,
    Msec,
    /// `$request`: `nginx.request`, split as the access parser does.
    Request,
    /// `$request_uri`: `url.original` and its parts.
    RequestUri,
    /// `$server_protocol`: `network.protocol.*`.
    Protocol,
    /// `$status`: the status code and the severity.
    Status,
    /// `$otel_trace_id`, `$otel_span_id` (nginx's otel module): the
    /// event's `trace_id`/`span_id` when they are valid W3C ids.
    Id(Field, usize),
    /// Any other variable, as `nginx.NAME` (the step's `key`) in `Record::extra`.
    Extra,
}

/// How a value's end is found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shape {
    /// At the first occurrence of the next literal.
    Free,
    /// After this many bytes (falls back to `Free`).
    Fixed(usize),
    /// After a `, ` / ` : ` separated list (falls back to `Free`).
    List,
}

fn target(name: &str) -> (Target, Shape) {
    use Target::*;
    let t = match name {
        "remote_addr" => Str(Field::ClientAddress),
        "remote_user" => Str(Field::UserName),
        "time_local" => return (TimeLocal, Shape::Fixed(TIME_LOCAL_LEN)),
        "time_iso8601" => return (TimeIso8601, Shape::Fixed(TIME_ISO8601_LEN)),
        "msec" => Msec,
        "request" => Request,
        "request_method" => Str(Field::HttpRequestMethod),
        "request_uri" => RequestUri,
        "uri" | "document_uri" => Str(Field::UrlPath),
        "args" | "query_string" => Str(Field::UrlQuery),
        "server_protocol" => Protocol,
        "status" => Status,
        "body_bytes_sent" => Int(Field::HttpResponseBodySize),
        "bytes_sent" => Int(Field::HttpResponseSize),
        "request_length" => Int(Field::HttpRequestSize),
        "request_time" => Float(Field::HttpServerRequestDuration),
        "http_referer" => Str(Field::HttpRequestHeaderReferer),
        "http_user_agent" => Str(Field::UserAgentOriginal),
        // `$trace_id` is the name the image's `map` (and this project's
        // docs) give the request's id: `$request_id` or a traceparent's.
        "request_id" | "trace_id" => Str(Field::HttpRequestId),
        "http_traceparent" => Str(Field::HttpRequestHeaderTraceparent),
        "otel_trace_id" => Id(Field::TraceId, 32),
        "otel_span_id" => Id(Field::SpanId, 16),
        "http_x_forwarded_for" => return (Str(Field::HttpRequestHeaderXForwardedFor), Shape::List),
        "http_host" => Str(Field::HttpRequestHeaderHost),
        "host" | "server_name" => Str(Field::ServerAddress),
        "server_port" => Int(Field::ServerPort),
        "remote_port" => Int(Field::ClientPort),
        "scheme" => Str(Field::UrlScheme),
        "connection" => Int(Field::NginxConnectionId),
        "connection_requests" => Int(Field::NginxConnectionRequests),
        "pid" => Int(Field::ProcessPid),
        "upstream_addr" => return (Str(Field::NginxUpstreamAddr), Shape::List),
        "upstream_status" => return (Str(Field::NginxUpstreamStatus), Shape::List),
        "upstream_response_time" => {
            return (FloatList(Field::NginxUpstreamResponseTime), Shape::List)
        }
        _ => {
            let shape = if name.starts_with("upstream_") {
                Shape::List
            } else {
                Shape::Free
            };
            return (Extra, shape);
        }
    };
    (t, Shape::Free)
}

/// One variable and the literal that follows it.
#[derive(Debug, Clone)]
struct Step {
    /// The name as written in the format.
    name: String,
    /// `nginx.NAME`, the key of a variable the schema does not know.
    key: String,
    target: Target,
    shape: Shape,
    /// The literal after the value; empty for a variable at the very end.
    end: String,
    finder: memmem::Finder<'static>,
    /// `escape=json`: an ending literal after an odd run of `\\` is escaped.
    json: bool,
}

impl Step {
    /// Cuts this step's value off the front of `rest`; returns the value
    /// and what follows the ending literal.
    #[inline]
    fn cut<'a>(&self, rest: &'a str) -> Option<(&'a str, &'a str)> {
        if self.end.is_empty() {
            return Some((rest, ""));
        }
        let at = match self.shape {
            Shape::Fixed(n) => Some(n),
            Shape::List => Some(list_len(rest)).filter(|&n| n > 0),
            Shape::Free => None,
        }
        .filter(|&n| {
            rest.get(n..)
                .is_some_and(|after| after.starts_with(self.end.as_str()))
        });
        let at = match at {
            Some(at) => at,
            None if self.json => self.find_unescaped(rest.as_bytes())?,
            None => self.finder.find(rest.as_bytes())?,
        };
        Some((rest.get(..at)?, rest.get(at + self.end.len()..)?))
    }
}

impl Step {
    /// The first ending literal not preceded by an odd number of
    /// backslashes (`\"` inside an `escape=json` value).
    fn find_unescaped(&self, b: &[u8]) -> Option<usize> {
        self.finder.find_iter(b).find(|&at| {
            let before = b.get(..at).unwrap_or_default();
            before.iter().rev().take_while(|&&c| c == b'\\').count() % 2 == 0
        })
    }
}

/// The length of a list such as `10.0.0.1:80, 10.0.0.2:80 : 10.0.0.3:80` at
/// the start of `s`: items with no space, comma or quote, separated by `, `
/// or ` : `.
fn list_len(s: &str) -> usize {
    let b = s.as_bytes();
    let item = |from: usize| {
        b.get(from..).map_or(0, |r| {
            r.iter()
                .take_while(|&&c| !matches!(c, b' ' | b',' | b'"'))
                .count()
        })
    };
    let mut end = item(0);
    if end == 0 {
        return 0;
    }
    loop {
        let rest = b.get(end..).unwrap_or_default();
        let sep = if rest.starts_with(b", ") {
            2
        } else if rest.starts_with(b" : ") {
            3
        } else {
            return end;
        };
        let n = item(end + sep);
        if n == 0 {
            return end;
        }
        end += sep + n;
    }
}

/// Every number of a list such as `0.004, 0.010 : 0.002`, skipping `-`.
fn float_list(s: &str) -> Option<Vec<f64>> {
    let mut out = Vec::new();
    for item in s.split([',', ':']) {
        let item = item.trim_matches(' ');
        if !item.is_empty() && item != "-" {
            out.push(parse_decimal(item.as_bytes())?);
        }
    }
    Some(out)
}

/// `$msec`: seconds since the epoch with a fraction, `1709633732.123`.
fn parse_msec(s: &str) -> Option<Timestamp> {
    let (secs, frac) = match memchr(b'.', s.as_bytes()) {
        Some(dot) => (s.get(..dot)?, s.get(dot + 1..)?),
        None => (s, ""),
    };
    let secs = i64::try_from(parse_u64(secs.as_bytes())?).ok()?;
    if frac.is_empty() {
        return Some(Timestamp::from_unix(secs, 0, 0));
    }
    // `with_fraction` validates the digits and picks the width.
    let t = Timestamp::from_unix(secs, 0, 0).with_fraction(frac.as_bytes())?;
    Some(Timestamp::from_unix(secs, t.nanos, t.frac_digits))
}

/// A W3C trace or span id of `len` hex digits, in lower case (borrowed
/// when it already is); anything else (nginx's empty value when the otel
/// module has no span) is left out, and the line is still taken.
fn put_id<'a>(rec: &mut Record<'a>, field: Field, len: usize, value: &'a str) {
    let valid = match len {
        32 => crate::trace_context::trace_id(value).is_some(),
        _ => crate::trace_context::span_id(value).is_some(),
    };
    if !valid || rec.get(field).is_some() {
        return;
    }
    let text = if value.bytes().any(|b| b.is_ascii_uppercase()) {
        Cow::Owned(value.to_ascii_lowercase())
    } else {
        Cow::Borrowed(value)
    };
    rec.push(field, Value::Str(text));
}

/// A compiled `log_format`.
#[derive(Debug, Clone)]
pub struct LogFormat {
    /// The literal before the first variable.
    prefix: String,
    steps: Vec<Step>,
    /// How values are escaped: `escape=` at the start of the format, or
    /// [`LogFormat::with_escape`].
    escape: Escape,
}

/// Why a `log_format` string could not be compiled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogFormatError {
    pub message: String,
}

impl std::fmt::Display for LogFormatError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for LogFormatError {}

fn error(message: String) -> LogFormatError {
    LogFormatError { message }
}

/// nginx's `escape=json|default|none` before the format text, as in the
/// `log_format NAME escape=json '…'` directive; `Default` without one.
fn split_escape(format: &str) -> Result<(Escape, &str), LogFormatError> {
    let Some(rest) = format.strip_prefix("escape=") else {
        return Ok((Escape::Default, format));
    };
    let end = rest.find([' ', '\t']).unwrap_or(rest.len());
    let name = rest.get(..end).unwrap_or_default();
    let escape = Escape::from_name(name).ok_or_else(|| {
        error(format!(
            "`escape={name}` at the start of the log_format: nginx knows escape=default, json and none"
        ))
    })?;
    Ok((
        escape,
        rest.get(end..)
            .unwrap_or_default()
            .trim_start_matches([' ', '\t']),
    ))
}

/// A piece of a format string.
enum Token<'f> {
    Literal(&'f str),
    /// A variable: its name and the byte offset of its `$`.
    Variable(&'f str, usize),
}

fn is_name_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

fn tokenize(format: &str) -> Result<Vec<Token<'_>>, LogFormatError> {
    let b = format.as_bytes();
    let mut tokens = Vec::new();
    let mut literal = 0;
    while let Some(off) = b.get(literal..).and_then(|r| memchr(b'$', r)) {
        let at = literal + off;
        if off > 0 {
            tokens.push(Token::Literal(format.get(literal..at).unwrap_or_default()));
        }
        let (name, next) = if b.get(at + 1) == Some(&b'{') {
            let inner = b.get(at + 2..).unwrap_or_default();
            let close = memchr(b'}', inner)
                .ok_or_else(|| error(format!("`${{` at byte {at} has no closing `}}`")))?;
            let name = format.get(at + 2..at + 2 + close).unwrap_or_default();
            if name.is_empty() {
                return Err(error(format!("`${{}}` at byte {at} names no variable")));
            }
            if let Some((pos, c)) = name
                .char_indices()
                .find(|&(_, c)| !u8::try_from(c).is_ok_and(is_name_byte))
            {
                return Err(error(format!(
                    "variable name `{name}` at byte {at} contains {c:?} at byte {}; \
                     names are letters, digits and `_`",
                    at + 2 + pos
                )));
            }
            (name, at + 2 + close + 1)
        } else {
            let len = b
                .get(at + 1..)
                .unwrap_or_default()
                .iter()
                .take_while(|&&c| is_name_byte(c))
                .count();
            if len == 0 {
                return Err(error(format!(
                    "`$` at byte {at} is not followed by a variable name \
                     (letters, digits and `_`)"
                )));
            }
            (
                format.get(at + 1..at + 1 + len).unwrap_or_default(),
                at + 1 + len,
            )
        };
        tokens.push(Token::Variable(name, at));
        literal = next;
    }
    if literal < b.len() {
        tokens.push(Token::Literal(format.get(literal..).unwrap_or_default()));
    }
    Ok(tokens)
}

impl LogFormat {
    /// Compiles nginx `log_format` syntax, such as [`COMBINED`].
    ///
    /// Fails on an empty format, one without variables, a `$` without a
    /// name, an unclosed or invalid `${...}`, and two variables with no
    /// literal text between them; the message says which and at what byte.
    pub fn compile(format: &str) -> Result<LogFormat, LogFormatError> {
        let (escape, format) = split_escape(format)?;
        if format.is_empty() {
            return Err(error("the log_format is empty".into()));
        }
        let tokens = tokenize(format)?;
        let mut prefix = String::new();
        let mut steps: Vec<Step> = Vec::new();
        let mut last_var: Option<(&str, usize)> = None;
        for token in &tokens {
            match *token {
                Token::Literal(lit) => match steps.last_mut() {
                    Some(step) => {
                        step.end = lit.to_owned();
                        step.finder = memmem::Finder::new(lit.as_bytes()).into_owned();
                    }
                    None => prefix = lit.to_owned(),
                },
                Token::Variable(name, at) => {
                    if let Some((prev, prev_at)) =
                        last_var.filter(|_| steps.last().is_some_and(|s| s.end.is_empty()))
                    {
                        return Err(error(format!(
                            "`${prev}` (byte {prev_at}) is directly followed by `${name}` \
                             (byte {at}): with no literal text between them their values \
                             cannot be told apart"
                        )));
                    }
                    let lower = name.to_ascii_lowercase();
                    let (target, shape) = target(&lower);
                    steps.push(Step {
                        name: name.to_owned(),
                        key: format!("nginx.{lower}"),
                        target,
                        shape,
                        end: String::new(),
                        finder: memmem::Finder::new(b"").into_owned(),
                        json: escape == Escape::Json,
                    });
                    last_var = Some((name, at));
                }
            }
        }
        if steps.is_empty() {
            return Err(error(
                "the log_format has no `$variable`, so it would capture nothing".into(),
            ));
        }
        Ok(LogFormat {
            prefix,
            steps,
            escape,
        })
    }

    /// The same format with values escaped as `escape` says (nginx's
    /// `escape=`; `--nginx-escape`), whatever the format string said.
    pub fn with_escape(mut self, escape: Escape) -> LogFormat {
        self.escape = escape;
        for step in &mut self.steps {
            step.json = escape == Escape::Json;
        }
        self
    }

    /// How the values are escaped.
    pub fn escape(&self) -> Escape {
        self.escape
    }

    /// The variable names, in order, as written (without `$`).
    pub fn variables(&self) -> impl Iterator<Item = &str> + '_ {
        self.steps.iter().map(|s| s.name.as_str())
    }

    /// Parses one line; on success sets format `nginx.access`.
    ///
    /// `-` means absent. Text after the last literal is ignored, as the
    /// access parser ignores text after the user agent. An integer, number
    /// or time that does not parse rejects the line.
    /// Unknown variables' keys borrow from the format, hence `&'a self`.
    pub fn parse<'a>(&'a self, line: &'a str, rec: &mut Record<'a>) -> bool {
        rec.attempt(|rec| self.fill(line, rec).is_some())
    }

    fn fill<'a>(&'a self, line: &'a str, rec: &mut Record<'a>) -> Option<()> {
        let mut rest = line.strip_prefix(self.prefix.as_str())?;
        // Explicit variables win over the fields derived from `$request`
        // and `$request_uri`, and the first of two equal ones wins.
        let put = Put {
            decode: self.escape == Escape::Default,
            json: self.escape == Escape::Json,
            once: true,
        };
        let mut request = None;
        let mut request_uri = None;
        let mut protocol = None;
        let mut status = None;
        let mut timestamp = None;
        for step in &self.steps {
            let (value, after) = step.cut(rest)?;
            rest = after;
            if value == "-" {
                continue;
            }
            match step.target {
                Target::Str(field) => put.text_unless_dash(rec, field, value),
                Target::Int(field) => {
                    // Empty is absent too: `$remote_port` of a unix socket.
                    if !value.is_empty() {
                        put.value(rec, field, Value::Int(parse_i64(value.as_bytes())?));
                    }
                }
                Target::Float(field) => {
                    if !value.is_empty() {
                        put.value(rec, field, Value::Float(parse_decimal(value.as_bytes())?));
                    }
                }
                Target::FloatList(field) => {
                    let list = float_list(value)?;
                    if !list.is_empty() {
                        put.value(rec, field, Value::FloatList(list));
                    }
                }
                Target::TimeLocal => {
                    let ts = parse_time_local(value.as_bytes())
                        .filter(|_| value.len() == TIME_LOCAL_LEN)?;
                    timestamp = timestamp.or(Some(ts));
                }
                Target::TimeIso8601 => {
                    let (ts, n) = parse_rfc3339(value.as_bytes())?;
                    if n != value.len() {
                        return None;
                    }
                    timestamp = timestamp.or(Some(ts));
                }
                // `$msec` has milliseconds, `$time_local` and
                // `$time_iso8601` whole seconds: the precise one wins.
                Target::Msec => timestamp = Some(parse_msec(value)?),
                Target::Request => request = request.or(Some(value)),
                Target::RequestUri => request_uri = request_uri.or(Some(value)),
                Target::Protocol => protocol = protocol.or(http_version(value)),
                Target::Status => {
                    let code = parse_i64(value.as_bytes())?;
                    put.value(rec, Field::HttpResponseStatusCode, Value::Int(code));
                    status = status.or(Some(code));
                }
                Target::Id(field, len) => put_id(rec, field, len, value),
                Target::Extra => {
                    let key = step.key.as_str();
                    if !value.is_empty() && !rec.extra.iter().any(|(k, _)| k == key) {
                        let (text, bad) = match self.escape {
                            Escape::Default => super::escape::decode(value),
                            Escape::Json => super::escape::decode_json(value),
                            Escape::None => (Cow::Borrowed(value), false),
                        };
                        rec.invalid_utf8 |= bad;
                        rec.extra.push((Cow::Borrowed(key), Value::Str(text)));
                    }
                }
            }
        }
        if let Some(v) = protocol {
            put.protocol(rec, v);
        }
        if let Some(uri) = request_uri.filter(|u| !u.is_empty()) {
            put.uri(rec, uri);
        }
        if let Some(req) = request {
            put.request(rec, req);
        }
        rec.format = Format::NginxAccess;
        if let Some(ts) = timestamp {
            rec.timestamp = Some(ts);
        }
        if let Some(code) = status {
            rec.severity = Some(status_severity(code));
        }
        Some(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nginx::access;
    use crate::nginx::testutil::{assert_unique, i, mutate, mutation, s, sorted};
    use crate::severity::Severity;
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
        assert_eq!(rec.format, Format::NginxAccess);
        assert_unique(&rec);
        rec
    }

    fn extra<'r>(rec: &'r Record<'_>, key: &str) -> Option<&'r Value<'r>> {
        rec.extra.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    const ACCESS_LINES: &[&str] = &[
        r#"203.0.113.9 - alice [05/Mar/2024:10:15:32 +0100] "GET /search?q=rust&page=2 HTTP/1.1" 200 5316 "https://example.com/start" "Mozilla/5.0 (X11; Linux x86_64; rv:123.0) Gecko/20100101 Firefox/123.0""#,
        r#"127.0.0.1 - - [25/Nov/2026:18:35:12 +0000] "\x16\x03\x01\x00\xA5\x01\x00\x00\xA1\x03\x03garbage" 400 157 "-" "-""#,
        r#"127.0.0.1 - - [25/Nov/2026:18:35:15 +0000] "" 400 0 "-" "-""#,
        r#"127.0.0.1 - - [25/Nov/2026:18:35:15 +0000] "-" 408 0 "-" "-""#,
        r#"127.0.0.1 - - [25/Nov/2026:18:36:01 +0000] "GET /hello/" 200 12 "-" "-""#,
        r#"127.0.0.1 - - [25/Nov/2026:18:36:07 +0000] "GET /my file.txt?a=b c HTTP/1.1" 400 157 "-" "curl/7.88.1""#,
        r#"::1 - - [05/Mar/2024:10:15:32 +0100] "GET / HTTP/1.1" 200 612 "-" "curl/8.5.0""#,
        r#"10.0.0.2 - j\xC3\xB6rg [05/Mar/2024:10:15:32 +0100] "GET /caf\xC3\xA9?q=\x22hi\x22 HTTP/1.1" 200 1 "https://example.com/\x5Cpath" "Agent \x22quoted\x22""#,
        r#"10.0.0.2 - - [05/Mar/2024:10:15:32 +0100] "GET /caf\xE9 HTTP/1.1" 404 0 "-" "-""#,
        r#"10.0.0.2 - john doe [05/Mar/2024:10:15:32 +0100] "GET / HTTP/1.1" 401 0 "-" "-""#,
        r#"198.51.100.7 - - [25/Nov/2026:18:35:12 -0700] "GET http://example.com/proxy?x=1 HTTP/1.1" 502 150 "-" "-" "10.0.0.1""#,
        r#"198.51.100.7 - - [25/Nov/2026:18:35:12 +0000] "OPTIONS * HTTP/2.0" 204 0 "-" "-""#,
    ];

    #[test]
    fn combined_matches_the_access_parser() {
        let fmt = compile(COMBINED);
        assert_eq!(
            fmt.variables().collect::<Vec<_>>(),
            [
                "remote_addr",
                "remote_user",
                "time_local",
                "request",
                "status",
                "body_bytes_sent",
                "http_referer",
                "http_user_agent"
            ]
        );
        let main = compile(MAIN);
        for line in ACCESS_LINES {
            let mut want = Record::default();
            assert!(access::parse(line, &mut want), "access rejected {line}");
            // A line that ends in a third quoted field is `main`'s.
            let fmt = match want.get(Field::HttpRequestHeaderXForwardedFor) {
                Some(_) => &main,
                None => &fmt,
            };
            let got = parsed(fmt, line);
            assert_eq!(sorted(&got), sorted(&want), "{line}");
            assert_eq!(got.timestamp, want.timestamp, "{line}");
            assert_eq!(got.severity, want.severity, "{line}");
            assert_eq!(got.invalid_utf8, want.invalid_utf8, "{line}");
            assert!(got.extra.is_empty());
        }
    }

    #[test]
    fn rich_custom_format() {
        let fmt = compile(concat!(
            r#"$remote_addr:$remote_port - $remote_user [$time_local] "$request" $status "#,
            r#"$body_bytes_sent "$http_referer" "$http_user_agent" "$http_x_forwarded_for" "#,
            r#"rt=$request_time urt=$upstream_response_time us=$upstream_status "#,
            r#"ua=$upstream_addr uct="$upstream_connect_time" host=$host hh=${http_host} "#,
            r#"$scheme:$server_port cn=$connection/$connection_requests pid=$pid "#,
            r#"$bytes_sent $request_length $ssl_protocol/$ssl_cipher"#
        ));
        let line = concat!(
            r#"172.18.0.1:51324 - - [05/Mar/2024:10:15:32 +0100] "POST /api/orders?id=7 HTTP/1.1" 504 167 "#,
            r#""-" "python-requests/2.31.0" "203.0.113.5, 10.0.0.1" "#,
            r#"rt=60.001 urt=0.004, 0.010 : 60.000 us=502, 502 : 504 "#,
            r#"ua=10.0.0.7:8000, 10.0.0.8:8000 : unix:/run/app.sock uct="0.001, -" host=shop.example hh=shop.example:8443 "#,
            r#"https:8443 cn=1234/3 pid=29 "#,
            r#"420 512 TLSv1.3/TLS_AES_256_GCM_SHA384"#
        );
        let r = parsed(&fmt, line);
        assert_eq!(s(&r, Field::ClientAddress), Some("172.18.0.1"));
        assert_eq!(i(&r, Field::ClientPort), Some(51324));
        assert_eq!(r.timestamp.unwrap().offset, Offset::Minutes(60));
        assert_eq!(r.severity, Some(Severity::ERROR));
        assert_eq!(s(&r, Field::HttpRequestMethod), Some("POST"));
        assert_eq!(s(&r, Field::UrlPath), Some("/api/orders"));
        assert_eq!(s(&r, Field::UrlQuery), Some("id=7"));
        assert_eq!(i(&r, Field::HttpResponseStatusCode), Some(504));
        assert_eq!(i(&r, Field::HttpResponseBodySize), Some(167));
        assert_eq!(r.get(Field::HttpRequestHeaderReferer), None);
        assert_eq!(
            s(&r, Field::UserAgentOriginal),
            Some("python-requests/2.31.0")
        );
        assert_eq!(
            s(&r, Field::HttpRequestHeaderXForwardedFor),
            Some("203.0.113.5, 10.0.0.1")
        );
        assert_eq!(
            r.get(Field::HttpServerRequestDuration),
            Some(&Value::Float(60.001))
        );
        assert_eq!(
            r.get(Field::NginxUpstreamResponseTime),
            Some(&Value::FloatList(vec![0.004, 0.010, 60.0]))
        );
        assert_eq!(s(&r, Field::NginxUpstreamStatus), Some("502, 502 : 504"));
        assert_eq!(
            s(&r, Field::NginxUpstreamAddr),
            Some("10.0.0.7:8000, 10.0.0.8:8000 : unix:/run/app.sock")
        );
        assert_eq!(
            extra(&r, "nginx.upstream_connect_time"),
            Some(&Value::str("0.001, -"))
        );
        assert_eq!(s(&r, Field::ServerAddress), Some("shop.example"));
        assert_eq!(
            s(&r, Field::HttpRequestHeaderHost),
            Some("shop.example:8443")
        );
        assert_eq!(s(&r, Field::UrlScheme), Some("https"));
        assert_eq!(i(&r, Field::ServerPort), Some(8443));
        assert_eq!(i(&r, Field::NginxConnectionId), Some(1234));
        assert_eq!(i(&r, Field::NginxConnectionRequests), Some(3));
        assert_eq!(i(&r, Field::ProcessPid), Some(29));
        assert_eq!(i(&r, Field::HttpResponseSize), Some(420));
        assert_eq!(i(&r, Field::HttpRequestSize), Some(512));
        assert_eq!(
            extra(&r, "nginx.ssl_protocol"),
            Some(&Value::str("TLSv1.3"))
        );
        assert_eq!(
            extra(&r, "nginx.ssl_cipher"),
            Some(&Value::str("TLS_AES_256_GCM_SHA384"))
        );
    }

    #[test]
    fn json_like_format_with_iso_time() {
        let fmt = compile(
            r#"{"time":"$time_iso8601","ip":"$remote_addr","method":"$request_method","uri":"$request_uri","proto":"$server_protocol","status":$status,"rt":$request_time,"ref":"$http_referer"}"#,
        );
        let r = parsed(
            &fmt,
            r#"{"time":"2024-03-05T10:15:32+01:00","ip":"::1","method":"GET","uri":"/a/b?c=d","proto":"HTTP/2.0","status":404,"rt":0.000,"ref":"-"}"#,
        );
        assert_eq!(
            r.timestamp.unwrap().to_rfc3339(0),
            "2024-03-05T10:15:32+01:00"
        );
        assert_eq!(s(&r, Field::ClientAddress), Some("::1"));
        assert_eq!(s(&r, Field::HttpRequestMethod), Some("GET"));
        assert_eq!(s(&r, Field::UrlOriginal), Some("/a/b?c=d"));
        assert_eq!(s(&r, Field::UrlPath), Some("/a/b"));
        assert_eq!(s(&r, Field::UrlQuery), Some("c=d"));
        assert_eq!(s(&r, Field::NetworkProtocolName), Some("http"));
        assert_eq!(s(&r, Field::NetworkProtocolVersion), Some("2.0"));
        assert_eq!(r.severity, Some(Severity::WARN));
        assert_eq!(
            r.get(Field::HttpServerRequestDuration),
            Some(&Value::Float(0.0))
        );
        assert_eq!(r.get(Field::HttpRequestHeaderReferer), None);
        assert_eq!(r.get(Field::NginxRequest), None);
    }

    #[test]
    fn msec_and_unbracketed_time_local() {
        let fmt = compile("$msec $status $request_time");
        let r = parsed(&fmt, "1709633732.123 200 0.052");
        let ts = r.timestamp.unwrap();
        assert_eq!(ts.offset, Offset::Utc);
        assert_eq!(ts.to_rfc3339(0), "2024-03-05T10:15:32.123Z");
        let r = parsed(&fmt, "1709633732 200 -");
        assert_eq!(r.timestamp.unwrap().to_rfc3339(0), "2024-03-05T10:15:32Z");
        assert_eq!(r.get(Field::HttpServerRequestDuration), None);

        // `$time_local` holds a space; its fixed width still finds its end.
        let fmt = compile("$time_local $remote_addr $status");
        let r = parsed(&fmt, "05/Mar/2024:10:15:32 +0100 10.0.0.1 200");
        assert_eq!(r.timestamp.unwrap().offset, Offset::Minutes(60));
        assert_eq!(s(&r, Field::ClientAddress), Some("10.0.0.1"));
    }

    #[test]
    fn msec_wins_over_whole_second_times_wherever_it_is() {
        for format in [
            "[$time_local] $status t=$msec",
            "t=$msec [$time_local] $status",
        ] {
            let fmt = compile(format);
            let line = if format.starts_with('[') {
                "[05/Mar/2024:10:15:32 +0000] 200 t=1709633732.987"
            } else {
                "t=1709633732.987 [05/Mar/2024:10:15:32 +0000] 200"
            };
            let ts = parsed(&fmt, line).timestamp.unwrap();
            assert_eq!(ts.to_rfc3339(0), "2024-03-05T10:15:32.987Z", "{format}");
        }
    }

    #[test]
    fn explicit_variables_win_over_derived_ones() {
        let fmt = compile(r#""$request" $uri $args $server_protocol $status $host $server_name"#);
        let r = parsed(
            &fmt,
            r#""GET /old/path?a=1 HTTP/1.1" /new/path b=2 HTTP/1.0 301 one.example two.example"#,
        );
        assert_eq!(s(&r, Field::UrlPath), Some("/new/path"));
        assert_eq!(s(&r, Field::UrlQuery), Some("b=2"));
        assert_eq!(s(&r, Field::UrlOriginal), Some("/old/path?a=1"));
        assert_eq!(s(&r, Field::NetworkProtocolVersion), Some("1.0"));
        assert_eq!(s(&r, Field::ServerAddress), Some("one.example"));
        assert_eq!(r.severity, Some(Severity::INFO));
    }

    #[test]
    fn dashes_empties_and_bad_numbers() {
        let fmt = compile("$remote_addr $remote_port $status $body_bytes_sent $request_time $foo");
        let r = parsed(&fmt, "unix: - 200 - - -");
        assert_eq!(s(&r, Field::ClientAddress), Some("unix:"));
        assert_eq!(r.get(Field::ClientPort), None);
        assert_eq!(r.get(Field::HttpResponseBodySize), None);
        assert_eq!(r.get(Field::HttpServerRequestDuration), None);
        assert!(r.extra.is_empty());

        let mut rec = Record::default();
        for line in [
            "10.0.0.1 80 2OO 5 0.1 x",
            "10.0.0.1 80 200 5x 0.1 x",
            "10.0.0.1 port 200 5 0.1 x",
            "10.0.0.1 80 200 5 fast x",
        ] {
            assert!(!fmt.parse(line, &mut rec), "accepted: {line}");
            assert!(rec.fields.is_empty() && rec.extra.is_empty());
            assert_eq!(rec.format, Format::Text);
        }

        let fmt = compile("$status urt=$upstream_response_time");
        assert!(!fmt.parse("200 urt=0.1, soon", &mut Record::default()));
        let r = parsed(&fmt, "200 urt=-, -");
        assert_eq!(r.get(Field::NginxUpstreamResponseTime), None);
    }

    #[test]
    fn unknown_variables_are_decoded_extras() {
        let fmt = compile(r#"$status "$http_x_request_id" "$cookie_session" $Session_ID"#);
        let r = parsed(&fmt, r#"200 "abc\x22def" "\xE9t\xE9" id-1"#);
        assert_eq!(
            extra(&r, "nginx.http_x_request_id"),
            Some(&Value::str("abc\"def"))
        );
        assert_eq!(
            extra(&r, "nginx.cookie_session"),
            Some(&Value::str("\u{FFFD}t\u{FFFD}"))
        );
        assert!(r.invalid_utf8);
        // Names are case-insensitive in nginx.
        assert_eq!(extra(&r, "nginx.session_id"), Some(&Value::str("id-1")));
        // Interned keys are borrowed, not allocated per line.
        assert!(matches!(r.extra[0].0, Cow::Borrowed(_)));
    }

    /// The image's format: the request id (`$request_id`, or a traceparent's
    /// trace id through the `map` named `$trace_id`) and the header.
    #[test]
    fn request_ids_and_traceparent() {
        let fmt = compile(concat!(
            r#"$remote_addr [$time_local] "$request" $status id=$trace_id "#,
            r#"tp="$http_traceparent" rid=$request_id"#
        ));
        let line = concat!(
            r#"127.0.0.1 [04/Dec/2026:18:00:00 +0000] "GET / HTTP/1.1" 200 "#,
            r#"id=4bf92f3577b34da6a3ce929d0e0e4736 "#,
            r#"tp="00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01" "#,
            r#"rid=0af7651916cd43dd8448eb211c80319c"#
        );
        let r = parsed(&fmt, line);
        // The first of two equal fields wins, as for any variable.
        assert_eq!(
            s(&r, Field::HttpRequestId),
            Some("4bf92f3577b34da6a3ce929d0e0e4736")
        );
        assert_eq!(
            s(&r, Field::HttpRequestHeaderTraceparent),
            Some("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
        );
        assert!(r.extra.is_empty(), "{:?}", r.extra);
        // Absent header, absent id: the line is still taken.
        let r = parsed(
            &fmt,
            r#"127.0.0.1 [04/Dec/2026:18:00:00 +0000] "GET / HTTP/1.1" 200 id=- tp="-" rid=-"#,
        );
        assert_eq!(r.get(Field::HttpRequestId), None);
        assert_eq!(r.get(Field::HttpRequestHeaderTraceparent), None);
        assert_eq!(i(&r, Field::HttpResponseStatusCode), Some(200));
    }

    /// nginx's otel module: `$otel_trace_id` and `$otel_span_id` are the
    /// event's ids when valid; empty (no span) or damaged ones are left out.
    #[test]
    fn otel_module_ids() {
        let fmt = compile("$status t=$otel_trace_id s=$otel_span_id");
        let r = parsed(
            &fmt,
            "200 t=4BF92F3577B34DA6A3CE929D0E0E4736 s=00f067aa0ba902b7",
        );
        assert_eq!(
            s(&r, Field::TraceId),
            Some("4bf92f3577b34da6a3ce929d0e0e4736")
        );
        assert_eq!(s(&r, Field::SpanId), Some("00f067aa0ba902b7"));
        assert!(matches!(
            r.get(Field::SpanId),
            Some(Value::Str(Cow::Borrowed(_)))
        ));
        for line in [
            "200 t= s=",
            "200 t=- s=-",
            "200 t=00000000000000000000000000000000 s=0000000000000000",
            "200 t=4bf92f3577b34da6a3ce929d0e0e473 s=00f067aa0ba902bz",
        ] {
            let r = parsed(&fmt, line);
            assert_eq!(r.get(Field::TraceId), None, "{line}");
            assert_eq!(r.get(Field::SpanId), None, "{line}");
            assert_eq!(i(&r, Field::HttpResponseStatusCode), Some(200), "{line}");
        }
    }

    #[test]
    fn prefix_and_trailing_text() {
        let fmt = compile("access: $remote_addr [$status]");
        let r = parsed(&fmt, "access: 10.0.0.1 [200] and more");
        assert_eq!(s(&r, Field::ClientAddress), Some("10.0.0.1"));
        let mut rec = Record::default();
        assert!(!fmt.parse("error: 10.0.0.1 [200]", &mut rec));
        assert!(!fmt.parse("access: 10.0.0.1 [200", &mut rec));
    }

    /// nginx 1.22 with `log_format jsonlog escape=json '…'` wrote this
    /// (fixtures/nginx-escape-json.log, generate/nginx-variants.sh).
    #[test]
    fn escape_json_from_the_format_is_decoded() {
        let f = compile(concat!(
            r#"escape=json {"time":"$time_iso8601","remote_addr":"$remote_addr","request":"$request","#,
            r#""status":$status,"body_bytes_sent":$body_bytes_sent,"http_referer":"$http_referer","#,
            r#""http_user_agent":"$http_user_agent"}"#
        ));
        assert_eq!(f.escape(), Escape::Json);
        let line = r#"{"time":"2026-12-03T14:25:38+00:00","remote_addr":"127.0.0.1","request":"GET /esc HTTP/1.1","status":200,"body_bytes_sent":3,"http_referer":"http://ref.example/a\"b","http_user_agent":"say \"hi\" \\ tab\there \u0001 café"}"#;
        let r = parsed(&f, line);
        assert_eq!(r.format, Format::NginxAccess);
        assert_eq!(
            s(&r, Field::HttpRequestHeaderReferer),
            Some("http://ref.example/a\"b")
        );
        assert_eq!(
            s(&r, Field::UserAgentOriginal),
            Some("say \"hi\" \\ tab\there \u{1} café")
        );
        assert_eq!(s(&r, Field::UrlPath), Some("/esc"));
        assert_eq!(i(&r, Field::HttpResponseStatusCode), Some(200));
        // An escaped quote before the closing literal does not end the value.
        let f = compile(r#"escape=json {"a":"$http_user_agent","s":$status}"#);
        let r = parsed(&f, r#"{"a":"x\",\"s\":1","s":404}"#);
        assert_eq!(s(&r, Field::UserAgentOriginal), Some(r#"x","s":1"#));
        assert_eq!(i(&r, Field::HttpResponseStatusCode), Some(404));
        // `--nginx-escape none` keeps the text; `default` decodes `\xHH`.
        let f = compile(r#"{"a":"$http_user_agent"}"#).with_escape(Escape::None);
        assert_eq!(
            s(&parsed(&f, r#"{"a":"\x22\""}"#), Field::UserAgentOriginal),
            Some(r#"\x22\""#)
        );
        let f = compile(r#"escape=default "$http_user_agent""#);
        assert_eq!(f.escape(), Escape::Default);
        assert_eq!(
            s(&parsed(&f, r#""\x22""#), Field::UserAgentOriginal),
            Some("\"")
        );
    }

    #[test]
    fn compile_errors_say_what_and_where() {
        assert_eq!(compile_err(""), "the log_format is empty");
        assert_eq!(
            compile_err("just text"),
            "the log_format has no `$variable`, so it would capture nothing"
        );
        assert_eq!(
            compile_err("$remote_addr$remote_port"),
            "`$remote_addr` (byte 0) is directly followed by `$remote_port` (byte 12): \
             with no literal text between them their values cannot be told apart"
        );
        assert_eq!(
            compile_err("a ${status}$request_time"),
            "`$status` (byte 2) is directly followed by `$request_time` (byte 11): \
             with no literal text between them their values cannot be told apart"
        );
        assert_eq!(
            compile_err("cost: $ 5 $status"),
            "`$` at byte 6 is not followed by a variable name (letters, digits and `_`)"
        );
        assert_eq!(
            compile_err("$status $"),
            "`$` at byte 8 is not followed by a variable name (letters, digits and `_`)"
        );
        assert_eq!(
            compile_err("$status ${request"),
            "`${` at byte 8 has no closing `}`"
        );
        assert_eq!(compile_err("x ${}"), "`${}` at byte 2 names no variable");
        assert_eq!(
            compile_err("$status ${http-host}"),
            "variable name `http-host` at byte 8 contains '-' at byte 14; \
             names are letters, digits and `_`"
        );
        assert!(LogFormat::compile("$a ${b}c$d").is_ok());
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
            f in r#"([-a-z_ "\[\]:,]|\$|\$\{|\}){0,24}"#,
            line in r#"[-0-9a-z_ "\[\]:,./]{0,40}"#,
        ) {
            if let Ok(fmt) = LogFormat::compile(&f) {
                let mut rec = Record::default();
                let _ = fmt.parse(&line, &mut rec);
            }
        }

        #[test]
        fn parse_never_panics_on_bytes(bytes in any::<Vec<u8>>()) {
            let line = String::from_utf8_lossy(&bytes);
            let combined = compile(COMBINED);
            let mut rec = Record::default();
            let _ = combined.parse(&line, &mut rec);
        }

        #[test]
        fn parse_never_panics_on_mutations(
            which in 0..ACCESS_LINES.len(),
            edits in prop::collection::vec(mutation(), 1..6),
        ) {
            let line = mutate(ACCESS_LINES[which], &edits);
            let fmt = compile(COMBINED);
            let mut rec = Record::default();
            let ok = fmt.parse(&line, &mut rec);
            let mut want = Record::default();
            // On a damaged tail the two may read the optional fields
            // differently, but never the head.
            if ok && access::parse(&line, &mut want) {
                prop_assert_eq!(rec.timestamp, want.timestamp);
                for f in [Field::ClientAddress, Field::NginxRequest, Field::HttpResponseStatusCode] {
                    prop_assert_eq!(rec.get(f), want.get(f));
                }
            }
        }
    }
}
