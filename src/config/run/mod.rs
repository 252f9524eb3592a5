//! The `logmux run` config: programs, sinks, templates and the environment
//! they need, read from TOML (or from a supervisord INI file, see
//! [`super::ini`]).
//!
//! Loading has two steps. Deserializing checks the shape (`raw`): unknown
//! keys and wrong types are errors that name the file, line, column and key.
//! Resolving checks the meaning: every sink and dependency named exists,
//! there is no dependency cycle, signals, sizes and durations are valid, and
//! `${VAR}` references can be filled (`program`, for each program). The
//! result, [`RunConfig`] (`resolved`), is what the supervisor runs; it
//! holds no raw text.

mod numprocs;
pub mod oneoff;
mod probe;
mod program;
mod raw;
mod resolved;

use std::path::{Path, PathBuf};
use std::time::Duration;

use logmux_parsers::nginx::log_format::LogFormat;
use toml::Spanned;

pub use super::error::{ConfigError, Locator, RunConfigError};
pub use super::sinks::{RawSink, DEFAULT_QUEUE};
use super::template;
use crate::engine::framing::DEFAULT_MAX_LINE;
pub use crate::sink::spec::{
    parse_syslog_address, OnFull, SinkKind, SinkSpec, SyslogAddress, SyslogSpec, TlsSpec,
};
pub use probe::{Check, Health};
pub use program::{parse_signal, ProgramSpec};
use program::{sink_index, Scope};
pub(crate) use raw::{duration_or, size};
pub use raw::{
    duration_value, CommandValue, DurationValue, RawEnv, RawFile, RawProgram, RawReady, RawStream,
    RawTemplate, SizeValue,
};
pub use resolved::{
    AutoRestart, Hup, Kind, OnExit, Ready, ReadyProbe, RunConfig, StreamSpec, TailBuffer,
    TemplateSpec,
};

/// Where the control socket lives unless the config says otherwise.
pub const DEFAULT_CONTROL_SOCKET: &str = "/run/logmux/ctl.sock";

/// The environment a config is resolved against.
pub type Env<'e> = &'e dyn Fn(&str) -> Option<String>;

/// Reads a config file: TOML, or supervisord INI when the name ends in
/// `.conf`/`.ini` or the text has a `[program:` section.
pub fn load(
    path: &Path,
    env: Env<'_>,
    warn: &mut dyn FnMut(String),
) -> Result<RunConfig, ConfigError> {
    parse(path, &Locator::read(path)?, env, warn)
}

/// Checks config text; `path` names it in messages and anchors relative paths.
pub fn parse(
    path: &Path,
    text: &str,
    env: Env<'_>,
    warn: &mut dyn FnMut(String),
) -> Result<RunConfig, ConfigError> {
    parse_for(path, text, None, env, warn)
}

/// The config of `logmux run --config FILE COMMAND ARGS…`: the file's
/// preparation (see [`oneoff`]), then COMMAND as its one program.
pub fn load_oneoff(
    path: &Path,
    command: &[String],
    env: Env<'_>,
    warn: &mut dyn FnMut(String),
) -> Result<RunConfig, ConfigError> {
    parse_for(path, &Locator::read(path)?, Some(command), env, warn)
}

/// [`parse`], in one-off mode when `command` is given.
fn parse_for(
    path: &Path,
    text: &str,
    command: Option<&[String]>,
    env: Env<'_>,
    warn: &mut dyn FnMut(String),
) -> Result<RunConfig, ConfigError> {
    let loc = Locator { path, text };
    let mut raw = if super::ini::looks_like_ini(path, text) {
        super::ini::parse(&loc, env, warn)?
    } else {
        toml::from_str::<RawFile>(text).map_err(|e| loc.toml(&e, true))?
    };
    numprocs::expand(&loc, &mut raw)?;
    resolve(&loc, raw, command, env)
}

/// The config of `logmux run -- COMMAND ARGS…`: one program, named after
/// the command, whose end is logmux's end (as with tini).
pub fn for_command(command: Vec<String>, env: Env<'_>) -> Result<RunConfig, ConfigError> {
    let name = oneoff::command_name(&command);
    let mut raw = RawFile {
        control_socket: Some(Spanned::new(0..0, String::new())),
        ..RawFile::default()
    };
    raw.program.insert(
        name,
        RawProgram {
            // The real command is set after resolving: a shell has filled
            // the command line's `${VAR}`s already (as under tini).
            command: Some(Spanned::new(
                0..0,
                CommandValue::Args(vec!["command".into()]),
            )),
            autorestart: Some(Spanned::new(0..0, AutoRestart::Never.name().into())),
            on_exit: Some(Spanned::new(0..0, "shutdown".into())),
            startsecs: Some(Spanned::new(0..0, DurationValue::Secs(0))),
            ..RawProgram::default()
        },
    );
    let loc = Locator {
        path: Path::new("(command line)"),
        text: "",
    };
    let mut config = resolve(&loc, raw, None, env)?;
    // The one program is the container's command: it reads logmux's stdin
    // (`echo hi | logmux run -- cat`), as under tini.
    for p in &mut config.programs {
        p.command.clone_from(&command);
        p.inherit_stdin = true;
    }
    Ok(config)
}

