//! `logmux run`'s metrics: the registry when the config has `[metrics]`
//! (or `--metrics-listen`), its sinks and programs, and the listener.
//!
//! The supervisor copies its programs' state into the program families
//! and the health facts after every turn of its loop ([`publish`]): a few
//! lookups per turn, never per line. The stream readers count their
//! lines and bytes, and their pipelines every event.

use std::net::SocketAddr;
use std::sync::Arc;

use super::health::HealthState;
use super::reap::Exit;
use super::supervisor::{Program, State};
use super::RunError;
use crate::config::run::{Kind, RunConfig};
use crate::metrics::{http, Metrics, ProgramFact, ProgramMetrics};
use crate::sink::StartedSinks;

/// The metrics of this run, or `None` when they are off; binds the
/// listener if one is asked for (a port in use is an error, as a sink
/// that cannot be opened is).
pub fn start(
    config: &RunConfig,
    sinks: &StartedSinks,
    used: &[bool],
    tracer: Option<&crate::trace::Tracer>,
) -> Result<Option<Arc<Metrics>>, RunError> {
    let Some(spec) = &config.metrics else {
        return Ok(None);
    };
    let metrics = Metrics::new(spec);
    let mut queues: Vec<_> = sinks
        .handles()
        .iter()
        .zip(used)
        .filter(|(_, used)| **used)
        .map(|(h, _)| (h.name.clone(), Arc::clone(&h.queue)))
        .collect();
    // The traces twins count as sinks of their own (`NAME.traces`).
    queues.extend(tracer.map(|t| t.queues()).unwrap_or_default());
    metrics.add_sinks(queues);
    if let Some(addr) = spec.listen {
        listen(addr, &metrics)?;
    }
    Ok(Some(metrics))
}

fn listen(addr: SocketAddr, metrics: &Arc<Metrics>) -> Result<(), RunError> {
    http::start(addr, Arc::clone(metrics)).map_err(|source| {
        tracing::error!(address = %addr, "metrics: cannot listen on {addr}: {source}");
        RunError::Metrics { addr, source }
    })?;
    Ok(())
}

/// Copies the programs' state, and their probes' verdicts, into the
/// metrics and health facts.
pub fn publish(programs: &[Program], probes: &HealthState, m: &ProgramMetrics) {
    let mut facts = Vec::with_capacity(programs.len());
    for p in programs {
        let name = p.spec.name.as_str();
        let up = p.pid.is_some() && p.state == State::Running;
        m.up.with(&[name]).set(i64::from(up));
        m.restarts.with(&[name]).set(u64::from(p.restarts));
        if let Some(exit) = p.last_exit {
            let code = match exit {
                Exit::Code(c) => i64::from(c),
                Exit::Signal(s) => -i64::from(s),
            };
            m.exit_code.with(&[name]).set(code);
        }
        facts.push(ProgramFact {
            name: name.to_string(),
            // Neither one kept out by `when` nor an `autostart = false`
            // one not started yet is meant to be up.
            long_running: p.spec.kind == Kind::LongRunning
                && !matches!(p.state, State::Disabled | State::Stopped),
            up,
            state: p.state.name(),
        });
    }
    m.facts.set(facts);
    for (name, healthy) in probes.probed() {
        m.healthy.with(&[&name]).set(i64::from(healthy));
    }
}
