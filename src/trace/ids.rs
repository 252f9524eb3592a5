//! Span ids derived from a request's trace id. nginx, uWSGI and Django each
//! log their own line of a request at different times; deriving the span id
//! of each part from the trace id and the part's role lets each event name
//! its span the moment it is parsed, and lets the span builder give the
//! spans the same ids later, with no state shared between the two.

/// Which span of a request's trace.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SpanRole {
    /// nginx's server span: the whole request as the client saw it.
    NginxServer,
    /// nginx's try `n` (0-based) of an upstream, one per entry of
    /// `$upstream_response_time`.
    UpstreamTry(u16),
    /// uWSGI's handling of the request; Django's records and the traceback
    /// of the request happen inside it.
    Uwsgi,
}

impl SpanRole {
    fn tag(self) -> [u8; 3] {
        match self {
            SpanRole::NginxServer => [b'n', 0, 0],
            SpanRole::UpstreamTry(n) => {
                let [hi, lo] = n.to_be_bytes();
                [b't', hi, lo]
            }
            SpanRole::Uwsgi => [b'u', 0, 0],
        }
    }
}

/// The span id of `role` in the trace `trace_id`: FNV-1a (64 bit) of the
/// trace id and the role. Hand-rolled because the ids must stay the same
/// across logmux versions and machines (std's hasher promises neither), and
/// FNV is eight lines; never zero (the W3C invalid id).
pub fn span_id(trace_id: &[u8; 16], role: SpanRole) -> [u8; 8] {
    const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    let mut h = OFFSET;
    for b in trace_id.iter().chain(role.tag().iter()) {
        h ^= u64::from(*b);
        h = h.wrapping_mul(PRIME);
    }
    if h == 0 {
        h = 1;
    }
    h.to_be_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;
    use logmux_parsers::trace_context::{to_hex, trace_id};

    #[test]
    fn the_ids_are_stable_and_differ_by_role() {
        let t = trace_id("4bf92f3577b34da6a3ce929d0e0e4736").unwrap();
        // Pinned: a change here changes every id logmux has ever sent.
        assert_eq!(
            to_hex(&span_id(&t, SpanRole::NginxServer)),
            "2a21eddbca58e1b1"
        );
        assert_eq!(
            to_hex(&span_id(&t, SpanRole::UpstreamTry(0))),
            "d3831fdb9948ef03"
        );
        assert_eq!(to_hex(&span_id(&t, SpanRole::Uwsgi)), "cad9a4db9460f058");
        let all = [
            span_id(&t, SpanRole::NginxServer),
            span_id(&t, SpanRole::UpstreamTry(0)),
            span_id(&t, SpanRole::UpstreamTry(1)),
            span_id(&t, SpanRole::Uwsgi),
        ];
        for (i, a) in all.iter().enumerate() {
            for b in &all[i + 1..] {
                assert_ne!(a, b);
            }
        }
        let other = trace_id("4bf92f3577b34da6a3ce929d0e0e4737").unwrap();
        assert_ne!(
            span_id(&other, SpanRole::Uwsgi),
            span_id(&t, SpanRole::Uwsgi)
        );
    }
}
