//! The config file: TOML, checked strictly, with errors that name the file,
//! line, column and key.
//!
//! `logmux filter --config FILE` reads the top-level keys below; command-line
//! flags override them. Unknown keys are errors, so a typo never passes
//! silently. `[sink.NAME]` tables define sinks as in `logmux run`
//! (see [`super::sinks`]), for `--sink NAME`.

use std::path::Path;

use indexmap::IndexMap;
use logmux_parsers::nginx::log_format::LogFormat;
use logmux_parsers::uwsgi::log_format::LogFormat as UwsgiFormat;
use logmux_parsers::Format;
use serde::Deserialize;
use toml::Spanned;

use super::error::{ConfigError, Locator};
use super::sinks::RawSink;
use crate::output::{KeyStyle, OutputFormat};
use crate::sink::spec::SinkSpec;

/// The keys a config file may hold.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    /// nginx's own `log_format` string for access lines.
    pub nginx_log_format: Option<Spanned<String>>,
    /// uWSGI's own `log-format` string for request lines.
    pub uwsgi_log_format: Option<Spanned<String>>,
    /// A format name, or `auto`.
    pub format: Option<Spanned<String>>,
    pub output: Option<OutputFormat>,
    pub keys: Option<KeyStyle>,
    pub max_line_bytes: Option<Spanned<u64>>,
    /// `[sink.NAME]` tables, for `--sink NAME`.
    #[serde(default)]
    pub sink: IndexMap<String, RawSink>,
    /// Static fields every event gets.
    #[serde(default)]
    pub resource: super::resource::RawResource,
    /// `[metrics]`: `/metrics` and `/healthz`.
    pub metrics: Option<super::metrics::RawMetrics>,
    /// `[trace]`: the span builder's window and bound (a sink with traces).
    pub trace: Option<super::trace::RawTrace>,
}

/// The settings a config file resolves to.
#[derive(Debug)]
pub struct Config {
    pub nginx_format: Option<LogFormat>,
    pub uwsgi_format: Option<UwsgiFormat>,
    pub format: Option<Option<Format>>,
    pub output: Option<OutputFormat>,
    pub keys: Option<KeyStyle>,
    pub max_line_bytes: Option<usize>,
    /// The built-in sinks (stdout, stderr, null, syslog) and the file's `[sink.NAME]`.
    pub sinks: Vec<SinkSpec>,
    /// `[resource]`.
    pub resource: Vec<(String, String)>,
    /// `[metrics]`, when the file has the table.
    pub metrics: Option<crate::metrics::MetricsSpec>,
    /// `[trace]`, or its defaults.
    pub trace: crate::trace::TraceSpec,
    /// `[trace] join`: `ids` unless the table says `infer`.
    pub trace_join: crate::trace::infer::JoinMode,
}

impl Default for Config {
    /// No config file: only the built-in sinks.
    fn default() -> Config {
        Config {
            nginx_format: None,
            uwsgi_format: None,
            format: None,
            output: None,
            keys: None,
            max_line_bytes: None,
            sinks: resolve_sinks(Path::new("(command line)"), "", &IndexMap::new())
                .unwrap_or_default(),
            resource: Vec::new(),
            metrics: None,
            trace: Default::default(),
            trace_join: Default::default(),
        }
    }
}

/// The built-in sinks and the `[sink.NAME]` tables of a door's config
/// (`${VAR}` in a path is taken from the environment).
pub fn resolve_sinks(
    path: &Path,
    text: &str,
    raw: &IndexMap<String, RawSink>,
) -> Result<Vec<SinkSpec>, ConfigError> {
    let loc = Locator { path, text };
    let env = |name: &str| std::env::var(name).ok();
    super::sinks::resolve(&loc, raw, &env)
}

impl Config {
    /// Reads and checks a config file.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        Config::parse(path, &Locator::read(path)?)
    }

    /// Checks config text; `path` is only used in messages.
    pub fn parse(path: &Path, text: &str) -> Result<Config, ConfigError> {
        let loc = Locator { path, text };
        let file: ConfigFile = toml::from_str(text).map_err(|e| loc.toml(&e, true))?;
        let mut config = Config {
            nginx_format: None,
            uwsgi_format: uwsgi_format(&loc, file.uwsgi_log_format.as_ref())?,
            format: None,
            output: file.output,
            keys: file.keys,
            max_line_bytes: None,
            sinks: resolve_sinks(path, text, &file.sink)?,
            resource: super::resource::resolve(&loc, &file.resource, &|n: &str| {
                std::env::var(n).ok()
            })?,
            metrics: match &file.metrics {
                Some(m) => Some(super::metrics::resolve(&loc, m, None)?),
                None => None,
            },
            trace: match &file.trace {
                Some(t) => super::trace::resolve(&loc, t)?,
                None => Default::default(),
            },
            trace_join: super::trace::resolve_join(&loc, file.trace.as_ref())?,
        };
        config.nginx_format = nginx_format(&loc, file.nginx_log_format.as_ref())?;
        if let Some(name) = &file.format {
            let format = parse_format_name(name.get_ref())
                .map_err(|e| loc.invalid(name.span().start, "format", e))?;
            config.format = Some(format);
        }
        if let Some(max) = &file.max_line_bytes {
            let value = *max.get_ref();
            if !(16..=1 << 30).contains(&value) {
                return Err(loc.invalid(
                    max.span().start,
                    "max_line_bytes",
                    format!("{value} is outside 16..=1073741824"),
                ));
            }
            config.max_line_bytes = usize::try_from(value).ok();
        }
        Ok(config)
    }
}

