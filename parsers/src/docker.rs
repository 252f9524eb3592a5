//! Docker's wrappers around a line: what `docker logs -t`, `docker compose
//! logs` and the json-file driver add, peeled off before the line is parsed.
//!
//! The prefix checks run on every line of a stream, so each one rejects an
//! unwrapped line on its first bytes. The json-file reader borrows the `log`
//! text straight from the line in the common case (no escapes but the final
//! `\n`) and only falls back to serde_json to unescape.

use std::borrow::Cow;

use memchr::memchr2;
use serde::Deserialize;

use crate::scan::Cursor;
use crate::time::{self, Timestamp};

/// Docker's split size: its log copier reads a container's output into a
/// buffer of this size and sends a full buffer without a newline as a
/// message of its own (moby `daemon/logger/copier.go`, `defaultBufSize`), so
/// longer lines arrive in pieces of exactly this many bytes.
pub const PIECE_SIZE: usize = 16 * 1024;

/// Which stream a json-file line came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    Stdout,
    Stderr,
}

impl Stream {
    /// `stdout` / `stderr`, as json-file and `log.iostream` write it.
    pub fn name(self) -> &'static str {
        match self {
            Stream::Stdout => "stdout",
            Stream::Stderr => "stderr",
        }
    }

    fn from_name(s: &str) -> Option<Stream> {
        match s {
            "stdout" => Some(Stream::Stdout),
            "stderr" => Some(Stream::Stderr),
            _ => None,
        }
    }
}

/// One line of a json-file log.
#[derive(Debug, Clone, PartialEq)]
pub struct JsonFileLine<'a> {
    /// The text, without its final `\n` (nor a `\r` before it).
    pub log: Cow<'a, str>,
    pub stream: Stream,
    /// `None` when the line has no `time` or it does not parse.
    pub time: Option<Timestamp>,
    /// `log` did not end in `\n`: a piece of a line Docker split.
    pub partial: bool,
}

/// Longest compose name accepted before ` | `.
pub const MAX_COMPOSE_NAME: usize = 64;

/// `2024-05-01T12:34:56.123456789Z rest` → the time and `rest`.
///
/// Takes 0 to 9 fraction digits and `Z` or a numeric offset (compose's
/// `--timestamps` prints local time with an offset). A line that is only a
/// timestamp (an empty message whose trailing space was trimmed) gives `""`.
pub fn strip_timestamp(line: &str) -> Option<(Timestamp, &str)> {
    let b = line.as_bytes();
    if !b.first()?.is_ascii_digit() || b.get(4) != Some(&b'-') {
        return None;
    }
    let (ts, n) = time::parse_rfc3339(b)?;
    match b.get(n) {
        None => Some((ts, "")),
        Some(b' ') => Some((ts, line.get(n + 1..)?)),
        Some(_) => None,
    }
}

/// `web-1  | rest`, coloured or not → (`web-1`, `rest`).
///
/// Compose v2 prints `%-Ws | ` with W the longest name + 1, so at least one
/// space precedes `|`. With colour on, current releases wrap the whole
/// prefix (`ESC[36mweb-1  | ESC[0mrest`); older v2 releases wrapped
/// `%-Ws |` and wrote the space after the reset (`ESC[36mweb-1  |ESC[0m rest`).
/// Both are accepted, and `|` at the end of the line gives an empty `rest`.
/// Any line of the shape `name | text` matches, so enable this only for
/// input known to come from compose.
pub fn strip_compose_prefix(line: &str) -> Option<(&str, &str)> {
    let b = line.as_bytes();
    let first = *b.first()?;
    let coloured = first == 0x1b;
    if !coloured && !is_name_byte(first) {
        return None;
    }
    let name_start = if coloured { skip_sgr(b, 0)? } else { 0 };
    let mut i = name_start;
    while i - name_start <= MAX_COMPOSE_NAME && b.get(i).is_some_and(|&c| is_name_byte(c)) {
        i += 1;
    }
    let name_end = i;
    if name_end == name_start || name_end - name_start > MAX_COMPOSE_NAME {
        return None;
    }
    while b.get(i) == Some(&b' ') {
        i += 1;
    }
    if i == name_end || b.get(i) != Some(&b'|') {
        return None;
    }
    i += 1;
    let rest_at = match b.get(i) {
        None => i,
        Some(b' ') => {
            i += 1;
            if coloured {
                skip_reset(b, i).unwrap_or(i)
            } else {
                i
            }
        }
        Some(0x1b) => {
            let j = skip_reset(b, i)?;
            if b.get(j) == Some(&b' ') {
                j + 1
            } else {
                j
            }
        }
        Some(_) => return None,
    };
    Some((line.get(name_start..name_end)?, line.get(rest_at..)?))
}

