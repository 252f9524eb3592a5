//! The `logmux run` config: programs, sinks, templates and the environment
//! they need, read from TOML (or from a supervisord INI file, see
//! [`super::ini`]).
//!
//! Loading has two steps. Deserializing checks the shape: unknown keys and
//! wrong types are errors that name the file, line, column and key.
//! Resolving checks the meaning: every sink and dependency named exists,
//! there is no dependency cycle, signals, sizes and durations are valid, and
//! `${VAR}` references can be filled. The result, [`RunConfig`], is what the
//! supervisor runs; it holds no raw text.

use std::path::{Path, PathBuf};
use std::time::Duration;

use indexmap::IndexMap;
use logmux_parsers::nginx::log_format::LogFormat;
use logmux_parsers::Format;
use nix::sys::signal::Signal;
use serde::Deserialize;
use toml::Spanned;

use super::filter::parse_format_name;
pub use super::sinks::{RawSink, DEFAULT_QUEUE};
use super::template;
use crate::engine::framing::DEFAULT_MAX_LINE;
use crate::event::IoStream;
pub use crate::sink::spec::{
    parse_syslog_address, OnFull, SinkKind, SinkSpec, SyslogAddress, SyslogSpec, TlsSpec,
};
use crate::units::{check_buffer_size, parse_buffer_size, parse_duration};

/// Where the control socket lives unless the config says otherwise.
pub const DEFAULT_CONTROL_SOCKET: &str = "/run/logmux/ctl.sock";

// ---------------------------------------------------------------- raw shape

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
    /// Where logmux's own events go (a sink name; default `stderr`).
    pub log_sink: Option<Spanned<String>>,
    /// Every `drop_report` interval, report lines dropped by `on_full = "drop"`.
    pub drop_report: Option<Spanned<DurationValue>>,
    /// The default custom nginx `log_format` for all programs.
    pub nginx_log_format: Option<Spanned<String>>,
    #[serde(default)]
    pub env: RawEnv,
    #[serde(default)]
    pub program: IndexMap<String, RawProgram>,
    #[serde(default)]
    pub sink: IndexMap<String, RawSink>,
    #[serde(default)]
    pub template: Vec<RawTemplate>,
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

