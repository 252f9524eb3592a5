//! `[trace]`: how `logmux run` ties one request's events together, and how
//! its span builder waits for a request's lines. Spans are sent by the OTLP
//! sinks whose `signals` hold `traces`.
//!
//! ```toml
//! [trace]
//! join = "infer"        # default "ids": only the ids the lines log
//! window = "5s"         # a trace is sent at most this long after its first line
//! max_pending = 10000   # traces waiting at once; past it the oldest is sent
//! ```
//!
//! `join = "infer"` also joins nginx's access line and uWSGI's request line
//! of configs that log no id ([`crate::trace::infer`]). Errors name the
//! file, line and key (`trace.join`, `trace.window`, `trace.max_pending`).

use serde::Deserialize;
use toml::Spanned;

use super::error::{ConfigError, Locator};
use super::run::{duration_or, DurationValue};
use crate::trace::infer::JoinMode;
use crate::trace::{TraceSpec, DEFAULT_MAX_PENDING, DEFAULT_WINDOW};

/// `max_pending` at most: each waiting trace holds a few hundred bytes.
pub const MAX_PENDING_LIMIT: u64 = 10_000_000;

/// The `[trace]` table as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTrace {
    pub join: Option<Spanned<String>>,
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

/// `trace.join`, checked; `"ids"` when the table or key is absent.
pub fn resolve_join(loc: &Locator<'_>, raw: Option<&RawTrace>) -> Result<JoinMode, ConfigError> {
    match raw.and_then(|t| t.join.as_ref()) {
        Some(join) => loc.word(join, "trace.join"),
        None => Ok(JoinMode::default()),
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::config::run::{parse, RunConfig, RunConfigError};

    fn load(text: &str) -> Result<RunConfig, RunConfigError> {
        let text = format!("[program.a]\ncommand = \"x\"\n{text}");
        parse(Path::new("/etc/logmux.toml"), &text, &|_| None, &mut |_| {})
    }

    fn join(text: &str) -> JoinMode {
        load(text).unwrap_or_else(|e| panic!("{e}")).trace_join
    }

    #[test]
    fn join_is_ids_unless_the_table_says_infer() {
        assert_eq!(join(""), JoinMode::Ids);
        assert_eq!(join("[trace]\n"), JoinMode::Ids);
        assert_eq!(join("[trace]\njoin = \"ids\"\n"), JoinMode::Ids);
        assert_eq!(join("[trace]\njoin = \"infer\"\n"), JoinMode::Infer);
    }

    #[test]
    fn errors_name_the_file_line_and_key() {
        let err = |text: &str| match load(text) {
            Ok(_) => panic!("expected an error for {text:?}"),
            Err(e) => e.to_string(),
        };
        assert_eq!(
            err("[trace]\njoin = \"guess\"\n"),
            "/etc/logmux.toml:4:8: trace.join: `guess` is not a join: expected \"ids\" or \"infer\""
        );
        assert!(err("[trace]\njoin = 1\n").starts_with("/etc/logmux.toml:4:8: trace.join: "));
    }
}