fn is_name_byte(c: u8) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b'-')
}

/// Skips one SGR sequence `ESC [ params m` at `at`; returns the index after it.
fn skip_sgr(b: &[u8], at: usize) -> Option<usize> {
    if b.get(at) != Some(&0x1b) || b.get(at + 1) != Some(&b'[') {
        return None;
    }
    let mut i = at + 2;
    // Compose writes at most `36;1`; 16 bytes is plenty.
    while i - at < 16 {
        match b.get(i)? {
            b'0'..=b'9' | b';' => i += 1,
            b'm' => return Some(i + 1),
            _ => return None,
        }
    }
    None
}

/// Skips `ESC[0m` or `ESC[m` at `at`.
fn skip_reset(b: &[u8], at: usize) -> Option<usize> {
    let rest = b.get(at..)?;
    if rest.starts_with(b"\x1b[0m") {
        Some(at + 4)
    } else if rest.starts_with(b"\x1b[m") {
        Some(at + 3)
    } else {
        None
    }
}

/// `web-1` → `web`: the compose service of a container name (compose v2's
/// `-N` replica suffix, or v1's `_N`). Other names come back unchanged.
pub fn compose_service(container: &str) -> &str {
    let b = container.as_bytes();
    let digits = b.iter().rev().take_while(|c| c.is_ascii_digit()).count();
    if digits == 0 || digits + 1 >= b.len() {
        return container;
    }
    let sep = b.len() - digits - 1;
    match b.get(sep) {
        Some(b'-' | b'_') => container.get(..sep).unwrap_or(container),
        _ => container,
    }
}

/// Parses one json-file line:
/// `{"log":"text\n","stream":"stdout","time":"2024-05-01T12:34:56.1234567Z"}`.
///
/// Returns `None` for anything else, including a `stream` other than stdout
/// or stderr. Keys after `time` (`attrs`) are ignored.
pub fn parse_json_file(line: &str) -> Option<JsonFileLine<'_>> {
    if line.as_bytes().first() != Some(&b'{') {
        return None;
    }
    fast_json_file(line).or_else(|| slow_json_file(line))
}

/// Docker's exact key order with a `log` that needs no unescaping other than
/// its final `\n`: everything is borrowed.
fn fast_json_file(line: &str) -> Option<JsonFileLine<'_>> {
    let mut c = Cursor::new(line);
    if !c.eat("{\"log\":\"") {
        return None;
    }
    let rest = c.rest();
    let rb = rest.as_bytes();
    let at = memchr2(b'\\', b'"', rb)?;
    let (log, partial, after) = match rb.get(at)? {
        b'"' => (rest.get(..at)?, true, at + 1),
        _ => {
            let tail = rb.get(at..)?;
            if tail.starts_with(b"\\n\"") {
                (rest.get(..at)?, false, at + 3)
            } else if tail.starts_with(b"\\r\\n\"") {
                (rest.get(..at)?, false, at + 5)
            } else {
                return None;
            }
        }
    };
    if log.bytes().any(|b| b < 0x20) {
        // Raw control bytes are not JSON: let serde_json decide.
        return None;
    }
    let mut c = Cursor::new(rest.get(after..)?);
    if !c.eat(",\"stream\":\"") {
        return None;
    }
    let stream = Stream::from_name(c.until(b'"')?)?;
    if !c.eat(",\"time\":\"") {
        return None;
    }
    let time = parse_time(c.until(b'"')?);
    if !(c.rest() == "}" || c.rest().starts_with(',')) {
        return None;
    }
    Some(JsonFileLine {
        log: Cow::Borrowed(log),
        stream,
        time,
        partial,
    })
}

