//! The heuristic join (`[trace] join = "infer"`): nginx's access line and
//! uWSGI's request line of one request, tied without a request id.
//!
//! For configs that log no id (the seed's original nginx and uWSGI), an
//! `nginx.access` and a `uwsgi.request` event without a `trace_id` are
//! joined when their method, path, query and status are equal and their
//! times and durations fit one request ([`table`] has the rule). The line
//! that comes first gets a fresh trace id and its role's span id at once
//! (events are never held back); its partner, when one comes within the
//! window, gets the same trace id, its own span id and
//! `logmux.trace_join = "inferred"`. Two candidates that fit equally well
//! join neither.
//!
//! Under `run`, nginx and uWSGI are different programs whose lines are
//! parsed on different tasks: one [`Joiner`] is shared by every stream's
//! pipeline, as the event metrics are, behind one lock taken only for
//! request lines.

pub mod table;

use std::borrow::Cow;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use logmux_parsers::{Field, Format, Record, Value};

use super::ids::{span_id, SpanRole};
use crate::output::otlp::mapping::timestamp_nanos;
use crate::output::LocalZone;
use table::{Key, Side, Table, Timing, Verdict};

/// The value of `logmux.trace_join` on the partner that was joined.
pub const INFERRED: &str = "inferred";

/// How request lines get their trace ids: `[trace] join`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum JoinMode {
    /// Only from the ids the lines log (`http.request.id`, `traceparent`).
    #[default]
    Ids,
    /// Also by the heuristic, for lines without ids.
    Infer,
}

impl std::str::FromStr for JoinMode {
    type Err = String;
    fn from_str(s: &str) -> Result<JoinMode, String> {
        match s {
            "ids" => Ok(JoinMode::Ids),
            "infer" => Ok(JoinMode::Infer),
            other => Err(format!(
                "`{other}` is not a join: expected \"ids\" or \"infer\""
            )),
        }
    }
}

/// The join table shared by the pipelines of one logmux.
pub struct Joiner {
    table: Mutex<Table>,
    zone: LocalZone,
    /// Seeds and counts the fresh trace ids.
    seed: u64,
    count: AtomicU64,
}

impl std::fmt::Debug for Joiner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Joiner").finish_non_exhaustive()
    }
}

impl Joiner {
    /// A joiner keeping lines for `window`, at most `max_pending`; times
    /// printed without a zone (uWSGI's) are read in `zone`.
    pub fn new(window: Duration, max_pending: usize, zone: LocalZone) -> Joiner {
        let since_epoch = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        let seed =
            mix(since_epoch.as_nanos() as u64 ^ u64::from(std::process::id()).rotate_left(32));
        Joiner {
            table: Mutex::new(Table::new(nanos(window), max_pending)),
            zone,
            seed,
            count: AtomicU64::new(0),
        }
    }

    /// The `[trace]` table's window and cap, in the system's zone.
    pub fn from_spec(spec: &super::TraceSpec) -> Joiner {
        Joiner::new(spec.window, spec.max_pending, LocalZone::System)
    }

    /// Lines waiting for their partner.
    pub fn pending(&self) -> usize {
        self.table.lock().map(|t| t.len()).unwrap_or(0)
    }

    /// Gives `rec`, read at `read` (seconds and nanoseconds since the
    /// epoch: the line's stamp, so no clock is read per line), a trace id
    /// when it is a request line without one: its partner's, or a fresh one.
    pub fn observe(&self, rec: &mut Record<'_>, read: (i64, u32)) {
        let now = u64::try_from(read.0)
            .unwrap_or(0)
            .saturating_mul(1_000_000_000)
            .saturating_add(u64::from(read.1));
        self.observe_at(rec, now);
    }

