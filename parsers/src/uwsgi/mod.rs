//! uWSGI's two kinds of stderr lines: the request log line of its default
//! logger (`core/logging.c`, `uwsgi_logit_simple`) and uWSGI's own messages
//! (startup banner, worker deaths, `!!!` warnings).
//!
//! The request line is taken apart by its literal anchors, since ADDR (an
//! X-Forwarded-For list), USER and the URI are client-controlled and may
//! hold spaces: the URI ends at the *last* ` => generated `, and ADDR/USER
//! end at the first `) {` followed by `N vars in B bytes} [`.

pub mod log_format;

use std::borrow::Cow;
use std::sync::OnceLock;

use memchr::memchr;
use memchr::memmem::{Finder, FinderRev};

use crate::field::{Field, Value};
use crate::record::{Format, Record};
use crate::scan::{parse_i64, Cursor};
use crate::severity::Severity;
use crate::strftime::Strftime;
use crate::time::{self, Timestamp};

/// Where METHOD URI ends and uWSGI's fixed tail begins.
const GENERATED: &str = " => generated ";

/// A searcher built once: `memmem::find` rebuilds one per call, which costs
/// more than the search itself on a short line.
macro_rules! finder {
    ($kind:ident, $new:ident, $needle:expr) => {{
        static CELL: OnceLock<$kind<'static>> = OnceLock::new();
        CELL.get_or_init(|| $kind::$new($needle))
    }};
}

/// Parses a request log line (with optional vhost and memory-report prefixes).
pub fn parse_request<'a>(line: &'a str, rec: &mut Record<'a>) -> bool {
    rec.attempt(|r| request(line, r).is_some())
}

/// Parses one of uWSGI's own lines. With `known_only`, only lines that are
/// recognisably uWSGI's are taken; without it, any line is (forced format).
pub fn parse_log<'a>(line: &'a str, rec: &mut Record<'a>, known_only: bool) -> bool {
    parse_log_with(line, rec, known_only, None)
}

/// [`parse_log`], with the user's `--logdate=FORMAT` tried first.
pub fn parse_log_with<'a>(
    line: &'a str,
    rec: &mut Record<'a>,
    known_only: bool,
    logdate: Option<&Strftime>,
) -> bool {
    let custom = logdate.and_then(|f| {
        let (ts, n) = f.parse_prefix(line.as_bytes())?;
        Some((ts, line.get(n..)?.strip_prefix(" - ")?))
    });
    let (timestamp, body) = match custom.or_else(|| split_logdate(line)) {
        Some((ts, body)) => (Some(ts), body),
        None => (None, line),
    };
    let (severity, known) = classify(body);
    if known_only && timestamp.is_none() && !known {
        return false;
    }
    rec.format = Format::UwsgiLog;
    rec.severity = Some(severity);
    if let Some(word) = level_word(body) {
        rec.severity_text = Some(Cow::Borrowed(word));
    }
    if timestamp.is_some() {
        rec.timestamp = timestamp;
    }
    if let Some(pid) = find_pid(body.as_bytes()) {
        rec.push_int(Field::ProcessPid, pid);
    }
    true
}

/// Splits uWSGI's `--logdate` (and `uwsgi_log_verbose`) prefix
/// `Thu Nov 26 03:37:55 2026 - ` off a line, or the prefix of the common
/// `--logdate=FORMAT`s: `%Y-%m-%d %H:%M:%S`, with `/` between the date's
/// parts or `T` before the time, optionally in `[…]` (uWSGI adds ` - `).
pub fn split_logdate(line: &str) -> Option<(Timestamp, &str)> {
    let b = line.as_bytes();
    if b.get(24..27) == Some(b" - ") {
        let ts = time::parse_ctime(b)?;
        return Some((ts, line.get(27..)?));
    }
    let (inner, open) = match b.first() {
        Some(b'[') => (b.get(1..)?, 1),
        _ => (b, 0),
    };
    let end = 19 + open;
    if open == 1 && b.get(end) != Some(&b']') {
        return None;
    }
    if b.get(end + open..end + open + 3) != Some(b" - ") {
        return None;
    }
    let date_sep = *inner.get(4)?;
    let mid_sep = *inner.get(10)?;
    if !matches!(date_sep, b'-' | b'/') || !matches!(mid_sep, b' ' | b'T') {
        return None;
    }
    let ts = time::parse_ymd_hms(inner, date_sep, mid_sep)?;
    Some((ts, line.get(end + open + 3..)?))
}

