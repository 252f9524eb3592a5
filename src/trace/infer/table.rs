//! The pending table of the heuristic join: the request lines that came
//! first, waiting for their partner, and the rule that picks one.
//!
//! A partner must have the same method, path, query and status, and times
//! that fit: uWSGI's interval (its line's start time plus its duration)
//! lies within nginx's (its line's end time, minus `$request_time` when the
//! format logs it), each widened by the resolution its line prints (a
//! second for uWSGI's default date and nginx's `$time_local`). Among the
//! lines that fit, the one with the least slack (nginx's time outside
//! uWSGI's) wins, but only when no other fits as well within what the
//! lines' resolution can tell apart, on either side: two equally good
//! candidates join neither. Entries leave after the window, or the oldest
//! first past the cap, so memory stays bounded.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::hash::BuildHasher;

/// More lines of one key waiting on one side than this: the join cannot
/// tell them apart anyway, so it does not look (a hot path under load
/// costs no scan of thousands of lines).
pub const MAX_CANDIDATES: usize = 64;

/// Clock and rounding slack for durations and times: both programs print
/// milliseconds cut, not rounded, and nginx reads a cached clock.
pub const TOLERANCE: i64 = 2_000_000;

/// Which program's line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Side {
    /// nginx's access line: its time is the request's end.
    Nginx,
    /// uWSGI's request line: its time is the request's start.
    Uwsgi,
}

impl Side {
    fn other(self) -> Side {
        match self {
            Side::Nginx => Side::Uwsgi,
            Side::Uwsgi => Side::Nginx,
        }
    }
}

/// What must be equal for two lines to be one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Key<'a> {
    pub method: &'a str,
    pub path: &'a str,
    pub query: &'a str,
    pub status: i64,
}

/// A line's times, in nanoseconds since the epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timing {
    /// nginx: the end; uWSGI: the start (as printed, cut to `res`).
    pub at: i64,
    /// The resolution of `at` (a second for `$time_local` and ctime).
    pub res: i64,
    /// The logged duration, if the line has one.
    pub dur: Option<i64>,
}

/// One line waiting for its partner.
struct Entry {
    id: u64,
    method: Box<str>,
    path: Box<str>,
    query: Box<str>,
    status: i64,
    timing: Timing,
    /// When it came (the table's clock), for the window.
    came: u64,
    trace_id: [u8; 16],
}

impl Entry {
    fn has(&self, key: &Key<'_>) -> bool {
        self.status == key.status
            && *self.method == *key.method
            && *self.path == *key.path
            && *self.query == *key.query
    }
}

/// The lines of one program whose keys hash alike, oldest first.
type Bucket = VecDeque<Entry>;

/// The pending lines of both programs.
pub struct Table {
    window: u64,
    cap: usize,
    next: u64,
    /// By the hash of their key and their program: a line looks only at
    /// the other program's lines (nginx's lines of static files, which
    /// never get a partner, cost uWSGI's lines nothing).
    buckets: HashMap<(u64, Side), Bucket, foldhash::fast::FixedState>,
    /// Id (in arrival order) → bucket: the oldest is first.
    order: BTreeMap<u64, (u64, Side)>,
    hasher: foldhash::fast::FixedState,
}

/// What the table says about a new line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Joined to the pending line of this trace (which leaves the table).
    Joined([u8; 16]),
    /// No partner (none fits, or two fit as well): the line waits, with
    /// its fresh trace id.
    Waits([u8; 16]),
}

impl Table {
    /// A table keeping lines for `window` (in the clock's units, ns) and
    /// at most `cap` of them.
    pub fn new(window: u64, cap: usize) -> Table {
        Table {
            window,
            cap: cap.max(1),
            next: 0,
            buckets: HashMap::default(),
            order: BTreeMap::new(),
            hasher: foldhash::fast::FixedState::default(),
        }
    }

    /// Lines waiting.
    pub fn len(&self) -> usize {
        self.order.len()
    }

    /// Whether no line waits.
    pub fn is_empty(&self) -> bool {
        self.order.is_empty()
    }

    /// Offers a line that came at `now`: joins it to its one best partner,
    /// or keeps it (with `fresh`, its new trace id) for a later one.
    pub fn offer(
        &mut self,
        side: Side,
        key: Key<'_>,
        timing: Timing,
        now: u64,
        fresh: impl FnOnce() -> [u8; 16],
    ) -> Verdict {
        self.expire(now);
        let hash = self.hasher.hash_one(key);
        let theirs = (hash, side.other());
        if let Some(at) = self.partner(hash, side, &key, &timing) {
            if let Some(e) = self.buckets.get_mut(&theirs).and_then(|b| b.remove(at)) {
                self.forget_if_empty(theirs);
                self.order.remove(&e.id);
                return Verdict::Joined(e.trace_id);
            }
        }
        let trace_id = fresh();
        self.insert((hash, side), key, timing, now, trace_id);
        Verdict::Waits(trace_id)
    }

