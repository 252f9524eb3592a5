//! The human view: one short, coloured line per event.
//!
//! `18:35:12.345 nginx     WARN  404 GET /missing/ 0.004s` — time, program,
//! severity, then the gist: status, method, path and duration for requests,
//! the exception for tracebacks, else the message. Colour only when asked
//! (by default: when stdout is a terminal).
//!
//! Every time is shown in one zone, the local one (`TZ`, else the system's)
//! or UTC (`--utc`), whatever zone its line was written in, with the date
//! in front when it is not today. A line's own header (supervisord's time
//! and level, uWSGI's `--logdate`) is not repeated after them, and a
//! traceback's stack follows its exception, indented and dimmed.

use std::sync::atomic::{AtomicBool, Ordering};

use chrono::{DateTime, FixedOffset, Local, Utc};
use logmux_parsers::{Field, Format, Record, Value};

use super::{field_str, message, Encoder, Event};

/// Whether times are shown in UTC rather than the local zone (`--utc`).
static UTC: AtomicBool = AtomicBool::new(false);

/// Shows every later pretty time in UTC (`--utc`) or the local zone.
pub fn show_times_in_utc(utc: bool) {
    UTC.store(utc, Ordering::Relaxed);
}

const RESET: &str = "\x1b[0m";
const DIM: &str = "\x1b[2m";
const BOLD: &str = "\x1b[1m";

pub(super) fn encode(enc: &Encoder, event: &Event<'_, '_>, out: &mut Vec<u8>) {
    let record = event.record;
    let mut line = String::with_capacity(160);
    let paint = |line: &mut String, color: &str, text: &str| {
        if enc.color {
            line.push_str(color);
            push_clean(line, text);
            line.push_str(RESET);
        } else {
            push_clean(line, text);
        }
    };

    let mut ts = Vec::with_capacity(35);
    enc.write_timestamp(event, &mut ts);
    paint(&mut line, DIM, &shown_time(&String::from_utf8_lossy(&ts)));
    line.push(' ');

    let program = field_str(record, Field::ServiceName).unwrap_or("-");
    let program = format!("{:<10}", truncate(program, 10));
    paint(&mut line, program_color(&program), &program);
    line.push(' ');

    let severity = record.severity.unwrap_or_default();
    paint(
        &mut line,
        severity_color(severity.text()),
        &format!("{:<5}", severity.text()),
    );
    line.push(' ');

    match record.format {
        Format::NginxAccess | Format::UwsgiRequest => request_gist(enc, record, &mut line),
        Format::PythonTraceback => {
            let kind = field_str(record, Field::ExceptionType).unwrap_or("Traceback");
            paint(&mut line, BOLD, kind);
            if let Some(msg) = field_str(record, Field::ExceptionMessage) {
                line.push_str(": ");
                push_clean(&mut line, msg);
            }
            if let Some(path) = field_str(record, Field::UrlPath) {
                line.push_str(" (");
                push_clean(&mut line, path);
                line.push(')');
            }
            let stack = field_str(record, Field::ExceptionStacktrace).unwrap_or(event.raw);
            for frame in stack_lines(stack, kind) {
                line.push_str("\n    ");
                paint(&mut line, DIM, frame);
            }
        }
        _ => {
            let msg = gist(record.format, message(event), record.message.is_some());
            // One event, one screen line: show a multi-line message's first line.
            let first = msg.lines().next().unwrap_or("");
            push_clean(&mut line, first);
            if first.len() < msg.len() {
                paint(&mut line, DIM, " …");
            }
        }
    }
    out.extend_from_slice(line.as_bytes());
    out.push(b'\n');
}

/// The time as shown: `HH:MM:SS.mmm` today, with the date before it on
/// other days, in the one zone of the view. Text that is not RFC 3339 is
/// shown as it is.
fn shown_time(rfc3339: &str) -> String {
    let Ok(time) = DateTime::<FixedOffset>::parse_from_rfc3339(rfc3339) else {
        return format!("{rfc3339:<12}");
    };
    if UTC.load(Ordering::Relaxed) {
        clock(time.with_timezone(&Utc), Utc::now())
    } else {
        clock(time.with_timezone(&Local), Local::now())
    }
}

fn clock<Z: chrono::TimeZone>(time: DateTime<Z>, now: DateTime<Z>) -> String
where
    Z::Offset: std::fmt::Display,
{
    if time.date_naive() == now.date_naive() {
        time.format("%H:%M:%S%.3f").to_string()
    } else {
        time.format("%Y-%m-%d %H:%M:%S%.3f").to_string()
    }
}

