//! A user's uWSGI `log-format` (`logformat`) compiled into a parser.
//!
//! uWSGI's syntax is literal text and `%(name)` variables (`core/logging.c`,
//! `uwsgi_build_log_format`). As nginx's `log_format` does
//! ([`crate::nginx::log_format`]), the format compiles once into a prefix
//! literal and steps, each a variable and the literal that ends it: a value
//! runs to the first occurrence of that literal. uWSGI escapes nothing, so
//! two variables with nothing between them are refused, and `%(ctime)`,
//! `%(ltime)` and `%(ftime)`, which hold spaces, are cut at their fixed
//! width first. uWSGI writes `-` for an empty value; `-` is absent here.
//! Variables of the default request line map to the fields its parser
//! ([`super::parse_request`]) gives, `%(var.HTTP_X_REQUEST_ID)` to
//! `http.request.id`, any other `%(var.X)` to `uwsgi.var.X` and any other
//! name (user logvars, `metric.X`) to `uwsgi.NAME`.

use std::borrow::Cow;

use memchr::{memchr, memmem};

use super::{push_protocol, push_url_parts, severity_of_status};
use crate::field::{Field, Value};
use crate::nginx::{parse_time_local, TIME_LOCAL_LEN};
use crate::record::{Format, Record};
use crate::scan::{parse_decimal, parse_i64, parse_u64};
use crate::time::{parse_ctime, Timestamp};

/// The width of `%(ctime)`, e.g. `Thu Dec  3 14:21:33 2026`.
const CTIME_LEN: usize = 24;

/// The latest second a timestamp may name (9999-12-31T23:59:59Z).
const MAX_EPOCH_SECS: u64 = 253_402_300_799;

/// The `%(var.X)` names that carry the request id.
const REQUEST_ID_VARS: &[&str] = &["HTTP_X_REQUEST_ID", "HTTP_REQUEST_ID", "REQUEST_ID"];

/// Which clock a time variable reads, best first: a later kind never
/// replaces an earlier one's timestamp.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Clock {
    /// `%(tmicros)`: the request's start, microseconds since the epoch.
    Micros,
    /// `%(tmsecs)`: the start, milliseconds since the epoch.
    Millis,
    /// `%(ltime)`, `%(ftime)`: the start, `05/Mar/2024:10:15:32 +0100`.
    Local,
    /// `%(ctime)`: the start, `Thu Dec  3 14:21:33 2026`, as the default line.
    Ctime,
    /// `%(time)`: the start, seconds since the epoch.
    Secs,
    /// `%(epoch)`: when the line was written (the request's end).
    Epoch,
}

/// What a variable's value becomes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Target {
    Str(Field),
    Int(Field),
    /// `%(uri)`: `url.original` and its parts.
    Uri,
    /// `%(proto)`: `network.protocol.*`.
    Proto,
    /// `%(status)`: the status code and the severity.
    Status,
    /// `%(msecs)`, `%(micros)`, `%(secs)`: the duration, divided into seconds.
    Duration(Divisor),
    Time(Clock),
    /// `%(ftime)`: `%(ltime)`'s shape unless uWSGI's `logformat-strftime`
    /// is on; then kept as the string `uwsgi.ftime`.
    Ftime,
    /// A number no schema field names, as `uwsgi.NAME`.
    ExtraInt,
    /// Any other text, as `uwsgi.NAME`.
    ExtraStr,
}

/// Units per second of a duration variable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Divisor {
    Milli,
    Micro,
    One,
}

impl Divisor {
    fn seconds(self, value: &str) -> Option<f64> {
        let n = match self {
            Divisor::One => return parse_decimal(value.as_bytes()),
            _ => parse_u64(value.as_bytes())? as f64,
        };
        Some(match self {
            Divisor::Milli => n / 1e3,
            _ => n / 1e6,
        })
    }
}

/// How a value's end is found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shape {
    /// At the first occurrence of the next literal.
    Free,
    /// After this many bytes, when the next literal is there (else `Free`).
    Fixed(usize),
    /// After an `a, b, c` list (`%(addr)` under `--log-x-forwarded-for`).
    List,
}

