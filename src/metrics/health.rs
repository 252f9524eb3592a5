//! Health: what `/healthz` answers, from the facts the doors report.
//!
//! A door adds [`HealthSource`]s to its [`Health`]; at each request every
//! source adds the reasons it is unhealthy, and no reason means healthy.
//! `logmux run` adds [`ProgramFacts`] (filled by its supervisor) and
//! [`SinkFacts`]; `filter` and `listen` add only sinks. A later source
//! (active probes) adds its own reasons the same way.

use std::sync::{Arc, Mutex, RwLock};

use crate::sink::Queue;

/// Something that can say why logmux is not healthy.
pub trait HealthSource: Send + Sync {
    /// Appends one reason per problem (`program uwsgi is down`).
    fn reasons(&self, out: &mut Vec<String>);
}

/// Every source of one process.
#[derive(Default)]
pub struct Health {
    sources: RwLock<Vec<Arc<dyn HealthSource>>>,
}

impl Health {
    pub fn add(&self, source: Arc<dyn HealthSource>) {
        self.sources
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .push(source);
    }

    /// Every reason; empty when healthy.
    pub fn reasons(&self) -> Vec<String> {
        let mut out = Vec::new();
        for s in self
            .sources
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
        {
            s.reasons(&mut out);
        }
        out
    }

    /// The `/healthz` answer: healthy or not, and its JSON body.
    pub fn answer(&self) -> (bool, String) {
        let reasons = self.reasons();
        if reasons.is_empty() {
            (true, "{\"status\":\"ok\"}\n".to_string())
        } else {
            let list = serde_json::to_string(&reasons).unwrap_or_else(|_| "[]".into());
            (
                false,
                format!("{{\"status\":\"unhealthy\",\"reasons\":{list}}}\n"),
            )
        }
    }
}

/// One program as health sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProgramFact {
    pub name: String,
    /// A long-running program, meant to be up (not a `once` or `every` job).
    pub long_running: bool,
    pub up: bool,
    /// Its state's word, for the reason (`exited`, `backoff`).
    pub state: &'static str,
}

/// The programs of `logmux run`, as its supervisor last reported them.
#[derive(Default)]
pub struct ProgramFacts {
    programs: Mutex<Vec<ProgramFact>>,
}

impl ProgramFacts {
    /// Replaces the facts (the supervisor calls it after every change).
    pub fn set(&self, facts: Vec<ProgramFact>) {
        *self.programs.lock().unwrap_or_else(|e| e.into_inner()) = facts;
    }
}

impl HealthSource for ProgramFacts {
    fn reasons(&self, out: &mut Vec<String>) {
        for p in self
            .programs
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
        {
            if p.long_running && !p.up {
                out.push(format!("program {} is down ({})", p.name, p.state));
            }
        }
    }
}

/// The sinks of a door: each delivering, or failing.
pub struct SinkFacts {
    pub sinks: Vec<(String, Arc<Queue>)>,
}

impl HealthSource for SinkFacts {
    fn reasons(&self, out: &mut Vec<String>) {
        for (name, q) in &self.sinks {
            if q.is_failing() {
                out.push(format!("sink {name} is failing"));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_long_running_program_down_is_a_reason_and_a_job_is_not() {
        let facts = Arc::new(ProgramFacts::default());
        let health = Health::default();
        health.add(facts.clone());
        assert_eq!(health.answer(), (true, "{\"status\":\"ok\"}\n".into()));
        let fact = |name: &str, long_running, up| ProgramFact {
            name: name.into(),
            long_running,
            up,
            state: if up { "running" } else { "exited" },
        };
        facts.set(vec![
            fact("web", true, true),
            fact("uwsgi", true, false),
            fact("job", false, false),
        ]);
        let (ok, body) = health.answer();
        assert!(!ok);
        assert_eq!(
            body,
            "{\"status\":\"unhealthy\",\"reasons\":[\"program uwsgi is down (exited)\"]}\n"
        );
    }
}
