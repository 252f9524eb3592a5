//! Exit codes: the sysexits table, and the one place an outcome becomes a code.
//!
//! Every door returns a typed outcome or error; the functions here turn
//! each into the exit status documented in the `--help` texts and
//! docs/run.md. Supervisors, shells and HEALTHCHECKs read these codes, so
//! they never change silently: the tests below pin every one. (Bad flags
//! exit 2 from clap before a door runs; `logmux run` passes its programs'
//! codes through.)

use crate::config::run::RunConfigError;
use crate::filter;
use crate::listen::{self, ListenError};
use crate::run::control::{Answer, ClientError};
use crate::run::{self, RunError};
use crate::top::source::FetchError;
use crate::top::TopError;

/// Success.
pub const OK: u8 = 0;
/// `logmux ctl`: logmux refused the request (an unknown program, …).
pub const REFUSED: u8 = 1;
/// `logmux ctl status`: a long-running program is not running, as
/// `supervisorctl status` says it (for a HEALTHCHECK).
pub const NOT_ALL_RUNNING: u8 = 3;
/// `logmux ctl health`: a long-running program is down or a probe fails.
pub const UNHEALTHY: u8 = 1;
/// EX_USAGE: an argument that parses but names nothing (`logmux man NOSUCH`).
pub const EX_USAGE: u8 = 64;
/// EX_DATAERR: `logmux top` got an answer that is not metrics.
pub const EX_DATAERR: u8 = 65;
/// EX_NOINPUT: an input file or the config cannot be read.
pub const EX_NOINPUT: u8 = 66;
/// EX_UNAVAILABLE: `logmux ctl` cannot reach a running `logmux run`.
pub const EX_UNAVAILABLE: u8 = 69;
/// EX_SOFTWARE: a bug in logmux stopped it (a parsing thread panicked, in
/// a build that unwinds; release builds abort on a panic).
pub const EX_SOFTWARE: u8 = 70;
/// EX_OSERR: the system refused something logmux needs (a listen address,
/// the runtime, signal handling).
pub const EX_OSERR: u8 = 71;
/// EX_CANTCREAT: a sink, an output directory or a template target cannot
/// be created.
pub const EX_CANTCREAT: u8 = 73;
/// EX_IOERR: output cannot be written.
pub const EX_IOERR: u8 = 74;
/// `logmux run` ended well by its programs' account, but events were
/// lost on the way: left in a queue or a pipe at the shutdown deadline, or
/// lost to write errors (the final report counts them). `logmux listen`
/// stopped by a signal whose stdout did not take every event within
/// `--drain-timeout`, or that gave up reading its connections (the bytes
/// left are counted). Not a sysexits
/// code's meaning; its number (EX_TEMPFAIL's) is free in logmux's table.
pub const EVENTS_LOST: u8 = 75;
/// EX_CONFIG: a config error, a missing variable, a template that cannot
/// be rendered, a bad log format.
pub const EX_CONFIG: u8 = 78;

/// `logmux filter`: a closed output (`| head`) is a graceful end.
pub fn filter(result: &anyhow::Result<filter::Outcome>) -> u8 {
    match result {
        Ok(filter::Outcome::Done | filter::Outcome::OutputClosed) => OK,
        Ok(filter::Outcome::InputErrors(_)) => EX_NOINPUT,
        Err(e) if e.is::<filter::ParseThreadPanicked>() => EX_SOFTWARE,
        Err(_) => EX_IOERR,
    }
}

/// `logmux filter` whose config file or log format is invalid.
pub fn filter_config_invalid() -> u8 {
    EX_CONFIG
}

/// `logmux listen` with a config file or sink name that cannot be used.
pub fn listen_config_invalid() -> u8 {
    EX_CONFIG
}

