//! Syslog messages for the syslog sink: an RFC 3164 or RFC 5424 header
//! around the original line or the JSON event, framed for the transport.
//!
//! Written by hand, not with the `syslog` crate's formatters: they write no
//! TCP framing, the RFC 3164 one pads the day with a zero and uses UTC (a
//! receiver expects local time and a space), and the RFC 5424 one takes only
//! a number as MSGID. The crate still names the facilities and provides the
//! unix socket backend (see `sink::syslog`).
//!
//! Every message is framed in the batch so that the transport can find the
//! boundaries again: with octet counting (RFC 6587, `LEN SP MSG`), which TCP
//! sends as it is and a datagram transport strips (one datagram per
//! message), or with a trailing LF, where an LF inside the message is written
//! `#012`, as rsyslog itself escapes control characters.

use chrono::{DateTime, Datelike, FixedOffset, Offset, TimeZone, Timelike};
use logmux_parsers::time::Offset as Zone;
use logmux_parsers::{Field, Timestamp, Value};

use super::{json, value_text, Encoder, Event};

/// The header format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// `<PRI>Mmm dd hh:mm:ss HOST TAG[PID]: MSG`, local time.
    Rfc3164,
    /// `<PRI>1 TIMESTAMP HOST APP PROCID MSGID [SD] MSG`.
    Rfc5424,
}

/// How messages are delimited in a batch (and, on TCP, on the wire).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// `LEN SP MSG` (RFC 6587 octet counting).
    OctetCounting,
    /// `MSG LF`, with an LF inside MSG written `#012`.
    Lf,
}

/// What the message body is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Body {
    /// The line as the program wrote it (a traceback: all its lines).
    Line,
    /// The JSON event, one line.
    Json,
}

/// The SD-ID of logmux's structured data. 32473 is the private enterprise
/// number RFC 5612 reserves for documentation; logmux has none of its own.
pub const SD_ID: &str = "logmux@32473";

/// RFC 5424 header field limits (section 6); PROCID (at most 128) is a
/// pid, which never comes near its limit.
const HOSTNAME_MAX: usize = 255;
const APP_NAME_MAX: usize = 48;
const MSGID_MAX: usize = 32;
const SD_NAME_MAX: usize = 32;
/// RFC 3164 section 4.1.3: the TAG is at most 32 characters.
const TAG_MAX: usize = 32;

/// A syslog sink's message settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Syslog {
    pub protocol: Protocol,
    pub framing: Framing,
    /// 0 (kern) … 23 (local7).
    pub facility: u8,
    pub body: Body,
    /// HOSTNAME; `None` leaves it out of an RFC 3164 header (the convention
    /// on a local socket, as glibc's `syslog()` writes) and writes `-` in
    /// RFC 5424.
    pub hostname: Option<String>,
}

impl Syslog {
    /// Appends one framed message for `event`, stamped with the local time
    /// the line was read.
    pub fn encode(&self, enc: &Encoder, event: &Event<'_, '_>, out: &mut Vec<u8>) {
        let (secs, nanos) = event.observed_unix;
        let utc = DateTime::from_timestamp(secs, nanos).unwrap_or_default();
        self.encode_at(enc, event, &utc.with_timezone(&local_offset(secs)), out);
    }

