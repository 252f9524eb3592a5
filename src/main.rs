//! The `logmux` binary: parse the flags, dispatch to a front door, and hand
//! its outcome to `logmux::exit`, which decides the exit status. Nothing
//! else happens here.

use std::io::Write;
use std::process::ExitCode;

use clap::Parser;
use logmux::cli::{Cli, Command, CtlArgs, FilterArgs, ListenArgs, ResolveError, TopArgs};
use logmux::exit;

fn main() -> ExitCode {
    let cli = Cli::parse();
    logmux::diag::init(cli.verbose, cli.log_format());
    logmux::output::show_times_in_utc(cli.utc);
    let code = match cli.command {
        Command::Filter(args) => filter(args),
        Command::Run(args) => exit::run(&logmux::run::run(
            args.config.as_deref(),
            args.command,
            &args.resource,
            args.output,
            args.metrics_listen,
            args.trace_join,
            args.threads,
        )),
        Command::Check(args) => exit::check(&logmux::run::check(&args.config)),
        Command::Ctl(args) => ctl(args),
        Command::Listen(args) => listen(args),
        Command::Top(args) => top(args, cli.utc),
        Command::Completions(args) => {
            logmux::cli::write_completions(args.shell, &mut std::io::stdout());
            0
        }
        Command::Man(args) => man(args.command.as_deref()),
    };
    ExitCode::from(code)
}

/// `logmux filter`: a broken pipe on stdout is a normal end (`| head`).
fn filter(args: FilterArgs) -> u8 {
    let job = match args.into_job() {
        Ok(job) => job,
        Err(e) => {
            let kind = match e {
                ResolveError::Config(_) => "config",
                ResolveError::LogFormat(_) => "log_format",
                ResolveError::UwsgiLogdate(_) => "uwsgi_logdate",
                ResolveError::UwsgiLogFormat(_) => "uwsgi_log_format",
                ResolveError::Follow(_) => "follow",
                ResolveError::UnknownSink { .. } => "sink",
            };
            tracing::error!(kind, "{e}");
            return exit::filter_config_invalid();
        }
    };
    let result = logmux::filter::run(job);
    if let Err(e) = &result {
        tracing::error!("{e:#}");
    }
    exit::filter(&result)
}

/// `logmux listen`: runs until TERM or INT; a closed stdout is a normal end.
fn listen(args: ListenArgs) -> u8 {
    let job = match args.into_job() {
        Ok(job) => job,
        Err(e) => {
            tracing::error!("{e}");
            return exit::listen_config_invalid();
        }
    };
    let result = logmux::listen::run(job);
    if let Err(e) = &result {
        tracing::error!("{e:#}");
    }
    exit::listen(&result)
}

/// `logmux man [COMMAND]`: the page as roff; an unknown command is a usage error.
fn man(command: Option<&str>) -> u8 {
    match logmux::cli::write_man(command, &mut std::io::stdout()) {
        Ok(()) => 0,
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => 0,
        Err(e) => {
            eprintln!("logmux man: {e}");
            if e.kind() == std::io::ErrorKind::InvalidInput {
                exit::EX_USAGE
            } else {
                exit::EX_IOERR
            }
        }
    }
}

/// `logmux top`: the terminal is restored before an error is printed.
fn top(args: TopArgs, utc: bool) -> u8 {
    let result = logmux::top::run(args.into_job(utc));
    if let Err(e) = &result {
        eprintln!("logmux top: {e}");
    }
    exit::top(&result)
}

/// `logmux ctl`: one request to the control socket of a running `logmux run`.
fn ctl(args: CtlArgs) -> u8 {
    if let logmux::cli::CtlAction::Tail(tail) = &args.action {
        let result = logmux::run::tail_client::tail(
            &args.socket,
            &tail.request(),
            &tail.view(args.json),
            args.timeout,
            &mut std::io::stdout().lock(),
            &mut std::io::stderr(),
        );
        if let Err(e) = &result {
            eprintln!("logmux ctl: {e}");
        }
        return exit::ctl(&result.map(|()| logmux::run::control::Answer {
            text: String::new(),
            all_running: true,
            healthy: true,
        }));
    }
    let result = logmux::run::control::request(
        &args.socket,
        &args.action.request_line(),
        args.json,
        args.timeout,
    );
    match &result {
        // A closed stdout (`| head -c0`) changes nothing: the answer is the code.
        Ok(answer) if !answer.text.is_empty() => {
            let _ = writeln!(std::io::stdout(), "{}", answer.text);
        }
        Ok(_) => {}
        Err(e) => eprintln!("logmux ctl: {e}"),
    }
    exit::ctl(&result)
}
