//! Syslog messages as they arrive on the wire (RFC 3164 and RFC 5424), and
//! the stream framing of RFC 6587 ([`frame`]).
//!
//! [`parse`] reads one message into a [`Message`] that borrows every field
//! from the input: the listener parses each datagram or frame without
//! allocating. It is written for what real senders emit rather than for the
//! letter of the RFCs: Docker's syslog driver (whose default format has no
//! hostname and whose tags may hold `/`, `:` and `.`), util-linux `logger`
//! and rsyslog. The body keeps its leading whitespace past the one space that
//! separates it from the header, since Python tracebacks need their
//! indentation. Hand-written because the syslog crates on crates.io strip
//! that whitespace, misread tags with `:` or reject Docker's long tags.

pub mod frame;
mod rfc3164;
mod rfc5424;
mod sd;

pub use frame::{Deframer, Frame};
pub use sd::{sd_params, SdParams};

use crate::severity::Severity;
use crate::time::Timestamp;

/// Which header a message had.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// BSD syslog: `<PRI>Mmm dd hh:mm:ss [HOST] TAG[PID]: MSG`.
    Rfc3164,
    /// `<PRI>1 TIMESTAMP HOST APP PROCID MSGID SD [MSG]`.
    Rfc5424,
}

/// One syslog message; every string borrows from the input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message<'a> {
    pub protocol: Protocol,
    /// 0..=23 (`daemon` is 3).
    pub facility: u8,
    /// 0..=7, syslog numbering (0 is emergency, 7 debug); see [`severity`].
    pub severity: u8,
    /// RFC 3164 times have no year and no zone: the year is the caller's
    /// hint and the zone [`crate::time::Offset::Local`].
    pub timestamp: Option<Timestamp>,
    /// `None` for `-` and for Docker's default format, which has none.
    pub hostname: Option<&'a str>,
    /// The RFC 3164 TAG or the RFC 5424 APP-NAME.
    pub app_name: Option<&'a str>,
    pub procid: Option<&'a str>,
    pub msgid: Option<&'a str>,
    /// The raw STRUCTURED-DATA, e.g. `[a@1 x="y"][b@2]`; read it with
    /// [`sd_params`].
    pub structured_data: Option<&'a str>,
    /// MSG without the one space before it, a UTF-8 BOM, or one trailing
    /// `\n` / `\r\n`. Further leading whitespace is kept.
    pub body: &'a str,
}

/// Why a message did not parse, and where.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("syslog: {what} at byte {offset}")]
pub struct ParseError {
    /// What was wrong, e.g. `PRI above 191`.
    pub what: &'static str,
    /// The byte offset into the input where it went wrong.
    pub offset: usize,
}

pub(crate) fn err<T>(what: &'static str, offset: usize) -> Result<T, ParseError> {
    Err(ParseError { what, offset })
}

/// Parses one syslog message, RFC 5424 if `VERSION` `1` follows the PRI,
/// else RFC 3164. `year` is used for RFC 3164 timestamps, which have none.
pub fn parse(input: &str, year: i32) -> Result<Message<'_>, ParseError> {
    let (pri, after_pri) = parse_pri(input.as_bytes())?;
    let end = without_newline(input.as_bytes());
    if end < after_pri {
        // The PRI itself was followed by a bare newline: `<13>\n`.
        return rfc3164::parse(input, after_pri, after_pri, pri, year);
    }
    let rest = &input.as_bytes()[after_pri..end];
    // Only VERSION 1 exists; anything else is RFC 3164 (maybe without a
    // timestamp, whose content may well start with a number).
    match rest {
        [b'1', b' ', ..] | [b'1'] => rfc5424::parse(input, after_pri, end, pri),
        _ => rfc3164::parse(input, after_pri, end, pri, year),
    }
}

/// Moves an RFC 3164 time (which has no year; [`parse`] gave it the
/// caller's) across New Year: a December time read in January is from the
/// year before, a January time read in December from the year after.
/// Times that came with a year (RFC 5424, RFC 3339) are left alone.
pub fn fix_year_rollover(message: &mut Message<'_>, now_month: u8) {
    if message.protocol != Protocol::Rfc3164 {
        return;
    }
    let Some(ts) = message.timestamp.as_mut() else {
        return;
    };
    if ts.offset != crate::time::Offset::Local {
        return;
    }
    match (ts.month, now_month) {
        (12, 1) => ts.year = ts.year.saturating_sub(1),
        (1, 12) => ts.year = ts.year.saturating_add(1).min(9999),
        _ => {}
    }
}

