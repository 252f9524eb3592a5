//! Program health: the active probes (`health = { http | exec, interval,
//! timeout, failures }`) and the shared board that `logmux ctl health`,
//! `ctl status` and the metrics' `/healthz` and `logmux_program_healthy`
//! read ([`HealthState`]).
//!
//! [`Probes::sync`] is called by the supervisor after each turn of its loop
//! with every program's state: a program that is `running` gets one probe
//! task for its pid (started again for a new pid), a program that is not
//! has none. A task tries its check, records the result, and sleeps until
//! the next interval: one try in flight per program, never the
//! supervisor's loop waiting on one. As Docker does, a program's health is
//! `starting` until a probe passes or `failures` fail in a row, then
//! `healthy` or `unhealthy`; one pass makes it healthy again.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use nix::unistd::Pid;
use tokio::task::JoinHandle;

use super::probe::{self, Target};
use crate::config::run::{Health, Kind, ProgramSpec};

/// A probed program's health.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// No probe has passed yet, and fewer than `failures` failed.
    Starting,
    Healthy,
    Unhealthy,
}

impl Status {
    pub fn name(self) -> &'static str {
        match self {
            Status::Starting => "starting",
            Status::Healthy => "healthy",
            Status::Unhealthy => "unhealthy",
        }
    }
}

/// One program on the board.
#[derive(Debug, Clone)]
struct Entry {
    name: String,
    /// A long-running program that is not disabled: it must be up.
    must_run: bool,
    /// Its supervisor state (`running`, `backoff`, …).
    state: &'static str,
    /// `Some` when it has a probe.
    probe: Option<ProbeStatus>,
}

#[derive(Debug, Clone)]
struct ProbeStatus {
    status: Status,
    /// Failures in a row.
    streak: u32,
    last_failure: Option<String>,
    /// Whether a probe task runs (the program is running).
    active: bool,
}

/// The board every reader shares; cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct HealthState(Arc<Mutex<Vec<Entry>>>);

impl HealthState {
    fn board(&self) -> MutexGuard<'_, Vec<Entry>> {
        // A panic elsewhere cannot make the board wrong: use it as it is.
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Healthy when every long-running program is up and every probed
    /// program is healthy; else the reasons, one per program.
    pub fn report(&self) -> (bool, Vec<String>) {
        let reasons: Vec<String> = self.board().iter().filter_map(reason).collect();
        (reasons.is_empty(), reasons)
    }

    /// Every program with a probe and whether it is healthy (for the
    /// `logmux_program_healthy` gauge).
    pub fn probed(&self) -> Vec<(String, bool)> {
        self.board()
            .iter()
            .filter_map(|e| {
                let p = e.probe.as_ref()?;
                Some((e.name.clone(), p.active && p.status == Status::Healthy))
            })
            .collect()
    }

    /// `healthy`, `unhealthy` or `starting` while its probe runs; `None`
    /// for a program without a probe or not running.
    pub fn word(&self, program: &str) -> Option<&'static str> {
        let board = self.board();
        let probe = board.iter().find(|e| e.name == program)?.probe.as_ref()?;
        probe.active.then(|| probe.status.name())
    }

    /// The answer to the control request `health`.
    pub fn answer_json(&self) -> String {
        let (healthy, reasons) = self.report();
        let programs: Vec<serde_json::Value> = self
            .board()
            .iter()
            .filter_map(|e| {
                let p = e.probe.as_ref()?;
                Some(serde_json::json!({
                    "name": e.name,
                    "health": p.active.then(|| p.status.name()),
                    "failures_in_a_row": p.streak,
                    "last_failure": p.last_failure,
                }))
            })
            .collect();
        serde_json::json!({
            "ok": true,
            "healthy": healthy,
            "reasons": reasons,
            "probes": programs,
        })
        .to_string()
    }

    /// A try's result for `program`; logs when its health changes.
    fn record(&self, program: &str, result: Result<(), String>, failures: u32) {
        let mut board = self.board();
        let Some(p) = board
            .iter_mut()
            .find(|e| e.name == program)
            .and_then(|e| e.probe.as_mut())
        else {
            return;
        };
        let before = p.status;
        match result {
            Ok(()) => {
                p.streak = 0;
                p.status = Status::Healthy;
            }
            Err(why) => {
                p.streak = p.streak.saturating_add(1);
                tracing::debug!(
                    program,
                    failures_in_a_row = p.streak,
                    "{program}: health probe failed: {why}"
                );
                if p.streak >= failures {
                    p.status = Status::Unhealthy;
                }
                p.last_failure = Some(why);
            }
        }
        let why = p.last_failure.as_deref().unwrap_or("");
        match (before, p.status) {
            (Status::Unhealthy, Status::Healthy) => {
                tracing::info!(program, health = "healthy", "{program} is healthy again")
            }
            (Status::Starting, Status::Healthy) => {
                tracing::info!(program, health = "healthy", "{program} is healthy")
            }
            (b, Status::Unhealthy) if b != Status::Unhealthy => {
                let streak = p.streak;
                tracing::warn!(
                    program,
                    health = "unhealthy",
                    failures_in_a_row = streak,
                    "{program} is unhealthy: {why} ({streak} failures in a row)"
                );
            }
            _ => {}
        }
    }
}

