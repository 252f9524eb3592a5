//! The `run` config as written: the serde shapes that TOML deserialises
//! into and the supervisord INI reader builds, each value spanned with its
//! place in the file so that resolving can point at it. Nothing here is
//! checked beyond its shape; [`super::program`] and [`super::resolved`] give
//! it meaning.

use std::time::Duration;

use indexmap::IndexMap;
use serde::Deserialize;
use toml::Spanned;

use crate::config::error::{ConfigError, Locator};
use crate::config::sinks::RawSink;
use crate::units::{check_buffer_size, parse_buffer_size, parse_duration};

/// The file as written. Public so that the supervisord INI reader can build
/// the same shape and share the checks.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawFile {
    /// Path of the control socket for `logmux ctl`; `""` turns it off.
    pub control_socket: Option<Spanned<String>>,
    /// Cut longer lines into marked pieces (`1MiB`, `65536`).
    pub max_line_bytes: Option<Spanned<SizeValue>>,
    /// Emit a held-back partial line or traceback after this much silence.
    pub idle_flush: Option<Spanned<DurationValue>>,
    /// At shutdown, how long to keep reading pipes after the programs ended.
    pub drain_timeout: Option<Spanned<DurationValue>>,
    /// Threads that parse a busy stream (default: the CPUs logmux may use).
    pub threads: Option<Spanned<i64>>,
    /// Where logmux's own events go (a sink name; default `stderr`).
    pub log_sink: Option<Spanned<String>>,
    /// Every `drop_report` interval, report lines dropped by `on_full = "drop"`.
    pub drop_report: Option<Spanned<DurationValue>>,
    /// The default custom nginx `log_format` for all programs.
    pub nginx_log_format: Option<Spanned<String>>,
    /// The default uWSGI `log-format` for all programs.
    pub uwsgi_log_format: Option<Spanned<String>>,
    /// Each program's last events kept for `logmux ctl tail`.
    pub tail_buffer: Option<RawTailBuffer>,
    #[serde(default)]
    pub env: RawEnv,
    #[serde(default)]
    pub program: IndexMap<String, RawProgram>,
    #[serde(default)]
    pub sink: IndexMap<String, RawSink>,
    #[serde(default)]
    pub template: Vec<RawTemplate>,
    /// Static fields every event gets.
    #[serde(default)]
    pub resource: crate::config::resource::RawResource,
    /// `[metrics]`: `/metrics`, `/healthz` and the control socket's `metrics`.
    pub metrics: Option<crate::config::metrics::RawMetrics>,
    /// `[oneoff]`: how `logmux run --config FILE CMD…` runs CMD.
    pub oneoff: Option<Spanned<RawOneoff>>,
    /// `[trace]`: how request lines are joined, the span builder's window
    /// and memory bound.
    pub trace: Option<crate::config::trace::RawTrace>,
}

/// `[oneoff]`: the user, directory, environment and streams of a one-off
/// command (`logmux run --config FILE CMD ARGS…`); the command itself
/// comes from the command line.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawOneoff {
    pub user: Option<Spanned<String>>,
    pub directory: Option<Spanned<String>>,
    #[serde(default)]
    pub environment: IndexMap<String, String>,
    pub stdout: Option<RawStream>,
    pub stderr: Option<RawStream>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawEnv {
    /// Variables that must be set (and non-empty) before anything starts.
    #[serde(default)]
    pub required: Vec<Spanned<String>>,
    /// Values for variables that are unset or empty.
    #[serde(default)]
    pub defaults: IndexMap<String, String>,
}

/// `tail_buffer = { events = 1000, bytes = "1MiB" }`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTailBuffer {
    /// At most this many events per program; 0 turns `ctl tail` off.
    pub events: Option<Spanned<u64>>,
    /// At most this many bytes of events per program.
    pub bytes: Option<Spanned<SizeValue>>,
}

/// A size: a number of bytes, or text such as `10MiB`.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum SizeValue {
    Bytes(u64),
    Text(String),
}

/// A duration: whole seconds, or text such as `500ms`, `12h`.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum DurationValue {
    Secs(u64),
    Text(String),
}