/// A priority value split into its parts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Pri {
    pub facility: u8,
    pub severity: u8,
}

/// `<PRI>` → the priority and the offset after `>`.
fn parse_pri(b: &[u8]) -> Result<(Pri, usize), ParseError> {
    if b.first() != Some(&b'<') {
        return err("message does not start with '<PRI>'", 0);
    }
    let digits = b[1..]
        .iter()
        .take(4)
        .take_while(|c| c.is_ascii_digit())
        .count();
    if digits == 0 {
        return err("PRI is not a number", 1);
    }
    if digits > 3 {
        return err("PRI has more than 3 digits", 1);
    }
    if b.get(1 + digits) != Some(&b'>') {
        return err("missing '>' after PRI", 1 + digits);
    }
    let value = b[1..1 + digits]
        .iter()
        .fold(0u16, |n, d| n * 10 + u16::from(d - b'0'));
    if value > 191 {
        return err("PRI above 191", 1);
    }
    let pri = Pri {
        facility: (value / 8) as u8,
        severity: (value % 8) as u8,
    };
    Ok((pri, 2 + digits))
}

/// The length of `b` without one trailing `\n` or `\r\n`.
fn without_newline(b: &[u8]) -> usize {
    match b {
        [.., b'\r', b'\n'] => b.len() - 2,
        [.., b'\n'] => b.len() - 1,
        _ => b.len(),
    }
}

/// The body from `from` to `end`: a UTF-8 BOM at its start removed.
pub(crate) fn body(input: &str, from: usize, end: usize) -> &str {
    let s = input.get(from..end).unwrap_or("");
    s.strip_prefix('\u{feff}').unwrap_or(s)
}

/// `None` for RFC 5424's NILVALUE `-`.
pub(crate) fn unless_nil(s: &str) -> Option<&str> {
    (s != "-").then_some(s)
}

/// Maps a syslog severity (0 = emergency … 7 = debug) to OpenTelemetry's,
/// as OTel's data model appendix does.
pub fn severity(sev: u8) -> Severity {
    Severity::from_syslog_code(sev)
}

/// The keyword for a syslog severity (0 = `emerg` … 7 = `debug`), as
/// syslog.conf, rsyslog and `logger -p` spell it: the source's own word,
/// kept as `severity_text`.
pub fn severity_keyword(sev: u8) -> &'static str {
    const WORDS: [&str; 8] = [
        "emerg", "alert", "crit", "err", "warning", "notice", "info", "debug",
    ];
    WORDS.get(usize::from(sev)).copied().unwrap_or("debug")
}

const FACILITIES: [&str; 24] = [
    "kern", "user", "mail", "daemon", "auth", "syslog", "lpr", "news", "uucp", "cron", "authpriv",
    "ftp", "ntp", "audit", "alert", "clock", "local0", "local1", "local2", "local3", "local4",
    "local5", "local6", "local7",
];

/// The facility's name as rsyslog and Docker spell it (`daemon`,
/// `local7`); `"unknown"` above 23.
pub fn facility_name(f: u8) -> &'static str {
    FACILITIES.get(usize::from(f)).copied().unwrap_or("unknown")
}

/// A facility by name (`daemon`, also glibc's alias `security` for auth) or
/// by number (`3`), as `syslog-facility` and rsyslog accept it.
pub fn facility_from_name(s: &str) -> Option<u8> {
    if let Some(pos) = FACILITIES.iter().position(|f| f.eq_ignore_ascii_case(s)) {
        return Some(pos as u8);
    }
    if s.eq_ignore_ascii_case("security") {
        return Some(4);
    }
    match s.parse::<u8>() {
        Ok(n) if n <= 23 && !s.starts_with('+') => Some(n),
        _ => None,
    }
}

#[cfg(test)]
mod tests;