/// The probes' side of `/healthz`: a failing probe is a reason (a
/// program that is down is the program facts' reason already).
pub struct ProbeReasons(pub HealthState);

impl crate::metrics::HealthSource for ProbeReasons {
    fn reasons(&self, out: &mut Vec<String>) {
        out.extend(self.0.board().iter().filter_map(probe_reason));
    }
}

/// Why one program makes the whole unhealthy, if it does. An
/// `autostart = false` program not started yet (`stopped`) is not down.
fn reason(e: &Entry) -> Option<String> {
    let name = &e.name;
    if e.must_run && !matches!(e.state, "running" | "stopped") {
        return Some(format!("program {name} is down ({})", e.state));
    }
    probe_reason(e)
}

/// Why a running program's probe makes the whole unhealthy, if it does.
fn probe_reason(e: &Entry) -> Option<String> {
    let name = &e.name;
    let p = e.probe.as_ref().filter(|p| p.active)?;
    let why = p.last_failure.as_deref().unwrap_or("no probe has run yet");
    match p.status {
        Status::Healthy => None,
        Status::Unhealthy => Some(format!(
            "program {name} is unhealthy: {why} ({} failures in a row)",
            p.streak
        )),
        Status::Starting => Some(format!(
            "program {name}: no health probe has passed yet ({why})"
        )),
    }
}

/// One program as the supervisor sees it now.
pub struct ProgramView<'a> {
    pub spec: &'a ProgramSpec,
    /// Its state's name (`running`, `stopping`, …).
    pub state: &'static str,
    pub pid: Option<Pid>,
}

/// The probe tasks, one per running program that has a probe.
pub struct Probes {
    state: HealthState,
    /// Variables every program gets (the probes' commands too).
    extra_env: Vec<(String, String)>,
    tasks: BTreeMap<String, (Pid, JoinHandle<()>)>,
}

impl Probes {
    pub fn new(extra_env: Vec<(String, String)>) -> Probes {
        Probes {
            state: HealthState::default(),
            extra_env,
            tasks: BTreeMap::new(),
        }
    }

    /// The board, for the readers.
    pub fn state(&self) -> &HealthState {
        &self.state
    }

