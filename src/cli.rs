//! The command line: flags, their help, and turning them into jobs.
//!
//! This module only describes and resolves options; the work is done by the
//! front doors (`filter`, …) it hands a job to.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::trace::infer::JoinMode;
use logmux_parsers::nginx::log_format::{Escape, LogFormat};
use logmux_parsers::strftime::Strftime;
use logmux_parsers::uwsgi::log_format::LogFormat as UwsgiFormat;
use logmux_parsers::Format;

use crate::config::listen::ListenConfig;
use crate::config::{parse_format_name, Config, ConfigError};
use crate::engine::framing::DEFAULT_MAX_LINE;
use crate::engine::Settings;
use crate::filter::FilterJob;
use crate::listen::{Endpoint, ListenJob};
use crate::metrics::MetricsSpec;
use crate::output::{Encoder, KeyStyle, OutputFormat};
use crate::sink::spec::SinkSpec;
use crate::units::{parse_buffer_size, parse_duration, parse_nonzero_duration};

const ABOUT: &str = "Structured JSON logs for all-in-one containers.\n\n\
As the container's PID 1 (`logmux run`) it supervises nginx, uWSGI and Django and owns their \
pipes; as a filter it reads any mixed output of theirs; as a syslog server (`logmux listen`) it \
receives what Docker's syslog driver sends. Every way it writes one typed JSON event per log event, with OpenTelemetry field names that jq, Loki and Elasticsearch read as they are.";

