//! `[trace]`: how the span builder of `logmux run` waits for a request's
//! lines. Spans are sent by the OTLP sinks whose `signals` hold `traces`.
//!
//! ```toml
//! [trace]
//! window = "5s"         # a trace is sent at most this long after its first line
//! max_pending = 10000   # traces waiting at once; past it the oldest is sent
//! ```

use serde::Deserialize;
use toml::Spanned;

use super::error::{ConfigError, Locator};
use super::run::{duration_or, DurationValue};
use crate::trace::{TraceSpec, DEFAULT_MAX_PENDING, DEFAULT_WINDOW};

/// `max_pending` at most: each waiting trace holds a few hundred bytes.
pub const MAX_PENDING_LIMIT: u64 = 10_000_000;

/// The `[trace]` table as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTrace {
    pub window: Option<Spanned<DurationValue>>,
    pub max_pending: Option<Spanned<u64>>,
}

/// Checks the table.
pub fn resolve(loc: &Locator<'_>, raw: &RawTrace) -> Result<TraceSpec, ConfigError> {
    let window = duration_or(loc, &raw.window, "trace.window", DEFAULT_WINDOW)?;
    if window.is_zero() {
        let at = raw.window.as_ref().map_or(0, |w| w.span().start);
        return Err(loc.invalid(at, "trace.window", "must be more than 0"));
    }
    let max_pending = match &raw.max_pending {
        None => DEFAULT_MAX_PENDING,
        Some(n) if (1..=MAX_PENDING_LIMIT).contains(n.get_ref()) => *n.get_ref() as usize,
        Some(n) => {
            return Err(loc.invalid(
                n.span().start,
                "trace.max_pending",
                format!("{}: expected 1 to {MAX_PENDING_LIMIT}", n.get_ref()),
            ))
        }
    };
    Ok(TraceSpec {
        window,
        max_pending,
    })
}