fn target(name: &str) -> (Target, Shape) {
    use Target::*;
    let t = match name {
        "addr" => return (Str(Field::ClientAddress), Shape::List),
        "user" => Str(Field::UserName),
        "method" => Str(Field::HttpRequestMethod),
        "uri" => Uri,
        "proto" => Proto,
        "status" => Status,
        "host" => Str(Field::UwsgiVhost),
        "uagent" => Str(Field::UserAgentOriginal),
        "referer" => Str(Field::HttpRequestHeaderReferer),
        "pid" => Int(Field::ProcessPid),
        "vars" => Int(Field::UwsgiRequestVarsCount),
        "pktsize" => Int(Field::UwsgiRequestVarsSize),
        "rsize" => Int(Field::HttpResponseBodySize),
        "size" => Int(Field::HttpResponseSize),
        "headers" => Int(Field::UwsgiResponseHeadersCount),
        "hsize" => Int(Field::UwsgiResponseHeadersSize),
        "switches" => Int(Field::UwsgiSwitches),
        "core" => Int(Field::UwsgiCore),
        "vsz" => Int(Field::UwsgiMemoryAddressSpace),
        "rss" => Int(Field::UwsgiMemoryRss),
        "msecs" => Duration(Divisor::Milli),
        "micros" => Duration(Divisor::Micro),
        "secs" => Duration(Divisor::One),
        "tmicros" => Time(Clock::Micros),
        "tmsecs" => Time(Clock::Millis),
        "ltime" => return (Time(Clock::Local), Shape::Fixed(TIME_LOCAL_LEN)),
        "ftime" => return (Ftime, Shape::Fixed(TIME_LOCAL_LEN)),
        "ctime" => return (Time(Clock::Ctime), Shape::Fixed(CTIME_LEN)),
        "time" => Time(Clock::Secs),
        "epoch" => Time(Clock::Epoch),
        "wid" | "cl" | "vszM" | "rssM" | "modifier1" | "modifier2" | "werr" | "rerr" | "ioerr" => {
            ExtraInt
        }
        _ if name.starts_with("metric.") => ExtraInt,
        _ => match name.strip_prefix("var.") {
            Some(var) if REQUEST_ID_VARS.contains(&var) => Str(Field::HttpRequestId),
            _ => ExtraStr,
        },
    };
    (t, Shape::Free)
}

/// One variable and the literal that follows it.
#[derive(Debug, Clone)]
struct Step {
    /// The name as written in the format.
    name: String,
    /// `uwsgi.NAME`, the key of a variable the schema does not know.
    key: String,
    target: Target,
    shape: Shape,
    /// The literal after the value; empty for a variable at the very end.
    end: String,
    finder: memmem::Finder<'static>,
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
            Shape::List => Some(list_len(rest.as_bytes())).filter(|&n| n > 0),
            Shape::Free => None,
        }
        .filter(|&n| {
            rest.get(n..)
                .is_some_and(|after| after.starts_with(self.end.as_str()))
        });
        let at = match at {
            Some(at) => at,
            None => self.finder.find(rest.as_bytes())?,
        };
        Some((rest.get(..at)?, rest.get(at + self.end.len()..)?))
    }
}

/// The length of a list such as `203.0.113.5, 10.0.0.1` at the start of
/// `b`: items with no space or comma, separated by `, `.
fn list_len(b: &[u8]) -> usize {
    let item = |from: usize| {
        b.get(from..).map_or(0, |r| {
            r.iter().take_while(|&&c| !matches!(c, b' ' | b',')).count()
        })
    };
    let mut end = item(0);
    while end > 0 && b.get(end..).is_some_and(|r| r.starts_with(b", ")) {
        let n = item(end + 2);
        if n == 0 {
            break;
        }
        end += 2 + n;
    }
    end
}

/// A compiled uWSGI `log-format`.
#[derive(Debug, Clone)]
pub struct LogFormat {
    /// The literal before the first variable.
    prefix: String,
    steps: Vec<Step>,
}

/// Why a `log-format` string could not be compiled.
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