    /// Brings the board and the tasks in line with the programs.
    pub fn sync<'a>(&mut self, programs: impl Iterator<Item = ProgramView<'a>>) {
        let old = std::mem::take(&mut *self.state.board());
        let mut board = Vec::new();
        let mut seen = Vec::new();
        for view in programs {
            let spec = view.spec;
            let running = view.state == "running" && view.pid.is_some();
            let mut probe = spec.health.as_ref().map(|_| {
                old.iter()
                    .find(|e| e.name == spec.name)
                    .and_then(|e| e.probe.clone())
                    .unwrap_or(ProbeStatus {
                        status: Status::Starting,
                        streak: 0,
                        last_failure: None,
                        active: false,
                    })
            });
            if let (Some(p), Some(health), Some(pid)) = (probe.as_mut(), &spec.health, view.pid) {
                if running {
                    self.keep_running(spec, health, pid, p);
                    seen.push(spec.name.clone());
                }
            }
            board.push(Entry {
                name: spec.name.clone(),
                must_run: spec.kind == Kind::LongRunning && spec.enabled,
                state: view.state,
                probe,
            });
        }
        self.stop_all_but(&seen, &mut board);
        *self.state.board() = board;
    }

    /// Starts the task for this pid unless it runs already.
    fn keep_running(&mut self, spec: &ProgramSpec, health: &Health, pid: Pid, p: &mut ProbeStatus) {
        if self.tasks.get(&spec.name).is_some_and(|(at, _)| *at == pid) {
            return;
        }
        if let Some((_, old)) = self.tasks.remove(&spec.name) {
            old.abort();
        }
        *p = ProbeStatus {
            status: Status::Starting,
            streak: 0,
            last_failure: None,
            active: true,
        };
        let target = Target {
            spec: spec.clone(),
            extra_env: self.extra_env.clone(),
        };
        let task = tokio::spawn(probe_loop(health.clone(), target, self.state.clone()));
        self.tasks.insert(spec.name.clone(), (pid, task));
    }

    /// Stops the tasks of programs that no longer run (or are gone).
    fn stop_all_but(&mut self, running: &[String], board: &mut [Entry]) {
        self.tasks.retain(|name, (_, task)| {
            let keep = running.contains(name);
            if !keep {
                task.abort();
            }
            keep
        });
        for e in board.iter_mut() {
            if let Some(p) = e.probe.as_mut() {
                if !running.contains(&e.name) {
                    p.active = false;
                    p.status = Status::Starting;
                    p.streak = 0;
                }
            }
        }
    }
}

impl Drop for Probes {
    fn drop(&mut self) {
        for (_, task) in self.tasks.values() {
            task.abort();
        }
    }
}

/// Probes every `interval` (from the start of one try to the next) until
/// aborted: the first at once.
async fn probe_loop(health: Health, target: Target, state: HealthState) {
    let name = target.spec.name.clone();
    loop {
        let began = tokio::time::Instant::now();
        let result = probe::try_once(&health.check, &target, health.timeout).await;
        state.record(&name, result, health.failures);
        tokio::time::sleep_until(began + health.interval.max(Duration::from_millis(1))).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn board_with(state: &'static str, active: bool) -> HealthState {
        let s = HealthState::default();
        s.board().push(Entry {
            name: "nginx".into(),
            must_run: true,
            state,
            probe: Some(ProbeStatus {
                status: Status::Starting,
                streak: 0,
                last_failure: None,
                active,
            }),
        });
        s
    }

    #[test]
    fn unhealthy_at_the_nth_failure_in_a_row_and_healthy_at_one_pass() {
        let s = board_with("running", true);
        assert_eq!(
            s.report(),
            (
                false,
                vec!["program nginx: no health probe has passed yet (no probe has run yet)".into()]
            )
        );
        s.record("nginx", Err("answered 502".into()), 2);
        assert_eq!(s.word("nginx"), Some("starting"));
        s.record("nginx", Err("answered 502".into()), 2);
        assert_eq!(s.word("nginx"), Some("unhealthy"));
        assert_eq!(
            s.report(),
            (
                false,
                vec!["program nginx is unhealthy: answered 502 (2 failures in a row)".into()]
            )
        );
        assert_eq!(s.probed(), vec![("nginx".to_string(), false)]);
        s.record("nginx", Ok(()), 2);
        assert_eq!(s.report(), (true, vec![]));
        assert_eq!(s.probed(), vec![("nginx".to_string(), true)]);
    }

    #[test]
    fn a_program_that_is_down_is_the_reason_not_its_probe() {
        let s = board_with("backoff", false);
        assert_eq!(
            s.report(),
            (false, vec!["program nginx is down (backoff)".into()])
        );
        assert_eq!(s.word("nginx"), None);
        assert_eq!(s.probed(), vec![("nginx".to_string(), false)]);
    }
}
