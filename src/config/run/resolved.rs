//! The `run` config as the supervisor runs it: checked, with defaults
//! filled, names turned into indexes, and no raw text left. The enums that
//! TOML and supervisord INI both spell as words read them with [`FromStr`],
//! whose error says in words what was expected.

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use logmux_parsers::Format;

use super::raw::RawTemplate;
use super::ProgramSpec;
use crate::config::error::{ConfigError, Locator};
use crate::config::template;
use crate::sink::spec::SinkSpec;

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
    /// Threads that parse: a busy stream's large reads are parsed half on
    /// each of two (1: every stream on the one thread).
    pub threads: usize,
    pub drop_report: Duration,
    /// Index in `sinks` of logmux's own events.
    pub log_sink: usize,
    /// `[resource]`, then `--resource`.
    pub resource: Vec<(String, String)>,
    /// Each program's ring for `logmux ctl tail`.
    pub tail_buffer: TailBuffer,
    /// `[metrics]` (or `--metrics-listen`): metrics are on.
    pub metrics: Option<crate::metrics::MetricsSpec>,
    /// `[oneoff]` as checked, its command a stand-in, for `logmux check`'s
    /// look at its user and directory; in one-off mode the command is the
    /// last of `programs` instead.
    pub oneoff: Option<ProgramSpec>,
    /// `[trace] join` (or `--trace-join`).
    pub trace_join: crate::trace::infer::JoinMode,
    /// `[trace]`: the span builder's settings (used when a sink sends traces).
    pub trace: crate::trace::TraceSpec,
}

/// How much of each program's output `logmux ctl tail` can show: the last
/// `events` events, as long as they fit in `bytes` (one event alone may be
/// more). `events = 0` keeps nothing and turns `ctl tail` off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TailBuffer {
    pub events: usize,
    pub bytes: usize,
}

impl TailBuffer {
    /// The most events a ring may be asked to keep.
    pub const MAX_EVENTS: u64 = 1_000_000;
}

impl Default for TailBuffer {
    fn default() -> Self {
        TailBuffer {
            events: 1000,
            bytes: 1 << 20,
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

impl FromStr for AutoRestart {
    type Err = String;

    /// `always`, `on-failure`, `never`; supervisord's `true`, `unexpected`
    /// and `false` too.
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "always" | "true" => Ok(AutoRestart::Always),
            "on-failure" | "unexpected" => Ok(AutoRestart::OnFailure),
            "never" | "false" => Ok(AutoRestart::Never),
            other => Err(format!("`{other}`: expected always, on-failure or never")),
        }
    }
}

impl AutoRestart {
    /// The word the TOML config spells it with.
    pub fn name(self) -> &'static str {
        match self {
            AutoRestart::Always => "always",
            AutoRestart::OnFailure => "on-failure",
            AutoRestart::Never => "never",
        }
    }
}

impl FromStr for OnExit {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "restart" => Ok(OnExit::Restart),
            "ignore" => Ok(OnExit::Ignore),
            "shutdown" => Ok(OnExit::Shutdown),
            other => Err(format!("`{other}`: expected restart, ignore or shutdown")),
        }
    }
}

impl FromStr for Hup {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "forward" => Ok(Hup::Forward),
            "restart" => Ok(Hup::Restart),
            "ignore" => Ok(Hup::Ignore),
            other => Err(format!("`{other}`: expected forward, restart or ignore")),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReadyProbe {
    UnixSocket(PathBuf),
    Tcp(String),
    File(PathBuf),
    /// s6's notification-fd: a pipe given to the program as this descriptor.
    Fd(i32),
    /// systemd's `sd_notify`: `READY=1` on logmux's `NOTIFY_SOCKET`.
    Notify,
    /// A command that exits 0, or a URL that answers 2xx/3xx.
    Check(super::probe::Check),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ready {
    pub probe: ReadyProbe,
    pub timeout: Duration,
    /// How often a `Check` is tried (and each try's limit).
    pub interval: Duration,
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
    /// Every event also goes to these sinks (indexes), besides the one its
    /// format picks.
    pub copies: Vec<usize>,
}

impl StreamSpec {
    /// Every sink the stream writes to: its own first, then its routes'.
    pub fn sinks(&self) -> impl Iterator<Item = usize> + '_ {
        std::iter::once(self.sink)
            .chain(self.routes.iter().map(|&(_, s)| s))
            .chain(self.copies.iter().copied())
    }
}

#[derive(Debug, Clone)]
pub struct TemplateSpec {
    pub source: PathBuf,
    pub target: PathBuf,
    pub when: Option<String>,
    /// The target's permission bits; `None`: the source's.
    pub mode: Option<u32>,
    /// Where the `[[template]]` is, for messages.
    pub line: usize,
}

impl TemplateSpec {
    /// The `[[template]]` tables, their paths rendered and anchored at the
    /// config's directory.
    pub(super) fn resolve_all(
        loc: &Locator<'_>,
        raw: &[RawTemplate],
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Vec<TemplateSpec>, ConfigError> {
        raw.iter()
            .map(|t| TemplateSpec::resolve(loc, t, env))
            .collect()
    }

    fn resolve(
        loc: &Locator<'_>,
        t: &RawTemplate,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<TemplateSpec, ConfigError> {
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
        let mode = t.mode.as_ref().map(|m| template_mode(loc, m)).transpose()?;
        let src = template::render(source.get_ref(), env)
            .map_err(|e| loc.template(source.span().start, "template.source", e))?;
        let dst = template::render(target.get_ref(), env)
            .map_err(|e| loc.template(target.span().start, "template.target", e))?;
        Ok(TemplateSpec {
            source: anchored(loc, PathBuf::from(src)),
            target: anchored(loc, PathBuf::from(dst)),
            when: t.when.as_ref().map(|w| w.get_ref().clone()),
            mode,
            line: loc.at(offset).0,
        })
    }
}

/// `mode = "0640"`: octal permission bits, at most `7777`.
fn template_mode(loc: &Locator<'_>, m: &toml::Spanned<String>) -> Result<u32, ConfigError> {
    let text = m.get_ref().trim();
    u32::from_str_radix(text, 8)
        .ok()
        .filter(|&bits| bits <= 0o7777 && !text.is_empty())
        .ok_or_else(|| {
            let message = format!("`{text}` is not a file mode: use octal digits, e.g. \"0640\"");
            loc.invalid(m.span().start, "template.mode", message)
        })
}

/// A relative path in the config is relative to the config's directory.
pub(super) fn anchored(loc: &Locator<'_>, path: PathBuf) -> PathBuf {
    if path.is_relative() {
        loc.path.parent().unwrap_or(Path::new(".")).join(path)
    } else {
        path
    }
}
