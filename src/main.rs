//! The `logmux` binary: parse the flags, dispatch to a front door, and turn
//! the outcome into an exit status. Nothing else happens here.

use std::process::ExitCode;

use clap::Parser;
use logmux::cli::{Cli, Command, ResolveError};
use logmux::filter::{self, Outcome};

/// sysexits.h codes, as supervisors and shells expect them.
const EX_NOINPUT: u8 = 66;
const EX_IOERR: u8 = 74;
const EX_CONFIG: u8 = 78;

fn main() -> ExitCode {
    let cli = Cli::parse();
    logmux::diag::init(cli.verbose);
    match cli.command {
        Command::Filter(args) => run_filter(args),
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
