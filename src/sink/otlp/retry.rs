//! The retry schedule: exponential backoff from 500 ms, doubled up to 30 s,
//! each wait jittered to 50–100 % of its step (so many senders do not
//! return at once); a receiver's `Retry-After` replaces the step. Retrying
//! stops once the next wait would pass the total allowed.

use std::time::{Duration, Instant};

const FIRST: Duration = Duration::from_millis(500);
const LONGEST: Duration = Duration::from_secs(30);

pub struct Backoff {
    started: Instant,
    total: Duration,
    step: Duration,
    seed: u64,
}

impl Backoff {
    pub fn new(total: Duration) -> Backoff {
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0x9e37_79b9, |d| d.as_nanos() as u64)
            | 1;
        Backoff {
            started: Instant::now(),
            total,
            step: FIRST,
            seed,
        }
    }

    /// How long to wait before the next attempt; `None`: give up.
    pub fn next_wait(&mut self, retry_after: Option<Duration>) -> Option<Duration> {
        let wait = match retry_after {
            Some(after) => after,
            None => {
                let half = self.step / 2;
                half + half.mul_f64(self.jitter())
            }
        };
        self.step = (self.step * 2).min(LONGEST);
        (self.started.elapsed() + wait <= self.total).then_some(wait)
    }

    /// A number in [0, 1) from xorshift64: jitter needs no better.
    fn jitter(&mut self) -> f64 {
        self.seed ^= self.seed << 13;
        self.seed ^= self.seed >> 7;
        self.seed ^= self.seed << 17;
        (self.seed >> 11) as f64 / (1u64 << 53) as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_double_with_jitter_and_stop_at_the_total() {
        let mut b = Backoff::new(Duration::from_secs(3));
        let w1 = b.next_wait(None).unwrap();
        assert!(
            w1 >= Duration::from_millis(250) && w1 < Duration::from_millis(500),
            "{w1:?}"
        );
        let w2 = b.next_wait(None).unwrap();
        assert!(
            w2 >= Duration::from_millis(500) && w2 < Duration::from_secs(1),
            "{w2:?}"
        );
        assert_eq!(
            b.next_wait(Some(Duration::from_secs(2))),
            Some(Duration::from_secs(2))
        );
        assert_eq!(b.next_wait(Some(Duration::from_secs(4))), None);
    }
}
