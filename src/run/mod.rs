//! `logmux run`: the container's PID 1.
//!
//! The front door reads the config, fills the environment defaults, renders
//! the templates, starts the sinks, and hands over to the [`supervisor`]
//! loop on a single-threaded tokio runtime. When the loop ends, every sink
//! is flushed before logmux exits with the code the loop decided.
//!
//! The parts, in the order a run meets them: the config (`crate::config::run`,
//! and `crate::config::ini` for supervisord files), its templates,
//! [`child`] (starting one program),
//! [`stream`] (one pipe's lines), [`supervisor`] (the loop), [`reap`]
//! (zombies and the last sweep), [`control`] (the `logmux ctl` socket),
//! [`ring`] and [`tail`] (each program's last events, for `logmux ctl tail`).

pub mod child;
pub mod control;
pub mod health;
mod helpers;
mod metrics;
mod notify;
mod pipe_read;
mod preflight;
mod probe;
mod ready;
pub mod reap;
pub mod ring;
pub mod stream;
pub mod supervisor;
pub mod tail;
pub mod tail_client;
mod tap;

use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::config::run::{self as config, ConfigError, RunConfig, RunConfigError};
use crate::config::template;
use supervisor::{Ended, SinkRoute, Supervisor};

use crate::shutdown::Shutdown;
use crate::sink::{self, Batch, StartedSinks};

/// How long the log sink may take, past the shutdown deadline, to write
/// logmux's last words (what was lost, the exit code). Without it a
/// stalled sink that used up the deadline took those reports with it: the
/// log sink was closed with no time left and logmux exited unheard.
const LAST_WORDS: std::time::Duration = std::time::Duration::from_secs(1);

/// How a `logmux run` that got to start its programs ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Outcome {
    /// The code the supervisor decided: a program's code, 128 + signal, or
    /// 0 (see docs/run.md, "Exit status").
    pub code: i32,
    /// Events that never reached their sink: left in a queue or a pipe at
    /// the shutdown deadline, or lost to write errors. With a code of 0,
    /// logmux exits with [`crate::exit::EVENTS_LOST`] instead.
    pub events_lost: u64,
}

/// Why `logmux run` could not start or supervise its programs. Each is
/// reported as a logmux event where it happens; `crate::exit` maps it to
/// the exit code.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Config(RunConfigError),
    #[error("template source {path}: {source}")]
    TemplateSource { path: PathBuf, source: io::Error },
    #[error("template {path}: {source}")]
    TemplateRender {
        path: PathBuf,
        source: template::TemplateError,
    },
    #[error("cannot write template target {path}: {source}")]
    TemplateTarget { path: PathBuf, source: io::Error },
    #[error("cannot open sink {name}: {source}")]
    Sink { name: String, source: io::Error },
    #[error("cannot start the runtime: {0}")]
    Runtime(io::Error),
    #[error("cannot handle signals: {0}")]
    Signals(io::Error),
    #[error("metrics: cannot listen on {addr}: {source}")]
    Metrics {
        addr: std::net::SocketAddr,
        source: io::Error,
    },
}

