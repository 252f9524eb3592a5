//! The control socket: `logmux ctl status | health | start | stop | restart
//! | signal | reload | tail | metrics`.
//!
//! A unix stream socket, mode 0600, so only the container's root (or the
//! user logmux runs as) can steer it. One request per connection: a line of
//! text in, one JSON line out. The server only parses and forwards; the
//! supervisor's loop answers, so control never races with supervision.
//! `metrics` is the exception: the server answers it from the registry,
//! with the exposition text of `/metrics` (for `logmux top` over
//! `docker exec`, without knowing the listener's address).
//!
//! Nothing a client does can starve it: at most [`MAX_CONNECTIONS`] are
//! served at once (one more is told "busy" and closed), each must send its
//! request within [`READ_TIMEOUT`], and a failed accept (no descriptor
//! left) waits before the next instead of spinning. `logmux ctl` gives up
//! after its `--timeout`, trying again while logmux says it is busy.
//!
//! A `tail` request ([`super::tail`]) is answered here, from the rings,
//! not by the supervisor, and may stream for as long as the client reads:
//! it gives its connection slot back and holds one of the
//! [`MAX_TAIL_CLIENTS`] tail slots instead, so followers never keep
//! `ctl status` or `ctl restart` out.

use std::io::{Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::sync::{mpsc, oneshot, Semaphore};

use super::ring::Rings;
use super::supervisor::{ControlCommand, ControlRequest};
use super::tail::{self, TailRequest};
use crate::config::run::parse_signal;
use crate::metrics::Metrics;
use crate::shutdown::Shutdown;

/// The environment variable that tells programs (and `logmux ctl` run by
/// them, e.g. certbot's deploy hook) where the socket is.
pub const SOCKET_ENV: &str = "LOGMUX_CONTROL_SOCKET";

/// The answer to `metrics` when the config has no `[metrics]` table.
const METRICS_OFF: &str = "{\"ok\":false,\"message\":\"metrics are off: add a [metrics] table to the config (or --metrics-listen)\"}\n";

/// Parses one request line.
pub fn parse_request(line: &str) -> Result<ControlCommand, String> {
    let words: Vec<&str> = line.split_whitespace().collect();
    match words.as_slice() {
        ["status"] => Ok(ControlCommand::Status),
        ["health"] => Ok(ControlCommand::Health),
        ["start", name] => Ok(ControlCommand::Start((*name).to_string())),
        ["stop", name] => Ok(ControlCommand::Stop((*name).to_string())),
        ["restart", name] => Ok(ControlCommand::Restart((*name).to_string())),
        ["signal", name, sig] => Ok(ControlCommand::Signal((*name).to_string(), parse_signal(sig)?)),
        ["reload"] => Ok(ControlCommand::Reload),
        _ => Err(format!(
            "unknown request `{line}`: expected status, health, start NAME, stop NAME, restart NAME, signal NAME SIG, reload, metrics or tail LINES follow|once all|stdout|stderr [NAME...]"
        )),
    }
}

/// Binds the socket (replacing a stale one) with mode 0600.
pub fn bind(path: &Path) -> std::io::Result<tokio::net::UnixListener> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    if std::os::unix::net::UnixStream::connect(path).is_ok() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::AddrInUse,
            format!("{} is in use by another logmux", path.display()),
        ));
    }
    let _ = std::fs::remove_file(path);
    let listener = std::os::unix::net::UnixListener::bind(path)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    listener.set_nonblocking(true)?;
    tokio::net::UnixListener::from_std(listener)
}

/// Connections served at once. One more is answered "busy" and closed at
/// once, so idle connections can neither hold the socket nor use up
/// logmux's descriptors (its programs' pipes need them).
pub const MAX_CONNECTIONS: usize = 16;

/// `logmux ctl tail` clients served at once, besides [`MAX_CONNECTIONS`].
pub const MAX_TAIL_CLIENTS: usize = 16;

