//! The local zone, for times printed without one (nginx's error log, uWSGI,
//! supervisord, Django's `asctime`).
//!
//! Such a time is resolved in the zone's rules for its own date, from the
//! system tz database with `TZ` honoured (chrono's `Local`, already a
//! dependency, reads both), so a long-running PID 1 stamps lines correctly
//! after a DST change and a file read in winter stamps last summer's lines
//! with summer time. Two local times need a rule of their own:
//! - one in the hour that repeats when clocks go back (Berlin, 25 October
//!   2026, 02:00–02:59 happens twice) is read as the first of the two, with
//!   the summer offset (`02:30+02:00`): a line does not say which it was;
//! - one in the hour that is skipped when clocks go forward (29 March 2026,
//!   02:00–02:59 never happens) can only come from a clock not yet moved,
//!   so it keeps the offset before the change (`02:30+01:00`).
//!
//! The lookup costs far more than the rest of a line, so each thread keeps
//! the offset of the last local hour it resolved; an hour that contains a
//! change of offset (a zone changing at half past) is not cached.

use std::cell::Cell;

use chrono::{Local, LocalResult, NaiveDate, Offset, TimeZone};
use logmux_parsers::Timestamp;

/// Which zone a time printed without one is read in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LocalZone {
    /// The system's zone (`TZ`, else `/etc/localtime`), per date.
    System,
    /// A fixed offset in minutes east of UTC (tests, benchmarks, fuzzing).
    Fixed(i16),
}

impl LocalZone {
    /// The offset, in minutes east of UTC, of the local time `ts` (its
    /// fields read as a wall-clock time; its own offset is ignored).
    pub fn minutes_at(self, ts: &Timestamp) -> i16 {
        match self {
            LocalZone::Fixed(m) => m,
            LocalZone::System => system_minutes_at(ts),
        }
    }

    /// The offset now, in minutes east of UTC.
    pub fn minutes_now(self) -> i16 {
        match self {
            LocalZone::Fixed(m) => m,
            LocalZone::System => {
                let secs = Local::now().offset().fix().local_minus_utc();
                i16::try_from(secs / 60).unwrap_or(0)
            }
        }
    }
}

thread_local! {
    /// The last local hour resolved (`yyyymmddhh`) and its offset.
    static HOUR: Cell<Option<(u64, i16)>> = const { Cell::new(None) };
}

fn system_minutes_at(ts: &Timestamp) -> i16 {
    let hour_key = u64::from(ts.year) * 1_000_000
        + u64::from(ts.month) * 10_000
        + u64::from(ts.day) * 100
        + u64::from(ts.hour);
    if let Some((key, minutes)) = HOUR.get() {
        if key == hour_key {
            return minutes;
        }
    }
    let at = |minute: u8, second: u8| resolve(ts, ts.hour, minute, second);
    let minutes = at(ts.minute, ts.second);
    // Cache only an hour whose every minute has one and the same offset.
    if at(0, 0) == minutes && at(59, 59) == minutes {
        HOUR.set(Some((hour_key, minutes)));
    }
    minutes
}

/// The offset of one local wall-clock time, by the rules above; UTC for a
/// date that does not exist.
fn resolve(ts: &Timestamp, hour: u8, minute: u8, second: u8) -> i16 {
    let Some(naive) =
        NaiveDate::from_ymd_opt(i32::from(ts.year), u32::from(ts.month), u32::from(ts.day))
            .and_then(|d| d.and_hms_opt(u32::from(hour), u32::from(minute), u32::from(second)))
    else {
        return 0;
    };
    let offset = match Local.from_local_datetime(&naive) {
        LocalResult::Single(t) => t.offset().fix(),
        // The first of the two instants is the one with the larger offset.
        LocalResult::Ambiguous(a, b) => {
            let (a, b) = (a.offset().fix(), b.offset().fix());
            if a.local_minus_utc() >= b.local_minus_utc() {
                a
            } else {
                b
            }
        }
        // In a gap: the offset an hour earlier, before the clocks moved.
        LocalResult::None => match Local.from_local_datetime(&(naive - chrono::Duration::hours(1)))
        {
            LocalResult::Single(t) | LocalResult::Ambiguous(t, _) => t.offset().fix(),
            LocalResult::None => chrono::Utc.fix(),
        },
    };
    i16::try_from(offset.local_minus_utc() / 60).unwrap_or(0)
}
