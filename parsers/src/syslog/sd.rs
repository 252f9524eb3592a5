//! RFC 5424 STRUCTURED-DATA: `[id name="value" ...][id2 ...]`.
//!
//! [`validate`] finds where the SD ends while parsing the header, without
//! allocating; [`sd_params`] reads the parameters back out, unescaping a
//! value (`\"`, `\\`, `\]`) only when it holds a backslash.

use std::borrow::Cow;

use memchr::memchr2;

use super::{err, ParseError};

/// Bytes of an SD-NAME (SD-ID or PARAM-NAME): anything but ` `, `=`, `]`
/// and `"`.
fn name_len(b: &[u8]) -> usize {
    b.iter()
        .take_while(|&&c| !matches!(c, b' ' | b'=' | b']' | b'"'))
        .count()
}

/// The end of a quoted value whose content starts at `pos`: the offset
/// after its closing quote.
fn value_end(b: &[u8], mut pos: usize) -> Option<usize> {
    loop {
        let i = memchr2(b'"', b'\\', b.get(pos..)?)?;
        if b[pos + i] == b'"' {
            return Some(pos + i + 1);
        }
        pos += i + 2;
    }
}

/// Checks the SD that starts (at a `[`) at `pos`; returns the offset after
/// its last `]`.
pub(super) fn validate(b: &[u8], mut pos: usize) -> Result<usize, ParseError> {
    while b.get(pos) == Some(&b'[') {
        pos += 1;
        let id = name_len(&b[pos..]);
        if id == 0 {
            return err("empty SD-ID", pos);
        }
        pos += id;
        loop {
            match b.get(pos) {
                Some(b']') => {
                    pos += 1;
                    break;
                }
                Some(b' ') => {
                    pos += 1;
                    let name = name_len(&b[pos..]);
                    if name == 0 {
                        return err("empty SD-PARAM name", pos);
                    }
                    pos += name;
                    if b.get(pos) != Some(&b'=') {
                        return err("expected '=' after SD-PARAM name", pos);
                    }
                    if b.get(pos + 1) != Some(&b'"') {
                        return err("expected '\"' to open SD-PARAM value", pos + 1);
                    }
                    match value_end(b, pos + 2) {
                        Some(end) => pos = end,
                        None => return err("unterminated SD-PARAM value", pos + 1),
                    }
                }
                Some(_) => return err("expected ' ' or ']' in SD-ELEMENT", pos),
                None => return err("unterminated SD-ELEMENT", pos),
            }
        }
    }
    Ok(pos)
}

/// The parameters of a raw STRUCTURED-DATA as `(sd_id, name, value)`, in
/// order. Elements without parameters yield nothing; reading stops quietly
/// at the first malformed byte.
pub fn sd_params(sd: &str) -> SdParams<'_> {
    SdParams {
        sd,
        pos: 0,
        id: None,
    }
}

/// Iterator returned by [`sd_params`].
#[derive(Debug, Clone)]
pub struct SdParams<'a> {
    sd: &'a str,
    pos: usize,
    /// The SD-ID of the element being read, if inside one.
    id: Option<&'a str>,
}

impl<'a> SdParams<'a> {
    fn stop(&mut self) -> Option<(&'a str, &'a str, Cow<'a, str>)> {
        self.pos = self.sd.len();
        self.id = None;
        None
    }
}

impl<'a> Iterator for SdParams<'a> {
    type Item = (&'a str, &'a str, Cow<'a, str>);

    fn next(&mut self) -> Option<Self::Item> {
        let b = self.sd.as_bytes();
        loop {
            let Some(id) = self.id else {
                if b.get(self.pos) != Some(&b'[') {
                    return self.stop();
                }
                let start = self.pos + 1;
                let n = name_len(&b[start..]);
                if n == 0 {
                    return self.stop();
                }
                self.id = self.sd.get(start..start + n);
                self.pos = start + n;
                continue;
            };
            match b.get(self.pos) {
                Some(b']') => {
                    self.pos += 1;
                    self.id = None;
                }
                Some(b' ') => {
                    let name_start = self.pos + 1;
                    let name_stop = name_start + name_len(&b[name_start..]);
                    if name_stop == name_start
                        || b.get(name_stop) != Some(&b'=')
                        || b.get(name_stop + 1) != Some(&b'"')
                    {
                        return self.stop();
                    }
                    let value_start = name_stop + 2;
                    let Some(end) = value_end(b, value_start) else {
                        return self.stop();
                    };
                    let (Some(name), Some(raw)) = (
                        self.sd.get(name_start..name_stop),
                        self.sd.get(value_start..end - 1),
                    ) else {
                        return self.stop();
                    };
                    self.pos = end;
                    return Some((id, name, unescape(raw)));
                }
                _ => return self.stop(),
            }
        }
    }
}

/// Undoes RFC 5424's escapes `\"`, `\\` and `\]`; any other backslash is
/// kept, as the RFC says.
fn unescape(raw: &str) -> Cow<'_, str> {
    if !raw.contains('\\') {
        return Cow::Borrowed(raw);
    }
    let mut out = String::with_capacity(raw.len());
    let mut chars = raw.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.clone().next() {
            Some(e @ ('"' | '\\' | ']')) => {
                out.push(e);
                chars.next();
            }
            _ => out.push('\\'),
        }
    }
    Cow::Owned(out)
}
