//! A program's `ready` and `health` tables resolved: which probe, how often,
//! how long to wait. Both share [`Check`] (a command that must exit 0, or a
//! URL that must answer 2xx/3xx); `ready` also has the passive kinds (a
//! socket, a file, s6's notification fd, systemd's `sd_notify`). Both are
//! TOML only: supervisord has no equivalent.

use std::path::PathBuf;
use std::time::Duration;

use toml::Spanned;

use super::raw::{duration_value, CommandValue, DurationValue, RawHealth, RawReady};
use super::resolved::{Ready, ReadyProbe};
use crate::config::error::ConfigError;

/// An active probe: run once, it passes or fails with a reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Check {
    /// Passes when the command exits 0.
    Exec(Vec<String>),
    /// Passes on a 2xx or 3xx answer (redirects are not followed).
    Http(String),
}

impl Check {
    /// How messages name it: the URL, or the command line.
    pub fn describe(&self) -> String {
        match self {
            Check::Exec(argv) => argv.join(" "),
            Check::Http(url) => url.clone(),
        }
    }
}

/// `health = { … }`: probed every `interval` while the program runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Health {
    pub check: Check,
    pub interval: Duration,
    /// One probe's limit.
    pub timeout: Duration,
    /// Failures in a row before the program counts as unhealthy.
    pub failures: u32,
}

/// What resolving a probe needs from the program being resolved.
pub(super) trait ProbeContext {
    /// `${VAR}` filled in a value of key `k`.
    fn expand(&self, text: &str, offset: usize, k: &str) -> Result<String, ConfigError>;
    /// A command value as argv, as `command` is split.
    fn argv(
        &self,
        value: &CommandValue,
        offset: usize,
        k: &str,
    ) -> Result<Vec<String>, ConfigError>;
    fn invalid(&self, offset: usize, k: &str, message: String) -> ConfigError;
}

/// `ready`: exactly one probe, and how long to wait for it.
pub(super) fn ready(
    cx: &dyn ProbeContext,
    r: &Spanned<RawReady>,
) -> Result<Option<Ready>, ConfigError> {
    let offset = r.span().start;
    let inner = r.get_ref();
    let given = [
        inner.unix_socket.is_some(),
        inner.tcp.is_some(),
        inner.file.is_some(),
        inner.fd.is_some(),
        inner.notify.is_some(),
        inner.exec.is_some(),
        inner.http.is_some(),
    ];
    if given.iter().filter(|g| **g).count() != 1 {
        return Err(cx.invalid(
            offset,
            "ready",
            "give exactly one of unix_socket, tcp, file, fd, notify, exec or http".into(),
        ));
    }
    let expand = |s: &str| cx.expand(s, offset, "ready");
    let probe = if let Some(s) = &inner.unix_socket {
        ReadyProbe::UnixSocket(PathBuf::from(expand(s)?))
    } else if let Some(t) = &inner.tcp {
        ReadyProbe::Tcp(expand(t)?)
    } else if let Some(f) = &inner.file {
        ReadyProbe::File(PathBuf::from(expand(f)?))
    } else if let Some(fd) = inner.fd {
        ReadyProbe::Fd(notification_fd(cx, offset, fd)?)
    } else if let Some(notify) = inner.notify {
        if !notify {
            let m = "`notify = false` means no probe: remove `ready`, or use `notify = true`";
            return Err(cx.invalid(offset, "ready.notify", m.into()));
        }
        ReadyProbe::Notify
    } else {
        ReadyProbe::Check(check(cx, offset, "ready", &inner.exec, &inner.http)?)
    };
    let timeout = duration_or(cx, offset, "ready.timeout", &inner.timeout, 60_000)?;
    let interval = duration_or(cx, offset, "ready.interval", &inner.interval, 1_000)?;
    Ok(Some(Ready {
        probe,
        timeout,
        interval,
    }))
}

/// s6 requires 3 or more (0, 1 and 2 are the standard streams).
fn notification_fd(cx: &dyn ProbeContext, offset: usize, fd: i64) -> Result<i32, ConfigError> {
    match i32::try_from(fd) {
        Ok(fd @ 3..=255) => Ok(fd),
        _ => Err(cx.invalid(
            offset,
            "ready.fd",
            format!("{fd} is not a notification descriptor: use 3..=255 (0-2 are stdin, stdout and stderr)"),
        )),
    }
}

/// `health`: one check, its interval, timeout and failure threshold.
pub(super) fn health(cx: &dyn ProbeContext, h: &Spanned<RawHealth>) -> Result<Health, ConfigError> {
    let offset = h.span().start;
    let inner = h.get_ref();
    if inner.exec.is_some() == inner.http.is_some() {
        return Err(cx.invalid(offset, "health", "give exactly one of http or exec".into()));
    }
    let check = check(cx, offset, "health", &inner.exec, &inner.http)?;
    let interval = duration_or(cx, offset, "health.interval", &inner.interval, 10_000)?;
    let timeout = duration_or(cx, offset, "health.timeout", &inner.timeout, 2_000)?;
    let failures = match inner.failures {
        None => 3,
        Some(n) => u32::try_from(n).ok().filter(|n| *n >= 1).ok_or_else(|| {
            cx.invalid(
                offset,
                "health.failures",
                format!("{n}: give the failures in a row before unhealthy, 1 or more"),
            )
        })?,
    };
    Ok(Health {
        check,
        interval,
        timeout,
        failures,
    })
}

/// `exec` or `http` (the caller checked that exactly one is given).
fn check(
    cx: &dyn ProbeContext,
    offset: usize,
    k: &str,
    exec: &Option<CommandValue>,
    http: &Option<String>,
) -> Result<Check, ConfigError> {
    if let Some(cmd) = exec {
        let key = format!("{k}.exec");
        let argv = cx.argv(cmd, offset, &key)?;
        if argv.is_empty() {
            return Err(cx.invalid(offset, &key, "empty command".into()));
        }
        return Ok(Check::Exec(argv));
    }
    let key = format!("{k}.http");
    let url = cx.expand(http.as_deref().unwrap_or_default(), offset, &key)?;
    if !(url.starts_with("http://") || url.starts_with("https://")) {
        let m = format!("`{url}` is not an http:// or https:// URL");
        return Err(cx.invalid(offset, &key, m));
    }
    Ok(Check::Http(url))
}

/// A duration key, at least a millisecond, or its default.
fn duration_or(
    cx: &dyn ProbeContext,
    offset: usize,
    k: &str,
    v: &Option<DurationValue>,
    default_ms: u64,
) -> Result<Duration, ConfigError> {
    let Some(v) = v else {
        return Ok(Duration::from_millis(default_ms));
    };
    let d = duration_value(v).map_err(|m| cx.invalid(offset, k, m))?;
    if d.is_zero() {
        return Err(cx.invalid(offset, k, "must be more than 0".into()));
    }
    Ok(d)
}
