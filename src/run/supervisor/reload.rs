//! `logmux ctl reload`: supervisorctl's `reread` + `update`. The config
//! file is read and checked again as `logmux check` does; if it fails,
//! nothing changes and the answer says why (file:line:column: key). If it
//! holds, the programs it adds are started, the ones it no longer has are
//! stopped, the ones whose resolved settings differ in any way are
//! stopped and started again with the new settings, and every other keeps
//! running, with its pid.
//!
//! Only the programs are reloaded. Sinks are opened at start, so a config
//! whose sinks differ (by name, in order) is refused; the top-level
//! settings, `[env]` and templates keep their values from the start.
//!
//! A removed program that is still stopping stays at the end of the list
//! (nothing depends on it) until it has ended; [`Supervisor::tidy`] then
//! drops it.

use std::sync::Arc;
use std::time::Instant;

use super::{Kind, Phase, Program, State, Supervisor};
use crate::config::run::{self as config, ConfigError, Locator, ProgramSpec, RunConfig};

/// What a reload did, by program name.
#[derive(Default)]
struct Changes {
    added: Vec<String>,
    removed: Vec<String>,
    changed: Vec<String>,
    kept: usize,
}

fn answer(ok: bool, message: String) -> String {
    serde_json::json!({ "ok": ok, "message": message }).to_string()
}

/// A program's resolved settings as text, its dependencies by name (their
/// indexes move when programs are added or removed).
fn fingerprint(spec: &ProgramSpec, all: &[ProgramSpec]) -> String {
    let deps: Vec<&str> = spec
        .depends_on
        .iter()
        .filter_map(|&d| all.get(d).map(|p| p.name.as_str()))
        .collect();
    let mut spec = spec.clone();
    spec.depends_on.clear();
    format!("{spec:?} depends_on={deps:?}")
}

impl Supervisor {
    /// Reads the config again and applies it; the answer for `logmux ctl`.
    pub(super) fn reload(&mut self, now: Instant) -> String {
        match self.phase {
            Phase::Once => {
                return answer(
                    false,
                    "logmux is still running its once programs; reload once they are done".into(),
                )
            }
            Phase::Stopping | Phase::Done => return answer(false, "logmux is stopping".into()),
            Phase::Running => {}
        }
        let fresh = match self.read_again() {
            Ok(fresh) => fresh,
            Err(why) => {
                tracing::error!("reload refused, nothing changed: {why}");
                return answer(false, format!("reload refused, nothing changed:\n{why}"));
            }
        };
        let changes = self.apply(fresh.programs, now);
        let mut lines = Vec::new();
        lines.extend(changes.added.iter().map(|n| format!("{n}: added")));
        lines.extend(changes.removed.iter().map(|n| format!("{n}: removed")));
        lines.extend(changes.changed.iter().map(|n| format!("{n}: changed")));
        lines.push(format!("{} unchanged", changes.kept));
        tracing::info!(
            added = changes.added.len(),
            removed = changes.removed.len(),
            changed = changes.changed.len(),
            unchanged = changes.kept,
            "reloaded {}: {}",
            self.config.path.display(),
            lines.join(", ")
        );
        answer(true, lines.join("\n"))
    }

    /// The config file, read and checked as `logmux check` does.
    fn read_again(&self) -> Result<RunConfig, String> {
        let path = self.config.path.clone();
        if self.config.path.as_os_str() == "(command line)" {
            return Err("logmux runs a command given on its command line: there is no config file to read again".into());
        }
        let text = Locator::read(&path).map_err(|e| e.to_string())?;
        let env = |name: &str| std::env::var(name).ok();
        let fresh = config::parse(&path, &text, &env, &mut |w| tracing::warn!("{w}"))
            .map_err(|e| e.to_string())?;
        let found = crate::run::preflight::check(&fresh, &text);
        if !found.is_empty() {
            return Err(ConfigError::all(found).to_string());
        }
        let names = |c: &RunConfig| c.sinks.iter().map(|s| s.name.clone()).collect::<Vec<_>>();
        let (before, after) = (names(&self.config), names(&fresh));
        if before != after {
            let mut what: Vec<String> = after
                .iter()
                .filter(|n| !before.contains(n))
                .map(|n| format!("[sink.{n}] is new"))
                .collect();
            what.extend(
                before
                    .iter()
                    .filter(|n| !after.contains(n))
                    .map(|n| format!("[sink.{n}] is gone")),
            );
            if what.is_empty() {
                what.push("the sinks are in another order".into());
            }
            return Err(format!(
                "{}: {}: sinks are opened once, at start; restart logmux to change them",
                path.display(),
                what.join(", ")
            ));
        }
        Ok(fresh)
    }