    /// [`Syslog::encode`] at a given time (and zone).
    pub fn encode_at(
        &self,
        enc: &Encoder,
        event: &Event<'_, '_>,
        when: &DateTime<FixedOffset>,
        out: &mut Vec<u8>,
    ) {
        let start = out.len();
        let severity = event.record.severity.unwrap_or_default().syslog_code();
        let pri = u16::from(self.facility.min(23)) * 8 + u16::from(severity);
        out.push(b'<');
        out.extend_from_slice(itoa::Buffer::new().format(pri).as_bytes());
        out.push(b'>');
        let app = app_name(event);
        let pid = event.origin.pid;
        match self.protocol {
            Protocol::Rfc3164 => {
                write_3164_time(out, when);
                out.push(b' ');
                if let Some(h) = &self.hostname {
                    token(out, h, HOSTNAME_MAX, b"");
                    out.push(b' ');
                }
                token(out, app.unwrap_or("logmux"), TAG_MAX, b"[]:");
                if let Some(pid) = pid {
                    out.push(b'[');
                    out.extend_from_slice(itoa::Buffer::new().format(pid).as_bytes());
                    out.push(b']');
                }
                out.extend_from_slice(b": ");
            }
            Protocol::Rfc5424 => {
                out.extend_from_slice(b"1 ");
                write_5424_time(out, when);
                out.push(b' ');
                token(
                    out,
                    self.hostname.as_deref().unwrap_or(""),
                    HOSTNAME_MAX,
                    b"",
                );
                out.push(b' ');
                token(out, app.unwrap_or(""), APP_NAME_MAX, b"");
                out.push(b' ');
                match pid {
                    Some(pid) => out.extend_from_slice(itoa::Buffer::new().format(pid).as_bytes()),
                    None => out.push(b'-'),
                }
                out.push(b' ');
                token(out, event.record.format.name(), MSGID_MAX, b"");
                out.push(b' ');
                write_sd(out, event);
                out.push(b' ');
            }
        }
        match self.body {
            Body::Line => out.extend_from_slice(event.raw.as_bytes()),
            Body::Json => {
                json::encode(enc, event, out);
                if out.last() == Some(&b'\n') {
                    out.pop();
                }
            }
        }
        match self.framing {
            Framing::OctetCounting => {
                let len = out.len() - start;
                let mut digits = itoa::Buffer::new();
                let prefix = digits.format(len).as_bytes().iter().chain(b" ");
                out.splice(start..start, prefix.copied());
            }
            Framing::Lf => {
                if memchr::memchr(b'\n', &out[start..]).is_some() {
                    let message = out.split_off(start);
                    for piece in message.split_inclusive(|&b| b == b'\n') {
                        match piece.strip_suffix(b"\n") {
                            Some(text) => {
                                out.extend_from_slice(text);
                                out.extend_from_slice(b"#012");
                            }
                            None => out.extend_from_slice(piece),
                        }
                    }
                }
                out.push(b'\n');
            }
        }
    }
}

/// The next message of a batch framed with `framing`: its bytes without the
/// framing, and the length of the whole frame. `None` at the end, or when
/// the rest is not a frame (which the encoder never writes).
pub fn next_frame(batch: &[u8], framing: Framing) -> Option<(&[u8], usize)> {
    if batch.is_empty() {
        return None;
    }
    match framing {
        Framing::OctetCounting => {
            // At most 20 digits (usize::MAX), then the space.
            let space = memchr::memchr(b' ', &batch[..batch.len().min(21)])?;
            let len: usize = std::str::from_utf8(&batch[..space]).ok()?.parse().ok()?;
            let end = space.checked_add(1)?.checked_add(len)?;
            Some((batch.get(space + 1..end)?, end))
        }
        Framing::Lf => {
            let end = memchr::memchr(b'\n', batch).map_or(batch.len(), |i| i + 1);
            Some((&batch[..end], end))
        }
    }
}

/// The local zone's offset at `secs`: looked up once a minute per thread,
/// as the lookup costs as much as the rest of a message (a zone changes its
/// offset on a whole minute).
fn local_offset(secs: i64) -> FixedOffset {
    use std::cell::Cell;
    thread_local! {
        static CACHE: Cell<Option<(i64, FixedOffset)>> = const { Cell::new(None) };
    }
    let minute = secs.div_euclid(60);
    CACHE.with(|cache| match cache.get() {
        Some((m, offset)) if m == minute => offset,
        _ => {
            let offset = match chrono::Local.timestamp_opt(secs, 0).single() {
                Some(t) => t.offset().fix(),
                None => chrono::Utc.fix(),
            };
            cache.set(Some((minute, offset)));
            offset
        }
    })
}

/// The program: APP-NAME and TAG.
fn app_name<'e>(event: &'e Event<'_, '_>) -> Option<&'e str> {
    event.origin.service.as_deref().or_else(|| {
        event
            .record
            .get(Field::ServiceName)
            .and_then(|v| v.as_str())
    })
}

/// A header field: printable US-ASCII only (RFC 5424 PRINTUSASCII), others
/// and `forbidden` written `_`, cut at `max` bytes; `-` (NILVALUE) if empty.
fn token(out: &mut Vec<u8>, text: &str, max: usize, forbidden: &[u8]) {
    let clean = |b: &u8| (33..=126).contains(b) && !forbidden.contains(b);
    if !text.is_empty() && text.len() <= max && text.as_bytes().iter().all(clean) {
        // The usual case (program names, schema names): as it is.
        out.extend_from_slice(text.as_bytes());
        return;
    }
    let start = out.len();
    for c in text.chars().take(max) {
        let b = u8::try_from(c).unwrap_or(b'_');
        let ok = (33..=126).contains(&b) && !forbidden.contains(&b);
        out.push(if ok { b } else { b'_' });
    }
    if out.len() == start {
        out.push(b'-');
    }
}

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

fn put2(out: &mut Vec<u8>, v: u32) {
    out.push(b'0' + (v / 10 % 10) as u8);
    out.push(b'0' + (v % 10) as u8);
}