/// A piece of a format string.
enum Token<'f> {
    Literal(&'f str),
    /// A variable: its name and the byte offset of its `%(`.
    Variable(&'f str, usize),
}

/// Splits a format into literals and `%(name)` variables. A `%` not
/// followed by `(` is literal text, as in uWSGI.
fn tokenize(format: &str) -> Result<Vec<Token<'_>>, LogFormatError> {
    let b = format.as_bytes();
    let mut tokens = Vec::new();
    let mut literal = 0;
    let mut from = 0;
    while let Some(off) = b.get(from..).and_then(|r| memmem::find(r, b"%(")) {
        let at = from + off;
        let inner = b.get(at + 2..).unwrap_or_default();
        let close = memchr(b')', inner)
            .ok_or_else(|| error(format!("`%(` at byte {at} has no closing `)`")))?;
        let name = format.get(at + 2..at + 2 + close).unwrap_or_default();
        if name.is_empty() {
            return Err(error(format!("`%()` at byte {at} names no variable")));
        }
        if let Some((pos, c)) = name
            .char_indices()
            .find(|&(_, c)| c.is_whitespace() || c.is_control() || matches!(c, '%' | '('))
        {
            return Err(error(format!(
                "variable name `{name}` at byte {at} contains {c:?} at byte {}; \
                 a name has no spaces, `%` or `(`",
                at + 2 + pos
            )));
        }
        if at > literal {
            tokens.push(Token::Literal(format.get(literal..at).unwrap_or_default()));
        }
        tokens.push(Token::Variable(name, at));
        literal = at + 2 + close + 1;
        from = literal;
    }
    if literal < b.len() {
        tokens.push(Token::Literal(format.get(literal..).unwrap_or_default()));
    }
    Ok(tokens)
}

impl LogFormat {
    /// Compiles uWSGI `log-format` syntax, such as
    /// `%(addr) "%(method) %(uri) %(proto)" %(status) %(msecs)ms`.
    ///
    /// Fails on an empty format, one without variables, an unclosed `%(`,
    /// an empty or malformed name, and two variables with no literal text
    /// between them; the message says which and at what byte.
    pub fn compile(format: &str) -> Result<LogFormat, LogFormatError> {
        if format.is_empty() {
            return Err(error("the log-format is empty".into()));
        }
        let mut prefix = String::new();
        let mut steps: Vec<Step> = Vec::new();
        let mut last_var: Option<(&str, usize)> = None;
        for token in tokenize(format)? {
            match token {
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
                            "`%({prev})` (byte {prev_at}) is directly followed by `%({name})` \
                             (byte {at}): with no literal text between them their values \
                             cannot be told apart"
                        )));
                    }
                    let (target, shape) = target(name);
                    steps.push(Step {
                        name: name.to_owned(),
                        key: format!("uwsgi.{name}"),
                        target,
                        shape,
                        end: String::new(),
                        finder: memmem::Finder::new(b"").into_owned(),
                    });
                    last_var = Some((name, at));
                }
            }
        }
        if steps.is_empty() {
            return Err(error(
                "the log-format has no `%(variable)`, so it would capture nothing".into(),
            ));
        }
        Ok(LogFormat { prefix, steps })
    }

    /// The variable names, in order, as written (without `%(` and `)`).
    pub fn variables(&self) -> impl Iterator<Item = &str> + '_ {
        self.steps.iter().map(|s| s.name.as_str())
    }

    /// Parses one line; on success sets format `uwsgi.request`.
    ///
    /// `-` and empty values are absent. Text after the last literal is
    /// ignored; a number or time that does not parse rejects the line.
    /// Unknown variables' keys borrow from the format, hence `&'a self`.
    pub fn parse<'a>(&'a self, line: &'a str, rec: &mut Record<'a>) -> bool {
        rec.attempt(|rec| self.fill(line, rec).is_some())
    }

    fn fill<'a>(&'a self, line: &'a str, rec: &mut Record<'a>) -> Option<()> {
        let mut rest = line.strip_prefix(self.prefix.as_str())?;
        let mut status = None;
        let mut time: Option<(Clock, Timestamp)> = None;
        for step in &self.steps {
            let (value, after) = step.cut(rest)?;
            rest = after;
            if value.is_empty() || value == "-" {
                continue;
            }
            if let Target::Status = step.target {
                let code = parse_i64(value.as_bytes())?;
                status = status.or(Some(code));
                once(rec, Field::HttpResponseStatusCode, Value::Int(code));
            } else if let Some(t) = step.time(value)? {
                time = match time {
                    Some(best) if best.0 <= t.0 => Some(best),
                    _ => Some(t),
                };
            } else {
                step.put(rec, value)?;
            }
        }
        rec.format = Format::UwsgiRequest;
        if let Some((_, ts)) = time {
            rec.timestamp = Some(ts);
        }
        if let Some(code) = status {
            rec.severity = Some(severity_of_status(code));
        }
        Some(())
    }
}

