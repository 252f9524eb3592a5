//! supervisord's own log lines, `YYYY-MM-DD HH:MM:SS,mmm LEVEL message`,
//! and the search for one spliced into the middle of a child's line.
//!
//! supervisord copies its children's output in raw chunks, not lines, so
//! when it logs while a child is mid-line, its header lands inside that
//! line; [`find_spliced_header`] finds where, so the engine can cut there.

use std::borrow::Cow;

use memchr::memchr_iter;

use crate::field::Field;
use crate::record::{Format, Record};
use crate::scan::parse_u64;
use crate::severity::Severity;
use crate::time::{self, Timestamp};
use crate::uwsgi::{find_short, rfind_short};

/// `YYYY-MM-DD HH:MM:SS,mmm ` is 24 bytes, the level 4 more.
const HEADER_LEN: usize = 28;

/// Parses `YYYY-MM-DD HH:MM:SS,mmm LEVEL message`.
pub fn parse<'a>(line: &'a str, rec: &mut Record<'a>) -> bool {
    let Some((ts, severity)) = header(line.as_bytes()) else {
        return false;
    };
    rec.format = Format::Supervisord;
    rec.timestamp = Some(ts);
    rec.severity = Some(severity);
    // supervisord's own four letters (`WARN`, `CRIT`, `DEBG`).
    rec.severity_text = line.get(24..HEADER_LEN).map(Cow::Borrowed);
    message_fields(line.get(HEADER_LEN + 1..).unwrap_or(""), rec);
    true
}

/// The byte offset (> 0) where a supervisord header starts in the middle of
/// another program's line, spliced in by supervisord's block copies.
pub fn find_spliced_header(line: &[u8]) -> Option<usize> {
    // Anchor on the `,` before the milliseconds: rare in most lines, and
    // everything else is checked around it.
    memchr_iter(b',', line).find_map(|comma| {
        let start = comma.checked_sub(19).filter(|&s| s > 0)?;
        header(line.get(start..)?).map(|_| start)
    })
}

/// The supervisord level name (always 4 letters) as a severity.
pub fn level_severity(level: &[u8]) -> Option<Severity> {
    Some(match level {
        b"CRIT" => Severity::FATAL,
        b"ERRO" => Severity::ERROR,
        b"WARN" => Severity::WARN,
        b"INFO" => Severity::INFO,
        b"DEBG" => Severity::DEBUG,
        b"TRAC" | b"BLAT" => Severity::TRACE,
        _ => return None,
    })
}

/// Checks the cheap parts (separators, level) before the date itself.
fn header(b: &[u8]) -> Option<(Timestamp, Severity)> {
    let h = b.get(..HEADER_LEN)?;
    if h[19] != b',' || h[23] != b' ' || !matches!(b.get(HEADER_LEN), None | Some(b' ')) {
        return None;
    }
    let severity = level_severity(&h[24..28])?;
    let ts = time::parse_ymd_hms(h, b'-', b' ')?.with_fraction(&h[20..23])?;
    Some((ts, severity))
}

/// Program names and pids from the messages supervisord logs about its
/// children (`supervisor/process.py`, `supervisord.py`).
fn message_fields<'a>(msg: &'a str, rec: &mut Record<'a>) {
    let mut program = None;
    let mut pid = None;
    if let Some(r) = msg.strip_prefix("spawned: '") {
        // `'%s'`, not `%r`: a quote inside the name is not escaped.
        if let Some(at) = rfind_short(r.as_bytes(), b"' with pid ") {
            program = r.get(..at);
            pid = r.get(at + 11..).and_then(number);
        }
    } else if let Some(r) = msg
        .strip_prefix("success: ")
        .or_else(|| msg.strip_prefix("gave up: "))
    {
        program = before(r, " entered ");
    } else if let Some(r) = msg
        .strip_prefix("exited: ")
        .or_else(|| msg.strip_prefix("stopped: "))
    {
        // The status may hold parentheses too: `(terminated by SIGKILL (core dumped); ...)`.
        program = before(r, " (");
    } else if let Some(r) = msg.strip_prefix("killing ") {
        // `killing 'NAME' (PID) with SIGKILL` or
        // `killing NAME (pid PID) [process group ]with signal SIG`.
        if let Some(at) = rfind_short(r.as_bytes(), b" (") {
            let name = r.get(..at).unwrap_or("");
            program = Some(
                name.strip_prefix('\'')
                    .and_then(|n| n.strip_suffix('\''))
                    .unwrap_or(name),
            );
            let inner = r.get(at + 2..).unwrap_or("");
            pid = number(inner.strip_prefix("pid ").unwrap_or(inner));
        }
    } else if let Some(r) = msg.strip_prefix("waiting for ") {
        // `waiting for a, b to die` names several programs: keep none.
        program = r
            .strip_suffix(" to die")
            .or_else(|| r.strip_suffix(" to stop"))
            .filter(|names| !names.contains(", "));
    } else if let Some(r) = msg.strip_prefix("reaped unknown pid ") {
        pid = number(r);
    } else if let Some(r) = msg.strip_prefix("supervisord started with pid ") {
        pid = number(r);
    }
    if let Some(name) = program.filter(|n| !n.is_empty()) {
        rec.push_str(Field::SupervisordProgram, name);
    }
    if let Some(pid) = pid {
        rec.push_int(Field::ProcessPid, pid);
    }
}

