//! What the engine's property tests share (the parallel `filter`'s and
//! `run`'s halves, both checked against one thread): lines of every kind
//! the engine treats apart, and the output with the times it reads from
//! the clock masked, an input cut into reads, and the reads' stamps. Not
//! for use outside tests.

use super::Settings;
use crate::event::Stamp;
use crate::output::Encoder;

/// One line of each kind: nginx access and error, uWSGI, Django's
/// request error, a traceback's lines, an empty line, supervisord (alone,
/// and spliced into an access line), JSON app lines and a logmux event.
pub const LINES: &[&str] = &[
    r#"127.0.0.1 - - [25/Nov/2026:19:39:04 +0000] "GET /boom/ HTTP/1.1" 500 145 "-" "curl/7.88.1""#,
    "2026/11/25 19:39:18 [error] 1#1: *78 connect() failed, client: 127.0.0.1",
    "[pid: 12|app: 0|req: 1/1] 127.0.0.1 () {32 vars in 351 bytes} [Wed Nov 25 19:39:19 2026] GET / => generated 24 bytes in 30 msecs (HTTP/1.1 200) 5 headers in 158 bytes (1 switches on core 0)",
    "Internal Server Error: /boom/",
    "Traceback (most recent call last):",
    "  File \"/app/views.py\", line 3, in boom",
    "    1 / 0",
    "ZeroDivisionError: division by zero",
    "During handling of the above exception, another exception occurred:",
    "",
    "2026-11-25 19:39:40,240 WARN exited: crasher (exit status 3; not expected)",
    "127.0.0.1 - - [25/Nov/2026:18:35:12 +0000] \"GET / HT2026-11-25 18:35:12,345 INFO success: web entered RUNNING state",
    "{\"level\":\"error\",\"msg\":\"x\"}",
    "{\"timestamp\":\"2026-11-25T19:39:04Z\",\"message\":\"an event\",\"service\":{\"name\":\"app\"}}",
];

/// A whole traceback whose message goes on over plain lines: whether those
/// continue it depends on the bursts they came in.
pub const TRACEBACK_GOING_ON: &str = "Traceback (most recent call last):\n  File \"/app/views.py\", line 3, in boom\n    1 / 0\nValueError: bad value\nit went on here\nand here";

/// The output with the times the engine reads from the clock (a spliced
/// line's head emitted at the end) as `<now>`: the tests give every read
/// a fixed stamp with no nanoseconds, so any other time is one of those.
pub fn without_now(out: &[u8]) -> String {
    let text = String::from_utf8_lossy(out);
    let mut kept = String::with_capacity(text.len());
    let mut rest = &*text;
    // `"YYYY-MM-DDTHH:MM:SS.nnnnnnnnnZ"`: the stamp's RFC 3339 form.
    while let Some(at) = rest.find("\"20") {
        kept.push_str(rest.get(..at).unwrap_or_default());
        let candidate = rest.get(at..at + 32).unwrap_or("");
        let b = candidate.as_bytes();
        let stamp = b.len() == 32 && b[11] == b'T' && b[20] == b'.' && b[30] == b'Z';
        if stamp && candidate.get(21..30) != Some("000000000") {
            kept.push_str("\"<now>\"");
            rest = rest.get(at + 32..).unwrap_or_default();
        } else {
            kept.push('"');
            rest = rest.get(at + 1..).unwrap_or_default();
        }
    }
    kept.push_str(rest);
    kept
}

/// `input` cut at `cuts` (each taken modulo its length plus one): the
/// pieces between, none empty.
pub fn pieces(input: &[u8], cuts: &[usize]) -> Vec<Vec<u8>> {
    let mut points: Vec<usize> = cuts.iter().map(|c| c % (input.len() + 1)).collect();
    points.sort_unstable();
    points.push(input.len());
    let mut at = 0;
    let mut out = Vec::new();
    for p in points {
        if p > at {
            out.push(input.get(at..p).unwrap_or_default().to_vec());
            at = p;
        }
    }
    out
}

/// The `i`th read's stamp: its own second, with no nanoseconds (see
/// [`without_now`]).
pub fn stamp(i: usize) -> Stamp {
    Stamp::at_unix(1_700_000_000 + i as i64, 0)
}

/// Every format detected, events as JSON: what the property tests parse
/// with.
pub fn auto_json() -> Settings {
    Settings {
        forced: None,
        nginx_format: None,
        uwsgi_logdate: None,
        uwsgi_format: None,
        encoder: Encoder::json(),
    }
}
