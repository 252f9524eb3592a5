//! W3C Trace Context values as they appear in log lines: a trace id
//! (32 hex digits, nginx's `$request_id` has exactly that shape), a span id
//! (16 hex digits) and a `traceparent` header
//! (`00-<trace id>-<parent span id>-<flags>`). All-zero ids are invalid, as
//! the W3C spec says, and give `None`.

/// The 16 bytes of a trace id written as 32 hex digits (either case).
pub fn trace_id(s: &str) -> Option<[u8; 16]> {
    let mut out = [0u8; 16];
    decode_hex(s, &mut out).then_some(out)
}

/// The 8 bytes of a span id written as 16 hex digits (either case).
pub fn span_id(s: &str) -> Option<[u8; 8]> {
    let mut out = [0u8; 8];
    decode_hex(s, &mut out).then_some(out)
}

/// A parsed `traceparent` header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TraceParent {
    pub trace_id: [u8; 16],
    /// The caller's span: the parent of the span this request makes.
    pub parent_id: [u8; 8],
    pub flags: u8,
}

impl TraceParent {
    /// The caller asked for this trace to be recorded (flag bit 0).
    pub fn sampled(&self) -> bool {
        self.flags & 1 == 1
    }
}

/// A `traceparent` header value. Version `00` must be exactly 55 bytes;
/// a later version may append fields after a `-` (the spec's forward
/// compatibility rule); version `ff` is invalid.
pub fn traceparent(s: &str) -> Option<TraceParent> {
    let s = s.trim();
    let b = s.as_bytes();
    if b.len() < 55 || b[2] != b'-' || b[35] != b'-' || b[52] != b'-' {
        return None;
    }
    let mut version = [0u8; 1];
    if !decode_hex_any(&s[..2], &mut version) || version[0] == 0xff {
        return None;
    }
    if (version[0] == 0 && b.len() != 55) || (b.len() > 55 && b[55] != b'-') {
        return None;
    }
    let mut flags = [0u8; 1];
    if !decode_hex_any(&s[53..55], &mut flags) {
        return None;
    }
    Some(TraceParent {
        trace_id: trace_id(&s[3..35])?,
        parent_id: span_id(&s[36..52])?,
        flags: flags[0],
    })
}

/// Lower-case hex of `bytes`, as OTel writes ids.
pub fn to_hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[usize::from(b >> 4)] as char);
        s.push(DIGITS[usize::from(b & 15)] as char);
    }
    s
}

/// Decodes exactly `out.len() * 2` hex digits into `out`; false for the
/// wrong length, a non-hex byte or an all-zero id.
fn decode_hex(s: &str, out: &mut [u8]) -> bool {
    decode_hex_any(s, out) && out.iter().any(|&b| b != 0)
}

/// As [`decode_hex`], zero allowed (flags, version).
fn decode_hex_any(s: &str, out: &mut [u8]) -> bool {
    let b = s.as_bytes();
    if b.len() != out.len() * 2 {
        return false;
    }
    // A table and no branch per digit: every event with an id comes here.
    let mut bad = 0u8;
    for (o, pair) in out.iter_mut().zip(b.chunks_exact(2)) {
        let (hi, lo) = (NIBBLE[usize::from(pair[0])], NIBBLE[usize::from(pair[1])]);
        bad |= hi | lo;
        *o = hi << 4 | (lo & 0x0f);
    }
    bad & 0x80 == 0
}

/// Each byte's value as a hex digit (either case); 0xff for a non-digit.
const NIBBLE: [u8; 256] = {
    let mut t = [0xffu8; 256];
    let mut i = 0;
    while i < 10 {
        t[b'0' as usize + i] = i as u8;
        i += 1;
    }
    let mut i = 0;
    while i < 6 {
        t[b'a' as usize + i] = 10 + i as u8;
        t[b'A' as usize + i] = 10 + i as u8;
        i += 1;
    }
    t
};

#[cfg(test)]
mod tests {
    use super::*;

    const TP: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    #[test]
    fn a_w3c_example_traceparent_parses() {
        let tp = traceparent(TP).unwrap();
        assert_eq!(to_hex(&tp.trace_id), "4bf92f3577b34da6a3ce929d0e0e4736");
        assert_eq!(to_hex(&tp.parent_id), "00f067aa0ba902b7");
        assert_eq!(tp.flags, 1);
        assert!(tp.sampled());
    }

    #[test]
    fn invalid_traceparents_are_none() {
        for bad in [
            "",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
            "00-4bf92f3577b34da6a3ce929d0e0e473g-00f067aa0ba902b7-01",
            "00_4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        ] {
            assert_eq!(traceparent(bad), None, "{bad}");
        }
    }

    #[test]
    fn a_later_version_may_carry_more_fields() {
        let tp = traceparent(&format!("01{}-later", &TP[2..])).unwrap();
        assert_eq!(tp.flags, 1);
    }

    #[test]
    fn ids_take_either_case_and_refuse_zero_and_wrong_lengths() {
        let id = trace_id("4BF92F3577B34DA6A3CE929D0E0E4736").unwrap();
        assert_eq!(to_hex(&id), "4bf92f3577b34da6a3ce929d0e0e4736");
        assert_eq!(trace_id(&"0".repeat(32)), None);
        assert_eq!(trace_id("4bf92f"), None);
        assert_eq!(
            span_id("00f067aa0ba902b7").map(|s| to_hex(&s)).as_deref(),
            Some("00f067aa0ba902b7")
        );
        assert_eq!(span_id("00f067aa0ba902b"), None);
    }
}