/// The variable logmux sets to the CPUs it may use (cgroup limit included),
/// unless the environment or `[env] defaults` sets it.
pub const CPUS_VAR: &str = "LOGMUX_CPUS";

/// Environment lookups see `[env] defaults` too.
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

/// Gives the raw file its meaning: the environment first, then the
/// top-level settings, the sinks, every program, their start order and the
/// templates.
fn resolve(
    loc: &Locator<'_>,
    raw: RawFile,
    command: Option<&[String]>,
    env: Env<'_>,
) -> Result<RunConfig, ConfigError> {
    let mut env_defaults: Vec<(String, String)> = raw
        .env
        .defaults
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    // The container's CPU limit, for `worker_processes ${LOGMUX_CPUS}` and
    // the like (see crate::sys::cpus); the environment or [env] may set it.
    if !env_defaults.iter().any(|(k, _)| k == CPUS_VAR) {
        let cpus = crate::sys::cpus::available().to_string();
        env_defaults.push((CPUS_VAR.to_owned(), cpus));
    }
    let env_all = with_defaults(env, &env_defaults);
    check_required(loc, &raw, &env_all)?;
    let settings = Settings::resolve(loc, &raw, &env_all)?;
    let sinks = super::sinks::resolve(loc, &raw.sink, &env_all)?;
    let log_sink = match &raw.log_sink {
        Some(name) => sink_index(loc, &sinks, name, "log_sink")?,
        None => sinks.iter().position(|s| s.name == "stderr").unwrap_or(0),
    };
    if let (Some(name), Some(SinkKind::Otlp(_))) =
        (&raw.log_sink, sinks.get(log_sink).map(|s| &s.kind))
    {
        // logmux's own events are written as JSON lines, not OTLP frames.
        return Err(loc.invalid(
            name.span().start,
            "log_sink",
            format!(
                "`{}` is an otlp sink: logmux's own events go to stderr, stdout, a file or syslog",
                name.get_ref()
            ),
        ));
    }
    let scope = Scope {
        loc,
        env: &env_all,
        sinks: &sinks,
        names: raw.program.keys().map(String::as_str).collect(),
        default_log_format: match &raw.nginx_log_format {
            Some(f) => Some(
                LogFormat::compile(f.get_ref())
                    .map_err(|e| loc.invalid(f.span().start, "nginx_log_format", e.to_string()))?,
            ),
            None => None,
        },
        default_uwsgi_format: crate::config::filter::uwsgi_format(
            loc,
            raw.uwsgi_log_format.as_ref(),
        )?,
    };
    let programs = resolve_programs(&scope, &raw)?;
    let programs = start_order(loc, &raw, programs)?;
    let oneoff = oneoff::resolve(&scope, raw.oneoff.as_ref(), command)?;
    let templates = TemplateSpec::resolve_all(loc, &raw.template, &env_all)?;
    let mut config = RunConfig {
        path: loc.path.to_owned(),
        programs,
        sinks,
        templates,
        env_defaults: env_defaults.clone(),
        control_socket: settings.control_socket,
        max_line_bytes: settings.max_line_bytes,
        idle_flush: settings.idle_flush,
        drain_timeout: settings.drain_timeout,
        threads: settings.threads,
        drop_report: settings.drop_report,
        log_sink,
        resource: crate::config::resource::resolve(loc, &raw.resource, &env_all)?,
        tail_buffer: settings.tail_buffer,
        metrics: match &raw.metrics {
            Some(m) => Some(crate::config::metrics::resolve(loc, m, Some(&env_all))?),
            None => None,
        },
        oneoff,
        trace: match &raw.trace {
            Some(t) => crate::config::trace::resolve(loc, t)?,
            None => Default::default(),
        },
        trace_join: crate::config::trace::resolve_join(loc, raw.trace.as_ref())?,
    };
    if command.is_some() {
        if let Some(program) = config.oneoff.take() {
            oneoff::keep_preparation(&mut config, program);
        }
    }
    Ok(config)
}

