//! The human view: one short, coloured line per event.
//!
//! `18:35:12.345 nginx     WARN  404 GET /missing/ 0.004s` — time, program,
//! severity, then the gist: status, method, path and duration for requests,
//! the exception for tracebacks, else the message. Colour only when asked
//! (by default: when stdout is a terminal).

use logmux_parsers::{Field, Format, Record, Value};

use super::{field_str, message, Encoder, Event};

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
    // `HH:MM:SS.mmm` out of RFC 3339: the date is noise in a live view.
    let ts = String::from_utf8_lossy(&ts);
    let time_of_day = ts.get(11..).unwrap_or("");
    let end = time_of_day
        .find(['Z', '+', '-'])
        .unwrap_or(time_of_day.len())
        .min(12);
    let clock = time_of_day.get(..end).unwrap_or("");
    paint(&mut line, DIM, &format!("{clock:<12}"));
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
        }
        _ => {
            let msg = message(event);
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
            "18:35:12.000 uwsgi      WARN  404 GET /missing/ 0.004s\n"
        );
    }

    #[test]
    fn colour_only_when_asked_and_first_line_only() {
        let mut r = Record::default();
        let out = encode_with(plain(), &mut r, "first\nsecond");
        assert_eq!(out, "18:35:12.000 -          INFO  first …\n");
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
            out.ends_with("ERROR ZeroDivisionError: division by zero\n"),
            "{out}"
        );
    }
}
