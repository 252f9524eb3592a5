//! One `[program.NAME]` table resolved into a [`ProgramSpec`]: one function
//! per concern (the command, its user, directory and environment, how it
//! stops and restarts, readiness, when it runs, its streams and routes),
//! each error naming the program's key.

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use logmux_parsers::nginx::log_format::LogFormat;
use logmux_parsers::strftime::Strftime;
use logmux_parsers::uwsgi::log_format::LogFormat as UwsgiFormat;
use nix::sys::signal::Signal;
use toml::Spanned;

use super::probe::{Health, ProbeContext};
use super::raw::{duration, duration_or, CommandValue, DurationValue, RawProgram, RawStream};
use super::resolved::{anchored, AutoRestart, Hup, Kind, OnExit, Ready, StreamSpec};
use crate::config::error::{ConfigError, Locator};
use crate::config::filter::parse_format_name;
use crate::config::template;
use crate::event::IoStream;
use crate::sink::spec::SinkSpec;

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
    /// `health = { … }`: probed while the program runs.
    pub health: Option<Health>,
    /// Indexes into [`super::RunConfig::programs`].
    pub depends_on: Vec<usize>,
    pub priority: i64,
    pub kind: Kind,
    /// `prepare = true`: a `once` program that also runs before a one-off
    /// command (`logmux run --config FILE CMD…`).
    pub prepare: bool,
    /// False when `when` or `unless_exists` says the program sits this run out.
    pub enabled: bool,
    pub sighup: Hup,
    pub nginx_log_format: Option<LogFormat>,
    /// uWSGI's `--logdate=FORMAT`, when the program sets one.
    pub uwsgi_logdate: Option<Strftime>,
    /// uWSGI's `log-format`: the program's own, else the top-level one.
    pub uwsgi_log_format: Option<UwsgiFormat>,
    /// `service.name` of its events: `service_name`, else `name`.
    pub service_name: String,
    /// Its lines that are logmux events are merged (a nested `logmux
    /// run`); off, they are the program's own JSON like any other.
    pub merge: bool,
    /// It reads logmux's own stdin (`logmux run -- CMD`, as tini does);
    /// a config's programs read /dev/null.
    pub inherit_stdin: bool,
    /// A one-off command (`logmux run --config FILE CMD`): how it ends is
    /// logmux's exit code, even when a signal to logmux stopped it.
    pub oneoff: bool,
    /// `[stdout, stderr]`.
    pub streams: [StreamSpec; 2],
    /// Started with the others; false: stopped until `logmux ctl start`.
    pub autostart: bool,
    /// `logmux ctl CMD GROUP:*` acts on every program of its group.
    pub group: String,
}

impl ProgramSpec {
    pub fn stream(&self, which: IoStream) -> &StreamSpec {
        match which {
            IoStream::Stdout => &self.streams[0],
            IoStream::Stderr => &self.streams[1],
        }
    }

    /// Checks one program on its own, so that one run reports them all.
    /// Its keys are checked in a fixed order; the first problem is reported.
    pub(super) fn resolve(
        scope: &Scope<'_>,
        name: &str,
        raw: &RawProgram,
    ) -> Result<ProgramSpec, ConfigError> {
        Self::resolve_as(scope, &format!("program.{name}"), name, raw)
    }