fn request<'a>(line: &'a str, rec: &mut Record<'a>) -> Option<()> {
    let at = if line.starts_with("[pid: ") {
        0
    } else {
        finder!(Finder, new, b"[pid: ").find(line.as_bytes())?
    };
    if at > 0 {
        prefixes(line.get(..at)?, rec)?;
    }
    let mut c = Cursor::new(line.get(at..)?);

    // [pid: P|app: A|req: N/T]
    c.eat("[pid: ").then_some(())?;
    let pid = c.number()?;
    c.eat("|app: ").then_some(())?;
    let app = c.until(b'|')?;
    c.eat("req: ").then_some(())?;
    let req = c.until(b']')?;
    c.eat_byte(b' ').then_some(())?;
    rec.push_int(Field::ProcessPid, pid as i64);
    push_int_unless_dash(rec, Field::UwsgiAppId, app)?;
    let (app_seq, total_seq) = req.split_once('/')?;
    push_int_unless_dash(rec, Field::UwsgiRequestAppSeq, app_seq)?;
    push_int_unless_dash(rec, Field::UwsgiRequestTotalSeq, total_seq)?;

    // ADDR (USER) {V vars in B bytes} [
    let rest = c.rest();
    let (anchor, vars, vars_size, c) = finder!(Finder, new, b") {")
        .find_iter(rest.as_bytes())
        .find_map(|p| {
            let mut v = Cursor::new(rest.get(p + 3..)?);
            let n = v.number()?;
            v.eat(" vars in ").then_some(())?;
            let size = v.number()?;
            v.eat(" bytes} [").then_some(())?;
            // CTIME is always 24 bytes ("%.*s", 24): checking its end here
            // skips a fake anchor inside a forged X-Forwarded-For or user.
            (v.rest().as_bytes().get(24..26) == Some(b"] ")).then_some(())?;
            Some((p, n, size, v))
        })?;
    let addr_user = rest.get(..anchor)?;
    let split = finder!(Finder, new, b" (").find(addr_user.as_bytes())?;
    let addr = addr_user.get(..split)?;
    let user = addr_user.get(split + 2..)?;
    rec.push_str_unless_dash(Field::UserName, user);
    rec.push_int(Field::UwsgiRequestVarsCount, vars as i64);
    rec.push_int(Field::UwsgiRequestVarsSize, vars_size as i64);

    // CTIME]
    let t = c.rest();
    if let Some(ts) = time::parse_ctime(t.as_bytes()) {
        rec.timestamp = Some(ts);
    }
    let after = t.get(26..)?;

    // METHOD URI => generated ...
    let g = finder!(FinderRev, new, GENERATED.as_bytes()).rfind(after.as_bytes())?;
    let req_part = after.get(..g)?;
    let (method, uri) = match memchr(b' ', req_part.as_bytes()) {
        Some(s) => (req_part.get(..s)?, req_part.get(s + 1..)?),
        None => (req_part, ""),
    };
    // The >4096-byte fallback logs `0.0.0.0 ()` and `- -`: the address is a
    // placeholder there, not the client.
    let fallback = method == "-" && uri == "-";
    if !(fallback && addr == "0.0.0.0") {
        rec.push_str_unless_dash(Field::ClientAddress, addr);
    }
    rec.push_str_unless_dash(Field::HttpRequestMethod, method);
    if !uri.is_empty() && uri != "-" {
        rec.push_str(Field::UrlOriginal, uri);
        push_url_parts(rec, uri);
    }

    let mut c = Cursor::new(after.get(g + GENERATED.len()..)?);
    tail(&mut c, rec)?;
    let left = c.rest();
    if !left.trim_end().is_empty() {
        return None;
    }
    rec.format = Format::UwsgiRequest;
    Some(())
}

/// `R bytes in X msecs VIA(PROTO STATUS) H headers in HB bytes (S switches on core C)`.
fn tail<'a>(c: &mut Cursor<'a>, rec: &mut Record<'a>) -> Option<()> {
    let body = c.number()?;
    c.eat(" bytes in ").then_some(())?;
    let took = c.number()? as f64;
    let seconds = if c.eat(" msecs") {
        took / 1e3
    } else if c.eat(" micros") {
        took / 1e6
    } else {
        return None;
    };
    let via = if c.eat(" via sendfile() ") {
        Some("sendfile")
    } else if c.eat(" via route() ") {
        Some("route")
    } else if c.eat(" via offload() ") {
        Some("offload")
    } else if c.eat_byte(b' ') {
        None
    } else {
        return None;
    };
    c.eat_byte(b'(').then_some(())?;
    let proto_status = c.until(b')')?;
    let sp = memchr::memrchr(b' ', proto_status.as_bytes())?;
    let proto = proto_status.get(..sp)?;
    let status = proto_status.get(sp + 1..)?;
    c.eat_byte(b' ').then_some(())?;
    let headers = c.number()?;
    c.eat(" headers in ").then_some(())?;
    let headers_size = c.number()?;
    c.eat(" bytes (").then_some(())?;
    let switches = c.number()?;
    c.eat(" switches on core ").then_some(())?;
    let core = c.number()?;
    c.eat_byte(b')').then_some(())?;

    let status = if status == "-" {
        None
    } else {
        Some(parse_i64(status.as_bytes())?)
    };
    rec.push_int(Field::HttpResponseBodySize, body as i64);
    rec.push(Field::HttpServerRequestDuration, Value::Float(seconds));
    if let Some(via) = via {
        rec.push_str(Field::UwsgiVia, via);
    }
    push_protocol(rec, proto);
    if let Some(status) = status {
        rec.push_int(Field::HttpResponseStatusCode, status);
    }
    rec.push_int(Field::UwsgiResponseHeadersCount, headers as i64);
    rec.push_int(Field::UwsgiResponseHeadersSize, headers_size as i64);
    rec.push_int(Field::UwsgiSwitches, switches as i64);
    rec.push_int(Field::UwsgiCore, core as i64);
    rec.severity = Some(severity_of_status(status.unwrap_or(0)));
    Some(())
}

/// The vhost (`--vhost` logs the Host first) and the memory report.
fn prefixes<'a>(prefix: &'a str, rec: &mut Record<'a>) -> Option<()> {
    const MEMORY: &str = "{address space usage: ";
    let rest = if prefix.starts_with(MEMORY) {
        prefix
    } else {
        let sp = memchr(b' ', prefix.as_bytes())?;
        rec.push_str_unless_dash(Field::UwsgiVhost, prefix.get(..sp)?);
        prefix.get(sp + 1..)?
    };
    if rest.is_empty() {
        return Some(());
    }
    let mut c = Cursor::new(rest);
    c.eat(MEMORY).then_some(())?;
    let vsz = c.number()?;
    c.eat(" bytes/").then_some(())?;
    c.number()?;
    c.eat("MB} ").then_some(())?;
    rec.push_int(Field::UwsgiMemoryAddressSpace, vsz as i64);
    // Unbit's build prints no rss part.
    if c.eat("{rss usage: ") {
        let rss = c.number()?;
        c.eat(" bytes/").then_some(())?;
        c.number()?;
        c.eat("MB} ").then_some(())?;
        rec.push_int(Field::UwsgiMemoryRss, rss as i64);
    }
    c.is_empty().then_some(())
}

