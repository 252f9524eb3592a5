//! The supervisor: one event loop that owns every program's life.
//!
//! It reacts to five things: a signal to logmux, a child's exit (SIGCHLD,
//! then `waitpid`), a control request, a timer (backoff over, stop timeout,
//! readiness probe, a scheduled run), and nothing else. After each, one pass
//! of [`Supervisor::advance`] moves every program on as far as it can at
//! this instant. Keeping all decisions in that one pass makes the order of
//! events irrelevant: the same state and time always lead to the same step.
//!
//! The phases: `once` programs run one after another; then the long-running
//! programs start in dependency order (each after its dependencies are
//! ready) and `every` programs are scheduled; on a stop, programs are stopped
//! in reverse dependency order (each once nothing that depends on it is
//! still running); then a last sweep kills leftovers, and the streams drain.
//!
//! The way out has one budget, `drain_timeout`, from the moment the
//! programs have ended: the streams drain within it, and the sinks flush in
//! what is left of it (`run/mod.rs`). At the deadline the readers give up
//! and count every event no sink took; nothing leaves uncounted.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;
use nix::unistd::Pid;
use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinSet;

mod commands;
mod reload;

use super::child::{self, Spawned};
use super::health::{HealthState, Probes, ProgramView};
use super::ready;
use super::reap::{self, Exit};
use super::stream::{ExitCounts, FormatRoute, Route, StreamReader};
use crate::config::run::{AutoRestart, Hup, Kind, OnExit, ProgramSpec, RunConfig};
use crate::engine::Settings;
use crate::event::{IoStream, Origin};
use crate::metrics::{Metrics, ProgramMetrics};
use crate::output::Encoder;
use crate::trace::infer::{JoinMode, Joiner};

/// The longest wait between two tries of a failing program.
const MAX_BACKOFF: Duration = Duration::from_secs(60);
/// How often a `ready` probe is tried.
const PROBE_EVERY: Duration = Duration::from_millis(100);
/// After the deadline, how long the readers get to count what they hold
/// (they wait for nothing by then: this is a bound, not a pause).
const GIVE_UP_GRACE: Duration = Duration::from_millis(500);

/// How the supervisor ended.
#[derive(Debug, Clone, Copy)]
pub struct Ended {
    /// logmux's exit code, as the programs decided it.
    pub code: i32,
    /// The end of the shutdown budget: the sinks flush until then.
    pub deadline: Instant,
    /// Events read from the programs (or still in their pipes) that no sink
    /// took before the deadline.
    pub not_queued: u64,
}

/// Where a program is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// Not started yet (waiting for its turn or its dependencies).
    Waiting,
    /// `when` or `unless_exists` kept it out of this run.
    Disabled,
    /// Started; not yet up for `startsecs` or not yet ready.
    Starting,
    Running,
    /// Waiting to be started again after a failure.
    Backoff,
    /// Sent its stop signal; waiting for it to exit.
    Stopping,
    /// Ended and will not be started again by itself.
    Exited,
    /// Failed to start `startretries` times in a row.
    Fatal,
    /// An `every` program between two runs.
    Scheduled,
    /// `autostart = false`: waits for `logmux ctl start`.
    Stopped,
}

impl State {
    pub fn name(self) -> &'static str {
        match self {
            State::Waiting => "waiting",
            State::Disabled => "disabled",
            State::Starting => "starting",
            State::Running => "running",
            State::Backoff => "backoff",
            State::Stopping => "stopping",
            State::Exited => "exited",
            State::Fatal => "fatal",
            State::Scheduled => "scheduled",
            State::Stopped => "stopped",
        }
    }
}

/// One program and its current run.
pub struct Program {
    pub spec: ProgramSpec,
    pub state: State,
    pub pid: Option<Pid>,
    /// When the current run started.
    pub started: Option<Instant>,
    /// Quick failures in a row.
    pub retries: u32,
    /// Restarts since logmux started.
    pub restarts: u32,
    /// Its `ready` probe succeeded (or it has none) in this run.
    pub ready: bool,
    pub last_exit: Option<Exit>,
    /// Stopped by `logmux ctl stop`: stays down until `start`.
    pub held: bool,
    /// `logmux ctl restart`: start again once it has stopped.
    restart_after_stop: bool,
    /// The time a timer of this program fires: backoff end, stop timeout,
    /// next probe, next scheduled run.
    timer: Option<Instant>,
    /// SIGKILL was needed to stop it.
    killed: bool,
    /// A `once` program that exited successfully.
    done: bool,
    /// Warned that a dependency ended for good (said once per wait).
    told_blocked: bool,
    /// This run's readiness (see `ready.rs`).
    ready_watch: Option<ready::Watch>,
}