/// At logmux's exit, how long followers get to write their last events.
const FOLLOWERS_GRACE: Duration = Duration::from_secs(1);

/// A connection must send its request line within this, or it is closed.
pub const READ_TIMEOUT: Duration = Duration::from_secs(2);

/// After a failed accept (no descriptor left), wait this long before the
/// next: the pending connection stays queued, and retrying at once spins.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// The answer to a connection beyond [`MAX_CONNECTIONS`]; the client
/// tries again until its own timeout.
const BUSY: &[u8] =
    b"{\"ok\":false,\"busy\":true,\"message\":\"logmux is busy: too many control connections\"}\n";

/// What a connection's task needs.
#[derive(Clone)]
struct Shared {
    tx: mpsc::Sender<ControlRequest>,
    rings: Arc<Rings>,
    tail_slots: Arc<Semaphore>,
    shutdown: Shutdown,
    /// The registry, for `metrics`; `None` when metrics are off.
    metrics: Option<Arc<Metrics>>,
}

/// Serves requests until `shutdown` is triggered (logmux is exiting: the
/// socket closes before its file is removed) or the supervisor goes away;
/// then gives followers [`FOLLOWERS_GRACE`] to write their last events.
pub async fn serve(
    listener: tokio::net::UnixListener,
    tx: mpsc::Sender<ControlRequest>,
    rings: Arc<Rings>,
    shutdown: Shutdown,
    metrics: Option<Arc<Metrics>>,
) {
    let shared = Shared {
        tx,
        rings,
        tail_slots: Arc::new(Semaphore::new(MAX_TAIL_CLIENTS)),
        shutdown: shutdown.clone(),
        metrics,
    };
    let mut tasks = tokio::task::JoinSet::new();
    accept_until_shutdown(&listener, &shared, &mut tasks).await;
    let _ = tokio::time::timeout(FOLLOWERS_GRACE, async {
        while tasks.join_next().await.is_some() {}
    })
    .await;
}

async fn accept_until_shutdown(
    listener: &tokio::net::UnixListener,
    shared: &Shared,
    tasks: &mut tokio::task::JoinSet<()>,
) {
    let shutdown = &shared.shutdown;
    let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    let mut failing = false;
    loop {
        // Ended tasks are let go of as we go.
        while tasks.try_join_next().is_some() {}
        let accepted = tokio::select! {
            () = shutdown.triggered() => return,
            accepted = listener.accept() => accepted,
        };
        let stream = match accepted {
            Ok((stream, _)) => stream,
            Err(e) => {
                if !failing {
                    tracing::warn!("control socket: cannot accept a connection: {e}; trying again every {ACCEPT_BACKOFF:?}");
                }
                failing = true;
                tokio::select! {
                    () = shutdown.triggered() => return,
                    () = tokio::time::sleep(ACCEPT_BACKOFF) => continue,
                }
            }
        };
        if std::mem::take(&mut failing) {
            tracing::info!("control socket: accepting connections again");
        }
        let Ok(slot) = Arc::clone(&slots).try_acquire_owned() else {
            // Never waits: a full socket buffer just loses the word "busy".
            let _ = stream.try_write(BUSY);
            continue;
        };
        tasks.spawn(connection(stream, slot, shared.clone()));
    }
}