#[derive(Deserialize)]
struct RawJsonFileLine<'a> {
    #[serde(borrow)]
    log: Cow<'a, str>,
    #[serde(borrow)]
    stream: Cow<'a, str>,
    #[serde(borrow, default)]
    time: Option<Cow<'a, str>>,
}

fn slow_json_file(line: &str) -> Option<JsonFileLine<'_>> {
    let raw: RawJsonFileLine<'_> = serde_json::from_str(line).ok()?;
    let stream = Stream::from_name(&raw.stream)?;
    let time = raw.time.as_deref().and_then(parse_time);
    let mut log = raw.log;
    let partial = !log.ends_with('\n');
    if !partial {
        let keep = log.len() - if log.ends_with("\r\n") { 2 } else { 1 };
        log = match log {
            Cow::Borrowed(s) => Cow::Borrowed(s.get(..keep)?),
            Cow::Owned(mut s) => {
                s.truncate(keep);
                Cow::Owned(s)
            }
        };
    }
    Some(JsonFileLine {
        log,
        stream,
        time,
        partial,
    })
}

/// The whole of `s` as RFC 3339 (Docker writes 9 digits, trimming trailing
/// zeros in older versions: 7-digit fractions are common).
fn parse_time(s: &str) -> Option<Timestamp> {
    match time::parse_rfc3339(s.as_bytes())? {
        (ts, n) if n == s.len() => Some(ts),
        _ => None,
    }
}

/// `/var/lib/docker/containers/<id>/<id>-json.log` → `<id>`.
///
/// The id must be 64 lowercase hex digits and the same in the directory and
/// the file name; rotated files (`-json.log.1`) are accepted. Any data-root
/// works, since only the last two path components are read.
pub fn container_id_from_path(path: &str) -> Option<&str> {
    let (dir, file) = path.rsplit_once('/')?;
    let id = dir.rsplit('/').next()?;
    if !is_container_id(id) || file.get(..64)? != id {
        return None;
    }
    let tail = file.get(64..)?.strip_prefix("-json.log")?;
    let rotation_ok = tail.is_empty()
        || tail
            .strip_prefix('.')
            .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()));
    rotation_ok.then_some(id)
}