impl Program {
    fn new(spec: ProgramSpec) -> Program {
        let state = match (spec.enabled, spec.autostart) {
            (false, _) => State::Disabled,
            (true, true) => State::Waiting,
            (true, false) => State::Stopped,
        };
        Program {
            spec,
            state,
            pid: None,
            started: None,
            retries: 0,
            restarts: 0,
            ready: false,
            last_exit: None,
            held: state == State::Stopped,
            restart_after_stop: false,
            timer: None,
            killed: false,
            done: false,
            told_blocked: false,
            ready_watch: None,
        }
    }

    fn alive(&self) -> bool {
        self.pid.is_some()
    }

    fn name(&self) -> &str {
        &self.spec.name
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Running the `once` programs, in order.
    Once,
    Running,
    /// Stopping everything; `Done` when nothing is left.
    Stopping,
    Done,
}

/// A control request and where to send the answer.
pub struct ControlRequest {
    pub command: ControlCommand,
    pub reply: oneshot::Sender<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ControlCommand {
    Status,
    Start(String),
    Stop(String),
    Restart(String),
    Signal(String, Signal),
    /// Read the config again and apply what changed (`reload.rs`).
    Reload,
    /// Healthy or not, and why (see `health.rs`).
    Health,
}

/// Everything a stream needs to reach its sink.
pub struct SinkRoute {
    pub name: String,
    pub route: Route,
    pub encoder: Encoder,
}

pub struct Supervisor {
    config: Arc<RunConfig>,
    pub programs: Vec<Program>,
    sinks: Vec<SinkRoute>,
    /// Variables set for every program.
    extra_env: Vec<(String, String)>,
    phase: Phase,
    readers: JoinSet<u64>,
    /// The readers' give-up signal and counts at exit.
    exit: ExitCounts,
    /// Process groups of runs that may still have members, for the last sweep.
    groups: std::collections::BTreeSet<Pid>,
    /// Decided by an `on_exit = "shutdown"` program or a failed `once`.
    exit_code: Option<i32>,
    /// The first program that did not stop cleanly when asked to.
    first_unclean: Option<i32>,
    /// The first non-zero end, for a natural end.
    first_failure: Option<i32>,
    /// Why logmux is stopping: it decides the exit code.
    stop_reason: Option<StopReason>,
    /// The health probes and the board they write.
    probes: Probes,
    /// The programs' tail rings (`logmux ctl tail`), if on.
    tails: Option<Arc<super::ring::Rings>>,
    /// With `[metrics]`: the registry, and its program families.
    metrics: Option<(Arc<Metrics>, ProgramMetrics)>,
    /// `[trace] join = "infer"`: one join table for every program's lines.
    join: Option<Arc<Joiner>>,
    /// The span builder, when a sink sends traces.
    spans: Option<Arc<crate::trace::Tracer>>,
    /// Start-up is over and its code was paged out ([`Supervisor::after_start_up`]).
    started_up: bool,
    /// Threads that parse half of a busy stream's large reads (`threads`).
    helpers: Option<Arc<super::helpers::Helpers>>,
}

/// Why everything is being stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum StopReason {
    /// TERM, INT or QUIT from outside.
    Signal,
    /// A program's `on_exit = "shutdown"`, or a failed `once` program.
    Program,
    /// Every program ended and none will restart.
    NaturalEnd,
}

impl Supervisor {
    pub fn new(
        config: Arc<RunConfig>,
        sinks: Vec<SinkRoute>,
        extra_env: Vec<(String, String)>,
    ) -> Supervisor {
        let programs = config.programs.iter().cloned().map(Program::new).collect();
        let probes = Probes::new(extra_env.clone());
        let join = (config.trace_join == JoinMode::Infer)
            .then(|| Arc::new(Joiner::from_spec(&config.trace)));
        let helpers = super::helpers::Helpers::new(config.threads.saturating_sub(1));
        Supervisor {
            probes,
            config,
            programs,
            sinks,
            extra_env,
            phase: Phase::Once,
            readers: JoinSet::new(),
            exit: ExitCounts::default(),
            groups: std::collections::BTreeSet::new(),
            exit_code: None,
            first_unclean: None,
            first_failure: None,
            stop_reason: None,
            tails: None,
            metrics: None,
            join,
            spans: None,
            started_up: false,
            helpers,
        }
    }

    /// The health board, for `/healthz` and the metrics.
    pub fn health_state(&self) -> HealthState {
        self.probes.state().clone()
    }

    /// The health board and probes follow the programs' states.
    fn sync_probes(&mut self) {
        let views = self.programs.iter().map(|p| ProgramView {
            spec: &p.spec,
            state: p.state.name(),
            pid: p.pid,
        });
        self.probes.sync(views);
    }

