//! The BSD syslog header, `Mmm dd hh:mm:ss [HOST] TAG[PID]: MSG`, in the
//! shapes real senders write it.
//!
//! Docker's default format has no HOST, so the first token after the time
//! is the tag when it is shaped like one: it ends in `:`, `[PID]:` or
//! `[PID]`. A hostname never does (IPv6 addresses aside, which end in a
//! hex digit).
//! A tag may itself hold `:` (`nginx:1.25/web-1[7]:`), so it ends at its
//! last `[PID]:` or its final `:`, never at the first colon.

use memchr::{memmem, memrchr};

use super::{body, err, Message, ParseError, Pri, Protocol};
use crate::scan::find_byte;
use crate::time::{self, Offset, Timestamp};

/// Parses from `from` (after the PRI) to `end` (before the final newline).
pub(super) fn parse(
    input: &str,
    from: usize,
    end: usize,
    pri: Pri,
    year: i32,
) -> Result<Message<'_>, ParseError> {
    let b = input.as_bytes().get(..end).unwrap_or_default();
    let (timestamp, mut pos) = timestamp(b, from, year)?;
    let mut msg = Message {
        protocol: Protocol::Rfc3164,
        facility: pri.facility,
        severity: pri.severity,
        timestamp,
        hostname: None,
        app_name: None,
        procid: None,
        msgid: None,
        structured_data: None,
        body: "",
    };
    if timestamp.is_some() && pos < end {
        if b[pos] != b' ' {
            return err("expected a space after the timestamp", pos);
        }
        pos += 1;
    }
    let first_end = token_end(b, pos);
    if let Some(tag) = tag(b, pos, first_end) {
        pos = tag.fill(input, &mut msg);
    } else if timestamp.is_some() && first_end > pos {
        msg.hostname = input.get(pos..first_end);
        pos = (first_end + 1).min(end);
        if let Some(tag) = tag(b, pos, token_end(b, pos)) {
            pos = tag.fill(input, &mut msg);
        }
    }
    msg.body = body(input, pos, end);
    Ok(msg)
}

/// Where the token starting at `pos` ends: the next space or the end.
fn token_end(b: &[u8], pos: usize) -> usize {
    let rest = b.get(pos..).unwrap_or_default();
    find_byte(b' ', rest).map_or(b.len(), |i| pos + i)
}

/// A TAG found in the header, as byte ranges of the input.
struct Tag {
    name: (usize, usize),
    pid: Option<(usize, usize)>,
    body_start: usize,
}

impl Tag {
    /// Stores the tag in `msg` and returns where the body starts.
    fn fill<'a>(&self, input: &'a str, msg: &mut Message<'a>) -> usize {
        msg.app_name = input.get(self.name.0..self.name.1);
        msg.procid = self.pid.and_then(|(s, e)| input.get(s..e));
        self.body_start
    }
}

/// The token `b[start..stop]` read as a tag, if it is shaped like one:
/// `TAG:`, `TAG[PID]:` or `TAG[PID]`. A tag glued to its message
/// (`TAG[PID]:msg`, no space) is taken too.
fn tag(b: &[u8], start: usize, stop: usize) -> Option<Tag> {
    let tok = b.get(start..stop)?;
    // The one space after the tag separates it from the body.
    let after_token = if stop < b.len() { stop + 1 } else { stop };
    if let Some(inner) = tok.strip_suffix(b"]:") {
        if let Some(lb) = memrchr(b'[', inner).filter(|&lb| lb > 0) {
            return Some(Tag {
                name: (start, start + lb),
                pid: (lb + 1 < inner.len()).then_some((start + lb + 1, start + inner.len())),
                body_start: after_token,
            });
        }
    }
    if tok.len() > 1 && tok.ends_with(b":") {
        return Some(Tag {
            name: (start, stop - 1),
            pid: None,
            body_start: after_token,
        });
    }
    // `TAG[PID]` without a colon: rsyslog forwards RFC 5424 input so.
    if let Some(inner) = tok.strip_suffix(b"]") {
        if let Some(lb) = memrchr(b'[', inner).filter(|&lb| lb > 0 && lb + 1 < inner.len()) {
            return Some(Tag {
                name: (start, start + lb),
                pid: Some((start + lb + 1, start + inner.len())),
                body_start: after_token,
            });
        }
    }
    // `TAG[PID]:msg`: the message follows the colon directly.
    let rb = memmem::rfind(tok, b"]:")?;
    let lb = memrchr(b'[', &tok[..rb]).filter(|&lb| lb > 0)?;
    Some(Tag {
        name: (start, start + lb),
        pid: (lb + 1 < rb).then_some((start + lb + 1, start + rb)),
        body_start: start + rb + 2,
    })
}

/// The timestamp at `pos`, if there is one, and the offset after it.
///
/// `Mmm dd hh:mm:ss` with the day padded by a space or a zero (or not at
/// all), an optional fraction, or RFC 3339 as rsyslog's
/// `RSYSLOG_ForwardFormat` writes it. A message without a timestamp is
/// accepted, as RFC 3164 section 4.3.2 asks; one that starts like a
/// timestamp but is not one is an error.
fn timestamp(b: &[u8], pos: usize, year: i32) -> Result<(Option<Timestamp>, usize), ParseError> {
    let rest = b.get(pos..).unwrap_or_default();
    if rest.len() >= 5 && rest[4] == b'-' && rest[..4].iter().all(u8::is_ascii_digit) {
        return match time::parse_rfc3339(rest) {
            Some((ts, n)) => Ok((Some(ts), pos + n)),
            None => err("invalid RFC 3339 timestamp", pos),
        };
    }
    let month = match rest {
        [m0, m1, m2, b' ', b' ' | b'0'..=b'9', ..] => time::month_from_abbr(&[*m0, *m1, *m2]),
        _ => None,
    };
    let Some(month) = month else {
        return Ok((None, pos));
    };
    // The day: ` 1`, `01` or `1`.
    let mut n = 4;
    if rest[n] == b' ' {
        n += 1;
    }
    let digits = rest[n..]
        .iter()
        .take(2)
        .take_while(|c| c.is_ascii_digit())
        .count();
    let day = match &rest[n..n + digits] {
        [d] => d - b'0',
        [d1, d2] => (d1 - b'0') * 10 + (d2 - b'0'),
        _ => return err("invalid day in RFC 3164 timestamp", pos + n),
    };
    n += digits;
    let clock = match rest.get(n..n + 9) {
        Some([b' ', h @ ..]) if h[2] == b':' && h[5] == b':' => h,
        _ => return err("invalid time of day in RFC 3164 timestamp", pos + n),
    };
    let (Some(hour), Some(minute), Some(second)) = (
        time::two_digits(&clock[0..2]),
        time::two_digits(&clock[3..5]),
        time::two_digits(&clock[6..8]),
    ) else {
        return err("invalid time of day in RFC 3164 timestamp", pos + n + 1);
    };
    n += 9;
    let year = year.clamp(0, 9999) as u16;
    let Some(mut ts) = Timestamp::new(year, month, day, hour, minute, second, Offset::Local) else {
        return err("RFC 3164 timestamp out of range", pos);
    };
    if rest.get(n) == Some(&b'.') {
        let digits = rest[n + 1..]
            .iter()
            .take_while(|c| c.is_ascii_digit())
            .count();
        match ts.with_fraction(&rest[n + 1..n + 1 + digits]) {
            Some(t) => ts = t,
            None => return err("invalid fraction of a second", pos + n),
        }
        n += 1 + digits;
    }
    Ok((Some(ts), pos + n))
}