    /// As [`Self::resolve`], for a table other than `[program.NAME]`
    /// (`[oneoff]`): `table` prefixes the keys in messages.
    pub(super) fn resolve_as(
        scope: &Scope<'_>,
        table: &str,
        name: &str,
        raw: &RawProgram,
    ) -> Result<ProgramSpec, ConfigError> {
        let p = Program::new(scope, table, name, raw)?;
        // Fields in the order their keys are checked.
        Ok(ProgramSpec {
            command: p.command()?,
            environment: p.environment()?,
            directory: p.directory()?,
            user: raw.user.as_ref().map(|u| u.get_ref().clone()),
            stopsignal: p.stopsignal()?,
            stopwait: p.duration_or(&raw.stopwaitsecs, "stopwaitsecs", 10)?,
            startsecs: p.duration_or(&raw.startsecs, "startsecs", 1)?,
            backoff: p.duration_or(&raw.backoff, "backoff", 1)?,
            autorestart: p.word(&raw.autorestart, "autorestart", AutoRestart::OnFailure)?,
            on_exit: p.word(&raw.on_exit, "on_exit", OnExit::Restart)?,
            sighup: p.word(&raw.sighup, "sighup", Hup::Forward)?,
            kind: p.schedule()?,
            prepare: p.prepare()?,
            ready: p.ready()?,
            health: p.health()?,
            enabled: p.when_holds && !p.skip_for_file()?,
            depends_on: p.depends_on()?,
            nginx_log_format: p.nginx_log_format()?,
            uwsgi_logdate: p.uwsgi_logdate()?,
            uwsgi_log_format: p.uwsgi_log_format()?,
            streams: p.streams()?,
            service_name: p.service_name()?,
            stop_as_group: raw.stop_as_group.unwrap_or(true),
            kill_as_group: raw.kill_as_group.unwrap_or(true),
            merge: raw.merge.unwrap_or(false),
            inherit_stdin: false,
            oneoff: false,
            startretries: raw.startretries.unwrap_or(3),
            exitcodes: raw.exitcodes.clone().unwrap_or_else(|| vec![0]),
            priority: raw.priority.unwrap_or(999),
            autostart: raw.autostart.unwrap_or(true),
            group: p.group()?,
            name: name.to_string(),
        })
    }
}

impl ProbeContext for Program<'_, '_> {
    fn expand(&self, text: &str, offset: usize, k: &str) -> Result<String, ConfigError> {
        Program::expand(self, text, offset, k)
    }

    fn argv(
        &self,
        value: &CommandValue,
        offset: usize,
        k: &str,
    ) -> Result<Vec<String>, ConfigError> {
        match value {
            CommandValue::Line(line) => self.command_line(line, offset, k),
            CommandValue::Args(args) => args.iter().map(|w| self.expand(w, offset, k)).collect(),
        }
    }

    fn invalid(&self, offset: usize, k: &str, message: String) -> ConfigError {
        Program::invalid(self, offset, k, message)
    }
}

/// What every program of one config is resolved against.
pub(super) struct Scope<'a> {
    pub loc: &'a Locator<'a>,
    /// The environment with `[env] defaults` filled in.
    pub env: &'a dyn Fn(&str) -> Option<String>,
    pub sinks: &'a [SinkSpec],
    /// Every program's name, in file order, for `depends_on`.
    pub names: Vec<&'a str>,
    /// The top-level `nginx_log_format`, which a program's own replaces.
    pub default_log_format: Option<LogFormat>,
    /// The top-level `uwsgi_log_format`, which a program's own replaces.
    pub default_uwsgi_format: Option<UwsgiFormat>,
}

/// The index of the sink a config names, or an error that lists the known ones.
pub(super) fn sink_index(
    loc: &Locator<'_>,
    sinks: &[SinkSpec],
    name: &Spanned<String>,
    key: &str,
) -> Result<usize, ConfigError> {
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
}

/// One program being resolved: its table, its name and whether it runs.
struct Program<'s, 'a> {
    scope: &'s Scope<'a>,
    name: &'s str,
    /// `program.NAME` (or `oneoff`): the prefix of its keys in messages.
    table: String,
    raw: &'s RawProgram,
    /// Where the program is, for keys without a place of their own.
    start: usize,
    /// `when` holds. A program that sits this run out may name variables
    /// that are unset, so its values are not rendered.
    when_holds: bool,
}

