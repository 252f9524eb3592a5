//! The RFC 5424 header: `1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID SD [MSG]`.
//!
//! Fields are split at single spaces and may each be `-`. Lengths and
//! character sets are not enforced: Docker writes its tag, which may be
//! longer than 48 bytes, as APP-NAME and MSGID.

use super::{body, err, sd, unless_nil, Message, ParseError, Pri, Protocol};
use crate::scan::find_byte;
use crate::time;

/// Parses from `from` (at VERSION `1`) to `end` (before the final newline).
pub(super) fn parse(
    input: &str,
    from: usize,
    end: usize,
    pri: Pri,
) -> Result<Message<'_>, ParseError> {
    let b = input.as_bytes().get(..end).unwrap_or_default();
    let mut pos = from + 1;
    space(b, &mut pos, "expected a space after VERSION")?;
    let timestamp = match b.get(pos..).unwrap_or_default() {
        [b'-', b' ', ..] | [b'-'] => {
            pos += 1;
            None
        }
        rest => match time::parse_rfc3339(rest) {
            Some((ts, n)) => {
                pos += n;
                Some(ts)
            }
            None => return err("invalid TIMESTAMP", pos),
        },
    };
    space(b, &mut pos, "expected a space before HOSTNAME")?;
    let hostname = field(input, b, &mut pos, "empty HOSTNAME")?;
    space(b, &mut pos, "expected a space before APP-NAME")?;
    let app_name = field(input, b, &mut pos, "empty APP-NAME")?;
    space(b, &mut pos, "expected a space before PROCID")?;
    let procid = field(input, b, &mut pos, "empty PROCID")?;
    space(b, &mut pos, "expected a space before MSGID")?;
    let msgid = field(input, b, &mut pos, "empty MSGID")?;
    space(b, &mut pos, "expected a space before STRUCTURED-DATA")?;
    let structured_data = match b.get(pos) {
        Some(b'-') => {
            pos += 1;
            None
        }
        Some(b'[') => {
            let start = pos;
            pos = sd::validate(b, pos)?;
            input.get(start..pos)
        }
        _ => return err("invalid STRUCTURED-DATA", pos),
    };
    let body = match b.get(pos) {
        None => "",
        Some(b' ') => body(input, pos + 1, end),
        Some(_) => return err("expected a space after STRUCTURED-DATA", pos),
    };
    Ok(Message {
        protocol: Protocol::Rfc5424,
        facility: pri.facility,
        severity: pri.severity,
        timestamp,
        hostname,
        app_name,
        procid,
        msgid,
        structured_data,
        body,
    })
}

/// Consumes the one space that separates two header fields.
fn space(b: &[u8], pos: &mut usize, what: &'static str) -> Result<(), ParseError> {
    if b.get(*pos) != Some(&b' ') {
        return err(what, *pos);
    }
    *pos += 1;
    Ok(())
}

/// A header field up to the next space; `None` for `-`.
fn field<'a>(
    input: &'a str,
    b: &[u8],
    pos: &mut usize,
    empty: &'static str,
) -> Result<Option<&'a str>, ParseError> {
    let start = *pos;
    let rest = b.get(start..).unwrap_or_default();
    let stop = find_byte(b' ', rest).map_or(b.len(), |i| start + i);
    if stop == start {
        return err(empty, start);
    }
    *pos = stop;
    Ok(input.get(start..stop).and_then(unless_nil))
}
