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
//! (zombies and the last sweep), [`control`] (the `logmux ctl` socket).

pub mod child;
pub mod control;
pub mod reap;
pub mod stream;
pub mod supervisor;

use std::path::Path;
use std::sync::Arc;

use crate::config::run::{self as config, RunConfig, RunConfigError};
use crate::config::template;
use supervisor::{SinkRoute, Supervisor};

use crate::sink::{self, Batch, StartedSinks};

/// EX_CONFIG: a config error, a missing variable, a template that cannot be rendered.
const EX_CONFIG: u8 = 78;
/// EX_CANTCREAT: a sink or template target cannot be written.
const EX_CANTCREAT: u8 = 73;
/// EX_OSERR: the runtime could not start.
const EX_OSERR: u8 = 71;

fn process_env(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

/// Loads a config, reporting warnings as logmux events.
fn load(path: &Path) -> Result<RunConfig, RunConfigError> {
    config::load(path, &process_env, &mut |w| tracing::warn!("{w}"))
}

/// `logmux check`: validates a config; the exit code says how it went.
pub fn check(path: &Path) -> u8 {
    match load(path) {
        Ok(config) => {
            let enabled = config.programs.iter().filter(|p| p.enabled).count();
            println!(
                "{}: ok ({} programs, {} enabled here; {} sinks; {} templates)",
                path.display(),
                config.programs.len(),
                enabled,
                config.sinks.len(),
                config.templates.len()
            );
            0
        }
        Err(e) => report_config_error(&e),
    }
}

/// One logmux event per problem; returns the exit code.
fn report_config_error(e: &RunConfigError) -> u8 {
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
    e.exit_code()
}

/// `logmux run`: supervises the config's programs until they end or a
/// signal stops them; returns logmux's exit code.
pub fn run(path: Option<&Path>, command: Vec<String>) -> u8 {
    let loaded = match path {
        Some(path) => load(path),
        None => config::for_command(command, &process_env),
    };
    let config = match loaded {
        Ok(c) => c,
        Err(e) => return report_config_error(&e),
    };
    // Still one thread: setting the environment is safe here.
    for (k, v) in &config.env_defaults {
        if std::env::var_os(k).is_none_or(|v| v.is_empty()) {
            std::env::set_var(k, v);
        }
    }
    if let Err(code) = render_templates(&config) {
        return code;
    }
    reap::become_subreaper();

    // Only the sinks something is routed to get a thread (and a file).
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
    let mut sinks = match StartedSinks::start(&config.sinks, &used) {
        Ok(s) => s,
        Err(e) => {
            tracing::error!(sink = %e.name, "{e}");
            return EX_CANTCREAT;
        }
    };
    let routes = config
        .sinks
        .iter()
        .enumerate()
        .filter_map(|(i, spec)| {
            Some(SinkRoute {
                name: spec.name.clone(),
                route: sinks.route(i)?,
                encoder: sink::encoder_for(spec),
            })
        })
        .collect();
    // From here on, logmux's own events go through its log sink, in order
    // with everything else written there.
    if let Some(log) = sinks.handles().get(config.log_sink) {
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

    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            tracing::error!("cannot start the runtime: {e}");
            return EX_OSERR;
        }
    };
    let config = Arc::new(config);
    let drain_timeout = config.drain_timeout;
    let code = runtime.block_on(async {
        let (tx, rx) = tokio::sync::mpsc::channel(16);
        let mut extra_env = Vec::new();
        if let Some(path) = &config.control_socket {
            match control::bind(path) {
                Ok(listener) => {
                    tokio::spawn(control::serve(listener, tx));
                    extra_env.push((control::SOCKET_ENV.to_string(), path.display().to_string()));
                }
                Err(e) => tracing::warn!(
                    socket = %path.display(),
                    "no control socket at {}: {e}; `logmux ctl` will not work",
                    path.display()
                ),
            }
        }
        let supervisor = Supervisor::new(Arc::clone(&config), routes, extra_env);
        match supervisor.run(rx).await {
            Ok(code) => code,
            Err(e) => {
                tracing::error!("cannot handle signals: {e}");
                i32::from(EX_OSERR)
            }
        }
    });
    if let Some(path) = &config.control_socket {
        let _ = std::fs::remove_file(path);
    }
    tracing::info!(exit_code = code, "logmux exits with {code}");
    // The log sink last, so that the other sinks' reports reach it.
    sinks.close(drain_timeout, Some(config.log_sink));
    drop(runtime);
    u8::try_from(code.clamp(0, 255)).unwrap_or(1)
}

/// Renders every `[[template]]` whose `when` holds; on failure, reports one
/// line naming the file and variable, and returns the exit code.
fn render_templates(config: &RunConfig) -> Result<(), u8> {
    for t in &config.templates {
        if let Some(when) = &t.when {
            if !template::condition_holds(when, &process_env) {
                continue;
            }
        }
        let text = match std::fs::read_to_string(&t.source) {
            Ok(text) => text,
            Err(e) => {
                tracing::error!(template = %t.source.display(), "{}:{}: template source {}: {e}", config.path.display(), t.line, t.source.display());
                return Err(EX_CONFIG);
            }
        };
        let rendered = match template::render(&text, &process_env) {
            Ok(r) => r,
            Err(e) => {
                let variable = e.kind.variable().unwrap_or("");
                tracing::error!(template = %t.source.display(), variable, "{}:{e}", t.source.display());
                return Err(EX_CONFIG);
            }
        };
        if let Err(e) = write_atomically(&t.target, rendered.as_bytes()) {
            tracing::error!(target = %t.target.display(), "cannot write template target {}: {e}", t.target.display());
            return Err(EX_CANTCREAT);
        }
        tracing::info!(template = %t.source.display(), target = %t.target.display(), "rendered {} to {}", t.source.display(), t.target.display());
    }
    Ok(())
}

/// Writes a file so that readers see the old or the new one, never half.
fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        if !dir.as_os_str().is_empty() {
            std::fs::create_dir_all(dir)?;
        }
    }
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".logmux-tmp");
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(&tmp, path)
}