/// One connection: its request line within [`READ_TIMEOUT`], then a tail,
/// or the supervisor's answer within what is left of it.
async fn connection(
    stream: tokio::net::UnixStream,
    slot: tokio::sync::OwnedSemaphorePermit,
    shared: Shared,
) {
    let deadline = tokio::time::Instant::now() + READ_TIMEOUT;
    let (read, mut write) = stream.into_split();
    let mut line = String::new();
    let mut reader = BufReader::new(read.take(4096));
    let read = tokio::time::timeout_at(deadline, reader.read_line(&mut line)).await;
    if !matches!(read, Ok(Ok(_))) {
        return;
    }
    if line.trim() == "metrics" {
        let text = match &shared.metrics {
            Some(m) => m.render(),
            None => METRICS_OFF.to_string(),
        };
        let _ = tokio::time::timeout_at(deadline, write.write_all(text.as_bytes())).await;
        return;
    }
    match TailRequest::parse(line.trim()) {
        None => {
            let _ = tokio::time::timeout_at(deadline, answer(&line, write, shared.tx)).await;
        }
        Some(Err(message)) => refuse(&mut write, &message).await,
        Some(Ok(request)) => {
            let Ok(_tail_slot) = shared.tail_slots.try_acquire_owned() else {
                let message = format!(
                    "too many `logmux ctl tail` clients ({MAX_TAIL_CLIENTS}); try again later"
                );
                return refuse(&mut write, &message).await;
            };
            drop(slot);
            let read = reader.into_inner().into_inner();
            tail::serve(request, read, write, &shared.rings, shared.shutdown).await;
        }
    }
}

/// Answers `{"ok":false,"message":…}`, waiting at most [`READ_TIMEOUT`].
async fn refuse(write: &mut tokio::net::unix::OwnedWriteHalf, message: &str) {
    let answer = serde_json::json!({ "ok": false, "message": message });
    let _ = tokio::time::timeout(
        READ_TIMEOUT,
        write.write_all(format!("{answer}\n").as_bytes()),
    )
    .await;
}

/// Has the supervisor answer one request line; writes the answer.
async fn answer(
    line: &str,
    mut write: tokio::net::unix::OwnedWriteHalf,
    tx: mpsc::Sender<ControlRequest>,
) {
    let answer = match parse_request(line.trim()) {
        Err(message) => serde_json::json!({ "ok": false, "message": message }).to_string(),
        Ok(command) => {
            let (reply, answer) = oneshot::channel();
            if tx.send(ControlRequest { command, reply }).await.is_err() {
                return;
            }
            answer.await.unwrap_or_default()
        }
    };
    let _ = write.write_all(answer.as_bytes()).await;
    let _ = write.write_all(b"\n").await;
}

/// Why `logmux ctl` failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("cannot reach logmux at {path}: {source} (is `logmux run` running? set --socket or {SOCKET_ENV})")]
    Connect {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("talking to logmux at {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("no answer from logmux at {path} within {timeout:?} (it may be overloaded or stuck; --timeout waits longer)")]
    Timeout { path: PathBuf, timeout: Duration },
    #[error("{0}")]
    Refused(String),
}

/// What `logmux ctl` prints, and whether every long-running program is up.
pub struct Answer {
    /// A status table, a message, or the raw JSON (`--json`).
    pub text: String,
    /// False when a status shows a long-running program that is not
    /// `running` (starting, backoff, stopped, fatal): `logmux ctl status`
    /// then exits 3, as `supervisorctl status` does, for a HEALTHCHECK.
    pub all_running: bool,
    /// False when `health` found a program down or unhealthy: `logmux ctl
    /// health` then exits 1, for the image's HEALTHCHECK.
    pub healthy: bool,
}

/// Sends one request and returns logmux's answer, ready to print; gives
/// up after `timeout` (connecting, a busy server and the answer included).
pub fn request(
    path: &Path,
    line: &str,
    json: bool,
    timeout: Duration,
) -> Result<Answer, ClientError> {
    interpret(&request_raw(path, line, timeout)?, json)
}

/// Sends one request and returns logmux's answer as it came (`logmux top`
/// reads the `metrics` answer itself); gives up after `timeout`.
pub fn request_raw(path: &Path, line: &str, timeout: Duration) -> Result<String, ClientError> {
    let (owned_path, owned_line) = (path.to_owned(), line.to_owned());
    within(path, timeout, move |deadline| {
        exchange_until(&owned_path, &owned_line, deadline)
    })
}

/// Runs `talk` (given the deadline) on a thread and stops waiting for it
/// at the deadline: a connect to a full backlog blocks without a timeout
/// of its own. `logmux ctl` and `ctl tail` both talk this way.
pub(crate) fn within<T: Send + 'static>(
    path: &Path,
    timeout: Duration,
    talk: impl FnOnce(Instant) -> Result<T, ClientError> + Send + 'static,
) -> Result<T, ClientError> {
    let deadline = Instant::now() + timeout;
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(talk(deadline));
    });
    rx.recv_timeout(deadline.saturating_duration_since(Instant::now()))
        .map_err(|_| ClientError::Timeout {
            path: path.to_owned(),
            timeout,
        })?
}