    /// Every program's events also go to its ring in `tails`.
    pub fn with_tails(mut self, tails: Arc<super::ring::Rings>) -> Supervisor {
        self.tails = Some(tails);
        self
    }

    /// Every stream's events are shown to the span builder `spans`.
    pub fn with_spans(mut self, spans: Option<Arc<crate::trace::Tracer>>) -> Supervisor {
        self.spans = spans;
        self
    }

    /// Counts into `metrics` (the programs, and every stream's lines and
    /// events) when metrics are on.
    pub fn with_metrics(mut self, metrics: Option<Arc<Metrics>>) -> Supervisor {
        self.metrics = metrics.map(|m| {
            let programs = m.add_programs();
            // /healthz also says which probes fail (the programs that are
            // down come from the program facts).
            m.health.add(Arc::new(super::health::ProbeReasons(
                self.probes.state().clone(),
            )));
            (m, programs)
        });
        self
    }

    /// Runs until every program has ended and every stream is drained
    /// (or the shutdown deadline passed); returns how it ended.
    pub async fn run(
        mut self,
        mut control: mpsc::Receiver<ControlRequest>,
    ) -> std::io::Result<Ended> {
        let mut term = signal(SignalKind::terminate())?;
        let mut int = signal(SignalKind::interrupt())?;
        let mut quit = signal(SignalKind::quit())?;
        let mut hup = signal(SignalKind::hangup())?;
        let mut usr1 = signal(SignalKind::user_defined1())?;
        let mut chld = signal(SignalKind::child())?;
        let mut report = tokio::time::interval(self.config.drop_report);
        report.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut dropped_seen = vec![0u64; self.sinks.len()];

        self.advance(Instant::now());
        self.sync_probes();
        self.publish();
        while self.phase != Phase::Done {
            let wake = self
                .next_timer()
                .map(tokio::time::Instant::from_std)
                .unwrap_or_else(|| tokio::time::Instant::now() + Duration::from_secs(3600));
            tokio::select! {
                _ = term.recv() => self.stop_all("SIGTERM"),
                _ = int.recv() => self.stop_all("SIGINT"),
                _ = quit.recv() => self.stop_all("SIGQUIT"),
                _ = hup.recv() => self.on_hup(),
                _ = usr1.recv() => {
                    tracing::info!("SIGUSR1: reopening file sinks");
                    for s in &self.sinks {
                        s.route.queue.request_reopen();
                    }
                }
                _ = chld.recv() => {}
                Some(req) = control.recv() => {
                    let answer = self.on_control(req.command);
                    let _ = req.reply.send(answer);
                }
                _ = report.tick() => report_drops(&self.sinks, &mut dropped_seen),
                // Streams of ended runs: collect them so they do not pile up.
                Some(_) = self.readers.join_next(), if !self.readers.is_empty() => {}
                _ = tokio::time::sleep_until(wake) => {}
            }
            // Reap on every turn: a SIGCHLD can be merged with another.
            for (pid, exit) in reap::reap_all() {
                self.on_reaped(pid, exit);
            }
            self.advance(Instant::now());
            self.sync_probes();
            self.publish();
            self.after_start_up();
        }
        self.sync_probes();

        // Everything the programs left behind, then the streams' last lines.
        let groups: Vec<Pid> = self.groups.iter().copied().collect();
        for (pid, exit) in reap::sweep(&groups).await {
            self.on_reaped(pid, exit);
        }
        // One budget for the rest of the way out: reading the pipes to
        // their end here, and flushing the sinks after (see run/mod.rs).
        let deadline = Instant::now() + self.config.drain_timeout;
        let not_queued = self.drain(deadline).await;
        report_drops(&self.sinks, &mut dropped_seen);
        Ok(Ended {
            code: self.final_code(),
            deadline,
            not_queued,
        })
    }

    /// Once every program that starts by itself has started (none waits for
    /// its turn or is still starting): gives back the code pages start-up
    /// read, which an idle supervisor does not run (`sys::code_pages`;
    /// idle RSS 5.3 MB before). Once a run.
    fn after_start_up(&mut self) {
        let starting = |p: &Program| matches!(p.state, State::Waiting | State::Starting) && !p.held;
        if self.started_up || self.phase != Phase::Running || self.programs.iter().any(starting) {
            return;
        }
        self.started_up = true;
        match crate::sys::code_pages::page_out_code() {
            Ok(bytes) => tracing::debug!(bytes, "start-up over: its code paged out"),
            // Before Linux 5.4, or refused: the pages stay, nothing else changes.
            Err(e) => tracing::debug!("start-up over; code not paged out: {e}"),
        }
    }