    /// The index in the other program's bucket of the new line's partner,
    /// if exactly one is best, and the new line is also its best.
    fn partner(&self, hash: u64, side: Side, key: &Key<'_>, timing: &Timing) -> Option<usize> {
        let theirs = self.buckets.get(&(hash, side.other()))?;
        if theirs.len() > MAX_CANDIDATES {
            return None;
        }
        let mut best: Option<(usize, Judged)> = None;
        for (i, e) in theirs.iter().enumerate().filter(|(_, e)| e.has(key)) {
            let Some(j) = self.judge(side, timing, &e.timing) else {
                continue;
            };
            if best.is_none_or(|(_, b)| j.slack < b.slack) {
                best = Some((i, j));
            }
        }
        let (at, won) = best?;
        let chosen = theirs.get(at)?;
        // Equally good: another candidate within what the lines can tell apart.
        let rival = theirs.iter().enumerate().any(|(i, e)| {
            i != at
                && e.has(key)
                && self
                    .judge(side, timing, &e.timing)
                    .is_some_and(|j| as_good(j, won, &e.timing, &chosen.timing))
        });
        // And the chosen line has no other waiting partner as good as this one.
        let empty = Bucket::new();
        let ours = self.buckets.get(&(hash, side)).unwrap_or(&empty);
        let taken = ours.len() > MAX_CANDIDATES
            || ours.iter().any(|e| {
                e.has(key)
                    && self
                        .judge(side, &e.timing, &chosen.timing)
                        .is_some_and(|j| as_good(j, won, &e.timing, timing))
            });
        (!rival && !taken).then_some(at)
    }

    /// How a line on `side` with `mine` fits the other program's line
    /// `theirs`: `None` when they cannot be one request.
    fn judge(&self, side: Side, mine: &Timing, theirs: &Timing) -> Option<Judged> {
        let (n, u) = match side {
            Side::Nginx => (mine, theirs),
            Side::Uwsgi => (theirs, mine),
        };
        let j = fits(n, u)?;
        let within = u64::try_from(j.slack).is_ok_and(|s| s <= self.window);
        within.then_some(j)
    }

    fn insert(
        &mut self,
        bucket: (u64, Side),
        key: Key<'_>,
        timing: Timing,
        now: u64,
        trace_id: [u8; 16],
    ) {
        while self.order.len() >= self.cap {
            self.drop_oldest();
        }
        let id = self.next;
        self.next += 1;
        self.buckets.entry(bucket).or_default().push_back(Entry {
            id,
            method: key.method.into(),
            path: key.path.into(),
            query: key.query.into(),
            status: key.status,
            timing,
            came: now,
            trace_id,
        });
        self.order.insert(id, bucket);
    }

    /// Forgets the lines that came more than the window before `now`.
    fn expire(&mut self, now: u64) {
        while let Some((&id, bucket)) = self.order.first_key_value() {
            // A bucket is in arrival order: the table's oldest line is at
            // the front of its own.
            let came = self
                .buckets
                .get(bucket)
                .and_then(|b| b.front())
                .filter(|e| e.id == id)
                .map(|e| e.came);
            match came {
                Some(c) if now.saturating_sub(c) <= self.window => break,
                _ => self.drop_oldest(),
            }
        }
    }

    fn drop_oldest(&mut self) {
        let Some((id, bucket)) = self.order.pop_first() else {
            return;
        };
        if let Some(b) = self.buckets.get_mut(&bucket) {
            if b.front().is_some_and(|e| e.id == id) {
                b.pop_front();
            } else {
                b.retain(|e| e.id != id);
            }
        }
        self.forget_if_empty(bucket);
    }

    fn forget_if_empty(&mut self, bucket: (u64, Side)) {
        if self.buckets.get(&bucket).is_some_and(VecDeque::is_empty) {
            self.buckets.remove(&bucket);
        }
    }
}

/// How well two lines fit.
#[derive(Debug, Clone, Copy)]
struct Judged {
    /// nginx's time outside uWSGI's (estimated), ns.
    slack: i64,
    /// From the two durations (nginx logs `$request_time`), not the times.
    by_durations: bool,
}

/// Whether a pair judged `j` is as good as the best pair `best`, the two
/// differing in the lines `a` and `b`: their slacks are closer than what
/// the printed times (when used) and the durations' rounding can tell.
fn as_good(j: Judged, best: Judged, a: &Timing, b: &Timing) -> bool {
    let times = if j.by_durations && best.by_durations {
        0
    } else {
        a.res.max(b.res)
    };
    j.slack - best.slack <= times + TOLERANCE
}

/// Whether uWSGI's interval `u` can lie within nginx's `n`, and if so the
/// slack: nginx's duration minus uWSGI's when nginx logs its own, else the
/// time from uWSGI's end to nginx's as printed.
fn fits(n: &Timing, u: &Timing) -> Option<Judged> {
    let d = u.dur.unwrap_or(0);
    let u_end_earliest = u.at.saturating_add(d);
    let n_end_latest = n.at.saturating_add(n.res);
    if u_end_earliest > n_end_latest.saturating_add(TOLERANCE) {
        return None;
    }
    let Some(nd) = n.dur else {
        return Some(Judged {
            slack: n.at.saturating_sub(u_end_earliest).max(0),
            by_durations: false,
        });
    };
    if d > nd.saturating_add(TOLERANCE) {
        return None;
    }
    let n_start_earliest = n.at.saturating_sub(nd);
    let u_start_latest = u.at.saturating_add(u.res);
    if u_start_latest.saturating_add(TOLERANCE) < n_start_earliest {
        return None;
    }
    Some(Judged {
        slack: (nd - d).max(0),
        by_durations: true,
    })
}