/// `Mmm dd hh:mm:ss`, the day padded with a space (RFC 3164 section 4.1.2).
fn write_3164_time(out: &mut Vec<u8>, t: &DateTime<FixedOffset>) {
    let month = MONTHS.get(t.month0() as usize).copied().unwrap_or("Jan");
    out.extend_from_slice(month.as_bytes());
    out.push(b' ');
    if t.day() < 10 {
        out.push(b' ');
        out.push(b'0' + t.day() as u8);
    } else {
        put2(out, t.day());
    }
    out.push(b' ');
    put2(out, t.hour());
    out.push(b':');
    put2(out, t.minute());
    out.push(b':');
    put2(out, t.second());
}

/// `2026-11-25T23:30:01.123456+01:00`: microseconds and the zone's offset
/// (`Z` at UTC), by the schema's own RFC 3339 writer.
fn write_5424_time(out: &mut Vec<u8>, t: &DateTime<FixedOffset>) {
    let offset = t.offset().local_minus_utc();
    let mut local = Timestamp::from_unix(t.timestamp() + i64::from(offset), t.nanosecond(), 6);
    local.offset = match offset {
        0 => Zone::Utc,
        secs => Zone::Minutes(i16::try_from(secs / 60).unwrap_or(0)),
    };
    local.write_rfc3339(out, 0);
}

/// `[logmux@32473 stream="stdout" format="nginx.access" …]`: the stream,
/// the format and the event's parsed fields. The program and pid are in the
/// header, and a traceback's text is the message, so they are not repeated.
fn write_sd(out: &mut Vec<u8>, event: &Event<'_, '_>) {
    let record = event.record;
    out.push(b'[');
    out.extend_from_slice(SD_ID.as_bytes());
    if let Some(s) = event.origin.iostream {
        param(out, "stream", &Value::str(s.name()));
    }
    param(out, "format", &Value::str(record.format.name()));
    let pid = event.origin.pid.map(i64::from);
    for (field, value) in &record.fields {
        let skip = match field {
            Field::ServiceName | Field::LogIostream | Field::ExceptionStacktrace => true,
            Field::ProcessPid => pid.is_some() && value.as_int() == pid,
            _ => false,
        };
        if !skip {
            param(out, field.name(), value);
        }
    }
    if record.invalid_utf8 {
        param(out, Field::LogmuxInvalidUtf8.name(), &Value::Bool(true));
    }
    for (key, value) in &record.extra {
        param(out, key, value);
    }
    out.push(b']');
}

/// One ` name="value"` SD-PARAM.
fn param(out: &mut Vec<u8>, name: &str, value: &Value<'_>) {
    out.push(b' ');
    sd_name(out, name);
    out.extend_from_slice(b"=\"");
    match value {
        Value::Str(s) => sd_value(out, s),
        Value::Int(i) => out.extend_from_slice(itoa::Buffer::new().format(*i).as_bytes()),
        Value::Bool(b) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
        // A JSON line's string value is written as the string it holds;
        // numbers, objects and arrays as their JSON text.
        Value::RawJson(s) if s.starts_with('"') => match serde_json::from_str::<String>(s) {
            Ok(decoded) => sd_value(out, &decoded),
            Err(_) => sd_value(out, s),
        },
        Value::RawJson(s) => sd_value(out, s),
        other => {
            let mut text = String::new();
            value_text(other, &mut text);
            sd_value(out, &text);
        }
    }
    out.push(b'"');
}

/// A PARAM-VALUE: `"`, `\` and `]` escaped with a backslash.
fn sd_value(out: &mut Vec<u8>, value: &str) {
    if memchr::memchr3(b'"', b'\\', b']', value.as_bytes()).is_none() {
        out.extend_from_slice(value.as_bytes());
        return;
    }
    for &b in value.as_bytes() {
        if matches!(b, b'"' | b'\\' | b']') {
            out.push(b'\\');
        }
        out.push(b);
    }
}

/// An SD-NAME: printable US-ASCII except `=`, space, `]` and `"` (others
/// written `_`), at most 32 bytes. A longer dotted name loses its leading
/// segments first (`http.request.header.x-forwarded-for` becomes
/// `request.header.x-forwarded-for`), so it keeps its meaning.
fn sd_name(out: &mut Vec<u8>, name: &str) {
    let mut name = name;
    while name.len() > SD_NAME_MAX {
        match name.split_once('.') {
            Some((_, rest)) if !rest.is_empty() => name = rest,
            _ => break,
        }
    }
    token(out, name, SD_NAME_MAX, b"=]\"");
}

#[cfg(test)]
mod tests;