/// Asks until logmux is not busy or the deadline passes; the raw answer.
fn exchange_until(path: &Path, line: &str, deadline: Instant) -> Result<String, ClientError> {
    loop {
        let answer = exchange(path, line, deadline)?;
        let busy = answer.starts_with("{\"ok\":false,\"busy\":true");
        if !busy || Instant::now() + Duration::from_millis(100) >= deadline {
            return Ok(answer);
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// One connection: the request line out, the whole answer in.
fn exchange(path: &Path, line: &str, deadline: Instant) -> Result<String, ClientError> {
    let io = |source| ClientError::Io {
        path: path.to_owned(),
        source,
    };
    let mut stream =
        std::os::unix::net::UnixStream::connect(path).map_err(|source| ClientError::Connect {
            path: path.to_owned(),
            source,
        })?;
    let left = deadline
        .saturating_duration_since(Instant::now())
        .max(Duration::from_millis(1));
    stream.set_read_timeout(Some(left)).map_err(io)?;
    stream.set_write_timeout(Some(left)).map_err(io)?;
    stream
        .write_all(format!("{line}\n").as_bytes())
        .map_err(io)?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer).map_err(io)?;
    Ok(answer)
}

/// logmux's JSON answer, as `logmux ctl` prints it.
fn interpret(answer: &str, json: bool) -> Result<Answer, ClientError> {
    // `metrics`: the exposition text, printed as it is.
    if answer.starts_with("# ") {
        return Ok(Answer {
            text: answer.trim_end().to_string(),
            all_running: true,
            healthy: true,
        });
    }
    let value: serde_json::Value = serde_json::from_str(answer.trim()).map_err(|e| {
        ClientError::Refused(format!("logmux sent an answer that is not JSON: {e}"))
    })?;
    if !value["ok"].as_bool().unwrap_or(false) {
        let message = match json {
            true => answer.trim(),
            false => value["message"].as_str().unwrap_or("refused"),
        };
        return Err(ClientError::Refused(message.to_string()));
    }
    let programs = value["programs"].as_array();
    let all_running = programs.is_none_or(|list| {
        list.iter().all(|p| {
            // `stopped`: `autostart = false`, not started yet: not down.
            p["kind"] != "long-running"
                || p["state"] == "running"
                || p["state"] == "disabled"
                || p["state"] == "stopped"
        })
    });
    let healthy = value["healthy"].as_bool().unwrap_or(true);
    let text = match (json, programs) {
        (true, _) => answer.trim().to_string(),
        (false, Some(programs)) => status_table(programs),
        (false, None) if value.get("healthy").is_some() => health_text(&value),
        (false, None) => value["message"].as_str().unwrap_or("").to_string(),
    };
    Ok(Answer {
        text,
        all_running,
        healthy,
    })
}

/// `healthy`, or `unhealthy:` and one reason a line.
fn health_text(value: &serde_json::Value) -> String {
    if value["healthy"].as_bool().unwrap_or(false) {
        return "healthy".to_string();
    }
    let mut text = "unhealthy:".to_string();
    for reason in value["reasons"].as_array().into_iter().flatten() {
        text.push_str("\n  ");
        text.push_str(reason.as_str().unwrap_or("?"));
    }
    text
}

/// The status as a table, like `supervisorctl status`.
fn status_table(programs: &[serde_json::Value]) -> String {
    // The HEALTH column only when some program has a probe running.
    let with_health = programs.iter().any(|p| p["health"].is_string());
    let rows: Vec<Vec<String>> = programs
        .iter()
        .map(|p| {
            let text = |k: &str| match &p[k] {
                serde_json::Value::Null => "-".to_string(),
                serde_json::Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            let uptime = p["uptime_secs"].as_u64().map_or("-".to_string(), |s| {
                format!("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
            });
            let mut row = vec![text("name"), text("state")];
            if with_health {
                row.push(text("health"));
            }
            row.extend([text("pid"), uptime, text("restarts"), text("last_exit")]);
            row
        })
        .collect();
    let mut header: Vec<String> = ["NAME", "STATE", "PID", "UPTIME", "RESTARTS", "LAST EXIT"]
        .map(String::from)
        .into();
    if with_health {
        header.insert(2, "HEALTH".into());
    }
    let mut widths: Vec<usize> = header.iter().map(String::len).collect();
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    for row in std::iter::once(&header).chain(rows.iter()) {
        let cells: Vec<String> = row
            .iter()
            .zip(&widths)
            .map(|(c, &w)| format!("{c:<w$}"))
            .collect();
        out.push_str(cells.join("  ").trim_end());
        out.push('\n');
    }
    out.trim_end().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use nix::sys::signal::Signal;

    #[test]
    fn the_server_stops_and_closes_its_socket_on_shutdown() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ctl.sock");
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            let listener = bind(&path).unwrap();
            let (tx, _rx) = mpsc::channel(1);
            let shutdown = Shutdown::new();
            let rings = Arc::new(Rings::new(Default::default(), ["a"]));
            let server = tokio::spawn(serve(listener, tx, rings, shutdown.clone(), None));
            tokio::task::yield_now().await;
            assert!(!server.is_finished());
            shutdown.trigger();
            tokio::time::timeout(std::time::Duration::from_secs(10), server)
                .await
                .expect("serve ends on shutdown")
                .unwrap();
        });
        // The file is still there; nobody listens on it any more.
        let refused = std::os::unix::net::UnixStream::connect(&path).unwrap_err();
        assert_eq!(refused.kind(), std::io::ErrorKind::ConnectionRefused);
    }

    #[test]
    fn requests_parse() {
        assert_eq!(parse_request("status"), Ok(ControlCommand::Status));
        assert_eq!(
            parse_request(" restart nginx "),
            Ok(ControlCommand::Restart("nginx".into()))
        );
        assert_eq!(
            parse_request("signal nginx HUP"),
            Ok(ControlCommand::Signal("nginx".into(), Signal::SIGHUP))
        );
        assert!(parse_request("signal nginx NOPE").is_err());
        assert_eq!(parse_request("reload"), Ok(ControlCommand::Reload));
        assert!(parse_request("reload now").is_err());
        assert_eq!(parse_request("health"), Ok(ControlCommand::Health));
        assert!(parse_request("health now").is_err());
    }

    #[test]
    fn the_status_table_lines_up() {
        let programs = vec![
            serde_json::json!({"name":"uwsgi","state":"running","pid":12,"uptime_secs":3725,"restarts":0,"last_exit":null}),
            serde_json::json!({"name":"certbot-renew","state":"scheduled","pid":null,"uptime_secs":null,"restarts":0,"last_exit":"exit code 0"}),
        ];
        assert_eq!(
            status_table(&programs),
            "NAME           STATE      PID  UPTIME   RESTARTS  LAST EXIT\n\
             uwsgi          running    12   1:02:05  0         -\n\
             certbot-renew  scheduled  -    -        0         exit code 0"
        );
    }
}