#[derive(Debug, Default, Deserialize)]
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
    #[serde(default)]
    pub depends_on: Vec<Spanned<String>>,
    /// Start order among programs with no dependency between them (lower first).
    pub priority: Option<i64>,
    /// Run to completion, before the long-running programs.
    #[serde(default)]
    pub once: bool,
    /// Run periodically (`12h`).
    pub every: Option<Spanned<DurationValue>>,
    /// Only run when this variable is set and non-empty (`!VAR`: when it is not).
    pub when: Option<Spanned<String>>,
    /// Skip the program when this file exists (`${VAR}` allowed).
    pub unless_exists: Option<String>,
    /// What SIGHUP to logmux does to this program: forward, restart or ignore.
    pub sighup: Option<Spanned<String>>,
    pub nginx_log_format: Option<Spanned<String>>,
    /// `service.name` of the program's events (default: the program's name).
    pub service_name: Option<Spanned<String>>,
    pub stdout: Option<RawStream>,
    pub stderr: Option<RawStream>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawStream {
    pub format: Option<Spanned<String>>,
    pub sink: Option<Spanned<String>>,
    /// Events of these formats go to these sinks instead (`"uwsgi.request" = "stdout"`).
    #[serde(default)]
    pub route: IndexMap<Spanned<String>, Spanned<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawReady {
    pub unix_socket: Option<String>,
    pub tcp: Option<String>,
    pub file: Option<String>,
    /// Give up waiting after this long (default 60s): the program failed to start.
    pub timeout: Option<DurationValue>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTemplate {
    pub source: Option<Spanned<String>>,
    pub target: Option<Spanned<String>>,
    pub when: Option<Spanned<String>>,
}

// ----------------------------------------------------------- resolved shape

/// A checked config, ready to run.
#[derive(Debug, Clone)]
pub struct RunConfig {
    pub path: PathBuf,
    /// In start order: dependencies first, then priority, then file order.
    pub programs: Vec<ProgramSpec>,
    pub sinks: Vec<SinkSpec>,
    pub templates: Vec<TemplateSpec>,
    /// Variables to set (from `[env] defaults`) before anything runs.
    pub env_defaults: Vec<(String, String)>,
    pub control_socket: Option<PathBuf>,
    pub max_line_bytes: usize,
    pub idle_flush: Duration,
    pub drain_timeout: Duration,
    pub drop_report: Duration,
    /// Index in `sinks` of logmux's own events.
    pub log_sink: usize,
}

#[derive(Debug, Clone)]
pub struct ProgramSpec {
    pub name: String,
    pub command: Vec<String>,
    pub user: Option<String>,
    pub directory: Option<PathBuf>,
    pub environment: Vec<(String, String)>,
    pub stopsignal: Signal,
    pub stopwait: Duration,
    pub stop_as_group: bool,
    pub kill_as_group: bool,
    pub autorestart: AutoRestart,
    pub startsecs: Duration,
    pub startretries: u32,
    pub backoff: Duration,
    pub exitcodes: Vec<i32>,
    pub on_exit: OnExit,
    pub ready: Option<Ready>,
    /// Indexes into [`RunConfig::programs`].
    pub depends_on: Vec<usize>,
    pub priority: i64,
    pub kind: Kind,
    /// False when `when` or `unless_exists` says the program sits this run out.
    pub enabled: bool,
    pub sighup: Hup,
    pub nginx_log_format: Option<LogFormat>,
    /// `service.name` of its events: `service_name`, else `name`.
    pub service_name: String,
    /// `[stdout, stderr]`.
    pub streams: [StreamSpec; 2],
}

impl ProgramSpec {
    pub fn stream(&self, which: IoStream) -> &StreamSpec {
        match which {
            IoStream::Stdout => &self.streams[0],
            IoStream::Stderr => &self.streams[1],
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Kept running (the usual program).
    LongRunning,
    /// Runs to completion before the long-running programs start.
    Once,
    /// Runs every so often.
    Every(Duration),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AutoRestart {
    Always,
    /// When the exit code is not in `exitcodes` (or a signal killed it).
    OnFailure,
    Never,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnExit {
    /// Let `autorestart` decide; when it gives up, the program stays down.
    Restart,
    /// Never restart; its end changes nothing else.
    Ignore,
    /// When the program ends for good, stop everything and exit with its code.
    Shutdown,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hup {
    Forward,
    Restart,
    Ignore,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReadyProbe {
    UnixSocket(PathBuf),
    Tcp(String),
    File(PathBuf),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ready {
    pub probe: ReadyProbe,
    pub timeout: Duration,
}

#[derive(Debug, Clone)]
pub struct StreamSpec {
    /// `None`: detect per line.
    pub format: Option<Format>,
    /// Index into [`RunConfig::sinks`].
    pub sink: usize,
    /// Events of a format listed here go to its sink (an index into
    /// [`RunConfig::sinks`]) instead of `sink`.
    pub routes: Vec<(Format, usize)>,
}

impl StreamSpec {
    /// Every sink the stream writes to: its own first, then its routes'.
    pub fn sinks(&self) -> impl Iterator<Item = usize> + '_ {
        std::iter::once(self.sink).chain(self.routes.iter().map(|&(_, s)| s))
    }
}

#[derive(Debug, Clone)]
pub struct TemplateSpec {
    pub source: PathBuf,
    pub target: PathBuf,
    pub when: Option<String>,
    /// Where the `[[template]]` is, for messages.
    pub line: usize,
}

// ------------------------------------------------------------------ errors

/// A config that failed to load: always names the file, and where known the
/// line, column and key.
#[derive(Debug, thiserror::Error)]
pub enum RunConfigError {
    #[error("{path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}:{line}:{column}: {key}: {message}")]
    Invalid {
        path: PathBuf,
        line: usize,
        column: usize,
        key: String,
        message: String,
    },
    /// Several programs have problems: each is reported, one per line.
    #[error("{}", .0.iter().map(|e| e.to_string()).collect::<Vec<_>>().join("\n"))]
    Many(Vec<RunConfigError>),
    /// A variable that `[env] required` or a `${VAR:?}` needs is missing.
    #[error("{path}:{line}:{column}: {key}: {message}")]
    MissingVariable {
        path: PathBuf,
        line: usize,
        column: usize,
        key: String,
        variable: String,
        message: String,
    },
}

/// Builds errors that point into one file's text.
pub struct Locator<'t> {
    pub path: &'t Path,
    pub text: &'t str,
}

impl Locator<'_> {
    pub fn at(&self, offset: usize) -> (usize, usize) {
        crate::config::line_col(self.text, offset)
    }

    pub fn invalid(&self, offset: usize, key: &str, message: impl Into<String>) -> RunConfigError {
        let (line, column) = self.at(offset);
        RunConfigError::Invalid {
            path: self.path.to_owned(),
            line,
            column,
            key: key.to_string(),
            message: message.into(),
        }
    }

    pub(crate) fn template(
        &self,
        offset: usize,
        key: &str,
        e: template::TemplateError,
    ) -> RunConfigError {
        let (line, column) = self.at(offset);
        match e.kind.variable() {
            Some(var) => RunConfigError::MissingVariable {
                path: self.path.to_owned(),
                line,
                column,
                key: key.to_string(),
                variable: var.to_string(),
                message: e.kind.to_string(),
            },
            None => self.invalid(offset, key, e.kind.to_string()),
        }
    }
}

impl RunConfigError {
    /// One error, or all of them.
    pub fn all(mut errors: Vec<RunConfigError>) -> RunConfigError {
        if errors.len() == 1 {
            if let Some(e) = errors.pop() {
                return e;
            }
        }
        RunConfigError::Many(errors)
    }

    /// The exit code this error means: 78 (EX_CONFIG) for every config error,
    /// 66 (EX_NOINPUT) when the file cannot be read.
    pub fn exit_code(&self) -> u8 {
        match self {
            RunConfigError::Read { .. } => 66,
            _ => 78,
        }
    }
}

// --------------------------------------------------------------- resolving

/// The environment a config is resolved against.
pub type Env<'e> = &'e dyn Fn(&str) -> Option<String>;

/// Reads a config file: TOML, or supervisord INI when the name ends in
/// `.conf`/`.ini` or the text has a `[program:` section.
pub fn load(
    path: &Path,
    env: Env<'_>,
    warn: &mut dyn FnMut(String),
) -> Result<RunConfig, RunConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| RunConfigError::Read {
        path: path.to_owned(),
        source,
    })?;
    parse(path, &text, env, warn)
}

/// Checks config text; `path` names it in messages and anchors relative paths.
pub fn parse(
    path: &Path,
    text: &str,
    env: Env<'_>,
    warn: &mut dyn FnMut(String),
) -> Result<RunConfig, RunConfigError> {
    let loc = Locator { path, text };
    let raw = if super::ini::looks_like_ini(path, text) {
        super::ini::parse(&loc, env, warn)?
    } else {
        toml::from_str::<RawFile>(text).map_err(|e| {
            // toml's message repeats the source; keep its first line only.
            let message = e.message().lines().next().unwrap_or("invalid TOML");
            let offset = e.span().map_or(0, |s| s.start);
            loc.invalid(offset, &key_at(text, offset), message)
        })?
    };
    resolve(&loc, raw, env)
}

/// The config of `logmux run -- COMMAND ARGS…`: one program, named after
/// the command, whose end is logmux's end (as with tini).
pub fn for_command(command: Vec<String>, env: Env<'_>) -> Result<RunConfig, RunConfigError> {
    let name = command
        .first()
        .and_then(|c| Path::new(c).file_name())
        .and_then(|n| n.to_str())
        .filter(|n| !n.is_empty())
        .unwrap_or("main")
        .to_string();
    let mut raw = RawFile {
        control_socket: Some(Spanned::new(0..0, String::new())),
        ..RawFile::default()
    };
    raw.program.insert(
        name,
        RawProgram {
            command: Some(Spanned::new(0..0, CommandValue::Args(command))),
            autorestart: Some(Spanned::new(0..0, "never".into())),
            on_exit: Some(Spanned::new(0..0, "shutdown".into())),
            startsecs: Some(Spanned::new(0..0, DurationValue::Secs(0))),
            ..RawProgram::default()
        },
    );
    let loc = Locator {
        path: Path::new("(command line)"),
        text: "",
    };
    resolve(&loc, raw, env)
}

/// The dotted key of the table around an offset, for messages about TOML syntax.
fn key_at(text: &str, offset: usize) -> String {
    let before = text.get(..offset.min(text.len())).unwrap_or("");
    let table = before
        .lines()
        .rev()
        .find_map(|l| {
            let l = l.trim();
            l.strip_prefix("[[")
                .and_then(|t| t.strip_suffix("]]"))
                .or_else(|| l.strip_prefix('[').and_then(|t| t.strip_suffix(']')))
                .map(str::trim)
        })
        .unwrap_or("");
    let this = text
        .get(offset.min(text.len())..)
        .and_then(|rest| rest.lines().next())
        .and_then(|l| l.split('=').next())
        .map(str::trim)
        .unwrap_or("");
    match (table.is_empty(), this.is_empty() || this.starts_with('[')) {
        (true, _) => this.to_string(),
        (false, true) => table.to_string(),
        (false, false) => format!("{table}.{this}"),
    }
}

/// Environment lookups see `[env] defaults` and, for one program, its own
/// `environment`.
fn with_defaults<'a>(
    env: Env<'a>,
    defaults: &'a [(String, String)],
) -> impl Fn(&str) -> Option<String> + 'a {
    move |name| {
        let set = env(name).filter(|v| !v.is_empty());
        set.or_else(|| {
            defaults
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
        })
        .or_else(|| env(name))
    }
}

fn resolve(loc: &Locator<'_>, raw: RawFile, env: Env<'_>) -> Result<RunConfig, RunConfigError> {
    let env_defaults: Vec<(String, String)> = raw
        .env
        .defaults
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let env_all = with_defaults(env, &env_defaults);
    for var in &raw.env.required {
        if env_all(var.get_ref()).is_none_or(|v| v.is_empty()) {
            let (line, column) = loc.at(var.span().start);
            return Err(RunConfigError::MissingVariable {
                path: loc.path.to_owned(),
                line,
                column,
                key: "env.required".into(),
                variable: var.get_ref().clone(),
                message: format!(
                    "environment variable {} is required but not set",
                    var.get_ref()
                ),
            });
        }
    }

    let base_dir = loc.path.parent().unwrap_or(Path::new("."));
    let max_line_bytes = match &raw.max_line_bytes {
        Some(v) => size(loc, v, "max_line_bytes")?,
        None => DEFAULT_MAX_LINE,
    };
    let idle_flush = duration_or(loc, &raw.idle_flush, "idle_flush", Duration::from_secs(1))?;
    let drain_timeout = duration_or(
        loc,
        &raw.drain_timeout,
        "drain_timeout",
        Duration::from_secs(5),
    )?;
    let drop_report = duration_or(
        loc,
        &raw.drop_report,
        "drop_report",
        Duration::from_secs(10),
    )?;
    let control_socket = match &raw.control_socket {
        None => Some(PathBuf::from(DEFAULT_CONTROL_SOCKET)),
        Some(s) if s.get_ref().is_empty() => None,
        Some(s) => Some(PathBuf::from(
            template::render(s.get_ref(), &env_all)
                .map_err(|e| loc.template(s.span().start, "control_socket", e))?,
        )),
    };

    let sinks = super::sinks::resolve(loc, &raw.sink, &env_all)?;
    let sink_index = |name: &Spanned<String>, key: &str| {
        sinks
            .iter()
            .position(|s| s.name == *name.get_ref())
            .ok_or_else(|| {
                let known: Vec<&str> = sinks.iter().map(|s| s.name.as_str()).collect();
                loc.invalid(
                    name.span().start,
                    key,
                    format!(
                        "no sink named `{}` (known: {})",
                        name.get_ref(),
                        known.join(", ")
                    ),
                )
            })
    };
    let log_sink = match &raw.log_sink {
        Some(name) => sink_index(name, "log_sink")?,
        None => sinks.iter().position(|s| s.name == "stderr").unwrap_or(0),
    };

    let default_log_format = match &raw.nginx_log_format {
        Some(f) => Some(
            LogFormat::compile(f.get_ref())
                .map_err(|e| loc.invalid(f.span().start, "nginx_log_format", e.to_string()))?,
        ),
        None => None,
    };

    let names: Vec<&String> = raw.program.keys().collect();
    // Each program is checked on its own, so that one run reports them all.
    let resolve_program = |name: &String, p: &RawProgram| -> Result<ProgramSpec, RunConfigError> {
        let key = |k: &str| format!("program.{name}.{k}");
        let program_start = p
            .command
            .as_ref()
            .map(|c| c.span().start)
            .unwrap_or_else(|| table_offset(loc.text, "program", name));
        if name.is_empty() || name.contains(|c: char| c.is_whitespace() || c == '/') {
            return Err(loc.invalid(
                program_start,
                &format!("program.{name}"),
                "a program name must be non-empty, without spaces or `/`",
            ));
        }

        let when_holds = match &p.when {
            Some(w) => {
                if !template::valid_condition(w.get_ref()) {
                    return Err(loc.invalid(
                        w.span().start,
                        &key("when"),
                        format!("`{}` is not a condition: use VAR or !VAR", w.get_ref()),
                    ));
                }
                template::condition_holds(w.get_ref(), &env_all)
            }
            None => true,
        };
        // A program that sits this run out may name variables that are unset.
        let own_env: Vec<(String, String)> = p
            .environment
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let expand = |text: &str, offset: usize, k: &str| -> Result<String, RunConfigError> {
            if !when_holds {
                return Ok(text.to_string());
            }
            template::render(text, &env_all).map_err(|e| loc.template(offset, &key(k), e))
        };

        let command_value = p.command.as_ref().ok_or_else(|| {
            loc.invalid(
                program_start,
                &key("command"),
                "missing: every program needs a command",
            )
        })?;
        let command_offset = command_value.span().start;
        let command: Vec<String> = match command_value.get_ref() {
            CommandValue::Line(line) => {
                // Fill variables first, each value quoted, so that a value
                // with spaces stays one argument; then split like a shell.
                let line = if when_holds {
                    let quoted = |name: &str| {
                        env_all(name).map(|v| match shlex::try_quote(&v) {
                            Ok(q) => q.into_owned(),
                            Err(_) => v,
                        })
                    };
                    template::render(line, &quoted)
                        .map_err(|e| loc.template(command_offset, &key("command"), e))?
                } else {
                    line.clone()
                };
                shlex::split(&line).ok_or_else(|| {
                    loc.invalid(
                        command_offset,
                        &key("command"),
                        "unbalanced quotes (the string is split like a shell would, but no shell runs)",
                    )
                })?
            }
            CommandValue::Args(args) => args
                .iter()
                .map(|w| expand(w, command_offset, "command"))
                .collect::<Result<Vec<_>, _>>()?,
        };
        if command.is_empty() {
            return Err(loc.invalid(command_offset, &key("command"), "empty command"));
        }
        let environment = own_env
            .iter()
            .map(|(k, v)| Ok((k.clone(), expand(v, program_start, "environment")?)))
            .collect::<Result<Vec<_>, RunConfigError>>()?;
        let directory = match &p.directory {
            Some(d) => Some(PathBuf::from(expand(
                d.get_ref(),
                d.span().start,
                "directory",
            )?)),
            None => None,
        };
        let user = p.user.as_ref().map(|u| u.get_ref().clone());
        let stopsignal = match &p.stopsignal {
            Some(s) => parse_signal(s.get_ref())
                .map_err(|m| loc.invalid(s.span().start, &key("stopsignal"), m))?,
            None => Signal::SIGTERM,
        };
        let stopwait = duration_or(
            loc,
            &p.stopwaitsecs,
            &key("stopwaitsecs"),
            Duration::from_secs(10),
        )?;
        let startsecs = duration_or(loc, &p.startsecs, &key("startsecs"), Duration::from_secs(1))?;
        let backoff = duration_or(loc, &p.backoff, &key("backoff"), Duration::from_secs(1))?;
        let autorestart = match &p.autorestart {
            None => AutoRestart::OnFailure,
            Some(v) => match v.get_ref().as_str() {
                "always" | "true" => AutoRestart::Always,
                "on-failure" | "unexpected" => AutoRestart::OnFailure,
                "never" | "false" => AutoRestart::Never,
                other => {
                    return Err(loc.invalid(
                        v.span().start,
                        &key("autorestart"),
                        format!("`{other}`: expected always, on-failure or never"),
                    ))
                }
            },
        };
        let on_exit = match &p.on_exit {
            None => OnExit::Restart,
            Some(v) => match v.get_ref().as_str() {
                "restart" => OnExit::Restart,
                "ignore" => OnExit::Ignore,
                "shutdown" => OnExit::Shutdown,
                other => {
                    return Err(loc.invalid(
                        v.span().start,
                        &key("on_exit"),
                        format!("`{other}`: expected restart, ignore or shutdown"),
                    ))
                }
            },
        };
        let sighup = match &p.sighup {
            None => Hup::Forward,
            Some(v) => match v.get_ref().as_str() {
                "forward" => Hup::Forward,
                "restart" => Hup::Restart,
                "ignore" => Hup::Ignore,
                other => {
                    return Err(loc.invalid(
                        v.span().start,
                        &key("sighup"),
                        format!("`{other}`: expected forward, restart or ignore"),
                    ))
                }
            },
        };
        let kind = match (&p.every, p.once) {
            (Some(e), true) => {
                return Err(loc.invalid(
                    e.span().start,
                    &key("every"),
                    "a program is either `once` or `every`, not both",
                ))
            }
            (Some(e), false) => {
                let period = duration(loc, e, &key("every"))?;
                if period < Duration::from_secs(1) {
                    return Err(loc.invalid(e.span().start, &key("every"), "must be at least 1s"));
                }
                Kind::Every(period)
            }
            (None, true) => Kind::Once,
            (None, false) => Kind::LongRunning,
        };
        let ready = match &p.ready {
            None => None,
            Some(r) => {
                let offset = r.span().start;
                let inner = r.get_ref();
                let probe = match (&inner.unix_socket, &inner.tcp, &inner.file) {
                    (Some(s), None, None) => {
                        ReadyProbe::UnixSocket(PathBuf::from(expand(s, offset, "ready")?))
                    }
                    (None, Some(t), None) => ReadyProbe::Tcp(expand(t, offset, "ready")?),
                    (None, None, Some(f)) => {
                        ReadyProbe::File(PathBuf::from(expand(f, offset, "ready")?))
                    }
                    _ => {
                        return Err(loc.invalid(
                            offset,
                            &key("ready"),
                            "give exactly one of unix_socket, tcp or file",
                        ))
                    }
                };
                let timeout = match &inner.timeout {
                    Some(t) => duration_value(t)
                        .map_err(|m| loc.invalid(offset, &key("ready.timeout"), m))?,
                    None => Duration::from_secs(60),
                };
                Some(Ready { probe, timeout })
            }
        };
        let skip_for_file = match &p.unless_exists {
            Some(f) if when_holds => {
                Path::new(&expand(f, program_start, "unless_exists")?).exists()
            }
            _ => false,
        };
        let mut depends_on = Vec::new();
        for dep in &p.depends_on {
            let Some(i) = names.iter().position(|n| *n == dep.get_ref()) else {
                return Err(loc.invalid(
                    dep.span().start,
                    &key("depends_on"),
                    format!("no program named `{}`", dep.get_ref()),
                ));
            };
            if names[i] == name {
                return Err(loc.invalid(
                    dep.span().start,
                    &key("depends_on"),
                    "a program cannot depend on itself",
                ));
            }
            depends_on.push(i);
        }
        let nginx_log_format = match &p.nginx_log_format {
            Some(f) => Some(LogFormat::compile(f.get_ref()).map_err(|e| {
                loc.invalid(f.span().start, &key("nginx_log_format"), e.to_string())
            })?),
            None => default_log_format.clone(),
        };
        let mut streams = Vec::with_capacity(2);
        for (which, raw_stream) in [("stdout", &p.stdout), ("stderr", &p.stderr)] {
            let empty = RawStream::default();
            let s = raw_stream.as_ref().unwrap_or(&empty);
            let format = match &s.format {
                Some(f) => parse_format_name(f.get_ref()).map_err(|m| {
                    loc.invalid(f.span().start, &key(&format!("{which}.format")), m)
                })?,
                None => None,
            };
            let sink = match &s.sink {
                Some(n) => sink_index(n, &key(&format!("{which}.sink")))?,
                None => sinks.iter().position(|k| k.name == which).unwrap_or(0),
            };
            let mut routes = Vec::with_capacity(s.route.len());
            for (format_name, to) in &s.route {
                let route_key = key(&format!("{which}.route.\"{}\"", format_name.get_ref()));
                let Some(format) = parse_format_name(format_name.get_ref())
                    .map_err(|m| loc.invalid(format_name.span().start, &route_key, m))?
                else {
                    return Err(loc.invalid(
                        format_name.span().start,
                        &route_key,
                        "a route names a format, not `auto`",
                    ));
                };
                routes.push((format, sink_index(to, &route_key)?));
            }
            streams.push(StreamSpec {
                format,
                sink,
                routes,
            });
        }
        let none = || StreamSpec {
            format: None,
            sink: 0,
            routes: Vec::new(),
        };
        let stderr = streams.pop().unwrap_or_else(none);
        let stdout = streams.pop().unwrap_or_else(none);
        let service_name = match &p.service_name {
            Some(s) if s.get_ref().trim().is_empty() => {
                return Err(loc.invalid(s.span().start, &key("service_name"), "must not be empty"))
            }
            Some(s) => s.get_ref().clone(),
            None => name.clone(),
        };

        Ok(ProgramSpec {
            name: name.clone(),
            command,
            user,
            directory: directory.map(|d| if d.is_relative() { base_dir.join(d) } else { d }),
            environment,
            stopsignal,
            stopwait,
            stop_as_group: p.stop_as_group.unwrap_or(true),
            kill_as_group: p.kill_as_group.unwrap_or(true),
            autorestart,
            startsecs,
            startretries: p.startretries.unwrap_or(3),
            backoff,
            exitcodes: p.exitcodes.clone().unwrap_or_else(|| vec![0]),
            on_exit,
            ready,
            depends_on,
            priority: p.priority.unwrap_or(999),
            kind,
            enabled: when_holds && !skip_for_file,
            sighup,
            nginx_log_format,
            service_name,
            streams: [stdout, stderr],
        })
    };
    let mut programs = Vec::with_capacity(raw.program.len());
    let mut errors = Vec::new();
    for (name, p) in &raw.program {
        match resolve_program(name, p) {
            Ok(spec) => programs.push(spec),
            Err(e) => errors.push(e),
        }
    }
    if !errors.is_empty() {
        return Err(RunConfigError::all(errors));
    }
    let programs = start_order(loc, &raw, programs)?;

    let mut templates = Vec::new();
    for t in &raw.template {
        let offset = t
            .source
            .as_ref()
            .map(|s| s.span().start)
            .or_else(|| t.target.as_ref().map(|s| s.span().start))
            .unwrap_or(0);
        let (Some(source), Some(target)) = (&t.source, &t.target) else {
            return Err(loc.invalid(offset, "template", "needs both source and target"));
        };
        if let Some(w) = &t.when {
            if !template::valid_condition(w.get_ref()) {
                return Err(loc.invalid(
                    w.span().start,
                    "template.when",
                    format!("`{}` is not a condition: use VAR or !VAR", w.get_ref()),
                ));
            }
        }
        let rel = |p: &str| {
            let p = PathBuf::from(p);
            if p.is_relative() {
                base_dir.join(p)
            } else {
                p
            }
        };
        let src = template::render(source.get_ref(), &env_all)
            .map_err(|e| loc.template(source.span().start, "template.source", e))?;
        let dst = template::render(target.get_ref(), &env_all)
            .map_err(|e| loc.template(target.span().start, "template.target", e))?;
        templates.push(TemplateSpec {
            source: rel(&src),
            target: rel(&dst),
            when: t.when.as_ref().map(|w| w.get_ref().clone()),
            line: loc.at(offset).0,
        });
    }

    Ok(RunConfig {
        path: loc.path.to_owned(),
        programs,
        sinks,
        templates,
        env_defaults: env_defaults.clone(),
        control_socket,
        max_line_bytes,
        idle_flush,
        drain_timeout,
        drop_report,
        log_sink,
    })
}

/// Where the table `[TABLE.NAME]` starts, for messages about a missing key.
pub(crate) fn table_offset(text: &str, table: &str, name: &str) -> usize {
    // TOML `[program.x]` or `[program."x"]`; supervisord `[program:x]`.
    [
        format!("[{table}.{name}]"),
        format!("[{table}:{name}]"),
        format!("[{table}.\"{name}\"]"),
    ]
    .iter()
    .find_map(|header| text.find(header.as_str()))
    .unwrap_or(0)
}

/// Orders programs so that each comes after its dependencies; among the
/// rest, lower priority first, then file order. Rejects cycles.
fn start_order(
    loc: &Locator<'_>,
    raw: &RawFile,
    programs: Vec<ProgramSpec>,
) -> Result<Vec<ProgramSpec>, RunConfigError> {
    let n = programs.len();
    let mut placed = vec![false; n];
    let mut order = Vec::with_capacity(n);
    while order.len() < n {
        let next = (0..n)
            .filter(|&i| !placed[i] && programs[i].depends_on.iter().all(|&d| placed[d]))
            .min_by_key(|&i| (programs[i].priority, i));
        let Some(i) = next else {
            let stuck: Vec<&str> = (0..n)
                .filter(|&i| !placed[i])
                .map(|i| programs[i].name.as_str())
                .collect();
            let first = stuck.first().copied().unwrap_or("");
            let offset = raw
                .program
                .get(first)
                .and_then(|p| p.depends_on.first())
                .map_or(0, |d| d.span().start);
            return Err(loc.invalid(
                offset,
                &format!("program.{first}.depends_on"),
                format!("dependency cycle among {}", stuck.join(", ")),
            ));
        };
        placed[i] = true;
        order.push(i);
    }
    // Renumber dependencies to the new positions.
    let mut position = vec![0; n];
    for (new, &old) in order.iter().enumerate() {
        position[old] = new;
    }
    let mut slots: Vec<Option<ProgramSpec>> = programs.into_iter().map(Some).collect();
    Ok(order
        .iter()
        .filter_map(|&old| slots[old].take())
        .map(|mut p| {
            for d in &mut p.depends_on {
                *d = position[*d];
            }
            p
        })
        .collect())
}

pub(crate) fn size(
    loc: &Locator<'_>,
    v: &Spanned<SizeValue>,
    key: &str,
) -> Result<usize, RunConfigError> {
    let checked = match v.get_ref() {
        SizeValue::Bytes(n) => {
            check_buffer_size(*n).map_err(|_| format!("{n} is outside 16..=1073741824"))
        }
        SizeValue::Text(t) => parse_buffer_size(t),
    };
    checked.map_err(|m| loc.invalid(v.span().start, key, m))
}

fn duration(
    loc: &Locator<'_>,
    v: &Spanned<DurationValue>,
    key: &str,
) -> Result<Duration, RunConfigError> {
    duration_value(v.get_ref()).map_err(|m| loc.invalid(v.span().start, key, m))
}

fn duration_or(
    loc: &Locator<'_>,
    v: &Option<Spanned<DurationValue>>,
    key: &str,
    default: Duration,
) -> Result<Duration, RunConfigError> {
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

/// `TERM`, `SIGTERM`, `term` or a number.
pub fn parse_signal(name: &str) -> Result<Signal, String> {
    let upper = name.trim().to_ascii_uppercase();
    if let Ok(n) = upper.parse::<i32>() {
        return Signal::try_from(n).map_err(|_| format!("`{name}` is not a signal number"));
    }
    let full = if upper.starts_with("SIG") {
        upper
    } else {
        format!("SIG{upper}")
    };
    full.parse::<Signal>().map_err(|_| {
        format!("`{name}` is not a signal name (TERM, INT, QUIT, HUP, KILL, USR1, USR2)")
    })
}

#[cfg(test)]
mod tests;