/// Pushes a signed integer, nothing for `-`, and rejects anything else.
fn push_int_unless_dash(rec: &mut Record<'_>, field: Field, s: &str) -> Option<()> {
    if s != "-" {
        rec.push_int(field, parse_i64(s.as_bytes())?);
    }
    Some(())
}

/// `url.path` and `url.query` of a request target (origin or absolute form).
pub(crate) fn push_url_parts<'a>(rec: &mut Record<'a>, uri: &'a str) {
    let (target, query) = match memchr(b'?', uri.as_bytes()) {
        Some(q) => (uri.get(..q).unwrap_or(""), uri.get(q + 1..).unwrap_or("")),
        None => (uri, ""),
    };
    // Absolute form (`http://host/path`, sent to proxies): drop the authority.
    let authority = if target.starts_with('/') {
        None
    } else {
        find_short(target.as_bytes(), b"://")
    };
    let path = match authority {
        Some(s) => {
            let after = target.get(s + 3..).unwrap_or("");
            match memchr(b'/', after.as_bytes()) {
                Some(p) => after.get(p..).unwrap_or(""),
                None => "",
            }
        }
        // Authority form (`CONNECT host:443`) and `*` have no path.
        None if target.starts_with('/') => target,
        None => "",
    };
    if !path.is_empty() {
        rec.push_str(Field::UrlPath, path);
    }
    if !query.is_empty() {
        rec.push_str(Field::UrlQuery, query);
    }
}

/// `HTTP/1.1` → `http` + `1.1`; an empty or `-` protocol (HTTP/0.9, the
/// fallback line) gives neither.
pub(crate) fn push_protocol<'a>(rec: &mut Record<'a>, proto: &'a str) {
    if proto.is_empty() || proto == "-" {
        return;
    }
    if let Some(version) = proto.strip_prefix("HTTP/") {
        rec.push_str(Field::NetworkProtocolName, "http");
        if !version.is_empty() {
            rec.push_str(Field::NetworkProtocolVersion, version);
        }
        return;
    }
    let (name, version) = proto.split_once('/').unwrap_or((proto, ""));
    if name.is_empty() {
        return;
    }
    let name = if name.bytes().any(|b| b.is_ascii_uppercase()) {
        Cow::Owned(name.to_ascii_lowercase())
    } else {
        Cow::Borrowed(name)
    };
    rec.push(Field::NetworkProtocolName, Value::Str(name));
    if !version.is_empty() {
        rec.push_str(Field::NetworkProtocolVersion, version);
    }
}

/// The first `needle` in `h`, for short needles in short lines: `memchr` on
/// its first byte, without the set-up cost of a `memmem` searcher.
pub(crate) fn find_short(h: &[u8], needle: &[u8]) -> Option<usize> {
    let (&first, rest) = needle.split_first()?;
    memchr::memchr_iter(first, h).find(|&at| h.get(at + 1..).is_some_and(|t| t.starts_with(rest)))
}

/// The last `needle` in `h`, like [`find_short`].
pub(crate) fn rfind_short(h: &[u8], needle: &[u8]) -> Option<usize> {
    let (&first, rest) = needle.split_first()?;
    memchr::memrchr_iter(first, h).find(|&at| h.get(at + 1..).is_some_and(|t| t.starts_with(rest)))
}

/// 5xx is ERROR, 4xx WARN, anything else INFO.
pub(crate) fn severity_of_status(status: i64) -> Severity {
    match status {
        500..=599 => Severity::ERROR,
        400..=499 => Severity::WARN,
        _ => Severity::INFO,
    }
}

/// The first `pid: N` (as in `(pid: 9)` or `(new pid: 10)`).
fn find_pid(b: &[u8]) -> Option<i64> {
    finder!(Finder, new, b"pid: ").find_iter(b).find_map(|at| {
        if at > 0 && b.get(at - 1).is_some_and(|p| p.is_ascii_alphanumeric()) {
            return None;
        }
        let digits = b.get(at + 5..)?;
        let n = digits.iter().take_while(|d| d.is_ascii_digit()).count();
        crate::scan::parse_u64(digits.get(..n)?).map(|p| p as i64)
    })
}

/// Starts of uWSGI's own startup, reload and shutdown messages (core,
/// python plugin, http router). `#` stands for one or more digits.
const KNOWN_PREFIXES: &[&str] = &[
    "[uWSGI] getting ",
    "[uwsgi-",
    "[spooler",
    "[emperor",
    "Starting uWSGI ",
    "compiled with version: ",
    "os: Linux",
    "os: Darwin",
    "os: FreeBSD",
    "nodename: ",
    "machine: ",
    "clock source: ",
    "pcre jit ",
    "detected number of CPU cores: ",
    "current working directory: ",
    "writing pidfile to ",
    "detected binary path: ",
    "uWSGI running as root",
    "setgid() to ",
    "setuid() to ",
    "chdir() to ",
    "chroot() to ",
    "chown() ",
    "chmod() socket to ",
    "set additional group ",
    "your processes number limit is ",
    "your memory page size is ",
    "your server socket listen backlog is limited to ",
    "your mercy for graceful operations on workers is ",
    "detected max file descriptor number: ",
    "lock engine: ",
    "thunder lock: ",
    "uwsgi socket # bound to ",
    "uWSGI http bound on ",
    "uWSGI https bound on ",
    "spawned uWSGI ",
    "spawned # offload threads for uWSGI worker ",
    "Respawned uWSGI worker ",
    "Restored uWSGI worker ",
    "Python version: ",
    "Python main interpreter initialized",
    "python threads support enabled",
    "Set PythonHome to ",
    "Setting PythonHome to ",
    "added ",
    "mapped # bytes (",
    "WSGI app # (mountpoint=",
    "unable to load app ",
    "unable to find \"application\" callable",
    "no python application found",
    "--- no python application found",
    "Operational MODE: ",
    "SIGINT/SIGQUIT received",
    "SIGINT/SIGTERM received",
    "SIGPIPE: ",
    "gracefully (RE)spawned uWSGI",
    "Gracefully killing worker ",
    "...gracefully killing workers",
    "...brutally killing workers",
    "...The work of process ",
    "goodbye to uWSGI",
    "binary reloading uWSGI",
    "closing all non-uwsgi socket fds",
    "found fd # mapped to socket ",
    "worker # buried after ",
    "worker # killed successfully",
    "worker # lifetime reached",
    "worker # (pid: ",
    "worker respawning too fast",
    "uWSGI worker # cheaped",
    "VACUUM: ",
    "invalid request block size",
    "announcing my loyalty to the Emperor",
    "uWSGI listen queue of socket ",
    "probably another instance of uWSGI",
    "OOOPS ",
    "uWSGI: GAME OVER",
    "HARAKIRI",
    "DAMN ! ",
    "gateway \"",
    "uwsgi socket # inherited ",
];

