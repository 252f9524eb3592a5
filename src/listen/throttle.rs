//! Reports of things that may happen thousands of times a second (refused
//! connections, failed accepts, failed TLS handshakes): the first at once,
//! later ones at most once a period, each with the count since the one
//! before, so that none goes unreported and the log is not flooded.

use std::time::{Duration, Instant};

/// Counts occurrences and says when a report is due.
#[derive(Debug)]
pub struct Throttle {
    period: Duration,
    last_report: Option<Instant>,
    /// Occurrences since `last_report`, not yet reported.
    unreported: u64,
}

impl Throttle {
    /// At most one report every `period`.
    pub fn every(period: Duration) -> Throttle {
        Throttle {
            period,
            last_report: None,
            unreported: 0,
        }
    }

    fn is_due(&self, now: Instant) -> bool {
        self.last_report
            .is_none_or(|at| now.saturating_duration_since(at) >= self.period)
    }

    /// One more: `Some(occurrences to report, this one included)` when a
    /// report is due.
    pub fn hit(&mut self, now: Instant) -> Option<u64> {
        self.unreported += 1;
        self.report(now)
    }

    /// `Some(occurrences)` left unreported, once due.
    pub fn due(&mut self, now: Instant) -> Option<u64> {
        if self.unreported == 0 {
            return None;
        }
        self.report(now)
    }

    /// Whether some occurrences wait for a report.
    pub fn is_pending(&self) -> bool {
        self.unreported > 0
    }

    /// The end: whatever is left, due or not.
    pub fn rest(&mut self) -> Option<u64> {
        (self.unreported > 0).then(|| std::mem::take(&mut self.unreported))
    }

    fn report(&mut self, now: Instant) -> Option<u64> {
        if !self.is_due(now) {
            return None;
        }
        self.last_report = Some(now);
        Some(std::mem::take(&mut self.unreported))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PERIOD: Duration = Duration::from_secs(10);
    const STEP: Duration = Duration::from_millis(100);

    #[test]
    fn the_first_is_reported_then_one_report_per_period() {
        let t0 = Instant::now();
        let mut a = Throttle::every(PERIOD);
        assert_eq!(a.hit(t0), Some(1));
        // Ten a second for a minute: one report every 10 s, each with the
        // count since the one before.
        let mut reports = Vec::new();
        for i in 1..=600 {
            if let Some(n) = a.hit(t0 + STEP * i) {
                reports.push(n);
            }
        }
        assert_eq!(reports, vec![100; 6]);
        assert_eq!(a.rest(), None);
    }

    #[test]
    fn those_left_unreported_come_out_once_due_or_at_the_end() {
        let t0 = Instant::now();
        let mut a = Throttle::every(PERIOD);
        assert_eq!(a.hit(t0), Some(1));
        assert_eq!(a.hit(t0 + Duration::from_secs(1)), None);
        assert_eq!(a.hit(t0 + Duration::from_secs(2)), None);
        assert!(a.is_pending());
        assert_eq!(a.due(t0 + Duration::from_secs(3)), None);
        assert_eq!(a.due(t0 + PERIOD), Some(2));
        assert!(!a.is_pending());
        assert_eq!(a.due(t0 + PERIOD * 5), None);
        // Long after the last report: reported at once.
        assert_eq!(a.hit(t0 + PERIOD * 5), Some(1));
        assert_eq!(a.hit(t0 + PERIOD * 5 + STEP), None);
        assert_eq!(a.rest(), Some(1));
        assert_eq!(a.rest(), None);
    }
}