impl Step {
    /// The timestamp of a time variable: `Some(None)` for any other
    /// variable, `None` for a time that does not parse.
    fn time(&self, value: &str) -> Option<Option<(Clock, Timestamp)>> {
        let b = value.as_bytes();
        let clock = match self.target {
            Target::Time(clock) => clock,
            // Under `logformat-strftime` it has the `--logdate` pattern:
            // then it is kept as text.
            Target::Ftime => {
                let ts = parse_time_local(b).filter(|_| b.len() == TIME_LOCAL_LEN);
                return Some(ts.map(|ts| (Clock::Local, ts)));
            }
            _ => return Some(None),
        };
        let ts = match clock {
            Clock::Micros => from_unix_frac(parse_u64(b)?, 1_000_000, 6)?,
            Clock::Millis => from_unix_frac(parse_u64(b)?, 1_000, 3)?,
            Clock::Secs | Clock::Epoch => from_unix_frac(parse_u64(b)?, 1, 0)?,
            Clock::Local => parse_time_local(b).filter(|_| b.len() == TIME_LOCAL_LEN)?,
            Clock::Ctime => parse_ctime(b).filter(|_| b.len() == CTIME_LEN)?,
        };
        Some(Some((clock, ts)))
    }

    /// Adds a value that is neither the status nor a time.
    fn put<'a>(&'a self, rec: &mut Record<'a>, value: &'a str) -> Option<()> {
        let b = value.as_bytes();
        match self.target {
            Target::Str(field) => once(rec, field, Value::str(value)),
            Target::Int(field) => once(rec, field, Value::Int(parse_i64(b)?)),
            Target::Duration(d) => {
                once(
                    rec,
                    Field::HttpServerRequestDuration,
                    Value::Float(d.seconds(value)?),
                );
            }
            Target::Uri => {
                if rec.get(Field::UrlOriginal).is_none() {
                    rec.push_str(Field::UrlOriginal, value);
                    push_url_parts(rec, value);
                }
            }
            Target::Proto => {
                if rec.get(Field::NetworkProtocolName).is_none() {
                    push_protocol(rec, value);
                }
            }
            Target::ExtraInt => self.extra(rec, Value::Int(parse_i64(b)?)),
            Target::ExtraStr | Target::Ftime => self.extra(rec, Value::str(value)),
            Target::Status | Target::Time(_) => {}
        }
        Some(())
    }

    /// `uwsgi.NAME`, unless an earlier variable of that name set it.
    fn extra<'a>(&'a self, rec: &mut Record<'a>, value: Value<'a>) {
        let key = self.key.as_str();
        if !rec.extra.iter().any(|(k, _)| k == key) {
            rec.extra.push((Cow::Borrowed(key), value));
        }
    }
}

/// Adds a field unless it is set already: the first of two equal variables wins.
fn once<'a>(rec: &mut Record<'a>, field: Field, value: Value<'a>) {
    if rec.get(field).is_none() {
        rec.push(field, value);
    }
}

/// `n` units of `1/per` second since the epoch, with `digits` fraction digits.
fn from_unix_frac(n: u64, per: u64, digits: u8) -> Option<Timestamp> {
    let secs = n / per;
    if secs > MAX_EPOCH_SECS {
        return None;
    }
    let nanos = (n % per) * (1_000_000_000 / per);
    Some(Timestamp::from_unix(
        i64::try_from(secs).ok()?,
        u32::try_from(nanos).ok()?,
        digits,
    ))
}

#[cfg(test)]
mod tests;