impl<'s, 'a> Program<'s, 'a> {
    /// Checks the name and the `when` condition.
    fn new(
        scope: &'s Scope<'a>,
        table: &str,
        name: &'s str,
        raw: &'s RawProgram,
    ) -> Result<Self, ConfigError> {
        let loc = scope.loc;
        let start = raw
            .command
            .as_ref()
            .map(|c| c.span().start)
            .unwrap_or_else(|| loc.table_offset("program", name));
        if name.is_empty() || name.contains(|c: char| c.is_whitespace() || c == '/' || c == ':') {
            return Err(loc.invalid(
                start,
                &format!("program.{name}"),
                "a program name must be non-empty, without spaces, `/` or `:`",
            ));
        }
        let mut program = Program {
            scope,
            name,
            table: table.to_string(),
            raw,
            start,
            when_holds: true,
        };
        if let Some(w) = &raw.when {
            if !template::valid_condition(w.get_ref()) {
                return Err(program.invalid(
                    w.span().start,
                    "when",
                    format!("`{}` is not a condition: use VAR or !VAR", w.get_ref()),
                ));
            }
            program.when_holds = template::condition_holds(w.get_ref(), scope.env);
        }
        Ok(program)
    }

    /// `program.NAME.KEY`.
    fn key(&self, k: &str) -> String {
        format!("{}.{k}", self.table)
    }

    fn invalid(&self, offset: usize, k: &str, message: impl Into<String>) -> ConfigError {
        self.scope.loc.invalid(offset, &self.key(k), message)
    }

    /// Fills `${VAR}` in a value (unless the program sits this run out).
    fn expand(&self, text: &str, offset: usize, k: &str) -> Result<String, ConfigError> {
        if !self.when_holds {
            return Ok(text.to_string());
        }
        template::render(text, self.scope.env)
            .map_err(|e| self.scope.loc.template(offset, &self.key(k), e))
    }

    /// A key spelled as a word ([`AutoRestart`], [`OnExit`], [`Hup`]).
    fn word<T: FromStr<Err = String>>(
        &self,
        v: &Option<Spanned<String>>,
        k: &str,
        default: T,
    ) -> Result<T, ConfigError> {
        match v {
            Some(v) => self.scope.loc.word(v, &self.key(k)),
            None => Ok(default),
        }
    }

    fn duration_or(
        &self,
        v: &Option<Spanned<DurationValue>>,
        k: &str,
        default_secs: u64,
    ) -> Result<Duration, ConfigError> {
        let default = Duration::from_secs(default_secs);
        duration_or(self.scope.loc, v, &self.key(k), default)
    }

    fn command(&self) -> Result<Vec<String>, ConfigError> {
        let value = self.raw.command.as_ref().ok_or_else(|| {
            self.invalid(
                self.start,
                "command",
                "missing: every program needs a command",
            )
        })?;
        let offset = value.span().start;
        let command: Vec<String> = match value.get_ref() {
            CommandValue::Line(line) => self.command_line(line, offset, "command")?,
            CommandValue::Args(args) => args
                .iter()
                .map(|w| self.expand(w, offset, "command"))
                .collect::<Result<Vec<_>, _>>()?,
        };
        if command.is_empty() {
            return Err(self.invalid(offset, "command", "empty command"));
        }
        Ok(command)
    }

    /// A command as one string: variables are filled first, each value
    /// quoted, so that a value with spaces stays one argument; then the
    /// line is split like a shell would.
    fn command_line(&self, line: &str, offset: usize, k: &str) -> Result<Vec<String>, ConfigError> {
        let line = if self.when_holds {
            let env = self.scope.env;
            let quoted = |name: &str| {
                env(name).map(|v| match shlex::try_quote(&v) {
                    Ok(q) => q.into_owned(),
                    Err(_) => v,
                })
            };
            template::render(line, &quoted)
                .map_err(|e| self.scope.loc.template(offset, &self.key(k), e))?
        } else {
            line.to_string()
        };
        shlex::split(&line).ok_or_else(|| {
            self.invalid(
                offset,
                k,
                "unbalanced quotes (the string is split like a shell would, but no shell runs)",
            )
        })
    }