    /// [`Joiner::observe`] at `now`, in nanoseconds: the window is
    /// measured on this clock (one that steps back only delays expiry;
    /// the cap still bounds memory).
    pub fn observe_at(&self, rec: &mut Record<'_>, now: u64) {
        let side = match rec.format {
            Format::NginxAccess => Side::Nginx,
            Format::UwsgiRequest => Side::Uwsgi,
            _ => return,
        };
        let Some((key, timing)) = self.facts(rec, side) else {
            return;
        };
        let verdict = match self.table.lock() {
            Ok(mut t) => t.offer(side, key, timing, now, || self.fresh()),
            Err(_) => return,
        };
        let (trace_id, joined) = match verdict {
            Verdict::Joined(t) => (t, true),
            Verdict::Waits(t) => (t, false),
        };
        let role = match side {
            Side::Nginx => SpanRole::NginxServer,
            Side::Uwsgi => SpanRole::Uwsgi,
        };
        let span = span_id(&trace_id, role);
        rec.set_sorted(Field::TraceId, Value::Str(Cow::Owned(hex(&trace_id))));
        rec.set_sorted(Field::SpanId, Value::Str(Cow::Owned(hex(&span))));
        if joined {
            rec.set_sorted(Field::LogmuxTraceJoin, Value::str(INFERRED));
        }
    }

    /// The key and times of a request line that has no trace id yet.
    fn facts<'r>(&self, rec: &'r Record<'_>, side: Side) -> Option<(Key<'r>, Timing)> {
        let (mut method, mut path, mut query, mut status, mut dur) = (None, None, "", None, None);
        for (field, value) in &rec.fields {
            match field {
                Field::TraceId => return None,
                Field::HttpRequestMethod => method = value.as_str(),
                Field::UrlPath => path = value.as_str(),
                Field::UrlQuery => query = value.as_str().unwrap_or(""),
                Field::HttpResponseStatusCode => status = value.as_int(),
                Field::HttpServerRequestDuration => dur = seconds(value),
                _ => {}
            }
        }
        let ts = rec.timestamp.as_ref()?;
        let at = i64::try_from(timestamp_nanos(ts, self.zone)).ok()?;
        let res = match ts.frac_digits {
            0 => 1_000_000_000,
            d => 10i64.pow(9u32.saturating_sub(u32::from(d.min(9)))),
        };
        // uWSGI's duration places its line in time; nginx's is optional.
        if side == Side::Uwsgi && dur.is_none() {
            return None;
        }
        let key = Key {
            method: method?,
            path: path?,
            query,
            status: status?,
        };
        Some((key, Timing { at, res, dur }))
    }

    /// A new trace id: the count mixed with the process's seed, through a
    /// bijection (so never the same twice in one process); never zero.
    fn fresh(&self) -> [u8; 16] {
        let n = self.count.fetch_add(1, Ordering::Relaxed);
        let lo = mix(self.seed.wrapping_add(n));
        let hi = mix(lo ^ self.seed.rotate_left(17));
        let mut id = [0u8; 16];
        id[..8].copy_from_slice(&hi.to_be_bytes());
        id[8..].copy_from_slice(&lo.to_be_bytes());
        if id == [0; 16] {
            id[15] = 1;
        }
        id
    }
}

/// Lower-case hex, as [`logmux_parsers::trace_context::to_hex`] writes it, in one copy (this runs for
/// every request line).
fn hex<const N: usize>(bytes: &[u8; N]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = [0u8; 32];
    for (pair, b) in out.chunks_exact_mut(2).zip(bytes) {
        pair[0] = DIGITS[usize::from(b >> 4)];
        pair[1] = DIGITS[usize::from(b & 15)];
    }
    let used = out.get(..N * 2).unwrap_or(&out);
    std::str::from_utf8(used)
        .map(str::to_owned)
        .unwrap_or_default()
}

/// SplitMix64's finalizer: a bijection of u64 that scatters its bits.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

/// A duration field in nanoseconds.
fn seconds(v: &Value<'_>) -> Option<i64> {
    let s = match v {
        Value::Float(f) => *f,
        Value::Int(i) => *i as f64,
        _ => return None,
    };
    (s.is_finite() && s >= 0.0).then(|| (s * 1e9).round() as i64)
}

#[cfg(test)]
#[path = "infer/tests.rs"]
mod tests;