/// What follows the severity for a line kept whole in `message`: the text
/// after its header, which the time and severity columns already show
/// (`2026-11-25 19:39:31,262 CRIT text` is `text`).
fn gist(format: Format, msg: &str, parsed: bool) -> &str {
    if parsed {
        return msg;
    }
    match format {
        // `YYYY-MM-DD HH:MM:SS,mmm LEVEL text`.
        Format::Supervisord => msg
            .get(24..)
            .and_then(|rest| rest.split_once(' '))
            .map_or(msg, |(_level, text)| text),
        // `--logdate`'s `Wed Nov 25 19:39:18 2026 - text`.
        Format::UwsgiLog => match msg.get(..30).and_then(|head| head.find(" - ")) {
            Some(end)
                if msg
                    .as_bytes()
                    .get(..3)
                    .is_some_and(|d| d.iter().all(u8::is_ascii_alphabetic)) =>
            {
                msg.get(end + 3..).unwrap_or(msg)
            }
            _ => msg,
        },
        _ => msg,
    }
}

/// A traceback's lines but its last ones (`Type: message`, shown already).
fn stack_lines<'s>(stack: &'s str, kind: &str) -> impl Iterator<Item = &'s str> {
    let lines: Vec<&str> = stack.lines().collect();
    let end = lines
        .iter()
        .rposition(|l| !l.starts_with(' ') && l.starts_with(kind))
        .unwrap_or(lines.len());
    lines.into_iter().take(end)
}

fn request_gist(enc: &Encoder, record: &Record<'_>, line: &mut String) {
    if let Some(status) = record
        .get(Field::HttpResponseStatusCode)
        .and_then(Value::as_int)
    {
        let text = status.to_string();
        if enc.color {
            line.push_str(status_color(status));
            line.push_str(&text);
            line.push_str(RESET);
        } else {
            line.push_str(&text);
        }
        line.push(' ');
    }
    let method = field_str(record, Field::HttpRequestMethod);
    let target =
        field_str(record, Field::UrlOriginal).or_else(|| field_str(record, Field::NginxRequest));
    if let Some(m) = method {
        push_clean(line, m);
        line.push(' ');
    }
    push_clean(line, target.unwrap_or("-"));
    if let Some(Value::Float(secs)) = record.get(Field::HttpServerRequestDuration) {
        line.push_str(&format!(" {secs:.3}s"));
    }
    if let Some(addr) = field_str(record, Field::ClientAddress) {
        line.push(' ');
        push_clean(line, addr);
    }
}

/// Appends log text with its control characters (ESC included) blanked:
/// text from a log must never drive the terminal.
fn push_clean(line: &mut String, text: &str) {
    line.extend(text.chars().map(|c| if c.is_control() { ' ' } else { c }));
}

fn truncate(s: &str, max: usize) -> &str {
    match s.char_indices().nth(max) {
        Some((i, _)) => s.get(..i).unwrap_or(s),
        None => s,
    }
}

fn severity_color(text: &str) -> &'static str {
    match text {
        "FATAL" => "\x1b[1;41;97m",
        "ERROR" => "\x1b[1;31m",
        "WARN" => "\x1b[33m",
        "INFO" => "\x1b[32m",
        _ => "\x1b[34m",
    }
}

fn status_color(status: i64) -> &'static str {
    match status {
        500.. => "\x1b[1;31m",
        400..=499 => "\x1b[33m",
        300..=399 => "\x1b[36m",
        _ => "\x1b[32m",
    }
}

/// A stable colour per program name, so each program keeps its colour.
fn program_color(name: &str) -> &'static str {
    const COLORS: [&str; 6] = [
        "\x1b[36m", "\x1b[35m", "\x1b[34m", "\x1b[96m", "\x1b[95m", "\x1b[94m",
    ];
    let hash = name.trim_end().bytes().fold(0usize, |h, b| {
        h.wrapping_mul(31).wrapping_add(usize::from(b))
    });
    COLORS[hash % COLORS.len()]
}

#[cfg(test)]
mod tests {
    use logmux_parsers::{Field, Format, Record, Severity, Value};

    use super::super::test_support::encode_with;
    use super::super::{Encoder, OutputFormat};

