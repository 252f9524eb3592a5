//! The traces keys of an otlp sink: `signals`, `traces_endpoint` and
//! `trace_sample_ratio`. Spans go to `/v1/traces` of the sink's endpoint
//! unless `traces_endpoint` or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` (a
//! whole URL, as the OTel SDKs read it) says otherwise.

use super::{Keys, RawSink};
use crate::config::error::ConfigError;
use crate::sink::otlp::{self, TracesSpec, TRACES_PATH};

impl Keys<'_> {
    /// Whether the sink sends logs, and its traces settings if it sends traces.
    pub(super) fn signals(&self, s: &RawSink) -> Result<(bool, Option<TracesSpec>), ConfigError> {
        let (logs, traces) = match &s.signals {
            None => (true, false),
            Some(v) => {
                let at = v.span().start;
                let list = v.get_ref();
                if list.is_empty() {
                    return Err(self.invalid(
                        at,
                        "signals",
                        "is empty: expected \"logs\", \"traces\" or both",
                    ));
                }
                for (i, word) in list.iter().enumerate() {
                    if !["logs", "traces"].contains(&word.as_str()) {
                        return Err(self.invalid(
                            at,
                            "signals",
                            format!(
                                "`{word}`: expected \"logs\" or \"traces\" (metrics are not sent)"
                            ),
                        ));
                    }
                    if list[..i].contains(word) {
                        return Err(self.invalid(
                            at,
                            "signals",
                            format!("`{word}` is listed twice"),
                        ));
                    }
                }
                let has = |w: &str| list.iter().any(|x| x == w);
                (has("logs"), has("traces"))
            }
        };
        if !traces {
            for (key, offset) in [
                (
                    "traces_endpoint",
                    s.traces_endpoint.as_ref().map(|v| v.span().start),
                ),
                (
                    "trace_sample_ratio",
                    s.trace_sample_ratio.as_ref().map(|v| v.span().start),
                ),
            ] {
                if let Some(at) = offset {
                    return Err(self.invalid(
                        at,
                        key,
                        "applies only when signals holds \"traces\"",
                    ));
                }
            }
            return Ok((logs, None));
        }
        let sample_below = match &s.trace_sample_ratio {
            None => None,
            Some(v) => {
                let ratio = *v.get_ref();
                if !(0.0..=1.0).contains(&ratio) {
                    return Err(self.invalid(
                        v.span().start,
                        "trace_sample_ratio",
                        format!("{ratio} is not between 0 and 1"),
                    ));
                }
                crate::trace::sample::bound(ratio)
            }
        };
        Ok((
            logs,
            Some(TracesSpec {
                url: self.traces_url(s)?,
                sample_below,
            }),
        ))
    }

    fn traces_url(&self, s: &RawSink) -> Result<String, ConfigError> {
        if let Some(v) = &s.traces_endpoint {
            let text = self.text(v, "traces_endpoint")?;
            return otlp::signal_url(text.trim(), true, TRACES_PATH)
                .map_err(|m| self.invalid(v.span().start, "traces_endpoint", m));
        }
        if let Some(v) = &s.endpoint {
            let text = self.text(v, "endpoint")?;
            let base = text.trim().trim_end_matches('/');
            let base = base.strip_suffix(otlp::LOGS_PATH).unwrap_or(base);
            return otlp::signal_url(base, false, TRACES_PATH)
                .map_err(|m| self.invalid(v.span().start, "endpoint", m));
        }
        let var = |name: &str| (self.env)(name).filter(|v| !v.trim().is_empty());
        let (name, text, full) = match var("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") {
            Some(v) => ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", v, true),
            None => match var("OTEL_EXPORTER_OTLP_ENDPOINT") {
                Some(v) => ("OTEL_EXPORTER_OTLP_ENDPOINT", v, false),
                None => ("", otlp::DEFAULT_ENDPOINT.to_string(), false),
            },
        };
        otlp::signal_url(text.trim(), full, TRACES_PATH)
            .map_err(|m| self.invalid(self.start, "traces_endpoint", format!("{name}={m}")))
    }
}
