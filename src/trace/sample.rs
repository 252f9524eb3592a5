//! `trace_sample_ratio`: which traces an OTLP sink keeps. The decision is
//! the trace id's alone (its low 64 bits against a bound, as OpenTelemetry's
//! `TraceIdRatioBased` sampler does), so every span of a trace, and every
//! logmux that sees the trace, decides alike; errors are kept whatever the
//! ratio (the caller asks [`keeps`] only for the others).

/// The bound for `ratio` (0 to 1): a trace is kept when its id's low 64
/// bits are below it; `None` (ratio 1): every trace is kept.
pub fn bound(ratio: f64) -> Option<u64> {
    if ratio >= 1.0 {
        return None;
    }
    // 2^64 · ratio, exact for the ratios people write (0.25 → 2^62).
    Some((ratio.max(0.0) * 18_446_744_073_709_551_616.0) as u64)
}

/// Whether a trace with no error is kept under `bound`.
pub fn keeps(bound: Option<u64>, trace_id: &[u8; 16]) -> bool {
    let Some(bound) = bound else { return true };
    let mut low = [0u8; 8];
    low.copy_from_slice(&trace_id[8..]);
    u64::from_be_bytes(low) < bound
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The trace id whose low half is `i`/`n` of 2^64.
    fn id(i: u128, n: u128) -> [u8; 16] {
        let low = ((i << 64) / n) as u64;
        let mut t = [0xab; 16];
        t[8..].copy_from_slice(&low.to_be_bytes());
        t
    }

    #[test]
    fn the_ratio_keeps_exactly_its_share_of_evenly_spread_ids() {
        let kept = |ratio: f64| {
            (0..100)
                .filter(|i| keeps(bound(ratio), &id(*i, 100)))
                .count()
        };
        assert_eq!(kept(1.0), 100);
        assert_eq!(kept(0.25), 25);
        assert_eq!(kept(0.5), 50);
        assert_eq!(kept(0.0), 0);
        assert_eq!(bound(0.25), Some(1 << 62));
        // The same id, the same answer, every time.
        assert!(keeps(bound(0.25), &id(24, 100)));
        assert!(!keeps(bound(0.25), &id(25, 100)));
    }
}