/// `nginx_log_format`, compiled; an error names its byte.
pub fn nginx_format(
    loc: &Locator<'_>,
    format: Option<&Spanned<String>>,
) -> Result<Option<LogFormat>, ConfigError> {
    format
        .map(|f| {
            LogFormat::compile(f.get_ref())
                .map_err(|e| loc.invalid(f.span().start, "nginx_log_format", e.to_string()))
        })
        .transpose()
}

/// A config's `uwsgi_log_format`, compiled; an error names the file, line,
/// key and the byte of the format that is wrong.
pub fn uwsgi_format(
    loc: &Locator<'_>,
    format: Option<&Spanned<String>>,
) -> Result<Option<UwsgiFormat>, ConfigError> {
    format
        .map(|f| {
            UwsgiFormat::compile(f.get_ref())
                .map_err(|e| loc.invalid(f.span().start, "uwsgi_log_format", e.to_string()))
        })
        .transpose()
}

/// `auto` or one of the format names.
pub fn parse_format_name(name: &str) -> Result<Option<Format>, String> {
    if name == "auto" {
        return Ok(None);
    }
    Format::from_name(name).map(Some).ok_or_else(|| {
        let names: Vec<&str> = Format::ALL.iter().map(|f| f.name()).collect();
        format!(
            "unknown format `{name}`; expected auto, {}",
            names.join(", ")
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(text: &str) -> String {
        match Config::parse(Path::new("logmux.toml"), text) {
            Ok(_) => panic!("expected an error for {text:?}"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn unknown_keys_name_file_line_and_key() {
        let e = err("output = \"json\"\nnginx_log_formt = \"$remote_addr\"\n");
        assert!(
            e.starts_with("logmux.toml:2:1: nginx_log_formt: unknown field `nginx_log_formt`"),
            "{e}"
        );
    }

    #[test]
    fn bad_values_name_their_key() {
        let e = err("\n\nformat = \"nginx\"\n");
        assert!(
            e.starts_with("logmux.toml:3:10: format: unknown format `nginx`"),
            "{e}"
        );
        let e = err("output = \"yaml\"\n");
        assert!(
            e.starts_with("logmux.toml:1:10: output: unknown variant `yaml`"),
            "{e}"
        );
        let e = err("max_line_bytes = 3\n");
        assert!(e.contains("1:18: max_line_bytes: 3 is outside"), "{e}");
    }

    #[test]
    fn uwsgi_log_format_is_compiled_and_checked() {
        let c = Config::parse(
            Path::new("x"),
            "uwsgi_log_format = \"%(addr) %(status) %(var.HTTP_X_REQUEST_ID)\"\n",
        );
        let c = c.unwrap_or_else(|e| panic!("{e}"));
        let vars: Vec<&str> = c
            .uwsgi_format
            .as_ref()
            .expect("compiled")
            .variables()
            .collect();
        assert_eq!(vars, ["addr", "status", "var.HTTP_X_REQUEST_ID"]);
        let e = err("output = \"json\"\nuwsgi_log_format = \"%(addr)%(status)\"\n");
        assert_eq!(
            e,
            "logmux.toml:2:20: uwsgi_log_format: `%(addr)` (byte 0) is directly followed by \
             `%(status)` (byte 7): with no literal text between them their values cannot be \
             told apart"
        );
    }

    #[test]
    fn valid_config_loads() {
        let c = Config::parse(
            Path::new("x"),
            "format = \"auto\"\nkeys = \"dotted\"\nmax_line_bytes = 4096\n",
        );
        let c = c.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(c.format, Some(None));
        assert_eq!(c.keys, Some(KeyStyle::Dotted));
        assert_eq!(c.max_line_bytes, Some(4096));
    }

    #[test]
    fn sink_tables_resolve_next_to_the_builtins() {
        let c = Config::parse(
            Path::new("x"),
            "[sink.archive]\ntype = \"file\"\npath = \"/tmp/a.log\"\nmax_size = \"1KiB\"\n",
        );
        let c = c.unwrap_or_else(|e| panic!("{e}"));
        let names: Vec<&str> = c.sinks.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["stdout", "stderr", "null", "syslog", "archive"]);
        assert_eq!(Config::default().sinks.len(), 4);
        let e = err("[sink.archive]\ntype = \"file\"\n");
        assert_eq!(
            e,
            "logmux.toml:2:8: sink.archive.path: missing: a file sink needs a path"
        );
    }
}