fn before<'a>(s: &'a str, delim: &str) -> Option<&'a str> {
    s.get(..find_short(s.as_bytes(), delim.as_bytes())?)
}

/// The leading digits of `s`.
fn number(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    let n = b.iter().take_while(|d| d.is_ascii_digit()).count();
    parse_u64(b.get(..n)?).map(|v| v as i64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::field::Value;
    use crate::time::Offset;
    use proptest::prelude::*;

    fn ok(line: &str) -> Record<'_> {
        let mut r = Record::default();
        assert!(parse(line, &mut r), "rejected: {line}");
        assert_eq!(r.format, Format::Supervisord);
        assert_eq!(r.message, None);
        r
    }

    fn program<'r>(r: &'r Record<'_>) -> Option<&'r str> {
        r.get(Field::SupervisordProgram).and_then(Value::as_str)
    }

    fn pid(r: &Record<'_>) -> Option<i64> {
        r.get(Field::ProcessPid).and_then(Value::as_int)
    }

    #[test]
    fn header_and_levels() {
        let r = ok("2026-11-25 18:35:12,345 INFO supervisord started with pid 1");
        let ts = r.timestamp.unwrap();
        assert_eq!(
            (ts.year, ts.month, ts.day, ts.hour, ts.minute, ts.second),
            (2026, 11, 25, 18, 35, 12)
        );
        assert_eq!((ts.nanos, ts.frac_digits), (345_000_000, 3));
        assert_eq!(ts.offset, Offset::Local);
        assert_eq!(r.severity, Some(Severity::INFO));
        assert_eq!(pid(&r), Some(1));
        assert_eq!(program(&r), None);
        for (level, sev) in [
            ("CRIT", Severity::FATAL),
            ("ERRO", Severity::ERROR),
            ("WARN", Severity::WARN),
            ("INFO", Severity::INFO),
            ("DEBG", Severity::DEBUG),
            ("TRAC", Severity::TRACE),
            ("BLAT", Severity::TRACE),
        ] {
            let line = format!("2026-11-25 18:35:12,000 {level} something");
            assert_eq!(ok(&line).severity, Some(sev));
            assert_eq!(ok(&line).severity_text.as_deref(), Some(level));
        }
        assert_eq!(
            ok("2026-11-25 18:35:12,000 INFO").severity,
            Some(Severity::INFO)
        );
    }

    #[test]
    fn program_messages() {
        let cases: &[(&str, Option<&str>, Option<i64>)] = &[
            ("spawned: 'app-uwsgi' with pid 7", Some("app-uwsgi"), Some(7)),
            ("spawned: 'web:web_00' with pid 12", Some("web:web_00"), Some(12)),
            ("success: nginx-app entered RUNNING state, process has stayed up for > than 1 seconds (startsecs)", Some("nginx-app"), None),
            ("exited: app-uwsgi (exit status 1; not expected)", Some("app-uwsgi"), None),
            ("exited: web (terminated by SIGKILL (core dumped); not expected)", Some("web"), None),
            ("stopped: app-uwsgi (terminated by SIGTERM)", Some("app-uwsgi"), None),
            ("stopped: group:name (exit status 0)", Some("group:name"), None),
            ("gave up: app-uwsgi entered FATAL state, too many start retries too quickly", Some("app-uwsgi"), None),
            ("killing 'app-uwsgi' (7) with SIGKILL", Some("app-uwsgi"), Some(7)),
            ("killing app-uwsgi (pid 7) with signal SIGTERM", Some("app-uwsgi"), Some(7)),
            ("killing app-uwsgi (pid 7) process group with signal SIGINT", Some("app-uwsgi"), Some(7)),
            ("waiting for app-uwsgi to die", Some("app-uwsgi"), None),
            ("waiting for app-uwsgi to stop", Some("app-uwsgi"), None),
            ("waiting for app-uwsgi, nginx-app to die", None, None),
            ("received SIGTERM indicating exit request", None, None),
            ("reaped unknown pid 42", None, Some(42)),
            ("reaped unknown pid 42 (exit status 0)", None, Some(42)),
            ("supervisord started with pid 1", None, Some(1)),
            ("spawnerr: can't find command '/usr/local/bin/uwsgi'", None, None),
        ];
        for (msg, prog, p) in cases {
            let line = format!("2026-11-25 18:35:12,345 INFO {msg}");
            let r = ok(&line);
            assert_eq!(program(&r), *prog, "{msg}");
            assert_eq!(pid(&r), *p, "{msg}");
        }
    }

    #[test]
    fn rejects_other_lines() {
        for line in [
            "",
            "2026-11-25 18:35:12 INFO no millis",
            "2026-11-25 18:35:12,345 NOTE unknown level",
            "2026-11-25 18:35:12,345 INFOx",
            "2026-13-25 18:35:12,345 INFO bad month",
            "2026/11/25 18:35:12 [notice] 1#1: start worker process 31",
            "2026-11-25T18:35:12,345 INFO iso",
        ] {
            let mut r = Record::default();
            assert!(!parse(line, &mut r), "accepted: {line}");
            assert!(r.fields.is_empty());
            assert_eq!(r.format, Format::Text);
        }
    }

    #[test]
    fn spliced_headers() {
        let line = "127.0.0.1 - - [25/Nov/2026:18:35:12 +0000] \"GET / HT2026-11-25 18:35:12,345 INFO success: web entered RUNNING state, process has stayed up for > than 1 seconds (startsecs)";
        let at = find_spliced_header(line.as_bytes()).unwrap();
        assert_eq!(
            &line[..at],
            "127.0.0.1 - - [25/Nov/2026:18:35:12 +0000] \"GET / HT"
        );
        let r = ok(&line[at..]);
        assert_eq!(program(&r), Some("web"));

        // Not at 0: that is a whole supervisord line.
        assert_eq!(
            find_spliced_header(
                b"2026-11-25 18:35:12,345 INFO exited: web (exit status 0; expected)"
            ),
            None
        );
        // A header right after a leading one is still found.
        let two = b"2026-11-25 18:35:12,345 INFO x2026-11-25 18:35:13,000 WARN y";
        assert_eq!(find_spliced_header(two), Some(30));
        for line in [
            &b""[..],
            b"a,b,c",
            b"x 2026-11-25 18:35:12,34 INFO short millis",
            b"x 2026-11-25 18:35:12,345 FOO bad level",
            b"x 2026-11-25 18:35:12,345 INFOmore",
            b"x 2026-11-25 1:35:12,345 INFO bad hour",
            b",123 INFO ",
        ] {
            assert_eq!(
                find_spliced_header(line),
                None,
                "{}",
                String::from_utf8_lossy(line)
            );
        }
        assert_eq!(
            find_spliced_header(b"x2026-11-25 18:35:12,345 INFO"),
            Some(1)
        );
    }

    const SAMPLES: &[&str] = &[
        "2026-11-25 18:35:12,345 INFO spawned: 'app-uwsgi' with pid 7",
        "2026-11-25 18:35:12,345 WARN killing 'app-uwsgi' (7) with SIGKILL",
        "2026-11-25 18:35:12,345 INFO waiting for app-uwsgi to die",
        "GET / HT2026-11-25 18:35:12,345 INFO success: web entered RUNNING state",
    ];

    use crate::testing::{edits, for_every_cut, mutate};

    fn run_all(line: &str) {
        let mut r = Record::default();
        let _ = parse(line, &mut r);
        if let Some(at) = find_spliced_header(line.as_bytes()) {
            assert!(at > 0 && line.is_char_boundary(at));
            let mut r = Record::default();
            assert!(parse(&line[at..], &mut r));
        }
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
            let _ = find_spliced_header(&bytes);
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