    /// Puts `programs` in place of the current ones (see the module's
    /// paragraph); returns what changed.
    fn apply(&mut self, programs: Vec<ProgramSpec>, now: Instant) -> Changes {
        let old_n = self.config.programs.len().min(self.programs.len());
        let old_specs: Vec<ProgramSpec> = self.programs[..old_n]
            .iter()
            .map(|p| p.spec.clone())
            .collect();
        let mut old: Vec<Option<Program>> = std::mem::take(&mut self.programs)
            .into_iter()
            .map(Some)
            .collect();
        let mut changes = Changes::default();
        let mut next = Vec::with_capacity(programs.len());
        // Changed programs still running: stopped with their old settings.
        let mut restart: Vec<(usize, ProgramSpec)> = Vec::new();
        for spec in &programs {
            let at = old_specs.iter().position(|o| o.name == spec.name);
            let Some(p) = at.and_then(|j| old[j].take()) else {
                changes.added.push(spec.name.clone());
                next.push(self.added(spec.clone(), now));
                continue;
            };
            let same = at.is_some_and(|j| {
                fingerprint(&old_specs[j], &old_specs) == fingerprint(spec, &programs)
            });
            if same {
                changes.kept += 1;
                next.push(Program {
                    spec: spec.clone(),
                    ..p
                });
                continue;
            }
            changes.changed.push(spec.name.clone());
            if p.alive() {
                restart.push((next.len(), spec.clone()));
                next.push(p);
            } else {
                next.push(self.added(spec.clone(), now));
            }
        }
        let mut stop = Vec::new();
        for (j, p) in old.into_iter().enumerate() {
            let Some(p) = p else { continue };
            if j < old_n {
                changes.removed.push(p.spec.name.clone());
            }
            if p.alive() {
                stop.push(next.len());
                next.push(p);
            }
        }
        self.programs = next;
        let mut fresh = (*self.config).clone();
        fresh.programs = programs;
        self.config = Arc::new(fresh);
        for i in stop {
            self.programs[i].held = true;
            self.programs[i].restart_after_stop = false;
            if self.programs[i].state != State::Stopping {
                self.stop_one(i, now);
            }
        }
        for (i, spec) in restart {
            if self.programs[i].state != State::Stopping {
                self.stop_one(i, now);
            }
            let p = &mut self.programs[i];
            p.restart_after_stop = spec.autostart;
            p.held = !spec.autostart;
            p.spec = spec;
        }
        changes
    }

    /// A program new to this run (or changed while not running).
    fn added(&self, spec: ProgramSpec, now: Instant) -> Program {
        let mut p = Program::new(spec);
        if let (Kind::Every(period), State::Waiting) = (p.spec.kind, p.state) {
            p.state = State::Scheduled;
            p.timer = Some(now + period);
        }
        p
    }

    /// On every turn: drops removed programs that have ended, and puts an
    /// `every` program restarted while running back on its schedule.
    pub(super) fn tidy(&mut self, now: Instant) {
        let n = self.config.programs.len();
        if self.programs.len() > n && self.programs[n..].iter().any(|p| !p.alive()) {
            let tail = self.programs.split_off(n);
            self.programs
                .extend(tail.into_iter().filter(Program::alive));
        }
        if self.phase == Phase::Running {
            for p in &mut self.programs {
                if let (Kind::Every(_), State::Waiting) = (p.spec.kind, p.state) {
                    p.state = State::Scheduled;
                    p.timer = Some(now);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn programs(text: &str) -> Vec<ProgramSpec> {
        config::parse(Path::new("/x.toml"), text, &|_| None, &mut |_| {})
            .unwrap()
            .programs
    }

    /// Each program's fingerprint, by name.
    fn prints(text: &str) -> Vec<(String, String)> {
        let all = programs(text);
        all.iter()
            .map(|p| (p.name.clone(), fingerprint(p, &all)))
            .collect()
    }

    #[test]
    fn any_setting_changes_the_fingerprint_and_the_order_does_not() {
        let before = prints(
            "[program.a]\ncommand = [\"a\"]\n[program.b]\ncommand = [\"b\"]\ndepends_on = [\"a\"]\n",
        );
        // Another program first: b's dependency has another index, not another name.
        let after = prints(
            "[program.z]\ncommand = [\"z\"]\npriority = 1\n[program.a]\ncommand = [\"a\"]\n\
             [program.b]\ncommand = [\"b\"]\ndepends_on = [\"a\"]\nstopwaitsecs = 3\n",
        );
        let print = |list: &[(String, String)], name: &str| {
            list.iter().find(|(n, _)| n == name).unwrap().1.clone()
        };
        assert_eq!(print(&before, "a"), print(&after, "a"));
        assert_ne!(print(&before, "b"), print(&after, "b"));
        let same_b = prints(
            "[program.z]\ncommand = [\"z\"]\npriority = 1\n[program.a]\ncommand = [\"a\"]\n\
             [program.b]\ncommand = [\"b\"]\ndepends_on = [\"a\"]\n",
        );
        assert_eq!(print(&before, "b"), print(&same_b, "b"));
    }
}
