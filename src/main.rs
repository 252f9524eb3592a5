//! The `logmux` binary: parse the flags, dispatch to a front door, and turn
//! the outcome into an exit status. Nothing else happens here.

use std::process::ExitCode;

use clap::Parser;
use logmux::cli::{Cli, Command, ResolveError};
use logmux::filter::{self, Outcome};

/// sysexits.h codes, as supervisors and shells expect them.
const EX_NOINPUT: u8 = 66;
const EX_UNAVAILABLE: u8 = 69;
const EX_OSERR: u8 = 71;
const EX_CANTCREAT: u8 = 73;
const EX_IOERR: u8 = 74;
const EX_CONFIG: u8 = 78;

fn main() -> ExitCode {
    let cli = Cli::parse();
    logmux::diag::init(cli.verbose);
    match cli.command {
        Command::Filter(args) => run_filter(args),
        Command::Run(args) => {
            ExitCode::from(logmux::run::run(args.config.as_deref(), args.command))
        }
        Command::Check(args) => ExitCode::from(logmux::run::check(&args.config)),
        Command::Ctl(args) => run_ctl(args),
        Command::Listen(args) => run_listen(args),
    }
}

/// `logmux listen`: runs until TERM or INT; a closed stdout is a normal end.
fn run_listen(args: logmux::cli::ListenArgs) -> ExitCode {
    use logmux::listen::{ListenError, Outcome};
    let job = match args.into_job() {
        Ok(job) => job,
        Err(e) => {
            tracing::error!("{e}");
            return ExitCode::from(EX_CONFIG);
        }
    };
    match logmux::listen::run(job) {
        Ok(Outcome::Stopped | Outcome::OutputClosed) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e:#}");
            ExitCode::from(match e {
                ListenError::Bind { .. } | ListenError::Runtime(_) => EX_OSERR,
                ListenError::OutDir { .. } | ListenError::Sink(_) => EX_CANTCREAT,
                ListenError::Output(_) => EX_IOERR,
            })
        }
    }
}

/// `logmux ctl`: one request to the control socket of a running `logmux run`.
fn run_ctl(args: logmux::cli::CtlArgs) -> ExitCode {
    use logmux::run::control::{request, ClientError};
    match request(&args.socket, &args.action.request_line(), args.json) {
        Ok(answer) => {
            if !answer.text.is_empty() {
                println!("{}", answer.text);
            }
            if answer.all_running {
                ExitCode::SUCCESS
            } else {
                // As `supervisorctl status`: something is not running.
                ExitCode::from(3)
            }
        }
        Err(e @ ClientError::Refused(_)) => {
            eprintln!("logmux ctl: {e}");
            ExitCode::from(1)
        }
        Err(e) => {
            eprintln!("logmux ctl: {e}");
            ExitCode::from(EX_UNAVAILABLE)
        }
    }
}

/// `logmux filter`: a broken pipe on stdout is a normal end (`| head`).
fn run_filter(args: logmux::cli::FilterArgs) -> ExitCode {
    let job = match args.into_job() {
        Ok(job) => job,
        Err(e) => {
            let kind = match e {
                ResolveError::Config(_) => "config",
                ResolveError::LogFormat(_) => "log_format",
                ResolveError::UnknownSink { .. } => "sink",
            };
            tracing::error!(kind, "{e}");
            return ExitCode::from(EX_CONFIG);
        }
    };
    match filter::run(job) {
        Ok(Outcome::Done | Outcome::OutputClosed) => ExitCode::SUCCESS,
        Ok(Outcome::InputErrors(_)) => ExitCode::from(EX_NOINPUT),
        Err(e) => {
            tracing::error!("{e:#}");
            ExitCode::from(EX_IOERR)
        }
    }
}