    /// Copies the programs' state into the metrics, when they are on.
    fn publish(&self) {
        if let Some((_, m)) = &self.metrics {
            super::metrics::publish(&self.programs, self.probes.state(), m);
        }
    }

    fn final_code(&self) -> i32 {
        if let Some(code) = self.exit_code {
            return code;
        }
        match self.stop_reason {
            // Stopped from outside: 0 if every program stopped cleanly.
            Some(StopReason::Signal) => self.first_unclean.unwrap_or(0),
            _ => self.first_failure.unwrap_or(0),
        }
    }

    /// Waits for every stream to reach its end, until `deadline`; then
    /// tells the readers to give up and count what they could not queue.
    /// Returns the events no sink took (read, or still in a pipe).
    async fn drain(&mut self, deadline: Instant) -> u64 {
        let all = async { while self.readers.join_next().await.is_some() {} };
        let deadline = tokio::time::Instant::from_std(deadline);
        if tokio::time::timeout_at(deadline, all).await.is_ok() {
            return 0;
        }
        self.exit.give_up.trigger();
        let rest = async { while self.readers.join_next().await.is_some() {} };
        if tokio::time::timeout(GIVE_UP_GRACE, rest).await.is_err() {
            self.readers.abort_all();
        }
        let timeout = self.config.drain_timeout;
        let held = self.exit.held_open.load(Ordering::Relaxed);
        if held > 0 {
            tracing::warn!(
                streams = held,
                "{held} stream(s) still open {timeout:?} after the programs ended (a process other than the program kept the pipe); what they write later is not read"
            );
        }
        let not_queued = self.exit.not_queued.load(Ordering::Relaxed);
        if not_queued > 0 {
            tracing::error!(
                not_queued,
                "{not_queued} events were lost at exit: the sinks did not take them within drain_timeout ({timeout:?}); they were read from the programs' pipes but never queued"
            );
        }
        not_queued
    }

    /// The earliest program timer.
    fn next_timer(&self) -> Option<Instant> {
        self.programs.iter().filter_map(|p| p.timer).min()
    }

    // ------------------------------------------------------------ events

    fn on_reaped(&mut self, pid: Pid, exit: Exit) {
        match self.programs.iter().position(|p| p.pid == Some(pid)) {
            Some(i) => self.ended(i, pid, exit),
            None if super::probe::claim(pid, exit) => {}
            None => tracing::debug!(pid = pid.as_raw(), "reaped orphan {pid} ({exit})"),
        }
    }

    /// Program `i` ended after it was asked to stop, or while logmux stops.
    fn ended_when_asked(&mut self, i: usize, exit: Exit, expected: bool, stopping: bool) {
        let code = exit.code();
        let p = &mut self.programs[i];
        // Asked to stop: its stop signal, or a success code, is clean.
        let clean = !p.killed && (expected || exit == Exit::Signal(p.spec.stopsignal as i32));
        if !clean && self.first_unclean.is_none() {
            self.first_unclean = Some(code);
        }
        if p.spec.oneoff {
            // A job cut short is not a success: its code, as tini's.
            self.exit_code = Some(code);
        }
        p.state = State::Exited;
        if p.restart_after_stop && !stopping {
            p.restart_after_stop = false;
            p.held = false;
            p.retries = 0;
            p.state = State::Waiting;
        }
    }