fn process_env(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

/// Loads a config, reporting warnings as logmux events.
fn load(path: &Path) -> Result<RunConfig, RunConfigError> {
    config::load(path, &process_env, &mut |w| tracing::warn!("{w}"))
}

/// `logmux check`: validates a config, printing a summary when it is
/// valid and one logmux event per problem when not: every missing variable
/// at once, and what this machine lacks to run it ([`preflight`]).
pub fn check(path: &Path) -> Result<(), RunConfigError> {
    let text = config::Locator::read(path).inspect_err(report_config_error)?;
    let config = match config::parse(path, &text, &process_env, &mut |w| tracing::warn!("{w}")) {
        Ok(config) => config,
        Err(e) => {
            let all = ConfigError::all(with_every_missing_variable(path, &text, e));
            report_config_error(&all);
            return Err(all);
        }
    };
    let found = preflight::check(&config, &text);
    if !found.is_empty() {
        let all = ConfigError::all(found);
        report_config_error(&all);
        return Err(all);
    }
    let enabled = config.programs.iter().filter(|p| p.enabled).count();
    // A closed stdout (`| head -c0`) changes nothing: the answer is the code.
    let _ = writeln!(
        io::stdout(),
        "{}: ok ({} programs, {} enabled here; {} sinks; {} templates)",
        path.display(),
        config.programs.len(),
        enabled,
        config.sinks.len(),
        config.templates.len()
    );
    Ok(())
}

/// Reading stops at the first missing variable of a table; to name them
/// all, the config is read again with each one found so far set to a
/// stand-in, until no new one appears. Only missing variables are taken
/// from those later readings (other errors there may be the stand-ins').
fn with_every_missing_variable(path: &Path, text: &str, first: ConfigError) -> Vec<ConfigError> {
    let mut errors = flatten(first);
    let mut stand_ins: Vec<String> = missing(&errors).map(str::to_string).collect();
    // Each round adds at least one variable; a config has few.
    for _ in 0..256 {
        if stand_ins.is_empty() {
            break;
        }
        let env = |name: &str| {
            if stand_ins.iter().any(|v| v == name) {
                Some("logmux-check".to_string())
            } else {
                process_env(name)
            }
        };
        let Err(e) = config::parse(path, text, &env, &mut |_| {}) else {
            break;
        };
        let new: Vec<ConfigError> = flatten(e)
            .into_iter()
            .filter(|e| missing(std::slice::from_ref(e)).any(|v| !stand_ins.iter().any(|s| s == v)))
            .collect();
        if new.is_empty() {
            break;
        }
        stand_ins.extend(missing(&new).map(str::to_string));
        errors.extend(new);
    }
    errors
}

fn flatten(e: ConfigError) -> Vec<ConfigError> {
    match e {
        ConfigError::Many(all) => all.into_iter().flat_map(flatten).collect(),
        one => vec![one],
    }
}

/// The variables that `errors` say are missing.
fn missing(errors: &[ConfigError]) -> impl Iterator<Item = &str> {
    errors.iter().filter_map(|e| match e {
        ConfigError::MissingVariable { variable, .. } => Some(variable.as_str()),
        _ => None,
    })
}

/// One logmux event per problem.
fn report_config_error(e: &RunConfigError) {
    match e {
        RunConfigError::Many(all) => {
            for one in all {
                report_config_error(one);
            }
        }
        RunConfigError::MissingVariable { variable, .. } => {
            tracing::error!(variable = %variable, "{e}");
        }
        _ => tracing::error!("{e}"),
    }
}

/// `logmux run`: supervises the config's programs until they end or a
/// signal stops them. With a config and a command, a one-off: the
/// config's preparation, then the command (`crate::config::run::oneoff`).
pub fn run(
    path: Option<&Path>,
    command: Vec<String>,
    resource: &[(String, String)],
    console_output: Option<crate::output::OutputFormat>,
    metrics_listen: Option<std::net::SocketAddr>,
    trace_join: Option<crate::trace::infer::JoinMode>,
    threads: Option<u16>,
) -> Result<Outcome, RunError> {
    let loaded = match path {
        Some(path) if !command.is_empty() => {
            config::load_oneoff(path, &command, &process_env, &mut |w| tracing::warn!("{w}"))
        }
        Some(path) => load(path),
        None => config::for_command(command, &process_env),
    };
    let mut config = loaded
        .inspect_err(report_config_error)
        .map_err(RunError::Config)?;
    config.resource =
        crate::config::resource::merge(std::mem::take(&mut config.resource), resource);
    if let Some(addr) = metrics_listen {
        config.metrics.get_or_insert_with(Default::default).listen = Some(addr);
    }
    if let Some(join) = trace_join {
        config.trace_join = join;
    }
    if let Some(n) = threads {
        config.threads = usize::from(n);
    }
    // `--output pretty` (LOGMUX_OUTPUT): the console sinks' view, for
    // `docker compose up` in development; files and syslog keep theirs.
    if let Some(output) = console_output {
        for spec in &mut config.sinks {
            if matches!(
                spec.kind,
                sink::spec::SinkKind::Stdout | sink::spec::SinkKind::Stderr
            ) {
                spec.output = output;
            }
        }
    }
    // Still one thread: setting the environment is safe here.
    for (k, v) in &config.env_defaults {
        if std::env::var_os(k).is_none_or(|v| v.is_empty()) {
            std::env::set_var(k, v);
        }
    }
    render_templates(&config)?;
    reap::become_subreaper();
    let (mut sinks, routes, used) = open_sinks(&config)?;
    let tracer = start_tracer(&config)?;
    // Before the diagnostics go to the log sink: an error here reaches stderr.
    let metrics = metrics::start(&config, &sinks, &used, tracer.as_deref())?;
    route_diagnostics(&sinks, config.log_sink);
    if let Some(spec) = config.sinks.get(config.log_sink) {
        // A pretty log sink shows logmux's own events pretty too.
        if spec.output == crate::output::OutputFormat::Pretty {
            crate::diag::route_in_view(sink::encoder_for(spec));
        }
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| {
            tracing::error!("cannot start the runtime: {e}");
            RunError::Runtime(e)
        })?;
    let config = Arc::new(config);
    let ended = runtime.block_on(supervise(
        Arc::clone(&config),
        routes,
        metrics,
        tracer.clone(),
    ));
    if let Some(path) = &config.control_socket {
        let _ = std::fs::remove_file(path);
    }
    // The sinks flush in what is left of the one shutdown budget.
    let deadline = match &ended {
        Ok(e) => e.deadline,
        Err(_) => std::time::Instant::now() + config.drain_timeout,
    };
    // The traces waiting are sent first: the readers have ended.
    let spans_undelivered = tracer.map_or(0, |t| t.close(deadline));
    // The log sink last, so that the other sinks' reports reach it.
    let undelivered = sinks.close_all_but(deadline, Some(config.log_sink)) + spans_undelivered;
    let outcome = ended.map(|e| Outcome {
        code: e.code,
        events_lost: e.not_queued + undelivered,
    });
    let code = crate::exit::run(&outcome);
    tracing::info!(exit_code = code, "logmux exits with {code}");
    // The counts of what was lost and the exit code were queued just now,
    // often after the deadline: the log sink gets a grace of its own to
    // write them (a stuck one costs at most that).
    let last_words = deadline.max(std::time::Instant::now() + LAST_WORDS);
    sinks.close_one(last_words, config.log_sink);
    drop(runtime);
    outcome
}

/// The span builder and the traces twins of the OTLP sinks that send
/// traces; `None` when none does.
fn start_tracer(config: &RunConfig) -> Result<Option<Arc<crate::trace::Tracer>>, RunError> {
    crate::trace::Tracer::start(
        &config.sinks,
        &config.trace,
        &config.resource,
        crate::output::LocalZone::System,
    )
    .map_err(|e| {
        tracing::error!(sink = %e.name, "{e}");
        RunError::Sink {
            name: e.name,
            source: e.source,
        }
    })
}

/// Starts a thread for every sink something is routed to (nothing is
/// opened for the others); returns them and the routes to them, by index.
#[allow(clippy::type_complexity)]
fn open_sinks(config: &RunConfig) -> Result<(StartedSinks, Vec<SinkRoute>, Vec<bool>), RunError> {
    // Only the sinks something is routed to get a thread (and a file).
    let resource: Option<Arc<[(String, String)]>> =
        (!config.resource.is_empty()).then(|| config.resource.clone().into());
    let mut used = vec![false; config.sinks.len()];
    if let Some(u) = used.get_mut(config.log_sink) {
        *u = true;
    }
    for s in config.programs.iter().flat_map(|p| &p.streams) {
        for sink in s.sinks() {
            if let Some(u) = used.get_mut(sink) {
                *u = true;
            }
        }
    }
    let sinks = StartedSinks::start(&config.sinks, &used).map_err(|e| {
        tracing::error!(sink = %e.name, "{e}");
        RunError::Sink {
            name: e.name,
            source: e.source,
        }
    })?;
    let routes = config
        .sinks
        .iter()
        .enumerate()
        .filter_map(|(i, spec)| {
            Some(SinkRoute {
                name: spec.name.clone(),
                route: sinks.route(i)?,
                encoder: crate::output::Encoder {
                    resource: resource.clone(),
                    ..sink::encoder_for(spec)
                },
            })
        })
        .collect();
    Ok((sinks, routes, used))
}

/// From here on, logmux's own events go through its log sink, in order
/// with everything else written there.
fn route_diagnostics(sinks: &StartedSinks, log_sink: usize) {
    if let Some(log) = sinks.handles().get(log_sink) {
        let queue = Arc::clone(&log.queue);
        crate::diag::route_to(move |line| {
            let batch = Batch {
                bytes: line,
                events: 1,
                key: None,
            };
            // After the sinks have closed: the last words go to stderr.
            if let Err(batch) = queue.push_force(batch) {
                crate::diag::write_stderr(&batch.bytes);
            }
        });
    }
}

/// The supervisor loop, with the control socket if the config asks for one.
async fn supervise(
    config: Arc<RunConfig>,
    routes: Vec<SinkRoute>,
    metrics: Option<Arc<crate::metrics::Metrics>>,
    tracer: Option<Arc<crate::trace::Tracer>>,
) -> Result<Ended, RunError> {
    let (tx, rx) = tokio::sync::mpsc::channel(16);
    let mut extra_env = Vec::new();
    let shutdown = Shutdown::new();
    let mut control_server = None;
    let mut tails = None;
    if let Some(path) = &config.control_socket {
        match control::bind(path) {
            Ok(listener) => {
                let names = config.programs.iter().map(|p| p.name.as_str());
                let rings = Arc::new(ring::Rings::new(config.tail_buffer, names));
                tails = Some(Arc::clone(&rings));
                let serve = control::serve(listener, tx, rings, shutdown.clone(), metrics.clone());
                control_server = Some(tokio::spawn(serve));
                extra_env.push((control::SOCKET_ENV.to_string(), path.display().to_string()));
            }
            Err(e) => tracing::warn!(
                socket = %path.display(),
                "no control socket at {}: {e}; `logmux ctl` will not work",
                path.display()
            ),
        }
    }
    let mut supervisor = Supervisor::new(config, routes, extra_env)
        .with_metrics(metrics)
        .with_spans(tracer);
    if let Some(rings) = tails {
        supervisor = supervisor.with_tails(rings);
    }
    let ended = supervisor.run(rx).await;
    shutdown.trigger();
    if let Some(server) = control_server {
        // It waits on accept and this loop's answers, and gives followers
        // a moment to write the last events: it ends within a second.
        let _ = server.await;
    }
    match ended {
        Ok(ended) => Ok(ended),
        Err(e) => {
            tracing::error!("cannot handle signals: {e}");
            Err(RunError::Signals(e))
        }
    }
}

/// Renders every `[[template]]` whose `when` holds; on failure, reports one
/// line naming the file and variable.
fn render_templates(config: &RunConfig) -> Result<(), RunError> {
    for t in &config.templates {
        if let Some(when) = &t.when {
            if !template::condition_holds(when, &process_env) {
                continue;
            }
        }
        let text = std::fs::read_to_string(&t.source).map_err(|e| {
            tracing::error!(template = %t.source.display(), "{}:{}: template source {}: {e}", config.path.display(), t.line, t.source.display());
            RunError::TemplateSource {
                path: t.source.clone(),
                source: e,
            }
        })?;
        let rendered = template::render(&text, &process_env).map_err(|e| {
            let variable = e.kind.variable().unwrap_or("");
            tracing::error!(template = %t.source.display(), variable, "{}:{e}", t.source.display());
            RunError::TemplateRender {
                path: t.source.clone(),
                source: e,
            }
        })?;
        let mode = match t.mode {
            Some(mode) => mode,
            None => source_mode(&t.source),
        };
        write_atomically(&t.target, rendered.as_bytes(), mode).map_err(|e| {
            tracing::error!(target = %t.target.display(), "cannot write template target {}: {e}", t.target.display());
            RunError::TemplateTarget {
                path: t.target.clone(),
                source: e,
            }
        })?;
        tracing::info!(template = %t.source.display(), target = %t.target.display(), "rendered {} to {}", t.source.display(), t.target.display());
    }
    Ok(())
}

/// The source's permission bits: a secret kept 0600 stays 0600 rendered.
fn source_mode(source: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(source).map_or(0o600, |m| m.permissions().mode() & 0o7777)
}

/// Writes a file so that readers see the old or the new one, never half,
/// with permission bits `mode` from the start (never readable by more
/// people, even for a moment). The temporary file next to the target is
/// created with `O_EXCL` and `O_NOFOLLOW`, so a link planted at its name
/// is refused, not written through.
fn write_atomically(path: &Path, bytes: &[u8], mode: u32) -> std::io::Result<()> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    if let Some(dir) = path.parent() {
        if !dir.as_os_str().is_empty() {
            std::fs::create_dir_all(dir)?;
            crate::sink::warn_if_shared(dir);
        }
    }
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".logmux-tmp");
    // A stale one from a crash, or a planted link: removing takes the
    // link itself away, never its target.
    let _ = std::fs::remove_file(&tmp);
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .custom_flags(libc::O_NOFOLLOW)
        .mode(mode & 0o777)
        .open(&tmp)?;
    // The umask may have taken bits away; set exactly what was asked.
    file.set_permissions(std::fs::Permissions::from_mode(mode))?;
    file.write_all(bytes)?;
    drop(file);
    std::fs::rename(&tmp, path)
}