    fn environment(&self) -> Result<Vec<(String, String)>, ConfigError> {
        self.raw
            .environment
            .iter()
            .map(|(k, v)| Ok((k.clone(), self.expand(v, self.start, "environment")?)))
            .collect()
    }

    /// Relative to the config's directory.
    fn directory(&self) -> Result<Option<PathBuf>, ConfigError> {
        let Some(d) = &self.raw.directory else {
            return Ok(None);
        };
        let dir = PathBuf::from(self.expand(d.get_ref(), d.span().start, "directory")?);
        Ok(Some(anchored(self.scope.loc, dir)))
    }

    fn stopsignal(&self) -> Result<Signal, ConfigError> {
        match &self.raw.stopsignal {
            Some(s) => {
                parse_signal(s.get_ref()).map_err(|m| self.invalid(s.span().start, "stopsignal", m))
            }
            None => Ok(Signal::SIGTERM),
        }
    }

    /// Long-running, `once`, or `every` so often (at least a second).
    fn schedule(&self) -> Result<Kind, ConfigError> {
        match (&self.raw.every, self.raw.once) {
            (Some(e), true) => Err(self.invalid(
                e.span().start,
                "every",
                "a program is either `once` or `every`, not both",
            )),
            (Some(e), false) => {
                let period = duration(self.scope.loc, e, &self.key("every"))?;
                if period < Duration::from_secs(1) {
                    return Err(self.invalid(e.span().start, "every", "must be at least 1s"));
                }
                Ok(Kind::Every(period))
            }
            (None, true) => Ok(Kind::Once),
            (None, false) => Ok(Kind::LongRunning),
        }
    }

    /// `prepare`: only a `once` program prepares for a one-off command.
    fn prepare(&self) -> Result<bool, ConfigError> {
        match &self.raw.prepare {
            Some(v) if *v.get_ref() && !self.raw.once => Err(self.invalid(
                v.span().start,
                "prepare",
                "only a `once` program can prepare a one-off command; add `once = true`",
            )),
            Some(v) => Ok(*v.get_ref()),
            None => Ok(false),
        }
    }

    /// `ready`: exactly one probe, and how long to wait for it.
    fn ready(&self) -> Result<Option<Ready>, ConfigError> {
        match &self.raw.ready {
            Some(r) => super::probe::ready(self, r),
            None => Ok(None),
        }
    }

    /// `health`: an active probe while the program runs.
    fn health(&self) -> Result<Option<Health>, ConfigError> {
        self.raw
            .health
            .as_ref()
            .map(|h| super::probe::health(self, h))
            .transpose()
    }

    /// `unless_exists`: the file is there, so the program sits this run out.
    fn skip_for_file(&self) -> Result<bool, ConfigError> {
        match &self.raw.unless_exists {
            Some(f) if self.when_holds => {
                let path = self.expand(f, self.start, "unless_exists")?;
                Ok(Path::new(&path).exists())
            }
            _ => Ok(false),
        }
    }

    fn depends_on(&self) -> Result<Vec<usize>, ConfigError> {
        let names = &self.scope.names;
        let mut depends_on = Vec::with_capacity(self.raw.depends_on.len());
        for dep in &self.raw.depends_on {
            let Some(i) = names.iter().position(|n| *n == dep.get_ref()) else {
                return Err(self.invalid(
                    dep.span().start,
                    "depends_on",
                    format!("no program named `{}`", dep.get_ref()),
                ));
            };
            if names[i] == self.name {
                return Err(self.invalid(
                    dep.span().start,
                    "depends_on",
                    "a program cannot depend on itself",
                ));
            }
            depends_on.push(i);
        }
        Ok(depends_on)
    }

    fn uwsgi_logdate(&self) -> Result<Option<Strftime>, ConfigError> {
        match &self.raw.uwsgi_logdate {
            Some(f) => Strftime::compile(f.get_ref())
                .map(Some)
                .map_err(|e| self.invalid(f.span().start, "uwsgi_logdate", e)),
            None => Ok(None),
        }
    }