    /// Program `i` (pid `pid`) ended: decide what comes next for it.
    fn ended(&mut self, i: usize, pid: Pid, exit: Exit) {
        let now = Instant::now();
        let stopping = self.phase == Phase::Stopping;
        let p = &mut self.programs[i];
        let ran = p.started.map_or(Duration::ZERO, |s| now.duration_since(s));
        p.pid = None;
        let was_ready = p.ready;
        p.ready = false;
        p.ready_watch = None;
        p.last_exit = Some(exit);
        p.timer = None;
        let expected = match exit {
            Exit::Code(c) => p.spec.exitcodes.contains(&c),
            Exit::Signal(_) => false,
        };
        let name = p.spec.name.clone();
        let code = exit.code();
        let ran_ms = u64::try_from(ran.as_millis()).unwrap_or(u64::MAX);
        if pid.as_raw() == 0 {
            // It never ran: "cannot start" has been reported already.
        } else if expected {
            tracing::info!(program = %name, pid = pid.as_raw(), exit_code = code, ran_ms, "{name} exited: {exit}");
        } else {
            tracing::warn!(program = %name, pid = pid.as_raw(), exit_code = code, ran_ms, "{name} exited: {exit}");
        }

        if p.state == State::Stopping || stopping {
            self.ended_when_asked(i, exit, expected, stopping);
            return;
        }
        // `on_exit = "ignore"`: its end changes nothing, not even the exit code.
        if !expected && self.first_failure.is_none() && p.spec.on_exit != OnExit::Ignore {
            self.first_failure = Some(code);
        }
        match p.spec.kind {
            Kind::Once => {
                p.state = State::Exited;
                if expected {
                    p.done = true;
                } else {
                    tracing::error!(program = %name, exit_code = code, "start-up failed: the once program {name} ended with {exit}; see its output above");
                    self.shutdown(format!("{name} failed"), code);
                }
            }
            Kind::Every(period) => {
                p.state = State::Scheduled;
                p.timer = p
                    .started
                    .map(|s| s + period)
                    .filter(|t| *t > now)
                    .or(Some(now + period));
            }
            Kind::LongRunning => {
                // Ending before `startsecs` is a failed start, unless it
                // ended with a success code (a short job is not a failure).
                // A program never ready (killed at its ready timeout) failed
                // to start too, however long it ran.
                let never_ready = p.spec.ready.is_some() && !was_ready;
                // `autorestart = "never"` means no second try of any kind.
                let quick = p.state == State::Starting
                    && !expected
                    && (ran < p.spec.startsecs || never_ready)
                    && p.spec.autorestart != AutoRestart::Never;
                if p.spec.on_exit == OnExit::Ignore {
                    p.state = State::Exited;
                    return;
                }
                if quick {
                    p.retries += 1;
                    if p.retries > p.spec.startretries {
                        p.state = State::Fatal;
                        tracing::error!(program = %name, retries = p.retries - 1, "{name} gave up: it failed to start {} times in a row", p.retries);
                        if p.spec.on_exit == OnExit::Shutdown {
                            self.shutdown(
                                format!("{name} gave up and its on_exit is shutdown"),
                                code,
                            );
                        }
                        return;
                    }
                    let delay = backoff(p.spec.backoff, p.retries);
                    p.state = State::Backoff;
                    p.timer = Some(now + delay);
                    let delay_ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX);
                    tracing::warn!(program = %name, attempt = p.retries, delay_ms, "{name} failed to start; trying again in {delay:?}");
                    return;
                }
                p.retries = 0;
                let restart = match p.spec.autorestart {
                    AutoRestart::Always => true,
                    AutoRestart::OnFailure => !expected,
                    AutoRestart::Never => false,
                };
                if restart && !p.held {
                    p.state = State::Backoff;
                    p.timer = Some(now);
                } else {
                    p.state = State::Exited;
                    if p.spec.on_exit == OnExit::Shutdown {
                        self.shutdown(format!("{name} ended and its on_exit is shutdown"), code);
                    }
                }
            }
        }
    }

    fn on_hup(&mut self) {
        let now = Instant::now();
        for i in 0..self.programs.len() {
            let p = &mut self.programs[i];
            let Some(pid) = p.pid else { continue };
            match p.spec.sighup {
                Hup::Forward => {
                    tracing::info!(program = %p.spec.name, "forwarding SIGHUP to {}", p.spec.name);
                    let _ = reap::signal(pid, Signal::SIGHUP, false);
                }
                Hup::Restart => {
                    p.restart_after_stop = true;
                    self.stop_one(i, now);
                }
                Hup::Ignore => {}
            }
        }
    }

    /// SIGTERM, SIGINT, SIGQUIT: stop everything and exit.
    fn stop_all(&mut self, why: &str) {
        if self.phase == Phase::Stopping {
            // A second signal (Ctrl-C twice): do not wait for stopwaitsecs.
            tracing::warn!(
                signal = why,
                "{why} again while stopping: killing what is left now"
            );
            for i in 0..self.programs.len() {
                if self.programs[i].alive() {
                    self.kill_one(i, false);
                }
            }
            return;
        }
        tracing::info!(signal = why, "{why}: stopping all programs");
        self.stop_reason = Some(StopReason::Signal);
        self.phase = Phase::Stopping;
    }

    /// A program decided the container's end (`on_exit = "shutdown"`, or a
    /// failed `once`): stop everything and exit with `code`.
    fn shutdown(&mut self, why: String, code: i32) {
        if self.exit_code.is_none() && self.stop_reason.is_none() {
            self.exit_code = Some(code);
        }
        if self.phase != Phase::Stopping {
            tracing::info!(
                exit_code = code,
                "{why}: stopping all programs; logmux will exit with {code}"
            );
            self.stop_reason = Some(StopReason::Program);
            self.phase = Phase::Stopping;
        }
    }

    // ----------------------------------------------------------- advance