/// `[env] required`: each variable must be set and non-empty.
fn check_required(
    loc: &Locator<'_>,
    raw: &RawFile,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<(), ConfigError> {
    for var in &raw.env.required {
        if env(var.get_ref()).is_none_or(|v| v.is_empty()) {
            let name = var.get_ref();
            return Err(loc.missing_variable(
                var.span().start,
                "env.required",
                name,
                format!("environment variable {name} is required but not set"),
            ));
        }
    }
    Ok(())
}

/// The top-level keys that are neither sinks nor programs.
struct Settings {
    control_socket: Option<PathBuf>,
    max_line_bytes: usize,
    idle_flush: Duration,
    drain_timeout: Duration,
    threads: usize,
    drop_report: Duration,
    tail_buffer: TailBuffer,
}

impl Settings {
    fn resolve(
        loc: &Locator<'_>,
        raw: &RawFile,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Settings, ConfigError> {
        let secs = Duration::from_secs;
        Ok(Settings {
            max_line_bytes: match &raw.max_line_bytes {
                Some(v) => size(loc, v, "max_line_bytes")?,
                None => DEFAULT_MAX_LINE,
            },
            idle_flush: duration_or(loc, &raw.idle_flush, "idle_flush", secs(1))?,
            drain_timeout: duration_or(loc, &raw.drain_timeout, "drain_timeout", secs(5))?,
            threads: threads(loc, raw.threads.as_ref())?,
            drop_report: duration_or(loc, &raw.drop_report, "drop_report", secs(10))?,
            tail_buffer: tail_buffer(loc, raw.tail_buffer.as_ref())?,
            control_socket: match &raw.control_socket {
                None => Some(PathBuf::from(DEFAULT_CONTROL_SOCKET)),
                Some(s) if s.get_ref().is_empty() => None,
                Some(s) => Some(PathBuf::from(
                    template::render(s.get_ref(), env)
                        .map_err(|e| loc.template(s.span().start, "control_socket", e))?,
                )),
            },
        })
    }
}

/// `threads`: 1 to 1024; by default the CPUs logmux may use.
fn threads(loc: &Locator<'_>, raw: Option<&Spanned<i64>>) -> Result<usize, ConfigError> {
    let Some(v) = raw else {
        return Ok(usize::try_from(crate::sys::cpus::available()).unwrap_or(1));
    };
    match usize::try_from(*v.get_ref()) {
        Ok(n @ 1..=1024) => Ok(n),
        _ => Err(loc.invalid(
            v.span().start,
            "threads",
            format!("{} is outside 1..=1024", v.get_ref()),
        )),
    }
}

/// `tail_buffer`: the defaults for what it does not say.
fn tail_buffer(
    loc: &Locator<'_>,
    raw: Option<&raw::RawTailBuffer>,
) -> Result<TailBuffer, ConfigError> {
    let mut limits = TailBuffer::default();
    let Some(raw) = raw else {
        return Ok(limits);
    };
    if let Some(events) = &raw.events {
        let n = *events.get_ref();
        if n > TailBuffer::MAX_EVENTS {
            return Err(loc.invalid(
                events.span().start,
                "tail_buffer.events",
                format!("{n} is more than {}", TailBuffer::MAX_EVENTS),
            ));
        }
        limits.events = usize::try_from(n).unwrap_or(usize::MAX);
    }
    if let Some(bytes) = &raw.bytes {
        limits.bytes = size(loc, bytes, "tail_buffer.bytes")?;
    }
    Ok(limits)
}

/// Every program, each checked on its own so that one run reports them all.
fn resolve_programs(scope: &Scope<'_>, raw: &RawFile) -> Result<Vec<ProgramSpec>, ConfigError> {
    let mut programs = Vec::with_capacity(raw.program.len());
    let mut errors = Vec::new();
    for (name, p) in &raw.program {
        match ProgramSpec::resolve(scope, name, p) {
            Ok(spec) => programs.push(spec),
            Err(e) => errors.push(e),
        }
    }
    if errors.is_empty() {
        Ok(programs)
    } else {
        Err(ConfigError::all(errors))
    }
}

/// Orders programs so that each comes after its dependencies; among the
/// rest, lower priority first, then file order. Rejects cycles.
fn start_order(
    loc: &Locator<'_>,
    raw: &RawFile,
    programs: Vec<ProgramSpec>,
) -> Result<Vec<ProgramSpec>, ConfigError> {
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

#[cfg(test)]
mod tests;
