//! `logmux listen --config FILE`: a TOML file of `[sink.NAME]` tables (see
//! [`super::sinks`]), the sinks `--sink NAME` can name, `[resource]`,
//! `[metrics]`, `[trace]` (the join and the span builder of an OTLP sink
//! with traces), `nginx_log_format` and `uwsgi_log_format`. Every other
//! setting of `listen` is a flag; unknown keys are errors, as in every config.

use std::path::Path;

use indexmap::IndexMap;
use serde::Deserialize;

use super::error::{ConfigError, Locator};
use super::filter::resolve_sinks;
use super::sinks::RawSink;
use crate::sink::spec::SinkSpec;

/// The keys a listen config may hold.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ListenConfigFile {
    /// nginx's own `log_format` string for access lines.
    nginx_log_format: Option<toml::Spanned<String>>,
    /// uWSGI's own `log-format` string for request lines.
    uwsgi_log_format: Option<toml::Spanned<String>>,
    #[serde(default)]
    sink: IndexMap<String, RawSink>,
    /// Static fields every event gets.
    #[serde(default)]
    resource: super::resource::RawResource,
    /// `[metrics]`: `/metrics` and `/healthz`.
    metrics: Option<super::metrics::RawMetrics>,
    /// `[trace]`: `join`, and the span builder's window and bound.
    trace: Option<super::trace::RawTrace>,
}

/// The sinks a listen config resolves to: the built-in ones and its own.
#[derive(Debug)]
pub struct ListenConfig {
    /// `nginx_log_format`, compiled.
    pub nginx_format: Option<logmux_parsers::nginx::log_format::LogFormat>,
    /// `uwsgi_log_format`, compiled.
    pub uwsgi_format: Option<logmux_parsers::uwsgi::log_format::LogFormat>,
    pub sinks: Vec<SinkSpec>,
    /// `[resource]`.
    pub resource: Vec<(String, String)>,
    /// `[metrics]`, when the file has the table.
    pub metrics: Option<crate::metrics::MetricsSpec>,
    /// `[trace] join`: `ids` unless the table says `infer`.
    pub trace_join: crate::trace::infer::JoinMode,
    /// `[trace]`, or its defaults.
    pub trace: crate::trace::TraceSpec,
}

impl ListenConfig {
    /// No config file: the built-in sinks only.
    pub fn builtin() -> Result<ListenConfig, ConfigError> {
        ListenConfig::parse(Path::new("(command line)"), "")
    }

    /// Reads and checks a config file.
    pub fn load(path: &Path) -> Result<ListenConfig, ConfigError> {
        ListenConfig::parse(path, &Locator::read(path)?)
    }

    /// Checks config text; `path` is only used in messages.
    pub fn parse(path: &Path, text: &str) -> Result<ListenConfig, ConfigError> {
        let loc = Locator { path, text };
        let file: ListenConfigFile = toml::from_str(text).map_err(|e| loc.toml(&e, true))?;
        Ok(ListenConfig {
            nginx_format: super::filter::nginx_format(&loc, file.nginx_log_format.as_ref())?,
            uwsgi_format: super::filter::uwsgi_format(&loc, file.uwsgi_log_format.as_ref())?,
            sinks: resolve_sinks(path, text, &file.sink)?,
            resource: super::resource::resolve(&loc, &file.resource, &|n: &str| {
                std::env::var(n).ok()
            })?,
            metrics: match &file.metrics {
                Some(m) => Some(super::metrics::resolve(&loc, m, None)?),
                None => None,
            },
            trace_join: super::trace::resolve_join(&loc, file.trace.as_ref())?,
            trace: match &file.trace {
                Some(t) => super::trace::resolve(&loc, t)?,
                None => Default::default(),
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sink_tables_and_nothing_else() {
        let c = ListenConfig::parse(
            Path::new("l.toml"),
            "[sink.fwd]\ntype = \"syslog\"\naddress = \"tcp://127.0.0.1:5514\"\n",
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let names: Vec<&str> = c.sinks.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["stdout", "stderr", "null", "syslog", "fwd"]);
        let e = ListenConfig::parse(Path::new("l.toml"), "output = \"json\"\n")
            .map(|_| ())
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("l.toml:1:1: output: unknown field `output`"),
            "{e}"
        );
    }

    #[test]
    fn trace_and_nginx_log_format_are_read_or_named_with_their_place() {
        use crate::trace::infer::JoinMode;
        let c = ListenConfig::parse(
            Path::new("l.toml"),
            "nginx_log_format = '$remote_addr $status rt=$request_time'\n[trace]\njoin = \"infer\"\nwindow = \"2s\"\n",
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert!(c.nginx_format.is_some());
        assert_eq!(c.trace_join, JoinMode::Infer);
        assert_eq!(c.trace.window, std::time::Duration::from_secs(2));
        let builtin = ListenConfig::builtin().expect("builtin");
        assert_eq!(builtin.trace_join, JoinMode::Ids);
        assert!(builtin.nginx_format.is_none());
        let err = |text: &str| {
            ListenConfig::parse(Path::new("l.toml"), text)
                .map(|_| ())
                .unwrap_err()
                .to_string()
        };
        assert_eq!(
            err("[trace]\njoin = \"guess\"\n"),
            "l.toml:2:8: trace.join: `guess` is not a join: expected \"ids\" or \"infer\""
        );
        assert!(
            err("nginx_log_format = '$'\n").starts_with("l.toml:1:20: nginx_log_format: "),
            "{}",
            err("nginx_log_format = '$'\n")
        );
    }

    #[test]
    fn uwsgi_log_format_is_compiled_or_named_with_its_byte() {
        let c = ListenConfig::parse(
            Path::new("l.toml"),
            "uwsgi_log_format = \"%(addr) %(status)\"\n",
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let vars: Vec<&str> = c
            .uwsgi_format
            .as_ref()
            .expect("compiled")
            .variables()
            .collect();
        assert_eq!(vars, ["addr", "status"]);
        assert!(ListenConfig::builtin()
            .expect("builtin")
            .uwsgi_format
            .is_none());
        let e = ListenConfig::parse(Path::new("l.toml"), "uwsgi_log_format = \"%()\"\n")
            .map(|_| ())
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            "l.toml:1:20: uwsgi_log_format: `%()` at byte 0 names no variable"
        );
    }
}