/// `pattern` is a prefix of `s`, where `#` matches one or more digits.
fn starts_with_pattern(s: &[u8], pattern: &[u8]) -> bool {
    // Most lines fail on the first byte.
    if pattern.first() != s.first() {
        return false;
    }
    let mut i = 0;
    for &p in pattern {
        if p == b'#' {
            let n = s
                .get(i..)
                .map_or(0, |r| r.iter().take_while(|d| d.is_ascii_digit()).count());
            if n == 0 {
                return false;
            }
            i += n;
        } else if s.get(i) == Some(&p) {
            i += 1;
        } else {
            return false;
        }
    }
    true
}

/// `uwsgi_error()` appends ` [core/socket.c line 769]` to a syscall error.
fn is_uwsgi_error(b: &[u8]) -> bool {
    finder!(Finder, new, b".c line ").find_iter(b).any(|at| {
        let Some(after) = b.get(at + 8..) else {
            return false;
        };
        let n = after.iter().take_while(|d| d.is_ascii_digit()).count();
        n > 0
            && after.get(n) == Some(&b']')
            && b.get(..at)
                .is_some_and(|before| rfind_short(before, b" [").is_some())
    })
}

/// The level word a uWSGI message starts with, as in
/// `*** WARNING: you are running uWSGI as root !!!`: a known level word
/// followed by `:`, after optional spaces and `*** `.
fn level_word(body: &str) -> Option<&str> {
    let t = body.trim_start_matches(' ');
    let t = t.strip_prefix("*** ").unwrap_or(t);
    let n = t.bytes().take_while(u8::is_ascii_alphabetic).count();
    let word = t.get(..n)?;
    let known =
        t.as_bytes().get(n) == Some(&b':') && Severity::from_level_word(word.as_bytes()).is_some();
    known.then_some(word)
}