    fn plain() -> Encoder {
        super::show_times_in_utc(true);
        Encoder {
            format: OutputFormat::Pretty,
            ..Encoder::json()
        }
    }

    #[test]
    fn requests_show_status_method_path_duration() {
        let mut r = Record {
            format: Format::UwsgiRequest,
            severity: Some(Severity::WARN),
            ..Default::default()
        };
        r.push_str(Field::ServiceName, "uwsgi");
        r.push_int(Field::HttpResponseStatusCode, 404);
        r.push_str(Field::HttpRequestMethod, "GET");
        r.push_str(Field::UrlOriginal, "/missing/");
        r.push(Field::HttpServerRequestDuration, Value::Float(0.0042));
        let out = encode_with(plain(), &mut r, "raw");
        assert_eq!(
            out,
            "2026-11-25 18:35:12.000 uwsgi      WARN  404 GET /missing/ 0.004s\n"
        );
    }

    #[test]
    fn colour_only_when_asked_and_first_line_only() {
        let mut r = Record::default();
        let out = encode_with(plain(), &mut r, "first\nsecond");
        assert_eq!(out, "2026-11-25 18:35:12.000 -          INFO  first …\n");
        let coloured = encode_with(
            Encoder {
                color: true,
                ..plain()
            },
            &mut r,
            "x",
        );
        assert!(coloured.contains("\x1b[32mINFO \x1b[0m"));
    }

    #[test]
    fn log_text_cannot_drive_the_terminal() {
        let mut r = Record {
            format: Format::NginxAccess,
            ..Default::default()
        };
        r.push_str(Field::UrlOriginal, "/\u{1b}[2J\u{7}x");
        let out = encode_with(
            Encoder {
                color: true,
                ..plain()
            },
            &mut r,
            "raw",
        );
        assert!(out.contains("/ [2J x"), "{out:?}");
        assert_eq!(
            out.matches('\u{1b}').count(),
            6,
            "only our own colour codes: {out:?}"
        );
    }

    #[test]
    fn tracebacks_show_the_exception() {
        let mut r = Record {
            format: Format::PythonTraceback,
            severity: Some(Severity::ERROR),
            ..Default::default()
        };
        r.push_str(Field::ExceptionType, "ZeroDivisionError");
        r.push_str(Field::ExceptionMessage, "division by zero");
        let out = encode_with(plain(), &mut r, "Traceback...");
        assert!(
            out.ends_with("ERROR ZeroDivisionError: division by zero\n    Traceback...\n"),
            "{out}"
        );
    }

    #[test]
    fn a_traceback_shows_its_stack_indented_and_dimmed() {
        let mut r = Record {
            format: Format::PythonTraceback,
            severity: Some(Severity::ERROR),
            ..Default::default()
        };
        r.push_str(Field::ExceptionType, "KeyError");
        r.push_str(Field::ExceptionMessage, "'x'");
        let raw = "Traceback (most recent call last):\n  File \"a.py\", line 1, in <module>\n    d['x']\nKeyError: 'x'";
        r.push_str(Field::ExceptionStacktrace, raw);
        let out = encode_with(plain(), &mut r, raw);
        assert_eq!(
            out,
            "2026-11-25 18:35:12.000 -          ERROR KeyError: 'x'\n    Traceback (most recent call last):\n      \
             File \"a.py\", line 1, in <module>\n        d['x']\n"
        );
        let coloured = encode_with(
            Encoder {
                color: true,
                ..plain()
            },
            &mut r,
            raw,
        );
        assert!(
            coloured.contains("\n    \x1b[2m  File \"a.py\""),
            "{coloured:?}"
        );
    }

    #[test]
    fn supervisord_shows_its_message_not_its_header() {
        let mut r = Record {
            format: Format::Supervisord,
            ..Default::default()
        };
        let out = encode_with(
            plain(),
            &mut r,
            "2026-11-25 19:39:32,274 INFO spawned: 'web' with pid 7",
        );
        assert!(out.ends_with("INFO  spawned: 'web' with pid 7\n"), "{out}");
        let mut r = Record {
            format: Format::UwsgiLog,
            ..Default::default()
        };
        let out = encode_with(
            plain(),
            &mut r,
            "Wed Nov 25 19:39:18 2026 - *** Starting uWSGI ***",
        );
        assert!(out.ends_with("INFO  *** Starting uWSGI ***\n"), "{out}");
    }
}