fn is_container_id(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::Offset;
    use proptest::prelude::*;

    #[test]
    fn docker_logs_timestamps() {
        let (t, rest) =
            strip_timestamp("2024-05-01T12:34:56.123456789Z 127.0.0.1 - - [01/May/2024:12:34:56 +0000] \"GET / HTTP/1.1\" 200 612").unwrap();
        assert_eq!(t.to_rfc3339(0), "2024-05-01T12:34:56.123456789Z");
        assert_eq!(
            rest,
            "127.0.0.1 - - [01/May/2024:12:34:56 +0000] \"GET / HTTP/1.1\" 200 612"
        );
        let (t, rest) = strip_timestamp("2024-05-01T14:34:56.100000000+02:00  indented").unwrap();
        assert_eq!(t.offset, Offset::Minutes(120));
        assert_eq!(rest, " indented");
        let (t, rest) = strip_timestamp("2024-05-01T12:34:56Z x").unwrap();
        assert_eq!((t.nanos, rest), (0, "x"));
        assert_eq!(
            strip_timestamp("2024-05-01T12:34:56.123456789Z").unwrap().1,
            ""
        );
        assert_eq!(
            strip_timestamp("2024-05-01T12:34:56.123456789Z ")
                .unwrap()
                .1,
            ""
        );
        assert!(strip_timestamp("2024-05-01T12:34:56.123456789Zx").is_none());
        assert!(strip_timestamp("2024-05-01T12:34:56.1234567890Z x").is_none());
        assert!(strip_timestamp("2024-05-01 12:34:56,123 INFO x").is_none());
        assert!(strip_timestamp("2026/11/25 18:35:12 [notice] 1#1: x").is_none());
        assert!(strip_timestamp("Traceback (most recent call last):").is_none());
        assert!(strip_timestamp("").is_none());
    }

    #[test]
    fn compose_prefixes() {
        assert_eq!(
            strip_compose_prefix("web-1  | [pid: 12|app: 0|req: 3/3] 127.0.0.1 ()"),
            Some(("web-1", "[pid: 12|app: 0|req: 3/3] 127.0.0.1 ()"))
        );
        assert_eq!(strip_compose_prefix("db-1   | "), Some(("db-1", "")));
        assert_eq!(strip_compose_prefix("db-1   |"), Some(("db-1", "")));
        assert_eq!(strip_compose_prefix("web_1  |   x"), Some(("web_1", "  x")));
        // Current compose: the colour spans `web-1  | `.
        assert_eq!(
            strip_compose_prefix("\x1b[36mweb-1  | \x1b[0mGET /boom/"),
            Some(("web-1", "GET /boom/"))
        );
        assert_eq!(
            strip_compose_prefix("\x1b[36;1mworker.2 | \x1b[0m"),
            Some(("worker.2", ""))
        );
        // Older v2: the reset right after `|`, then the space.
        assert_eq!(
            strip_compose_prefix("\x1b[33mdb-1   |\x1b[0m LOG:  database system is ready"),
            Some(("db-1", "LOG:  database system is ready"))
        );
        // An uncoloured prefix keeps the message's own colours.
        assert_eq!(
            strip_compose_prefix("web-1  | \x1b[0m\x1b[31mred\x1b[0m"),
            Some(("web-1", "\x1b[0m\x1b[31mred\x1b[0m"))
        );
        assert!(strip_compose_prefix("web-1| x").is_none());
        assert!(strip_compose_prefix("web-1  |x").is_none());
        assert!(strip_compose_prefix(" web-1 | x").is_none());
        assert!(strip_compose_prefix("Traceback (most recent call last):").is_none());
        assert!(strip_compose_prefix("2026/11/25 18:35:12 [notice] 1#1: x").is_none());
        assert!(strip_compose_prefix("[pid: 12|app: 0|req: 3/3]").is_none());
        assert!(strip_compose_prefix("\x1b[31mERROR\x1b[0m: x").is_none());
        assert!(strip_compose_prefix("").is_none());
        let long = format!("{} | x", "a".repeat(65));
        assert!(strip_compose_prefix(&long).is_none());
        let ok = format!("{} | x", "a".repeat(64));
        assert_eq!(strip_compose_prefix(&ok).map(|p| p.1), Some("x"));
    }

    #[test]
    fn compose_services() {
        assert_eq!(compose_service("web-1"), "web");
        assert_eq!(compose_service("web-12"), "web");
        assert_eq!(compose_service("web_1"), "web");
        assert_eq!(compose_service("shop-worker-3"), "shop-worker");
        assert_eq!(compose_service("web"), "web");
        assert_eq!(compose_service("redis5"), "redis5");
        assert_eq!(compose_service("-1"), "-1");
        assert_eq!(compose_service("1"), "1");
        assert_eq!(compose_service(""), "");
    }

    #[test]
    fn json_file_lines() {
        let l = parse_json_file(
            r#"{"log":"GET /boom/ 500\n","stream":"stderr","time":"2024-05-01T12:34:56.1234567Z"}"#,
        )
        .unwrap();
        assert!(matches!(l.log, Cow::Borrowed("GET /boom/ 500")));
        assert_eq!(l.stream, Stream::Stderr);
        assert!(!l.partial);
        let t = l.time.unwrap();
        assert_eq!((t.nanos, t.frac_digits), (123_456_700, 9));

        // A piece of a line over 16 KiB: no `\n`.
        let l = parse_json_file(
            r#"{"log":"aaaa","stream":"stdout","time":"2024-05-01T12:34:56.123456789Z"}"#,
        )
        .unwrap();
        assert_eq!((l.log.as_ref(), l.partial), ("aaaa", true));

        // Escapes take the serde path; `attrs` is ignored.
        let l = parse_json_file(
            r#"{"log":"{\"level\":\"info\",\"msg\":\"caf\u00e9\"}\r\n","stream":"stdout","attrs":{"tag":"web"},"time":"2024-05-01T12:34:56.123456789Z"}"#,
        )
        .unwrap();
        assert_eq!(l.log, r#"{"level":"info","msg":"café"}"#);
        assert!(!l.partial && l.time.is_some());
        let l = parse_json_file(
            r#"{"log":"  File \"/app/x.py\", line 3, in f\n","stream":"stderr","time":"2024-05-01T12:34:56.123456789Z","attrs":{"tag":"web"}}"#,
        )
        .unwrap();
        assert_eq!(l.log, r#"  File "/app/x.py", line 3, in f"#);
        let l =
            parse_json_file(r#"{"log":"\n","stream":"stdout","time":"2024-05-01T12:34:56.1Z"}"#)
                .unwrap();
        assert_eq!((l.log.as_ref(), l.partial), ("", false));

        assert!(
            parse_json_file(r#"{"log":"x\n","stream":"tty","time":"2024-05-01T12:34:56Z"}"#)
                .is_none()
        );
        assert!(parse_json_file(r#"{"log":"x\n","stream":"stdout""#).is_none());
        assert!(parse_json_file(r#"{"msg":"x"}"#).is_none());
        assert!(parse_json_file("plain text").is_none());
        let l = parse_json_file(r#"{"log":"x\n","stream":"stdout","time":"yesterday"}"#).unwrap();
        assert_eq!(l.time, None);
    }

    #[test]
    fn container_ids_from_paths() {
        let id = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
        let p = format!("/var/lib/docker/containers/{id}/{id}-json.log");
        assert_eq!(container_id_from_path(&p), Some(id));
        let p = format!("/var/lib/docker/containers/{id}/{id}-json.log.3");
        assert_eq!(container_id_from_path(&p), Some(id));
        let p = format!("{id}/{id}-json.log");
        assert_eq!(container_id_from_path(&p), Some(id));
        let other = "f123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
        for bad in [
            format!("/c/{other}/{id}-json.log"),
            format!("/c/{id}/{id}-json.log.gz"),
            format!("/c/{id}/{id}-json.log."),
            format!("/c/{id}/{id}.log"),
            format!("/c/{}/{}-json.log", id.to_uppercase(), id.to_uppercase()),
            format!("/c/{id}/"),
            format!("{id}-json.log"),
        ] {
            assert_eq!(container_id_from_path(&bad), None, "{bad}");
        }
    }

    proptest! {
        #[test]
        fn wrappers_never_panic(b in any::<Vec<u8>>()) {
            let s = String::from_utf8_lossy(&b);
            if let Some((_, rest)) = strip_timestamp(&s) {
                prop_assert!(s.ends_with(rest));
            }
            if let Some((name, rest)) = strip_compose_prefix(&s) {
                prop_assert!(s.contains(name) && s.ends_with(rest));
            }
            let _ = compose_service(&s);
            let _ = parse_json_file(&s);
            let _ = container_id_from_path(&s);
            let _ = parse_json_file(&format!("{{\"log\":\"{s}"));
        }

        #[test]
        fn compose_round_trip(
            name in "[A-Za-z0-9_.-]{1,64}",
            pad in 1usize..8,
            msg in any::<String>(),
            colour in proptest::option::of(prop_oneof![Just("36"), Just("33;1")]),
            old in any::<bool>(),
        ) {
            let spaces = " ".repeat(pad);
            let line = match colour {
                None => format!("{name}{spaces}| {msg}"),
                Some(c) if old => format!("\x1b[{c}m{name}{spaces}|\x1b[0m {msg}"),
                Some(c) => format!("\x1b[{c}m{name}{spaces}| \x1b[0m{msg}"),
            };
            prop_assert_eq!(strip_compose_prefix(&line), Some((name.as_str(), msg.as_str())));
        }

        #[test]
        fn json_file_round_trip(text in any::<String>(), newline in any::<bool>(), stderr in any::<bool>()) {
            let log = if newline { format!("{text}\n") } else { text.clone() };
            let stream = if stderr { "stderr" } else { "stdout" };
            let line = format!(
                "{{\"log\":{},\"stream\":\"{stream}\",\"time\":\"2024-05-01T12:34:56.123456789Z\"}}",
                serde_json::to_string(&log).unwrap()
            );
            let got = parse_json_file(&line).unwrap();
            let want = if newline { text.strip_suffix('\r').unwrap_or(&text) } else { &text };
            prop_assert_eq!(got.log.as_ref(), want);
            prop_assert_eq!(got.partial, !newline);
            prop_assert_eq!(got.stream, if stderr { Stream::Stderr } else { Stream::Stdout });
            prop_assert!(got.time.is_some());
        }
    }
}