/// The severity of one of uWSGI's own messages, and whether it is
/// recognisably uWSGI's.
fn classify(body: &str) -> (Severity, bool) {
    let t = body.trim_start_matches(' ');
    let end = t.trim_end();
    let b = t.as_bytes();
    if t.starts_with("DAMN ! ")
        || t.starts_with("HARAKIRI")
        || t.starts_with("*** HARAKIRI")
        || t.starts_with("no python application found")
        || t.starts_with("--- no python application found")
        || t.starts_with("unable to load app ")
        || (t.starts_with("!!! ") && end.ends_with("Segmentation Fault !!!"))
    {
        return (Severity::ERROR, true);
    }
    if t.starts_with("invalid request block size") {
        return (Severity::WARN, true);
    }
    let bang = t.starts_with("!!!") || end.ends_with(" !!!") || t.contains(" !!! ");
    if t.starts_with("***") {
        let warn = bang || t.starts_with("*** WARNING") || t.starts_with("*** DANGER");
        return (if warn { Severity::WARN } else { Severity::INFO }, true);
    }
    if bang || is_uwsgi_error(b) {
        return (Severity::WARN, true);
    }
    if t.starts_with("--- ") && end.ends_with(" ---") {
        return (Severity::INFO, true);
    }
    // A binary reload execs the binary by its path: `running /usr/bin/uwsgi-core`.
    let reload = t.starts_with("running /") && end.contains("uwsgi");
    let known = reload
        || KNOWN_PREFIXES
            .iter()
            .any(|p| starts_with_pattern(b, p.as_bytes()));
    (Severity::INFO, known)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn req(line: &str) -> Record<'_> {
        let mut r = Record::default();
        assert!(parse_request(line, &mut r), "rejected: {line}");
        assert_eq!(r.format, Format::UwsgiRequest);
        r
    }

    fn int(r: &Record<'_>, f: Field) -> Option<i64> {
        r.get(f).and_then(Value::as_int)
    }

    fn s<'r>(r: &'r Record<'_>, f: Field) -> Option<&'r str> {
        r.get(f).and_then(Value::as_str)
    }

    fn float(r: &Record<'_>, f: Field) -> Option<f64> {
        match r.get(f) {
            Some(Value::Float(x)) => Some(*x),
            _ => None,
        }
    }

    const PLAIN: &str = "[pid: 8|app: 0|req: 1/1] 127.0.0.1 () {34 vars in 412 bytes} [Wed Nov 25 18:35:12 2026] GET /hello/?name=x&y=1 => generated 12 bytes in 3 msecs (HTTP/1.1 200) 2 headers in 79 bytes (1 switches on core 0)";

    #[test]
    fn plain_request_line() {
        let r = req(PLAIN);
        assert_eq!(int(&r, Field::ProcessPid), Some(8));
        assert_eq!(int(&r, Field::UwsgiAppId), Some(0));
        assert_eq!(int(&r, Field::UwsgiRequestAppSeq), Some(1));
        assert_eq!(int(&r, Field::UwsgiRequestTotalSeq), Some(1));
        assert_eq!(s(&r, Field::ClientAddress), Some("127.0.0.1"));
        assert_eq!(r.get(Field::UserName), None);
        assert_eq!(int(&r, Field::UwsgiRequestVarsCount), Some(34));
        assert_eq!(int(&r, Field::UwsgiRequestVarsSize), Some(412));
        let ts = r.timestamp.unwrap();
        assert_eq!(
            (ts.year, ts.month, ts.day, ts.hour, ts.minute, ts.second),
            (2026, 11, 25, 18, 35, 12)
        );
        assert_eq!(ts.offset, time::Offset::Local);
        assert_eq!(s(&r, Field::HttpRequestMethod), Some("GET"));
        assert_eq!(s(&r, Field::UrlOriginal), Some("/hello/?name=x&y=1"));
        assert_eq!(s(&r, Field::UrlPath), Some("/hello/"));
        assert_eq!(s(&r, Field::UrlQuery), Some("name=x&y=1"));
        assert_eq!(int(&r, Field::HttpResponseBodySize), Some(12));
        assert_eq!(float(&r, Field::HttpServerRequestDuration), Some(0.003));
        assert_eq!(r.get(Field::UwsgiVia), None);
        assert_eq!(s(&r, Field::NetworkProtocolName), Some("http"));
        assert_eq!(s(&r, Field::NetworkProtocolVersion), Some("1.1"));
        assert_eq!(int(&r, Field::HttpResponseStatusCode), Some(200));
        assert_eq!(int(&r, Field::UwsgiResponseHeadersCount), Some(2));
        assert_eq!(int(&r, Field::UwsgiResponseHeadersSize), Some(79));
        assert_eq!(int(&r, Field::UwsgiSwitches), Some(1));
        assert_eq!(int(&r, Field::UwsgiCore), Some(0));
        assert_eq!(r.severity, Some(Severity::INFO));
        assert_eq!(r.fields.len(), 20);
    }

    #[test]
    fn no_app_micros_user_and_5xx() {
        let r = req("[pid: 9|app: -1|req: -1/7] 10.0.0.5 (alice) {40 vars in 600 bytes} [Tue Mar  5 10:15:33 2024] POST /api/items => generated 145 bytes in 1532 micros (HTTP/1.0 502) 3 headers in 120 bytes (2 switches on core 3)");
        assert_eq!(int(&r, Field::UwsgiAppId), Some(-1));
        assert_eq!(int(&r, Field::UwsgiRequestAppSeq), Some(-1));
        assert_eq!(int(&r, Field::UwsgiRequestTotalSeq), Some(7));
        assert_eq!(s(&r, Field::UserName), Some("alice"));
        assert_eq!(r.timestamp.map(|t| (t.month, t.day)), Some((3, 5)));
        assert_eq!(s(&r, Field::UrlPath), Some("/api/items"));
        assert_eq!(r.get(Field::UrlQuery), None);
        assert_eq!(float(&r, Field::HttpServerRequestDuration), Some(0.001532));
        assert_eq!(s(&r, Field::NetworkProtocolVersion), Some("1.0"));
        assert_eq!(int(&r, Field::HttpResponseStatusCode), Some(502));
        assert_eq!(int(&r, Field::UwsgiCore), Some(3));
        assert_eq!(r.severity, Some(Severity::ERROR));
    }

    #[test]
    fn via_variants_and_404() {
        for (via, name) in [
            (" via sendfile() ", "sendfile"),
            (" via route() ", "route"),
            (" via offload() ", "offload"),
        ] {
            let line = format!("[pid: 8|app: 0|req: 2/5] 127.0.0.1 () {{34 vars in 412 bytes}} [Wed Nov 25 18:35:12 2026] GET /static/a.css => generated 0 bytes in 0 msecs{via}(HTTP/1.1 404) 2 headers in 79 bytes (1 switches on core 0)");
            let r = req(&line);
            assert_eq!(s(&r, Field::UwsgiVia), Some(name));
            assert_eq!(int(&r, Field::HttpResponseStatusCode), Some(404));
            assert_eq!(r.severity, Some(Severity::WARN));
        }
    }

    #[test]
    fn custom_dashes_are_omitted() {
        let r = req("[pid: 8|app: -|req: -/-] 127.0.0.1 (-) {34 vars in 412 bytes} [Wed Nov 25 18:35:12 2026] GET / => generated 12 bytes in 3 msecs (HTTP/1.1 200) 2 headers in 79 bytes (1 switches on core 0)");
        assert_eq!(r.get(Field::UwsgiAppId), None);
        assert_eq!(r.get(Field::UwsgiRequestAppSeq), None);
        assert_eq!(r.get(Field::UwsgiRequestTotalSeq), None);
        assert_eq!(r.get(Field::UserName), None);
        assert_eq!(int(&r, Field::ProcessPid), Some(8));
    }

    #[test]
    fn forwarded_for_list_is_kept_whole() {
        let r = req("[pid: 8|app: 0|req: 3/3] 203.0.113.7, 10.0.0.1 () {36 vars in 500 bytes} [Wed Nov 25 18:35:12 2026] GET / => generated 12 bytes in 3 msecs (HTTP/1.1 200) 2 headers in 79 bytes (1 switches on core 0)");
        assert_eq!(s(&r, Field::ClientAddress), Some("203.0.113.7, 10.0.0.1"));
    }

    #[test]
    fn http09_has_no_protocol() {
        let r = req("[pid: 8|app: 0|req: 4/4] 127.0.0.1 () {20 vars in 200 bytes} [Wed Nov 25 18:35:12 2026] GET /hello/ => generated 12 bytes in 1 msecs ( 200) 0 headers in 0 bytes (1 switches on core 0)");
        assert_eq!(r.get(Field::NetworkProtocolName), None);
        assert_eq!(r.get(Field::NetworkProtocolVersion), None);
        assert_eq!(int(&r, Field::HttpResponseStatusCode), Some(200));
        assert_eq!(s(&r, Field::UrlPath), Some("/hello/"));
    }

    #[test]
    fn uri_with_spaces_and_a_fake_anchor() {
        let r = req("[pid: 8|app: 0|req: 5/5] 127.0.0.1 () {34 vars in 412 bytes} [Wed Nov 25 18:35:12 2026] GET /a b => generated 1 bytes in 1 msecs (HTTP/1.1 200)?q=) {1 vars in 2 bytes} [ => generated 7 bytes in 9 msecs (HTTP/1.1 400) 2 headers in 79 bytes (1 switches on core 0)");
        assert_eq!(
            s(&r, Field::UrlOriginal),
            Some("/a b => generated 1 bytes in 1 msecs (HTTP/1.1 200)?q=) {1 vars in 2 bytes} [")
        );
        assert_eq!(int(&r, Field::HttpResponseBodySize), Some(7));
        assert_eq!(int(&r, Field::HttpResponseStatusCode), Some(400));
        assert_eq!(int(&r, Field::UwsgiRequestVarsCount), Some(34));
    }

    #[test]
    fn forged_anchor_in_the_user_is_skipped() {
        let r = req("[pid: 8|app: 0|req: 1/1] 127.0.0.1 (x) {1 vars in 1 bytes} [y) {34 vars in 412 bytes} [Wed Nov 25 18:35:12 2026] GET / => generated 12 bytes in 3 msecs (HTTP/1.1 200) 2 headers in 79 bytes (1 switches on core 0)");
        assert_eq!(s(&r, Field::UserName), Some("x) {1 vars in 1 bytes} [y"));
        assert_eq!(int(&r, Field::UwsgiRequestVarsCount), Some(34));
        assert!(r.timestamp.is_some());
    }

    #[test]
    fn vhost_and_memory_report() {
        let r = req("example.org {address space usage: 175267840 bytes/167MB} {rss usage: 30879744 bytes/29MB} [pid: 8|app: 0|req: 1/1] 127.0.0.1 () {34 vars in 412 bytes} [Wed Nov 25 18:35:12 2026] GET / => generated 12 bytes in 3 msecs (HTTP/1.1 200) 2 headers in 79 bytes (1 switches on core 0)");
        assert_eq!(s(&r, Field::UwsgiVhost), Some("example.org"));
        assert_eq!(int(&r, Field::UwsgiMemoryAddressSpace), Some(175_267_840));
        assert_eq!(int(&r, Field::UwsgiMemoryRss), Some(30_879_744));
        let r = req("{address space usage: 175267840 bytes/167MB} {rss usage: 30879744 bytes/29MB} [pid: 8|app: 0|req: 1/1] 127.0.0.1 () {34 vars in 412 bytes} [Wed Nov 25 18:35:12 2026] GET / => generated 12 bytes in 3 msecs (HTTP/1.1 200) 2 headers in 79 bytes (1 switches on core 0)");
        assert_eq!(r.get(Field::UwsgiVhost), None);
        assert_eq!(int(&r, Field::UwsgiMemoryRss), Some(30_879_744));
        let r = req("example.org [pid: 8|app: 0|req: 1/1] 127.0.0.1 () {34 vars in 412 bytes} [Wed Nov 25 18:35:12 2026] GET / => generated 12 bytes in 3 msecs (HTTP/1.1 200) 2 headers in 79 bytes (1 switches on core 0)");
        assert_eq!(s(&r, Field::UwsgiVhost), Some("example.org"));
        assert_eq!(r.get(Field::UwsgiMemoryAddressSpace), None);
    }

    #[test]
    fn fallback_line_keeps_the_numbers() {
        let r = req("[pid: 8|app: 0|req: 6/6] 0.0.0.0 () {34 vars in 5012 bytes} [Wed Nov 25 18:35:12 2026] - - => generated 0 bytes in 0 msecs (- 414) 0 headers in 0 bytes (0 switches on core 0)");
        assert_eq!(r.get(Field::ClientAddress), None);
        assert_eq!(r.get(Field::HttpRequestMethod), None);
        assert_eq!(r.get(Field::UrlOriginal), None);
        assert_eq!(r.get(Field::UrlPath), None);
        assert_eq!(r.get(Field::NetworkProtocolName), None);
        assert_eq!(int(&r, Field::HttpResponseStatusCode), Some(414));
        assert_eq!(int(&r, Field::UwsgiRequestVarsSize), Some(5012));
        assert_eq!(r.severity, Some(Severity::WARN));
    }

    #[test]
    fn absolute_uri() {
        let r = req("[pid: 8|app: 0|req: 1/1] 127.0.0.1 () {34 vars in 412 bytes} [Wed Nov 25 18:35:12 2026] GET http://example.org/x?y => generated 12 bytes in 3 msecs (HTTP/1.1 200) 2 headers in 79 bytes (1 switches on core 0)");
        assert_eq!(s(&r, Field::UrlPath), Some("/x"));
        assert_eq!(s(&r, Field::UrlQuery), Some("y"));
    }

    #[test]
    fn rejects_other_lines_and_leaves_the_record_alone() {
        for line in [
            "",
            "spawned uWSGI worker 1 (pid: 8, cores: 1)",
            "[pid: 8|app: 0|req: 1/1] 127.0.0.1 () {34 vars in 412 bytes} [Wed Nov 25 18:35:12 2026] GET /",
            "some text [pid: 8|app: 0|req: 1/1] 127.0.0.1 () {34 vars in 412 bytes} [Wed Nov 25 18:35:12 2026] GET / => generated 12 bytes in 3 msecs (HTTP/1.1 200) 2 headers in 79 bytes (1 switches on core 0)",
            "[pid: 8|app: 0|req: 1/1] 127.0.0.1 () {34 vars in 412 bytes} [Wed Nov 25 18:35:12 2026] GET / => generated 12 bytes in 3 secs (HTTP/1.1 200) 2 headers in 79 bytes (1 switches on core 0)",
            "[pid: 8|app: x|req: 1/1] 127.0.0.1 () {34 vars in 412 bytes} [Wed Nov 25 18:35:12 2026] GET / => generated 12 bytes in 3 msecs (HTTP/1.1 200) 2 headers in 79 bytes (1 switches on core 0)",
            "[pid: 8|app: 0|req: 1/1] 127.0.0.1 () {34 vars in 412 bytes} [Wed Nov 25 18:35:12 2026] GET / => generated 12 bytes in 3 msecs (HTTP/1.1 200) 2 headers in 79 bytes (1 switches on core 0) trailing",
        ] {
            let mut r = Record::default();
            r.push_str(Field::ServiceName, "web");
            assert!(!parse_request(line, &mut r), "accepted: {line}");
            assert_eq!(r.fields.len(), 1);
            assert_eq!(r.format, Format::Text);
            assert_eq!(r.timestamp, None);
        }
    }

    fn log(line: &str, known_only: bool) -> Option<Record<'_>> {
        let mut r = Record::default();
        parse_log(line, &mut r, known_only).then_some(r)
    }

    #[test]
    fn own_lines_and_their_severity() {
        let cases: &[(&str, Severity, Option<i64>)] = &[
            ("*** Starting uWSGI 2.0.21-debian (64bit) on [Wed Nov 25 18:34:21 2026] ***", Severity::INFO, None),
            ("spawned uWSGI worker 1 (pid: 8, cores: 1)", Severity::INFO, Some(8)),
            ("spawned uWSGI master process (pid: 7)", Severity::INFO, Some(7)),
            ("WSGI app 0 (mountpoint='') ready in 0 seconds on interpreter 0x55d0c8e0 pid: 7 (default app)", Severity::INFO, Some(7)),
            ("!!! no internal routing support, rebuild with pcre support !!!", Severity::WARN, None),
            ("DAMN ! worker 1 (pid: 9) died, killed by signal 9 :( trying respawn ...", Severity::ERROR, Some(9)),
            ("Respawned uWSGI worker 1 (new pid: 10)", Severity::INFO, Some(10)),
            ("invalid request block size: 12366 (max 4096)...skip", Severity::WARN, None),
            ("*** Operational MODE: preforking ***", Severity::INFO, None),
            ("*** WARNING: you are running uWSGI as root !!! (use the --uid flag) *** ", Severity::WARN, None),
            (" *** WARNING: you have enabled harakiri without post buffering. Slow upload could be rejected on post-unbuffered webservers *** ", Severity::WARN, None),
            ("*** HARAKIRI ON WORKER 1 (pid: 8, try: 1) ***", Severity::ERROR, Some(8)),
            ("uWSGI listen queue of socket \"127.0.0.1:3031\" (fd: 3) full !!! (101/100)", Severity::WARN, None),
            ("bind(): Address already in use [core/socket.c line 769]", Severity::WARN, None),
            ("uwsgi_response_write_body_do(): Broken pipe [core/writer.c line 429] during GET /slow/ (127.0.0.1)", Severity::WARN, None),
            ("--- no python application found, check your startup logs for errors ---", Severity::ERROR, None),
            ("mapped 145840 bytes (142 KB) for 1 cores", Severity::INFO, None),
            ("uwsgi socket 0 bound to TCP address 127.0.0.1:3031 fd 3", Severity::INFO, None),
            ("worker 1 buried after 1 seconds", Severity::INFO, None),
            ("SIGINT/SIGQUIT received...killing workers...", Severity::INFO, None),
            ("SIGINT/SIGTERM received...killing workers...", Severity::INFO, None),
            ("goodbye to uWSGI.", Severity::INFO, None),
            ("VACUUM: pidfile removed.", Severity::INFO, None),
            ("Python main interpreter initialized at 0x7f3c2a6b8b48", Severity::INFO, None),
            ("your server socket listen backlog is limited to 100 connections", Severity::INFO, None),
            ("thunder lock: disabled (you can enable it with --thunder-lock)", Severity::INFO, None),
            ("[uWSGI] getting INI configuration from /etc/uwsgi/app.ini", Severity::INFO, None),
            ("Gracefully killing worker 1 (pid: 8)...", Severity::INFO, Some(8)),
        ];
        for (line, sev, pid) in cases {
            let r = log(line, true).unwrap_or_else(|| panic!("rejected: {line}"));
            assert_eq!(r.format, Format::UwsgiLog);
            assert_eq!(r.severity, Some(*sev), "{line}");
            let word = line.contains("*** WARNING:").then_some("WARNING");
            assert_eq!(r.severity_text.as_deref(), word, "{line}");
            assert_eq!(
                r.get(Field::ProcessPid).and_then(Value::as_int),
                *pid,
                "{line}"
            );
            assert_eq!(r.timestamp, None);
        }
    }

    #[test]
    fn captured_lines() {
        let r = log("Thu Nov 26 03:37:55 2026 - SIGPIPE: writing to a closed pipe/socket/fd (probably the client disconnected) on request /slow/ (ip 127.0.0.1) !!!", true).unwrap();
        assert_eq!(r.severity, Some(Severity::WARN));
        let ts = r.timestamp.unwrap();
        assert_eq!(
            (ts.year, ts.month, ts.day, ts.hour, ts.minute, ts.second),
            (2026, 11, 26, 3, 37, 55)
        );
        let r = log("invalid request block size: 12366 (max 4096)...skip", true).unwrap();
        assert_eq!(r.severity, Some(Severity::WARN));
    }

    #[test]
    fn logdate_alone_is_enough() {
        let r = log("Wed Nov 25 18:34:32 2026 - anything at all", true).unwrap();
        assert_eq!(r.severity, Some(Severity::INFO));
        assert!(r.timestamp.is_some());
        let r = log("Wed Nov 25 18:34:32 2026 - DAMN ! worker 2 (pid: 11) died, killed by signal 9 :( trying respawn ...", true).unwrap();
        assert_eq!(r.severity, Some(Severity::ERROR));
        assert_eq!(r.get(Field::ProcessPid).and_then(Value::as_int), Some(11));
    }

    /// `--logdate=%Y-%m-%d %H:%M:%S`, as uWSGI 2.0.21 wrote it
    /// (fixtures/uwsgi-vhost.log), and the other common shapes.
    #[test]
    fn strftime_logdates_are_read() {
        for line in [
            "2026-12-03 14:21:34 - spawned uWSGI worker 1 (pid: 23230, cores: 1)",
            "2026/12/03 14:21:34 - spawned uWSGI worker 1 (pid: 23230, cores: 1)",
            "2026-12-03T14:21:34 - spawned uWSGI worker 1 (pid: 23230, cores: 1)",
            "[2026-12-03 14:21:34] - spawned uWSGI worker 1 (pid: 23230, cores: 1)",
        ] {
            let r = log(line, true).unwrap_or_else(|| panic!("{line}"));
            let ts = r.timestamp.unwrap_or_else(|| panic!("no time: {line}"));
            assert_eq!(ts.to_rfc3339(0), "2026-12-03T14:21:34+00:00", "{line}");
            assert_eq!(
                r.get(Field::ProcessPid).and_then(Value::as_int),
                Some(23230)
            );
        }
        for line in ["2026-12-03 14:21:34,123 - x", "[2026-12-03 14:21:34 - x"] {
            assert!(split_logdate(line).is_none(), "{line}");
        }
    }

    #[test]
    fn vhost_with_a_port() {
        let r = req("example.org:8080 {address space usage: 60858368 bytes/58MB} {rss usage: 11362304 bytes/10MB} [pid: 23174|app: 0|req: 2/2] 127.0.0.1 () {26 vars in 288 bytes} [Thu Dec  3 14:21:33 2026] GET /y?a=1 => generated 3 bytes in 0 msecs (HTTP/1.1 200) 1 headers in 45 bytes (1 switches on core 0)");
        assert_eq!(s(&r, Field::UwsgiVhost), Some("example.org:8080"));
        assert_eq!(int(&r, Field::UwsgiMemoryRss), Some(11362304));
        assert_eq!(s(&r, Field::UrlPath), Some("/y"));
    }

    /// `--http` router, real output (fixtures/uwsgi-http.log): CONNECT's
    /// target is an authority (RFC 9112 3.2.3), not a path.
    #[test]
    fn connect_authority_form() {
        let r = req("[pid: 24408|app: 0|req: 2/2] 127.0.0.1 () {24 vars in 269 bytes} [Thu Dec  3 14:21:47 2026] CONNECT example.org:443 => generated 3 bytes in 0 msecs (HTTP/1.1 200) 1 headers in 45 bytes (1 switches on core 0)");
        assert_eq!(s(&r, Field::HttpRequestMethod), Some("CONNECT"));
        assert_eq!(s(&r, Field::UrlOriginal), Some("example.org:443"));
        assert_eq!(s(&r, Field::UrlPath), None);
    }

    #[test]
    fn known_only_rejects_other_programs() {
        for line in [
            "Hello from a print() in a view",
            "Traceback (most recent call last):",
            "  File \"/app/views.py\", line 3, in index",
            "mapped the network",
            "worker started",
            "Welcome!!!",
            "ppid: 4",
        ] {
            assert!(log(line, true).is_none(), "accepted: {line}");
            let r = log(line, false).unwrap();
            assert_eq!(r.format, Format::UwsgiLog);
            assert_eq!(r.severity, Some(Severity::INFO));
            assert_eq!(r.get(Field::ProcessPid), None);
        }
    }

    #[test]
    fn patterns() {
        assert!(starts_with_pattern(
            b"worker 12 buried after 1 seconds",
            b"worker # buried after "
        ));
        assert!(!starts_with_pattern(
            b"worker x buried after",
            b"worker # buried after "
        ));
        assert!(!starts_with_pattern(b"worker 1", b"worker # buried after "));
    }

    const SAMPLES: &[&str] = &[
        PLAIN,
        "example.org {address space usage: 175267840 bytes/167MB} {rss usage: 30879744 bytes/29MB} [pid: 8|app: -1|req: -1/1] 1.2.3.4, 10.0.0.1 (bob) {34 vars in 412 bytes} [Wed Nov 25 18:35:12 2026] GET /a?b => generated 12 bytes in 3 micros via sendfile() (HTTP/1.1 503) 2 headers in 79 bytes (1 switches on core 0)",
        "Thu Nov 26 03:37:55 2026 - SIGPIPE: writing to a closed pipe/socket/fd (probably the client disconnected) on request /slow/ (ip 127.0.0.1) !!!",
        "DAMN ! worker 1 (pid: 9) died, killed by signal 9 :( trying respawn ...",
        "bind(): Address already in use [core/socket.c line 769]",
    ];

    use crate::testing::{edits, for_every_cut, mutate};

    fn run_all(line: &str) {
        let mut r = Record::default();
        let _ = parse_request(line, &mut r);
        let mut r = Record::default();
        let _ = parse_log(line, &mut r, true);
        let mut r = Record::default();
        let _ = parse_log(line, &mut r, false);
    }

    #[test]
    fn every_prefix_of_the_samples() {
        for_every_cut(SAMPLES, |line| {
            run_all(line);
        });
    }

    proptest! {
        #[test]
        fn never_panics_on_bytes(bytes in any::<Vec<u8>>()) {
            run_all(&String::from_utf8_lossy(&bytes));
        }

        #[test]
        fn never_panics_on_mutated_lines(
            which in 0..SAMPLES.len(),
            edits in edits(),
        ) {
            run_all(&mutate(SAMPLES[which], &edits));
        }
    }
}