/// A command: one string split like a shell would (but no shell runs), or
/// an array of arguments.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum CommandValue {
    Line(String),
    Args(Vec<String>),
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawProgram {
    pub command: Option<Spanned<CommandValue>>,
    pub user: Option<Spanned<String>>,
    pub directory: Option<Spanned<String>>,
    #[serde(default)]
    pub environment: IndexMap<String, String>,
    pub stopsignal: Option<Spanned<String>>,
    pub stopwaitsecs: Option<Spanned<DurationValue>>,
    /// Send the stop signal to the whole process group (default true).
    pub stop_as_group: Option<bool>,
    /// Send the final SIGKILL to the whole process group (default true).
    pub kill_as_group: Option<bool>,
    pub autorestart: Option<Spanned<String>>,
    pub startsecs: Option<Spanned<DurationValue>>,
    pub startretries: Option<u32>,
    /// The first wait before a restart; it doubles after each quick failure.
    pub backoff: Option<Spanned<DurationValue>>,
    /// Exit codes that count as success (default `[0]`).
    pub exitcodes: Option<Vec<i32>>,
    pub on_exit: Option<Spanned<String>>,
    pub ready: Option<Spanned<RawReady>>,
    /// An active health probe while the program runs (TOML only).
    pub health: Option<Spanned<RawHealth>>,
    #[serde(default)]
    pub depends_on: Vec<Spanned<String>>,
    /// Start order among programs with no dependency between them (lower first).
    pub priority: Option<i64>,
    /// Run to completion, before the long-running programs.
    #[serde(default)]
    pub once: bool,
    /// A `once` program that also runs before a one-off command.
    pub prepare: Option<Spanned<bool>>,
    /// Run periodically (`12h`).
    pub every: Option<Spanned<DurationValue>>,
    /// Only run when this variable is set and non-empty (`!VAR`: when it is not).
    pub when: Option<Spanned<String>>,
    /// Skip the program when this file exists (`${VAR}` allowed).
    pub unless_exists: Option<String>,
    /// What SIGHUP to logmux does to this program: forward, restart or ignore.
    pub sighup: Option<Spanned<String>>,
    pub nginx_log_format: Option<Spanned<String>>,
    /// The program's uWSGI `log-format`.
    pub uwsgi_log_format: Option<Spanned<String>>,
    /// The program's uWSGI `--logdate=FORMAT` (a strftime pattern).
    pub uwsgi_logdate: Option<Spanned<String>>,
    /// `service.name` of the program's events (default: the program's name).
    pub service_name: Option<Spanned<String>>,
    /// Merge lines that already are logmux events (a nested `logmux run`)
    /// instead of treating them as the program's own JSON (default false).
    pub merge: Option<bool>,
    pub stdout: Option<RawStream>,
    pub stderr: Option<RawStream>,
    /// Start it with the others (default true); `false`: it waits, stopped,
    /// for `logmux ctl start`.
    pub autostart: Option<bool>,
    /// Run this many copies, each its own program (see `numprocs.rs`).
    pub numprocs: Option<Spanned<i64>>,
    /// The first copy's `%(process_num)d` (default 0).
    pub numprocs_start: Option<Spanned<i64>>,
    /// Each copy's name (default `%(program_name)s_%(process_num)02d`).
    pub process_name: Option<Spanned<String>>,
    /// The group `logmux ctl CMD GROUP:*` acts on (default: the program's
    /// own name, shared by its copies).
    pub group: Option<Spanned<String>>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawStream {
    pub format: Option<Spanned<String>>,
    pub sink: Option<Spanned<String>>,
    /// Events of these formats go to these sinks instead (`"uwsgi.request" = "stdout"`).
    #[serde(default)]
    pub route: IndexMap<Spanned<String>, Spanned<String>>,
    /// Every event also goes to these sinks (`copy = ["otel"]`).
    #[serde(default)]
    pub copy: Vec<Spanned<String>>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawReady {
    pub unix_socket: Option<String>,
    pub tcp: Option<String>,
    pub file: Option<String>,
    /// s6's notification-fd: the program writes a newline on this descriptor.
    pub fd: Option<i64>,
    /// systemd's `sd_notify`: `READY=1` on the `NOTIFY_SOCKET` datagram socket.
    pub notify: Option<bool>,
    /// Ready once this command exits 0.
    pub exec: Option<CommandValue>,
    /// Ready once this URL answers 2xx or 3xx.
    pub http: Option<String>,
    /// How often `exec` or `http` is tried (default 1s).
    pub interval: Option<DurationValue>,
    /// Give up waiting after this long (default 60s): the program failed to start.
    pub timeout: Option<DurationValue>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawHealth {
    /// Healthy while this URL answers 2xx or 3xx.
    pub http: Option<String>,
    /// Healthy while this command exits 0.
    pub exec: Option<CommandValue>,
    /// Time between two probes (default 10s).
    pub interval: Option<DurationValue>,
    /// One probe's limit (default 2s).
    pub timeout: Option<DurationValue>,
    /// Failures in a row before unhealthy (default 3).
    pub failures: Option<i64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTemplate {
    pub source: Option<Spanned<String>>,
    pub target: Option<Spanned<String>>,
    pub when: Option<Spanned<String>>,
    /// The target's mode, octal (`"0640"`); default: the source's.
    pub mode: Option<Spanned<String>>,
}

// ------------------------------------------------------------------ values

pub(crate) fn size(
    loc: &Locator<'_>,
    v: &Spanned<SizeValue>,
    key: &str,
) -> Result<usize, ConfigError> {
    let checked = match v.get_ref() {
        SizeValue::Bytes(n) => {
            check_buffer_size(*n).map_err(|_| format!("{n} is outside 16..=1073741824"))
        }
        SizeValue::Text(t) => parse_buffer_size(t),
    };
    checked.map_err(|m| loc.invalid(v.span().start, key, m))
}

pub(crate) fn duration(
    loc: &Locator<'_>,
    v: &Spanned<DurationValue>,
    key: &str,
) -> Result<Duration, ConfigError> {
    duration_value(v.get_ref()).map_err(|m| loc.invalid(v.span().start, key, m))
}

pub(crate) fn duration_or(
    loc: &Locator<'_>,
    v: &Option<Spanned<DurationValue>>,
    key: &str,
    default: Duration,
) -> Result<Duration, ConfigError> {
    match v {
        Some(v) => duration(loc, v, key),
        None => Ok(default),
    }
}

/// Whole seconds, or text in the grammar of [`crate::units`].
pub fn duration_value(v: &DurationValue) -> Result<Duration, String> {
    match v {
        DurationValue::Secs(n) => Ok(Duration::from_secs(*n)),
        DurationValue::Text(t) => parse_duration(t),
    }
}