    /// Moves every program on as far as it can go at `now`.
    fn advance(&mut self, now: Instant) {
        self.tidy(now);
        match self.phase {
            Phase::Once => self.advance_once(now),
            Phase::Running => self.advance_running(now),
            Phase::Stopping => self.advance_stopping(now),
            Phase::Done => {}
        }
    }

    fn advance_once(&mut self, now: Instant) {
        for i in 0..self.programs.len() {
            let p = &self.programs[i];
            if p.spec.kind != Kind::Once
                || matches!(p.state, State::Disabled | State::Stopped)
                || p.done
            {
                continue;
            }
            if p.state == State::Waiting {
                self.start(i, now);
                // A program that could not even start has failed start-up.
                if self.phase != Phase::Once {
                    return;
                }
            }
            if self.programs[i].state != State::Exited || !self.programs[i].done {
                return; // Still running: one at a time.
            }
        }
        self.phase = Phase::Running;
        for p in &mut self.programs {
            if let (Kind::Every(period), State::Waiting) = (p.spec.kind, p.state) {
                p.state = State::Scheduled;
                p.timer = Some(now + period);
            }
        }
        self.advance_running(now);
    }

    fn advance_running(&mut self, now: Instant) {
        for i in 0..self.programs.len() {
            let kind = self.programs[i].spec.kind;
            let state = self.programs[i].state;
            match (kind, state) {
                (Kind::LongRunning, State::Waiting) => {
                    let deps_ready = self.programs[i].spec.depends_on.iter().all(|&d| {
                        let dep = &self.programs[d];
                        // A `once` dependency counts once it has succeeded.
                        // Not started with the others: it holds nobody up.
                        dep.ready
                            || dep.done
                            || matches!(dep.state, State::Disabled | State::Stopped)
                    });
                    if deps_ready && !self.programs[i].held {
                        self.start(i, now);
                    } else if !self.programs[i].told_blocked {
                        // Say once when a dependency will not come back by itself.
                        let gone = self.programs[i].spec.depends_on.iter().find(|&&d| {
                            matches!(self.programs[d].state, State::Fatal | State::Exited)
                                && !self.programs[d].done
                        });
                        if let Some(&d) = gone {
                            let (name, dep) =
                                (&self.programs[i].spec.name, &self.programs[d].spec.name);
                            tracing::warn!(program = %name, dependency = %dep, "{name} waits for {dep}, which has ended and will not restart by itself (logmux ctl start {dep})");
                            self.programs[i].told_blocked = true;
                        }
                    }
                }
                (Kind::LongRunning, State::Backoff) | (Kind::Every(_), State::Scheduled) => {
                    let p = &self.programs[i];
                    if p.timer.is_some_and(|t| t <= now) && !p.held {
                        self.programs[i].restarts += u32::from(kind == Kind::LongRunning);
                        self.start(i, now);
                    }
                }
                (Kind::LongRunning, State::Starting) => self.check_started(i, now),
                _ => {}
            }
        }
        let ended = self.programs.iter().all(|p| match p.spec.kind {
            Kind::Once => true,
            Kind::Every(_) => p.state == State::Disabled,
            Kind::LongRunning => matches!(p.state, State::Exited | State::Fatal | State::Disabled),
        });
        let held = self.programs.iter().any(|p| p.held);
        if ended && !held && self.phase == Phase::Running {
            tracing::info!("every program has ended and none will restart: exiting");
            self.stop_reason = Some(StopReason::NaturalEnd);
            self.phase = Phase::Stopping;
            self.advance_stopping(now);
        }
    }

    /// Starting → Running once up for `startsecs` and ready.
    fn check_started(&mut self, i: usize, now: Instant) {
        let p = &mut self.programs[i];
        let Some(started) = p.started else { return };
        if p.killed {
            // Killed at its ready timeout; waiting to reap it. Its pipes can
            // close (and wake the loop) before it can be reaped: no second
            // report or kill.
            return;
        }
        if !p.ready {
            if let Some(ready) = &p.spec.ready {
                if p.ready_watch.as_ref().is_some_and(ready::Watch::is_ready) {
                    p.ready = true;
                    let waited_ms =
                        u64::try_from(now.duration_since(started).as_millis()).unwrap_or(0);
                    tracing::info!(program = %p.spec.name, waited_ms, "{} is ready", p.spec.name);
                } else if now.duration_since(started) >= ready.timeout {
                    let why = p.ready_watch.as_ref().and_then(ready::Watch::last_failure);
                    let why = why.map_or(String::new(), |w| format!(" (last try: {w})"));
                    tracing::error!(program = %p.spec.name, "{} was not ready after {:?}{why}: killing it", p.spec.name, ready.timeout);
                    if let Some(pid) = p.pid {
                        let _ = reap::signal(pid, Signal::SIGKILL, true);
                    }
                    p.killed = true;
                    p.timer = None;
                    return;
                }
            }
        }
        let up_for = started + p.spec.startsecs;
        if p.ready && now >= up_for {
            p.state = State::Running;
            p.retries = 0;
            p.timer = None;
        } else if !p.ready {
            p.timer = Some(now + PROBE_EVERY);
        } else {
            p.timer = Some(up_for);
        }
        if self.programs[i].ready {
            // A dependency may now let others start.
            for j in 0..self.programs.len() {
                if j != i
                    && self.programs[j].state == State::Waiting
                    && self.programs[j].spec.depends_on.contains(&i)
                {
                    self.programs[j].timer = Some(now);
                }
            }
        }
    }