/// `logmux listen`: a stop by signal or a closed output is a normal end.
pub fn listen(result: &Result<listen::Outcome, ListenError>) -> u8 {
    match result {
        Ok(listen::Outcome::Stopped | listen::Outcome::OutputClosed) => OK,
        Err(ListenError::Bind { .. } | ListenError::Metrics { .. } | ListenError::Runtime(_)) => {
            EX_OSERR
        }
        Err(ListenError::OutDir { .. } | ListenError::Sink(_)) => EX_CANTCREAT,
        Err(ListenError::Output(_)) => EX_IOERR,
        // Written in part: stdout's reader stalled past --drain-timeout;
        // or read in part: stopping gave up reading the connections.
        Err(ListenError::Unwritten { .. } | ListenError::Unread { .. }) => EVENTS_LOST,
        // A certificate, key or client CA that cannot be used.
        Err(ListenError::Tls(_)) => EX_CONFIG,
    }
}

/// `logmux run`: the programs' code when it got to run them.
pub fn run(result: &Result<run::Outcome, RunError>) -> u8 {
    match result {
        Ok(ended) if ended.code == 0 && ended.events_lost > 0 => EVENTS_LOST,
        Ok(ended) => u8::try_from(ended.code.clamp(0, 255)).unwrap_or(1),
        Err(RunError::Config(e)) => config(e),
        Err(RunError::TemplateSource { .. } | RunError::TemplateRender { .. }) => EX_CONFIG,
        Err(RunError::TemplateTarget { .. } | RunError::Sink { .. } | RunError::Metrics { .. }) => {
            EX_CANTCREAT
        }
        Err(RunError::Runtime(_) | RunError::Signals(_)) => EX_OSERR,
    }
}

/// `logmux check`.
pub fn check(result: &Result<(), RunConfigError>) -> u8 {
    match result {
        Ok(()) => OK,
        Err(e) => config(e),
    }
}

/// A `logmux run` config that cannot be used: unreadable, or invalid.
pub fn config(e: &RunConfigError) -> u8 {
    match e {
        RunConfigError::Read { .. } => EX_NOINPUT,
        _ => EX_CONFIG,
    }
}

/// `logmux ctl`.
pub fn ctl(result: &Result<Answer, ClientError>) -> u8 {
    match result {
        Ok(answer) if !answer.healthy => UNHEALTHY,
        Ok(answer) if answer.all_running => OK,
        Ok(_) => NOT_ALL_RUNNING,
        Err(ClientError::Refused(_)) => REFUSED,
        Err(_) => EX_UNAVAILABLE,
    }
}