    fn uwsgi_log_format(&self) -> Result<Option<UwsgiFormat>, ConfigError> {
        match &self.raw.uwsgi_log_format {
            Some(f) => UwsgiFormat::compile(f.get_ref())
                .map(Some)
                .map_err(|e| self.invalid(f.span().start, "uwsgi_log_format", e.to_string())),
            None => Ok(self.scope.default_uwsgi_format.clone()),
        }
    }

    fn nginx_log_format(&self) -> Result<Option<LogFormat>, ConfigError> {
        match &self.raw.nginx_log_format {
            Some(f) => LogFormat::compile(f.get_ref())
                .map(Some)
                .map_err(|e| self.invalid(f.span().start, "nginx_log_format", e.to_string())),
            None => Ok(self.scope.default_log_format.clone()),
        }
    }

    /// `[stdout, stderr]`.
    fn streams(&self) -> Result<[StreamSpec; 2], ConfigError> {
        Ok([
            self.stream("stdout", &self.raw.stdout)?,
            self.stream("stderr", &self.raw.stderr)?,
        ])
    }

    /// A stream's format and sink (by default, logmux's own stream of the
    /// same name), and its routes.
    fn stream(&self, which: &str, raw: &Option<RawStream>) -> Result<StreamSpec, ConfigError> {
        let empty = RawStream::default();
        let s = raw.as_ref().unwrap_or(&empty);
        let format = match &s.format {
            Some(f) => parse_format_name(f.get_ref())
                .map_err(|m| self.invalid(f.span().start, &format!("{which}.format"), m))?,
            None => None,
        };
        let sinks = self.scope.sinks;
        let sink = match &s.sink {
            Some(n) => sink_index(
                self.scope.loc,
                sinks,
                n,
                &self.key(&format!("{which}.sink")),
            )?,
            None => sinks.iter().position(|k| k.name == which).unwrap_or(0),
        };
        let mut routes = Vec::with_capacity(s.route.len());
        for (format_name, to) in &s.route {
            let route_key = self.key(&format!("{which}.route.\"{}\"", format_name.get_ref()));
            let loc = self.scope.loc;
            let Some(format) = parse_format_name(format_name.get_ref())
                .map_err(|m| loc.invalid(format_name.span().start, &route_key, m))?
            else {
                return Err(loc.invalid(
                    format_name.span().start,
                    &route_key,
                    "a route names a format, not `auto`",
                ));
            };
            routes.push((format, sink_index(loc, sinks, to, &route_key)?));
        }
        let mut copies = Vec::with_capacity(s.copy.len());
        for to in &s.copy {
            let i = sink_index(
                self.scope.loc,
                sinks,
                to,
                &self.key(&format!("{which}.copy")),
            )?;
            if i != sink && !copies.contains(&i) {
                copies.push(i);
            }
        }
        Ok(StreamSpec {
            format,
            sink,
            routes,
            copies,
        })
    }

    /// `group`, else the program's name; the same rules as a name.
    fn group(&self) -> Result<String, ConfigError> {
        match &self.raw.group {
            Some(g)
                if g.get_ref().is_empty()
                    || g.get_ref().contains(char::is_whitespace)
                    || g.get_ref().contains(':') =>
            {
                Err(self.invalid(
                    g.span().start,
                    "group",
                    "a group name must be non-empty, without spaces or `:`",
                ))
            }
            Some(g) => Ok(g.get_ref().clone()),
            None => Ok(self.name.to_string()),
        }
    }

    /// `service_name`, else the program's name.
    fn service_name(&self) -> Result<String, ConfigError> {
        match &self.raw.service_name {
            Some(s) if s.get_ref().trim().is_empty() => {
                Err(self.invalid(s.span().start, "service_name", "must not be empty"))
            }
            Some(s) => Ok(s.get_ref().clone()),
            None => Ok(self.name.to_string()),
        }
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