    fn advance_stopping(&mut self, now: Instant) {
        // Reverse start order: dependents stop before what they depend on.
        for i in (0..self.programs.len()).rev() {
            let p = &self.programs[i];
            match p.state {
                State::Starting | State::Running => {
                    let dependents_alive = self
                        .programs
                        .iter()
                        .any(|q| q.alive() && q.spec.depends_on.contains(&i));
                    if !dependents_alive {
                        self.stop_one(i, now);
                    }
                }
                State::Stopping if p.timer.is_some_and(|t| t <= now) && !p.killed => {
                    self.kill_one(i, true);
                }
                State::Waiting | State::Backoff | State::Scheduled if !p.alive() => {
                    self.programs[i].state = State::Exited;
                    self.programs[i].timer = None;
                }
                _ => {}
            }
        }
        if self.programs.iter().all(|p| !p.alive()) {
            self.phase = Phase::Done;
        }
    }

    // ------------------------------------------------------------ actions

    /// Starts program `i` and its stream readers.
    fn start(&mut self, i: usize, now: Instant) {
        let prepared = ready::prepare(&self.programs[i].spec);
        let result = child::spawn_with(&self.programs[i].spec, &self.extra_env, &prepared.extras);
        let p = &mut self.programs[i];
        let name = p.spec.name.clone();
        match result {
            Ok(Spawned {
                pid,
                stdout,
                stderr,
            }) => {
                p.pid = Some(pid);
                p.told_blocked = false;
                p.started = Some(now);
                p.state = State::Starting;
                p.killed = false;
                p.ready = p.spec.ready.is_none();
                p.ready_watch = Some(prepared.watch(&p.spec, pid, &self.extra_env));
                // Only a long-running program is checked while it starts
                // (startsecs, ready); a timer left in the past by a `once`
                // or `every` run would make the loop spin until it ends.
                p.timer = (p.spec.kind == Kind::LongRunning).then_some(now);
                tracing::info!(program = %name, pid = pid.as_raw(), command = %p.spec.command.join(" "), "spawned {name} (pid {pid})");
                if p.spec.kind != Kind::LongRunning {
                    p.ready = true;
                }
                for (which, fd) in [(IoStream::Stdout, stdout), (IoStream::Stderr, stderr)] {
                    let reader = self.reader(i, which, pid);
                    self.readers.spawn(reader.run(fd));
                }
            }
            Err(e) => {
                tracing::error!(program = %name, error = %e, "cannot start {name}: {e}");
                // As if it had exited at once with 127, as a shell says
                // for a command it cannot run: the same retries and backoff.
                p.state = State::Starting;
                p.started = Some(now);
                self.ended(i, Pid::from_raw(0), Exit::Code(127));
            }
        }
    }

    fn reader(&self, i: usize, which: IoStream, pid: Pid) -> StreamReader {
        let spec = &self.programs[i].spec;
        let stream = spec.stream(which);
        let sink = &self.sinks[stream.sink];
        let routes = stream
            .routes
            .iter()
            .filter_map(|&(format, to)| {
                let s = self.sinks.get(to)?;
                Some(FormatRoute {
                    format,
                    sink: to,
                    encoder: s.encoder.clone(),
                    route: s.route.clone(),
                })
            })
            .collect();
        // A copy to a `null` sink (a `when` that does not hold) is not encoded.
        let copies = stream
            .copies
            .iter()
            .filter(|&&to| {
                self.config
                    .sinks
                    .get(to)
                    .is_some_and(|s| !matches!(s.kind, crate::sink::spec::SinkKind::Null))
            })
            .filter_map(|&to| self.sinks.get(to))
            .map(|s| (s.encoder.clone(), s.route.clone()))
            .collect();
        StreamReader {
            program: spec.name.clone(),
            origin: Origin {
                service: Some(spec.service_name.clone()),
                iostream: Some(which),
                pid: u32::try_from(pid.as_raw()).ok(),
                ..Origin::default()
            },
            settings: Settings {
                forced: stream.format,
                nginx_format: spec.nginx_log_format.clone(),
                uwsgi_logdate: spec.uwsgi_logdate.clone(),
                uwsgi_format: spec.uwsgi_log_format.clone(),
                encoder: sink.encoder.clone(),
            },
            max_line: self.config.max_line_bytes,
            idle_flush: self.config.idle_flush,
            sink: stream.sink,
            route: sink.route.clone(),
            routes,
            copies,
            merge: spec.merge,
            exit: self.exit.clone(),
            tail: self.tails.as_ref().and_then(|t| t.ring(&spec.name)),
            metrics: self.metrics.as_ref().map(|(m, _)| Arc::clone(m)),
            join: self.join.clone(),
            spans: self.spans.clone(),
            helpers: self.helpers.clone(),
        }
    }

