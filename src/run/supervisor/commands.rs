//! `logmux ctl start | stop | restart` on one program, a process of a
//! group (`GROUP:NAME`) or a whole group (`GROUP:*`, as supervisorctl
//! spells it), and the status that `logmux ctl status` prints.
//!
//! A request naming several programs answers one line per program; it
//! succeeds when every one of them did.

use std::time::Instant;

use nix::unistd::Pid;

use super::{Kind, Phase, State, Supervisor};

/// One program's part of an answer: whether it went as asked, and what
/// happened in words.
type Step = (bool, String);

fn answer(ok: bool, message: String) -> String {
    serde_json::json!({ "ok": ok, "message": message }).to_string()
}

impl Supervisor {
    /// Applies `act` to every program `target` names; one line each.
    pub(super) fn on_each(
        &mut self,
        target: &str,
        now: Instant,
        act: fn(&mut Supervisor, usize, Instant) -> Step,
    ) -> String {
        let found = match self.targets(target) {
            Ok(found) => found,
            Err(why) => return answer(false, why),
        };
        let steps: Vec<Step> = found.into_iter().map(|i| act(self, i, now)).collect();
        let ok = steps.iter().all(|(ok, _)| *ok);
        let lines: Vec<String> = steps.into_iter().map(|(_, said)| said).collect();
        answer(ok, lines.join("\n"))
    }

    /// The programs `NAME`, `GROUP:NAME` or `GROUP:*` names (programs
    /// removed by a reload and still stopping are not among them).
    fn targets(&self, target: &str) -> Result<Vec<usize>, String> {
        let live = &self.programs[..self.config.programs.len().min(self.programs.len())];
        let pick = |keep: &dyn Fn(&super::Program) -> bool| -> Vec<usize> {
            live.iter()
                .enumerate()
                .filter(|(_, p)| keep(p))
                .map(|(i, _)| i)
                .collect()
        };
        let has_group = |g: &str| live.iter().any(|p| p.spec.group == g);
        let found = match target.split_once(':') {
            Some((group, "*")) => pick(&|p| p.spec.group == group),
            Some((group, name)) => pick(&|p| p.spec.group == group && p.spec.name == name),
            None => pick(&|p| p.spec.name == target),
        };
        if !found.is_empty() {
            return Ok(found);
        }
        Err(match target.split_once(':') {
            Some((group, _)) if !has_group(group) => format!("no group named `{group}`"),
            Some((group, name)) => format!("no program named `{name}` in group `{group}`"),
            None if has_group(target) => {
                format!("no program named `{target}` (`{target}` is a group: `{target}:*` names all its programs)")
            }
            None => format!("no program named `{target}`"),
        })
    }

    pub(super) fn ctl_start(&mut self, i: usize, now: Instant) -> Step {
        let name = self.programs[i].spec.name.clone();
        if self.phase == Phase::Stopping {
            return (false, "logmux is stopping".into());
        }
        if let Some(pid) = self.programs[i].pid {
            return (false, format!("{name} is already running (pid {pid})"));
        }
        let p = &mut self.programs[i];
        p.held = false;
        p.retries = 0;
        self.start(i, now);
        match self.programs[i].pid {
            Some(pid) => (true, format!("{name} started (pid {pid})")),
            None => (false, format!("{name} could not be started")),
        }
    }

    pub(super) fn ctl_stop(&mut self, i: usize, now: Instant) -> Step {
        let name = self.programs[i].spec.name.clone();
        self.programs[i].held = true;
        if self.programs[i].alive() {
            self.stop_one(i, now);
            return (true, format!("stopping {name}"));
        }
        let p = &mut self.programs[i];
        if p.state != State::Stopped {
            p.state = State::Exited;
        }
        p.timer = None;
        (true, format!("{name} is not running"))
    }

    pub(super) fn ctl_restart(&mut self, i: usize, now: Instant) -> Step {
        let name = self.programs[i].spec.name.clone();
        if self.phase == Phase::Stopping {
            return (false, "logmux is stopping".into());
        }
        if self.programs[i].alive() {
            self.programs[i].restart_after_stop = true;
            self.stop_one(i, now);
            return (true, format!("restarting {name}"));
        }
        let p = &mut self.programs[i];
        p.held = false;
        p.retries = 0;
        self.start(i, now);
        (true, format!("starting {name}"))
    }

    pub(super) fn status_json(&self, now: Instant) -> String {
        let programs: Vec<serde_json::Value> = self
            .programs
            .iter()
            .map(|p| {
                let uptime = match (p.pid, p.started) {
                    (Some(_), Some(s)) => Some(now.duration_since(s).as_secs()),
                    _ => None,
                };
                serde_json::json!({
                    "name": p.name(),
                    "group": p.spec.group,
                    "state": p.state.name(),
                    "kind": match p.spec.kind {
                        Kind::LongRunning => "long-running",
                        Kind::Once => "once",
                        Kind::Every(_) => "every",
                    },
                    "autostart": p.spec.autostart,
                    "pid": p.pid.map(Pid::as_raw),
                    "uptime_secs": uptime,
                    "restarts": p.restarts,
                    "last_exit": p.last_exit.map(|e| e.to_string()),
                    "health": self.probes.state().word(p.name()),
                })
            })
            .collect();
        serde_json::json!({ "ok": true, "programs": programs }).to_string()
    }
}