/// `logmux top`: quit is 0; "metrics are off" is a refusal, as in `ctl`.
pub fn top(result: &Result<(), TopError>) -> u8 {
    match result {
        Ok(()) => OK,
        Err(TopError::Fetch(FetchError::MetricsOff { .. })) => REFUSED,
        Err(TopError::Fetch(FetchError::NotMetrics { .. })) => EX_DATAERR,
        Err(TopError::Fetch(FetchError::Unreachable(_))) => EX_UNAVAILABLE,
        Err(TopError::NoTerminal) => EX_USAGE,
        Err(TopError::Terminal(_)) => EX_IOERR,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io;
    use std::path::PathBuf;

    fn io_error() -> io::Error {
        io::Error::other("test")
    }

    #[test]
    fn filter_codes() {
        assert_eq!(filter(&Ok(filter::Outcome::Done)), 0);
        assert_eq!(filter(&Ok(filter::Outcome::OutputClosed)), 0);
        assert_eq!(filter(&Ok(filter::Outcome::InputErrors(2))), 66);
        assert_eq!(filter(&Err(anyhow::anyhow!("write"))), 74);
        let bug = filter::ParseThreadPanicked::from_payload(Box::new("a bug"));
        assert_eq!(filter(&Err(bug.into())), 70);
        assert_eq!(filter_config_invalid(), 78);
    }

    #[test]
    fn listen_codes() {
        assert_eq!(listen(&Ok(listen::Outcome::Stopped)), 0);
        assert_eq!(listen(&Ok(listen::Outcome::OutputClosed)), 0);
        let bind = ListenError::Bind {
            what: "udp://127.0.0.1:1".into(),
            source: io_error(),
        };
        assert_eq!(listen(&Err(bind)), 71);
        let out_dir = ListenError::OutDir {
            dir: "/x".into(),
            source: io_error(),
        };
        assert_eq!(listen(&Err(out_dir)), 73);
        let stalled = ListenError::Unwritten {
            events: 3,
            drain_timeout: std::time::Duration::from_secs(5),
        };
        assert_eq!(listen(&Err(stalled)), 75);
        let unread = ListenError::Unread {
            bytes: 3,
            drain_timeout: std::time::Duration::from_secs(5),
        };
        assert_eq!(listen(&Err(unread)), 75);
        assert_eq!(listen(&Err(ListenError::Output(io_error()))), 74);
    }

    #[test]
    fn run_codes() {
        let ended = |code| {
            run(&Ok(run::Outcome {
                code,
                events_lost: 0,
            }))
        };
        let lost = |code| {
            run(&Ok(run::Outcome {
                code,
                events_lost: 3,
            }))
        };
        assert_eq!(lost(0), 75);
        assert_eq!(lost(3), 3);
        assert_eq!(ended(0), 0);
        assert_eq!(ended(3), 3);
        assert_eq!(ended(137), 137);
        assert_eq!(ended(300), 255);
        assert_eq!(ended(-1), 0);
        let unreadable = RunConfigError::Read {
            path: PathBuf::from("/nope.toml"),
            source: io_error(),
        };
        assert_eq!(run(&Err(RunError::Config(unreadable))), 66);
        let source = RunError::TemplateSource {
            path: PathBuf::from("/t"),
            source: io_error(),
        };
        assert_eq!(run(&Err(source)), 78);
        let target = RunError::TemplateTarget {
            path: PathBuf::from("/t"),
            source: io_error(),
        };
        assert_eq!(run(&Err(target)), 73);
        let sink = RunError::Sink {
            name: "file".into(),
            source: io_error(),
        };
        assert_eq!(run(&Err(sink)), 73);
        assert_eq!(run(&Err(RunError::Runtime(io_error()))), 71);
        assert_eq!(run(&Err(RunError::Signals(io_error()))), 71);
        assert_eq!(check(&Ok(())), 0);
    }

    #[test]
    fn top_codes() {
        let off = FetchError::MetricsOff {
            path: "/run/logmux.sock".into(),
            message: "no".into(),
        };
        let bad = FetchError::NotMetrics {
            source_name: "x".into(),
            message: "y".into(),
        };
        assert_eq!(top(&Ok(())), 0);
        assert_eq!(top(&Err(TopError::Fetch(off))), 1);
        assert_eq!(top(&Err(TopError::Fetch(bad))), 65);
        assert_eq!(
            top(&Err(TopError::Fetch(FetchError::Unreachable("z".into())))),
            69
        );
        assert_eq!(top(&Err(TopError::NoTerminal)), 64);
        assert_eq!(top(&Err(TopError::Terminal(io_error()))), 74);
    }

    #[test]
    fn ctl_codes() {
        let answer = |all_running, healthy| Answer {
            text: String::new(),
            all_running,
            healthy,
        };
        assert_eq!(ctl(&Ok(answer(true, true))), 0);
        assert_eq!(ctl(&Ok(answer(false, true))), 3);
        assert_eq!(ctl(&Ok(answer(true, false))), 1);
        assert_eq!(ctl(&Err(ClientError::Refused("no".into()))), 1);
        let connect = ClientError::Connect {
            path: PathBuf::from("/run/logmux.sock"),
            source: io_error(),
        };
        assert_eq!(ctl(&Err(connect)), 69);
    }
}