const EXAMPLES: &str = "\
Examples:
  logmux run --config /app/docker/logmux.toml        # the container's PID 1
  logmux run --config supervisor-app.conf            # a supervisord config, unchanged
  logmux ctl status
  docker logs web 2>&1 | logmux filter
  docker logs -t web 2>&1 | logmux filter | jq 'select(.http.response.status_code >= 500)'
  docker compose logs --no-color | logmux filter --output pretty
  logmux filter /var/lib/docker/containers/*/*-json.log
  logmux filter --format nginx.access access.log > access.jsonl
  logmux listen --udp :5514 --tcp :5514               # syslog server for Docker's syslog driver";

#[derive(Debug, Parser)]
#[command(name = "logmux", version, about = ABOUT, after_help = EXAMPLES, propagate_version = true)]
pub struct Cli {
    /// Also print logmux's own DEBUG diagnostics (on stderr).
    #[arg(long, global = true)]
    pub verbose: bool,

    /// How logmux's own diagnostics look on stderr [default: text on a terminal, json otherwise].
    #[arg(long, global = true, value_enum, env = "LOGMUX_LOG_FORMAT")]
    pub log_format: Option<LogFormatArg>,

    /// Pretty output and `logmux top`: show every time in UTC instead of the local zone.
    #[arg(long, global = true)]
    pub utc: bool,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Turn a mixed log stream (docker logs, a file) into one JSON event per line.
    #[command(after_help = FILTER_EXAMPLES)]
    Filter(FilterArgs),
    /// Be the container's PID 1: run, order, restart and stop programs, and turn
    /// every line of their output into a JSON event routed to its sink.
    #[command(after_help = RUN_EXAMPLES, override_usage = RUN_USAGE)]
    Run(RunArgs),
    /// Check a `logmux run` config (TOML or supervisord INI): its problems, each with file:line:column and key.
    #[command(after_help = CHECK_EXAMPLES)]
    Check(CheckArgs),
    /// Steer a running `logmux run`: status, start, stop, restart, signal.
    #[command(after_help = CTL_EXAMPLES)]
    Ctl(CtlArgs),
    /// A live terminal view of a running `logmux run` (or a metrics endpoint): programs,
    /// request rates, 5xx share, latency and the last exceptions.
    #[command(after_help = TOP_EXAMPLES)]
    Top(TopArgs),
    /// Be a syslog server (for Docker's `--log-driver syslog`, logger, rsyslog) and
    /// turn every message into a JSON event, split by container.
    #[command(after_help = LISTEN_EXAMPLES)]
    Listen(ListenArgs),
    /// Print the completion script of a shell (bash, zsh, fish, …) on stdout.
    #[command(after_help = COMPLETIONS_EXAMPLES)]
    Completions(CompletionsArgs),
    /// Print the man page of logmux, or of one of its commands, as roff on stdout.
    #[command(after_help = MAN_EXAMPLES)]
    Man(ManArgs),
}

const COMPLETIONS_EXAMPLES: &str = "\
Examples:
  logmux completions bash > /usr/share/bash-completion/completions/logmux
  logmux completions zsh > /usr/share/zsh/vendor-completions/_logmux
  logmux completions fish > /usr/share/fish/vendor_completions.d/logmux.fish";

const MAN_EXAMPLES: &str = "\
Examples:
  logmux man | man -l -
  logmux man filter > /usr/share/man/man1/logmux-filter.1";

/// `--log-format`: logmux's own diagnostics on stderr.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum LogFormatArg {
    /// One JSON event per line, in the schema of every other event.
    Json,
    /// `logmux: error: message key=value`, for a person.
    Text,
}

impl Cli {
    /// The diagnostics' format on stderr.
    pub fn log_format(&self) -> crate::diag::LogFormat {
        match self.log_format {
            None => crate::diag::LogFormat::Auto,
            Some(LogFormatArg::Json) => crate::diag::LogFormat::Json,
            Some(LogFormatArg::Text) => crate::diag::LogFormat::Text,
        }
    }
}

/// Options of `logmux completions`.
#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell to complete in.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

/// Options of `logmux man`.
#[derive(Debug, Args)]
pub struct ManArgs {
    /// A command (filter, run, check, ctl, listen, …): its page, logmux-COMMAND(1).
    #[arg(value_name = "COMMAND")]
    pub command: Option<String>,
}

/// Writes the completion script of `shell` for every command and flag.
pub fn write_completions(shell: clap_complete::Shell, out: &mut dyn std::io::Write) {
    use clap::CommandFactory;
    clap_complete::generate(shell, &mut Cli::command(), "logmux", out);
}

/// Writes the man page of logmux, or of one of its commands (`logmux-filter(1)`).
pub fn write_man(command: Option<&str>, out: &mut dyn std::io::Write) -> std::io::Result<()> {
    use clap::CommandFactory;
    let mut root = Cli::command();
    root.build();
    let page = match command {
        None => root,
        Some(name) => {
            let sub = root.find_subcommand(name).cloned().ok_or_else(|| {
                std::io::Error::new(
                    std::io::ErrorKind::InvalidInput,
                    format!("no command `{name}`; `logmux --help` lists them"),
                )
            })?;
            // After build(), its display name is `logmux-filter`: the page
            // is logmux-filter(1), as git's pages are git-log(1).
            sub
        }
    };
    clap_mangen::Man::new(page).render(out)
}

const LISTEN_EXAMPLES: &str = "\
An address without a host is loopback: `--udp :5514` and `--udp 5514` mean 127.0.0.1:5514.
Listening beyond the machine needs an explicit address, e.g. `--tcp 0.0.0.0:5514`.

Examples:
  logmux listen --udp :5514 --tcp :5514
  docker run --log-driver syslog --log-opt syslog-address=udp://127.0.0.1:5514 \\
      --log-opt tag='{{.Name}}' nginx
  logmux listen --tcp :5514 --out-dir /var/log/containers      # web-1.jsonl, db-1.jsonl, …
  logmux listen --unix /run/logmux/log.sock --output pretty     # like /dev/log
  logmux listen --udp :5514 | jq -c 'select(.container.name == \"web-1\")'
  logger --udp -n 127.0.0.1 -P 5514 -t myapp 'hello'
  logmux listen --tcp :5514 --metrics-listen 9145              # GET 127.0.0.1:9145/metrics
  logmux listen --tcp :5514 --config fwd.toml --sink central   # [sink.central] type = \"syslog\"
  logmux listen --tcp :5514 --config otel.toml --sink otel      # signals = [\"logs\", \"traces\"]: spans too

Docker's four syslog formats (default, rfc3164, rfc5424, rfc5424micro) and any RFC 3164 or
RFC 5424 sender are read; TCP frames may be octet-counted or end in a newline.

Exit status: 0 when stopped by TERM or INT (everything held is written first) or when the
reader of stdout goes away; 2 for bad flags (--max-connections 0 included); 71 when an
address cannot be bound; 73 when --out-dir or the --sink cannot be created; 74 when stdout
cannot be written or the --sink could not deliver everything (spans included) at the end; 75 when stdout did
not take every event, or the connections were not read to their end, within --drain-timeout
after TERM (events lost, counted: unwritten_events, unread_bytes); 78 for a bad
--config, --sink name, or --tls-cert/--tls-key/--tls-client-ca file.";

/// Options of `logmux listen`.
#[derive(Debug, Args)]
#[command(group = clap::ArgGroup::new("listeners").required(true).multiple(true).args(["udp", "tcp", "unix", "unix_stream"]))]
pub struct ListenArgs {
    /// Receive syslog datagrams on this UDP address (`:5514` is 127.0.0.1:5514). Repeatable.
    #[arg(long, value_name = "ADDR", value_parser = crate::listen::parse_inet)]
    pub udp: Vec<std::net::SocketAddr>,

    /// Accept syslog over TCP on this address (octet-counted or newline frames). Repeatable.
    #[arg(long, value_name = "ADDR", value_parser = crate::listen::parse_inet)]
    pub tcp: Vec<std::net::SocketAddr>,

    /// Receive syslog datagrams on this unix socket, like /dev/log (Docker's `unixgram://`). Repeatable.
    #[arg(long, value_name = "PATH")]
    pub unix: Vec<PathBuf>,

    /// Accept syslog on this unix stream socket (Docker's `unix://`). Repeatable.
    #[arg(long, value_name = "PATH")]
    pub unix_stream: Vec<PathBuf>,

    /// Output format [default: pretty on a terminal, json otherwise; json with --out-dir].
    #[arg(short, long, value_enum)]
    pub output: Option<OutputFormat>,

    /// JSON keys: nested objects, or flat dotted names [default: nested].
    #[arg(long, value_enum)]
    pub keys: Option<KeyStyle>,

    /// Colour in pretty output.
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto)]
    pub color: ColorChoice,

    /// Write one JSON-lines file per container here (NAME.jsonl; _syslog.jsonl for other senders)
    /// instead of stdout.
    #[arg(long, value_name = "DIR")]
    pub out_dir: Option<PathBuf>,

    /// A TOML file of [sink.NAME] tables (as in `logmux run`), for --sink, and [resource],
    /// [metrics], [trace], nginx_log_format, uwsgi_log_format.
    #[arg(short, long, value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// nginx's own log_format string for the access lines in messages (over the config's
    /// nginx_log_format), e.g. '$remote_addr - $remote_user [$time_local] "$request" $status
    /// $body_bytes_sent "$http_referer" "$http_user_agent" rt=$request_time id=$request_id'.
    #[arg(long, value_name = "LOG_FORMAT")]
    pub nginx_log_format: Option<String>,

    /// How request lines get trace ids, over the config's [trace] join: `ids` (only the
    /// ids they log) or `infer` (also join nginx's and uWSGI's lines that log none, by
    /// method, URI, status and times; the joined one says `logmux.trace_join: inferred`).
    #[arg(long, value_name = "ids|infer", value_parser = parse_join)]
    pub trace_join: Option<JoinMode>,

    /// uWSGI's own log-format string for the request lines in messages, e.g.
    /// '%(addr) [%(ctime)] %(method) %(uri) %(status) %(msecs) id=%(var.HTTP_X_REQUEST_ID)'.
    #[arg(long, value_name = "LOG_FORMAT")]
    pub uwsgi_log_format: Option<String>,

    /// Write to this sink instead of stdout: a [sink.NAME] of --config (syslog, a file with
    /// rotation, …) or a built-in one (stdout, stderr, syslog, null). Its output and keys apply
    /// unless --output or --keys is given.
    #[arg(long, value_name = "NAME", conflicts_with = "out_dir")]
    pub sink: Option<String>,

    /// With --out-dir: rotate a file before it passes this size.
    #[arg(long, value_name = "SIZE", default_value = "64MiB", value_parser = parse_buffer_size)]
    pub max_file_size: usize,

    /// With --out-dir: rotated files kept per container (NAME.jsonl.1 …).
    #[arg(long, value_name = "N", default_value_t = 5)]
    pub max_files: u32,

    /// Longest message; longer ones are cut and marked logmux.truncated. Also the most a
    /// TCP connection holds of an unfinished message.
    #[arg(long, value_name = "SIZE", default_value = "64KiB", value_parser = parse_max_message)]
    pub max_message: usize,

    /// Connections open at once at most; further ones are closed (counted and reported).
    /// Worst case held: N × --max-message of unfinished frames.
    #[arg(long, value_name = "N", default_value_t = 1024, value_parser = clap::value_parser!(u32).range(1..))]
    pub max_connections: u32,

    /// Bytes held back at most: unfinished messages of all connections, and tracebacks and
    /// Docker pieces held per stream (UDP senders too). Past it, the stream touched least
    /// recently emits what it holds at once (marked logmux.truncated, counted as held_flushes);
    /// then the frame that grew is cut (its rest skipped, counted as held_cuts). Without it the
    /// worst case is --max-connections × --max-message plus 4,096 streams × (1 MiB traceback +
    /// --max-message), about 4.3 GiB at the defaults.
    #[arg(long, value_name = "SIZE", default_value = "64MiB", value_parser = parse_buffer_size)]
    pub max_held: usize,

    /// TCP connections open at once from one address at most; further ones are closed
    /// (counted and reported), so one host cannot take every slot.
    #[arg(long, value_name = "N", default_value_t = 256, value_parser = clap::value_parser!(u32).range(1..))]
    pub max_connections_per_peer: u32,

    /// Close a connection whose message stays unfinished this long (or whose TLS handshake
    /// does; what it sent comes out). Connections silent between messages are kept.
    #[arg(long, value_name = "DURATION", default_value = "60s", value_parser = parse_nonzero_duration)]
    pub idle_timeout: Duration,

    /// Speak TLS on every --tcp listener (RFC 5425; Docker's tcp+tls://) with this PEM
    /// certificate chain (leaf first). Needs --tls-key.
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,

    /// The PEM private key of --tls-cert (PKCS #8, PKCS #1 or SEC1).
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,

    /// Require a client certificate signed by a CA of this PEM file; others are refused in
    /// the handshake (counted and reported).
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    pub tls_client_ca: Option<PathBuf>,

    /// Emit a held-back traceback after this much silence on its stream.
    #[arg(long, value_name = "DURATION", default_value = "1s", value_parser = parse_duration)]
    pub idle_flush: Duration,

    /// At TERM or INT, read what has arrived and write it out for at most this long (a
    /// stalled stdout included); a second signal stops at once. Events not written and bytes
    /// left unread are counted, and the exit status is then 75.
    #[arg(long, value_name = "DURATION", default_value = "5s", value_parser = parse_duration)]
    pub drain_timeout: Duration,

    /// Threads that parse stream connections (TCP, unix stream) [default: one less than the
    /// CPUs logmux may use, at least 1; the output's writer and the connections' readers need
    /// the rest]. Each connection is parsed by one of them from start to end, so its messages
    /// keep their order; datagram sockets are parsed on the first.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=1024))]
    pub threads: Option<u16>,

    /// Add KEY=VALUE to every event (and to the OTLP resource); replaces
    /// the config's `[resource]` key of that name. Repeatable.
    #[arg(long, value_name = "KEY=VALUE", value_parser = crate::config::resource::parse_flag)]
    pub resource: Vec<(String, String)>,

    /// Serve /metrics and /healthz on this address (over the config's [metrics] listen);
    /// a port alone means 127.0.0.1: `9145`, `0.0.0.0:9145`, `[::1]:9145`.
    #[arg(long, value_name = "ADDR", value_parser = crate::metrics::parse_listen)]
    pub metrics_listen: Option<std::net::SocketAddr>,
}

impl ListenArgs {
    /// Resolves flags (and the sinks of --config) into a job.
    pub fn into_job(self) -> Result<ListenJob, ResolveError> {
        // A config is checked even when no --sink uses it.
        let config = match &self.config {
            Some(path) => ListenConfig::load(path)?,
            None => ListenConfig::builtin()?,
        };
        let sink = match &self.sink {
            Some(name) => {
                let mut spec = find_sink(&config.sinks, name)?;
                spec.output = self.output.unwrap_or(spec.output);
                spec.keys = self.keys.unwrap_or(spec.keys);
                Some(spec)
            }
            None => None,
        };
        let stdout_tty = self.out_dir.is_none() && std::io::stdout().is_terminal();
        let format = self.output.unwrap_or(if stdout_tty {
            OutputFormat::Pretty
        } else {
            OutputFormat::Json
        });
        let color = match self.color {
            ColorChoice::Always => self.out_dir.is_none(),
            ColorChoice::Never => false,
            ColorChoice::Auto => stdout_tty && !crate::output::no_color(),
        };
        let endpoints = (self.udp.into_iter().map(Endpoint::Udp))
            .chain(self.tcp.into_iter().map(Endpoint::Tcp))
            .chain(self.unix.into_iter().map(Endpoint::UnixDgram))
            .chain(self.unix_stream.into_iter().map(Endpoint::UnixStream))
            .collect();
        let mut encoder = match &sink {
            Some(spec) => crate::sink::encoder_for(spec),
            None => Encoder {
                format,
                keys: self.keys.unwrap_or_default(),
                color,
                zone: crate::output::LocalZone::System,
                syslog: None,
                otlp: None,
                resource: None,
            },
        };
        encoder.resource = static_fields(config.resource, &self.resource);
        let uwsgi_format = match &self.uwsgi_log_format {
            Some(f) => Some(compile_uwsgi_format(f)?),
            None => config.uwsgi_format,
        };
        let nginx_format = match &self.nginx_log_format {
            Some(f) => {
                Some(LogFormat::compile(f).map_err(|e| ResolveError::LogFormat(e.to_string()))?)
            }
            None => config.nginx_format,
        };
        Ok(ListenJob {
            endpoints,
            settings: Settings {
                forced: None,
                nginx_format,
                uwsgi_logdate: None,
                uwsgi_format,
                encoder,
            },
            sink,
            out_dir: self.out_dir.map(|dir| crate::sink::KeyedFilesSpec {
                dir,
                max_file_size: Some(self.max_file_size as u64),
                max_files: self.max_files,
            }),
            max_message: self.max_message,
            max_connections: usize::try_from(self.max_connections).unwrap_or(usize::MAX),
            max_per_peer: usize::try_from(self.max_connections_per_peer).unwrap_or(usize::MAX),
            max_held: self.max_held,
            idle_timeout: self.idle_timeout,
            idle_flush: self.idle_flush,
            drain_timeout: self.drain_timeout,
            threads: self.threads.map_or_else(
                // Parsing is about two thirds of listen's CPU; the writer
                // and the readers take the rest (bench/listen.sh by thread).
                || {
                    let cpus = usize::try_from(crate::sys::cpus::available()).unwrap_or(1);
                    cpus.saturating_sub(1).max(1)
                },
                usize::from,
            ),
            tls: match (self.tls_cert, self.tls_key) {
                (Some(cert), Some(key)) => Some(crate::listen::TlsFiles {
                    cert,
                    key,
                    client_ca: self.tls_client_ca,
                }),
                _ => None,
            },
            metrics: with_listen(config.metrics, self.metrics_listen),
            trace_join: self.trace_join.unwrap_or(config.trace_join),
            trace: config.trace,
        })
    }
}

const RUN_USAGE: &str = "\
logmux run [OPTIONS] <--config <FILE>|COMMAND>...
       logmux run [OPTIONS] --config <FILE>                            # the config's programs
       logmux run [OPTIONS] [--] <COMMAND> [ARGS]...                   # one program, like tini
       logmux run [OPTIONS] --config <FILE> [--] <COMMAND> [ARGS]...   # a one-off command";

const RUN_EXAMPLES: &str = "\
Examples:
  logmux run --config /app/docker/logmux.toml            # as the container's ENTRYPOINT
  logmux run --config /etc/supervisor/conf.d/supervisor-app.conf   # a supervisord config, unchanged
  logmux run -- uwsgi --ini /app/uwsgi.ini                # one program, like tini
  logmux run -c /app/docker/logmux.toml python3 manage.py migrate   # one-off: [env], templates,
                                                         # prepare programs, then the command
  echo hi | logmux run -- cat                             # its stdin is logmux's (config programs: /dev/null)
  logmux run -c /app/docker/logmux.toml --metrics-listen 9145   # GET /metrics, /healthz
  docker logs web | logmux filter --output pretty        # read what it wrote

Signals: TERM, INT and QUIT stop every program (reverse dependency order, stopsignal,
then KILL after stopwaitsecs); HUP is forwarded (per program: sighup = forward | restart |
ignore); USR1 reopens file sinks.

Exit status: 0 when stopped by a signal and every program stopped cleanly; the code (or
128 + signal) of the program whose on_exit = \"shutdown\" fired or whose once run failed;
on a natural end, 0 or the first code outside `exitcodes`; a one-off command's code (or
128 + signal), also when a signal stopped it; 66 when the config cannot be read;
78 for a config error or a missing variable.";

const CHECK_EXAMPLES: &str = "\
Examples:
  logmux check --config docker/logmux.toml
  DJANGO_SETTINGS_MODULE=project.settings.dev NGINX_SERVER_NAME=localhost logmux check -c docker/logmux.toml

Exit status: 0 when the config is valid, 78 (with file:line:column: key: message) when not,
66 when it cannot be read (a file that is not UTF-8 is 78).";

const CTL_EXAMPLES: &str = "\
Examples:
  logmux ctl status
  logmux ctl health                    # exit 1 and the reasons when unhealthy
  logmux ctl restart uwsgi
  logmux ctl signal nginx HUP          # nginx reloads its config
  logmux ctl restart web:*             # every process of group web
  logmux ctl reload                    # apply the edited config file
  logmux ctl tail -f uwsgi             # its last events, then each new one
  logmux ctl --socket /tmp/logmux.sock stop certbot-renew

Exit status: 0 on success, 1 when logmux refused the request, 69 when it cannot be reached
or does not answer within --timeout;
`status` exits 3 when a long-running program is not running; `health` exits 1 when a
long-running program is down or a health probe fails (HEALTHCHECK CMD logmux ctl health).";

const TOP_EXAMPLES: &str = "\
Examples:
  logmux top                                          # the logmux run of this container
  docker exec -it web logmux top                      # from the host
  logmux top --metrics http://127.0.0.1:9145/metrics --interval 5s
  logmux top --once                                   # one plain-text snapshot, for scripts

Keys: q, Esc or Ctrl-C quit (so do TERM and HUP). Rates are over the last interval; p50/p99
are interpolated within the latency buckets as Prometheus's histogram_quantile does.
Needs metrics on in logmux run ([metrics] listen = ..., or --metrics-listen).

Exit status: 0 when quit, 1 when logmux answers that its metrics are off, 64 without a
terminal (use --once), 65 when the answer is not the Prometheus text format, 69 when
nothing answers at --socket or --metrics, 74 when the terminal fails.";

/// Options of `logmux top`.
#[derive(Debug, Args)]
pub struct TopArgs {
    /// The control socket of the running `logmux run` to ask for its metrics.
    #[arg(long, value_name = "PATH", env = "LOGMUX_CONTROL_SOCKET", default_value = crate::config::run::DEFAULT_CONTROL_SOCKET)]
    pub socket: PathBuf,

    /// Read this metrics endpoint instead of the socket: `http://127.0.0.1:9145/metrics`.
    #[arg(long, value_name = "URL")]
    pub metrics: Option<String>,

    /// How often to fetch; rates are over this interval: `1s`, `500ms`, `5s`.
    #[arg(long, value_name = "DURATION", default_value = "1s", value_parser = parse_interval)]
    pub interval: (std::time::Duration, String),

    /// Print one plain-text snapshot (two fetches, one interval apart) and exit.
    #[arg(long)]
    pub once: bool,
}

/// `--interval`: a positive duration, and its text for the header.
fn parse_interval(s: &str) -> Result<(std::time::Duration, String), String> {
    parse_nonzero_duration(s).map(|d| (d, s.to_string()))
}

impl TopArgs {
    /// The job of `logmux top`; `utc` is the global `--utc`.
    pub fn into_job(self, utc: bool) -> crate::top::TopJob {
        use crate::top::source::Source;
        let source = match self.metrics {
            Some(url) => Source::Url(url),
            None => Source::Socket(self.socket),
        };
        crate::top::TopJob {
            source,
            interval: self.interval.0,
            interval_text: self.interval.1,
            once: self.once,
            utc,
        }
    }
}

/// Options of `logmux run`.
#[derive(Debug, Args)]
#[command(group = clap::ArgGroup::new("what").required(true).multiple(true).args(["config", "command"]))]
pub struct RunArgs {
    /// The config: TOML, or a supervisord INI file (`[program:x]` sections).
    #[arg(short, long, value_name = "FILE", env = "LOGMUX_CONFIG")]
    pub config: Option<PathBuf>,

    /// One program, as with tini: `logmux run -- uwsgi --ini app.ini`. Its output
    /// is parsed, its exit code becomes logmux's, and it reads logmux's stdin
    /// (a config's programs read /dev/null). With --config, a one-off: the config's
    /// [env] checks, templates and `prepare` programs, then this command instead
    /// of the config's programs (`docker run IMAGE python3 manage.py migrate`).
    #[arg(trailing_var_arg = true, value_name = "COMMAND")]
    pub command: Vec<String>,

    /// Add KEY=VALUE to every event (and to the OTLP resource); replaces
    /// the config's `[resource]` key of that name. Repeatable.
    #[arg(long, value_name = "KEY=VALUE", value_parser = crate::config::resource::parse_flag)]
    pub resource: Vec<(String, String)>,

    /// The output of the stdout and stderr sinks, over the config's (e.g. pretty for
    /// `docker compose up` in development); file and syslog sinks keep theirs.
    #[arg(short, long, value_enum, env = "LOGMUX_OUTPUT")]
    pub output: Option<OutputFormat>,

    /// Serve /metrics and /healthz on this address (over the config's [metrics] listen);
    /// a port alone means 127.0.0.1: `9145`, `0.0.0.0:9145`, `[::1]:9145`.
    #[arg(long, value_name = "ADDR", env = "LOGMUX_METRICS_LISTEN", value_parser = crate::metrics::parse_listen)]
    pub metrics_listen: Option<std::net::SocketAddr>,

    /// How request lines get trace ids, over the config's [trace] join: `ids` (only the
    /// ids they log) or `infer` (also join nginx's and uWSGI's lines that log none, by
    /// method, URI, status and times; the joined one says `logmux.trace_join: inferred`).
    #[arg(long, value_name = "ids|infer", env = "LOGMUX_TRACE_JOIN", value_parser = parse_join)]
    pub trace_join: Option<JoinMode>,

    /// Threads that parse, over the config's `threads` [default: the CPUs logmux may use].
    /// A program that writes faster than one thread parses has each large read parsed half
    /// on a second thread, its events still in order; 1 keeps every stream on one thread.
    #[arg(long, value_name = "N", env = "LOGMUX_THREADS", value_parser = clap::value_parser!(u16).range(1..=1024))]
    pub threads: Option<u16>,
}

/// Options of `logmux check`.
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// The config to check.
    #[arg(short, long, value_name = "FILE", env = "LOGMUX_CONFIG")]
    pub config: PathBuf,
}

/// Options of `logmux ctl`.
#[derive(Debug, Args)]
pub struct CtlArgs {
    /// The control socket of the running logmux.
    #[arg(long, value_name = "PATH", env = "LOGMUX_CONTROL_SOCKET", default_value = crate::config::run::DEFAULT_CONTROL_SOCKET)]
    pub socket: PathBuf,

    /// Print logmux's answer as JSON.
    #[arg(long)]
    pub json: bool,

    /// Give up after this long without an answer (exit 69): `500ms`, `5s`.
    #[arg(long, value_name = "DURATION", default_value = "5s", value_parser = crate::units::parse_duration)]
    pub timeout: std::time::Duration,

    #[command(subcommand)]
    pub action: CtlAction,
}

#[derive(Debug, Clone, Subcommand)]
pub enum CtlAction {
    /// A table of every program: state, health, pid, uptime, restarts, last exit.
    Status,
    /// Exit 0 when every long-running program is up and every health probe
    /// passes; else exit 1 and say why (for a HEALTHCHECK).
    Health,
    /// Start a stopped program (or run a scheduled one now); NAME, GROUP:NAME
    /// or GROUP:* (every program of the group).
    Start { name: String },
    /// Stop a program (NAME, GROUP:NAME, GROUP:*); it stays down until started.
    Stop { name: String },
    /// Stop a program (NAME, GROUP:NAME, GROUP:*), then start it again.
    Restart { name: String },
    /// Send a signal (HUP, USR1, TERM, …) to a program's main process.
    Signal { name: String, signal: String },
    /// Read the config again: start added programs, stop removed ones,
    /// restart changed ones; a config that fails its checks changes nothing.
    Reload,
    /// The last events of programs (all by default); with -f, then each
    /// new one as it is read, like `supervisorctl tail -f`.
    #[command(after_help = TAIL_EXAMPLES)]
    Tail(TailArgs),
    /// Print the metrics (the text of /metrics); needs a [metrics] table in the config.
    Metrics,
}

/// Options of `logmux ctl tail`.
#[derive(Debug, Clone, Args)]
pub struct TailArgs {
    /// Keep following: print each new event until logmux exits or Ctrl-C.
    #[arg(short, long)]
    pub follow: bool,

    /// The programs to show (default: all), in the order their events were read.
    #[arg(value_name = "PROGRAM")]
    pub programs: Vec<String>,

    /// Only this stream's events.
    #[arg(long, value_enum)]
    pub stream: Option<TailStream>,

    /// How many of the last events to print first (at most what logmux
    /// keeps: `tail_buffer`, 1,000 events or 1 MiB per program by default).
    #[arg(short = 'n', long, value_name = "LINES", default_value_t = 10)]
    pub lines: usize,

    /// pretty (the default on a terminal) or json (the default otherwise:
    /// each event exactly as the sinks got it).
    #[arg(short, long, value_enum)]
    pub output: Option<TailOutput>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum TailStream {
    Stdout,
    Stderr,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum TailOutput {
    Pretty,
    Json,
}

impl TailArgs {
    /// The request sent over the socket.
    pub fn request(&self) -> crate::run::tail::TailRequest {
        crate::run::tail::TailRequest {
            lines: self.lines,
            follow: self.follow,
            stream: self.stream.map(|s| match s {
                TailStream::Stdout => crate::event::IoStream::Stdout,
                TailStream::Stderr => crate::event::IoStream::Stderr,
            }),
            programs: self.programs.clone(),
        }
    }

    /// Pretty on a terminal, JSON otherwise, unless --output (or
    /// `logmux ctl --json`) says.
    pub fn view(&self, json: bool) -> crate::run::tail_client::View {
        let tty = std::io::stdout().is_terminal();
        let pretty = match self.output {
            Some(o) => o == TailOutput::Pretty,
            None => tty && !json,
        };
        crate::run::tail_client::View {
            format: if pretty {
                OutputFormat::Pretty
            } else {
                OutputFormat::Json
            },
            color: pretty && tty && !crate::output::no_color(),
        }
    }
}

const TAIL_EXAMPLES: &str = "\
Examples:
  logmux ctl tail                      # the last 10 events of every program
  logmux ctl tail -f nginx uwsgi       # then follow them, as they are read
  logmux ctl tail -n 200 --stream stderr uwsgi
  logmux ctl tail -f -o json | jq -c 'select(.severity_number >= 17)'

Each program's last events are kept in memory (tail_buffer, 1,000 events or 1 MiB per program
by default). A reader that falls behind is told how many events it missed
(\"--- N events skipped ---\"; with -o json, on stderr); logmux never waits for it.
At most 16 tail clients at once. Exit status: 0, 1 when logmux refused (an unknown program),
69 when it cannot be reached.";

impl CtlAction {
    /// The request line sent over the socket.
    pub fn request_line(&self) -> String {
        match self {
            CtlAction::Status => "status".into(),
            CtlAction::Health => "health".into(),
            CtlAction::Start { name } => format!("start {name}"),
            CtlAction::Stop { name } => format!("stop {name}"),
            CtlAction::Restart { name } => format!("restart {name}"),
            CtlAction::Signal { name, signal } => format!("signal {name} {signal}"),
            CtlAction::Reload => "reload".into(),
            CtlAction::Tail(args) => args.request().line(),
            CtlAction::Metrics => "metrics".into(),
        }
    }
}

const FILTER_EXAMPLES: &str = "\
Formats: auto (default), nginx.access, nginx.error, uwsgi.request, uwsgi.log, supervisord,
python.traceback, django, json, text.

Examples:
  docker logs web 2>&1 | logmux filter
  docker logs -t web 2>&1 | logmux filter --output pretty
  docker compose logs | logmux filter | jq -c 'select(.severity_number >= 17)'
  logmux filter --format nginx.access --keys dotted access.log
  logmux filter --nginx-log-format '$remote_addr [$time_local] \"$request\" $status $request_time' access.log
  logmux filter --uwsgi-log-format '%(addr) [%(ctime)] %(method) %(uri) %(status) %(msecs) id=%(var.HTTP_X_REQUEST_ID)' uwsgi.log
  logmux filter /var/lib/docker/containers/<id>/<id>-json.log
  tail -F access.log | logmux filter --metrics-listen 9145 > /dev/null   # count only
  logmux filter --config logmux.toml --sink archive access.log   # [sink.archive] type = \"file\"

Signals: TERM or INT (Ctrl-C) end the input where it was read to (a pipe's with what the
pipe held at the signal; then it is closed, and its writer gets EPIPE), at a line's end: held
tracebacks and lines are written, a --sink delivers what it holds (up to 10 s), and the
exit status is 0. A second TERM or INT ends logmux at once, by that signal.

Exit status: 0 on success (also when the reader closes the pipe, or after TERM or INT), 66
when an input cannot be opened, 74 on another I/O error (also a sink that cannot be opened,
or events it could not write), 78 for a bad config file, log format or sink name.";

/// Options of `logmux filter`.
#[derive(Debug, Args)]
pub struct FilterArgs {
    /// Files to read, in order; `-` or none means stdin.
    #[arg(value_name = "FILE")]
    pub files: Vec<PathBuf>,

    /// Parse every line as this format instead of detecting it per line.
    #[arg(long, value_name = "NAME", value_parser = parse_format_arg)]
    pub format: Option<FormatArg>,

    /// Follow the FILE as `tail -F` does: read it, then the lines appended to
    /// it, across rotation (a new file at its name) and truncation, until stopped.
    #[arg(short, long, requires = "files")]
    pub follow: bool,

    /// nginx's own log_format string for access lines, e.g.
    /// '$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent $request_time'.
    #[arg(long, value_name = "LOG_FORMAT")]
    pub nginx_log_format: Option<String>,

    /// How --nginx-log-format's values are escaped, as nginx's `escape=`: json, default (\xHH)
    /// or none. Without it, an `escape=…` at the start of the log_format string says.
    #[arg(long, value_name = "MODE", value_parser = parse_escape_arg, requires = "nginx_log_format")]
    pub nginx_escape: Option<Escape>,

    /// uWSGI's `--logdate=FORMAT` (a strftime pattern such as '%d/%b/%Y %H:%M:%S'), for a date
    /// prefix other than the ones read without it (ctime, %Y-%m-%d %H:%M:%S and kin).
    #[arg(long, value_name = "FORMAT")]
    pub uwsgi_logdate: Option<String>,

    /// uWSGI's own log-format string for request lines (its `log-format` option), e.g.
    /// '%(addr) [%(ctime)] %(method) %(uri) %(status) %(msecs) id=%(var.HTTP_X_REQUEST_ID)'.
    #[arg(long, value_name = "LOG_FORMAT")]
    pub uwsgi_log_format: Option<String>,

    /// A TOML config file (keys: format, nginx_log_format, uwsgi_log_format, output, keys, max_line_bytes;
    /// [sink.NAME] tables as in `logmux run`; [resource], [metrics], [trace]).
    #[arg(short, long, value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Write to this sink instead of stdout: a [sink.NAME] of --config (a file with rotation,
    /// syslog, …) or a built-in one (stdout, stderr, syslog, null). Its output and keys apply
    /// unless --output or --keys is given.
    #[arg(long, value_name = "NAME")]
    pub sink: Option<String>,

    /// Output format [default: pretty on a terminal, json otherwise].
    #[arg(short, long, value_enum)]
    pub output: Option<OutputFormat>,

    /// JSON keys: nested objects, or flat dotted names.
    #[arg(long, value_enum)]
    pub keys: Option<KeyStyle>,

    /// Colour in pretty output.
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto)]
    pub color: ColorChoice,

    /// Cut lines longer than this into pieces marked logmux.truncated (e.g. 1MiB, 64KiB, 4096).
    #[arg(long, value_name = "SIZE", value_parser = parse_buffer_size)]
    pub max_line_bytes: Option<usize>,

    /// Emit a held-back traceback or partial line after this much silence on a pipe.
    #[arg(long, value_name = "DURATION", default_value = "1s", value_parser = parse_duration)]
    pub idle_flush: Duration,

    /// At the end, print counts (lines, events, empty lines skipped, …) as a logmux event on stderr.
    #[arg(long)]
    pub stats: bool,

    /// Threads that parse a regular file or a pipe (stdin too), cut at line ends; the output is
    /// the same, in the same order [default: the CPUs logmux may use]. 1 parses on the reading
    /// thread. A terminal, -f, metrics (--metrics-listen, [metrics]), --trace-join infer and a
    /// sink that sends traces always use one.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=1024))]
    pub threads: Option<u16>,

    /// `infer`: join nginx's access lines and uWSGI's request lines that log no id, by
    /// method, URI, status and times (the joined one says `logmux.trace_join: inferred`);
    /// over the config's [trace] join [default: ids].
    #[arg(long, value_name = "ids|infer", value_parser = parse_join)]
    pub trace_join: Option<JoinMode>,

    /// Add KEY=VALUE to every event (and to the OTLP resource); replaces
    /// the config's `[resource]` key of that name. Repeatable.
    #[arg(long, value_name = "KEY=VALUE", value_parser = crate::config::resource::parse_flag)]
    pub resource: Vec<(String, String)>,

    /// Serve /metrics and /healthz on this address (over the config's [metrics] listen);
    /// a port alone means 127.0.0.1: `9145`, `0.0.0.0:9145`, `[::1]:9145`.
    #[arg(long, value_name = "ADDR", value_parser = crate::metrics::parse_listen)]
    pub metrics_listen: Option<std::net::SocketAddr>,
}

/// `--trace-join` value.
fn parse_join(s: &str) -> Result<JoinMode, String> {
    s.parse()
}

/// `--format` value: `auto` or a format.
#[derive(Debug, Clone, Copy)]
pub struct FormatArg(pub Option<Format>);

fn parse_format_arg(s: &str) -> Result<FormatArg, String> {
    parse_format_name(s).map(FormatArg)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    Auto,
    Always,
    Never,
}

/// `--max-message`: a size of at most 16 MiB (each connection may hold one).
fn parse_max_message(s: &str) -> Result<usize, String> {
    let size = parse_buffer_size(s)?;
    if size > 16 << 20 {
        return Err(format!("`{s}` is more than 16MiB"));
    }
    Ok(size)
}

/// Why flags could not become a job.
#[derive(Debug, thiserror::Error)]
pub enum ResolveError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("--nginx-log-format: {0}")]
    LogFormat(String),
    #[error("--uwsgi-logdate: {0}")]
    UwsgiLogdate(String),
    #[error("--uwsgi-log-format: {0}")]
    UwsgiLogFormat(String),
    #[error("{0}")]
    Follow(String),
    #[error("--sink {name}: no such sink; expected one of {known} (define it as [sink.{name}] in --config)")]
    UnknownSink { name: String, known: String },
}

/// The spec of the sink `--sink NAME` names.
pub fn find_sink(specs: &[SinkSpec], name: &str) -> Result<SinkSpec, ResolveError> {
    specs
        .iter()
        .find(|s| s.name == name)
        .cloned()
        .ok_or_else(|| ResolveError::UnknownSink {
            name: name.to_string(),
            known: specs
                .iter()
                .map(|s| s.name.as_str())
                .collect::<Vec<_>>()
                .join(", "),
        })
}

/// The config's `[metrics]` with `--metrics-listen` over its `listen`:
/// either one turns metrics on.
fn with_listen(
    file: Option<MetricsSpec>,
    flag: Option<std::net::SocketAddr>,
) -> Option<MetricsSpec> {
    match (file, flag) {
        (file, Some(addr)) => Some(MetricsSpec {
            listen: Some(addr),
            ..file.unwrap_or_default()
        }),
        (file, None) => file,
    }
}

/// The config's `[resource]` with `--resource` over it, for the encoder.
fn static_fields(
    file: Vec<(String, String)>,
    flags: &[(String, String)],
) -> Option<std::sync::Arc<[(String, String)]>> {
    let fields = crate::config::resource::merge(file, flags);
    (!fields.is_empty()).then(|| fields.into())
}

/// `--uwsgi-log-format`, compiled.
fn compile_uwsgi_format(format: &str) -> Result<UwsgiFormat, ResolveError> {
    UwsgiFormat::compile(format).map_err(|e| ResolveError::UwsgiLogFormat(e.to_string()))
}

/// `--nginx-escape json|default|none`.
fn parse_escape_arg(s: &str) -> Result<Escape, String> {
    Escape::from_name(s).ok_or_else(|| format!("'{s}': expected json, default or none"))
}

impl FilterArgs {
    /// Resolves flags over the config file into a job.
    pub fn into_job(self) -> Result<FilterJob, ResolveError> {
        let config = match &self.config {
            Some(path) => Config::load(path)?,
            None => Config::default(),
        };
        let nginx_format = match &self.nginx_log_format {
            Some(fmt) => {
                let f =
                    LogFormat::compile(fmt).map_err(|e| ResolveError::LogFormat(e.to_string()))?;
                Some(match self.nginx_escape {
                    Some(escape) => f.with_escape(escape),
                    None => f,
                })
            }
            None => config.nginx_format,
        };
        let uwsgi_logdate = match &self.uwsgi_logdate {
            Some(f) => {
                Some(Strftime::compile(f).map_err(|e| ResolveError::UwsgiLogdate(e.to_string()))?)
            }
            None => None,
        };
        let uwsgi_format = match &self.uwsgi_log_format {
            Some(f) => Some(compile_uwsgi_format(f)?),
            None => config.uwsgi_format,
        };
        let sink = match &self.sink {
            Some(name) => Some(find_sink(&config.sinks, name)?),
            None => None,
        };
        let mut encoder = match &sink {
            Some(spec) => {
                let mut spec = spec.clone();
                spec.output = self.output.unwrap_or(spec.output);
                spec.keys = self.keys.unwrap_or(spec.keys);
                crate::sink::encoder_for(&spec)
            }
            None => self.stdout_encoder(config.output, config.keys),
        };
        let forced = match self.format {
            Some(FormatArg(f)) => f,
            None => config.format.flatten(),
        };
        encoder.resource = static_fields(config.resource, &self.resource);
        if self.follow && (self.files.len() != 1 || self.files[0].as_os_str() == "-") {
            return Err(ResolveError::Follow(
                "-f/--follow follows exactly one FILE (not stdin)".to_string(),
            ));
        }
        Ok(FilterJob {
            inputs: self.files,
            settings: Settings {
                forced,
                nginx_format,
                uwsgi_logdate,
                uwsgi_format,
                encoder,
            },
            max_line_bytes: self
                .max_line_bytes
                .or(config.max_line_bytes)
                .unwrap_or(DEFAULT_MAX_LINE),
            idle_flush: self.idle_flush,
            stats: self.stats,
            sink,
            follow: self.follow,
            metrics: with_listen(config.metrics, self.metrics_listen),
            trace_join: self.trace_join.unwrap_or(config.trace_join),
            trace: config.trace,
            threads: self.threads.map_or_else(
                || usize::try_from(crate::sys::cpus::available()).unwrap_or(1),
                usize::from,
            ),
        })
    }

    /// The encoder for stdout: pretty on a terminal, JSON otherwise.
    /// `output` and `keys` are the config file's.
    fn stdout_encoder(&self, output: Option<OutputFormat>, keys: Option<KeyStyle>) -> Encoder {
        let stdout_tty = std::io::stdout().is_terminal();
        let format = self.output.or(output).unwrap_or(if stdout_tty {
            OutputFormat::Pretty
        } else {
            OutputFormat::Json
        });
        let color = match self.color {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            ColorChoice::Auto => stdout_tty && !crate::output::no_color(),
        };
        Encoder {
            format,
            keys: self.keys.or(keys).unwrap_or_default(),
            color,
            zone: crate::output::LocalZone::System,
            syslog: None,
            otlp: None,
            resource: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cli_is_well_formed() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}