    /// Sends program `i` its stop signal and arms the kill timer.
    fn stop_one(&mut self, i: usize, now: Instant) {
        let p = &mut self.programs[i];
        let Some(pid) = p.pid else {
            p.state = State::Exited;
            return;
        };
        let sig = p.spec.stopsignal;
        tracing::info!(program = %p.spec.name, pid = pid.as_raw(), signal = sig.as_str(), "stopping {} with {}", p.spec.name, sig.as_str());
        if let Err(e) = reap::signal(pid, sig, p.spec.stop_as_group) {
            tracing::warn!(program = %p.spec.name, error = %e, "cannot signal {}: {e}", p.spec.name);
        }
        p.state = State::Stopping;
        p.timer = Some(now + p.spec.stopwait);
    }

    /// SIGKILL for program `i`: its stop timed out, or a second stop
    /// signal said not to wait (`timed_out` false).
    fn kill_one(&mut self, i: usize, timed_out: bool) {
        let p = &mut self.programs[i];
        let Some(pid) = p.pid else { return };
        if timed_out {
            tracing::warn!(program = %p.spec.name, pid = pid.as_raw(), "{} did not stop within {:?}: SIGKILL", p.spec.name, p.spec.stopwait);
        } else {
            tracing::warn!(program = %p.spec.name, pid = pid.as_raw(), "killing {} (SIGKILL)", p.spec.name);
        }
        let _ = reap::signal(pid, Signal::SIGKILL, p.spec.kill_as_group);
        p.killed = true;
        p.timer = None;
    }

    // ------------------------------------------------------------ control

    fn on_control(&mut self, command: ControlCommand) -> String {
        let now = Instant::now();
        let find = |name: &str| self.programs.iter().position(|p| p.spec.name == name);
        let answer = |ok: bool, message: String| {
            serde_json::json!({ "ok": ok, "message": message }).to_string()
        };
        match command {
            ControlCommand::Status => self.status_json(now),
            ControlCommand::Start(name) => self.on_each(&name, now, Self::ctl_start),
            ControlCommand::Stop(name) => self.on_each(&name, now, Self::ctl_stop),
            ControlCommand::Restart(name) => self.on_each(&name, now, Self::ctl_restart),
            ControlCommand::Reload => self.reload(now),
            ControlCommand::Health => self.probes.state().answer_json(),
            ControlCommand::Signal(name, sig) => match find(&name) {
                None => answer(false, format!("no program named `{name}`")),
                Some(i) => match self.programs[i].pid {
                    None => answer(false, format!("{name} is not running")),
                    Some(pid) => match reap::signal(pid, sig, false) {
                        Ok(()) => {
                            answer(true, format!("sent {} to {name} (pid {pid})", sig.as_str()))
                        }
                        Err(e) => answer(false, format!("cannot signal {name}: {e}")),
                    },
                },
            },
        }
    }
}

/// The wait before try `attempt` (1-based): `base`, doubling, at most a minute.
fn backoff(base: Duration, attempt: u32) -> Duration {
    let factor = 1u32 << attempt.saturating_sub(1).min(16);
    base.saturating_mul(factor).min(MAX_BACKOFF)
}

/// Reports lines dropped by `on_full = "drop"` since the last report.
fn report_drops(sinks: &[SinkRoute], seen: &mut [u64]) {
    for (s, seen) in sinks.iter().zip(seen.iter_mut()) {
        crate::sink::report_dropped(&s.name, &s.route.queue, seen);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_a_minute() {
        let s = Duration::from_secs(1);
        assert_eq!(backoff(s, 1), s);
        assert_eq!(backoff(s, 2), 2 * s);
        assert_eq!(backoff(s, 4), 8 * s);
        assert_eq!(backoff(s, 30), MAX_BACKOFF);
        assert_eq!(
            backoff(Duration::from_millis(100), 3),
            Duration::from_millis(400)
        );
    }
}
