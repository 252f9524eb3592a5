use super::*;
use logmux_parsers::Format;
use nix::sys::signal::Signal;

fn env(name: &str) -> Option<String> {
    match name {
        "NGINX_SERVER_NAME" => Some("example.org".into()),
        "USE_SSL" => Some(String::new()),
        _ => None,
    }
}

fn load_str(text: &str) -> Result<RunConfig, RunConfigError> {
    parse(Path::new("/etc/logmux.toml"), text, &env, &mut |_| {})
}

fn err(text: &str) -> String {
    match load_str(text) {
        Ok(_) => panic!("expected an error for {text:?}"),
        Err(e) => e.to_string(),
    }
}

const STACK: &str = r#"
[env]
required = ["NGINX_SERVER_NAME"]
defaults = { UWSGI_PROCESSES = "2" }

[program.nginx]
command = ["nginx", "-g", "daemon off;"]
depends_on = ["uwsgi"]
stdout = { format = "nginx.access", sink = "stdout" }

[program.uwsgi]
command = "uwsgi --ini /app/docker/uwsgi.ini --processes ${UWSGI_PROCESSES}"
user = "www-data"
stopsignal = "INT"
ready = { unix_socket = "/run/app.sock" }
on_exit = "shutdown"

[program.renew]
command = "certbot renew -d ${NGINX_SERVER_NAME}"
every = "12h"

[program.certbot]
command = "certbot certonly --standalone -m ${EMAIL_ADDRESS}"
once = true
when = "USE_SSL"

[sink.app]
type = "file"
path = "/var/log/app.jsonl"
max_size = "10MiB"
on_full = "drop"
"#;

#[test]
fn the_stack_resolves_in_dependency_order() {
    let c = load_str(STACK).unwrap();
    let names: Vec<&str> = c.programs.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["uwsgi", "nginx", "renew", "certbot"]);
    let uwsgi = &c.programs[0];
    assert_eq!(uwsgi.command.last().map(String::as_str), Some("2"));
    assert_eq!(uwsgi.stopsignal, Signal::SIGINT);
    assert_eq!(uwsgi.on_exit, OnExit::Shutdown);
    assert_eq!(
        uwsgi.ready.as_ref().map(|r| &r.probe),
        Some(&ReadyProbe::UnixSocket("/run/app.sock".into()))
    );
    let nginx = &c.programs[1];
    assert_eq!(nginx.depends_on, vec![0]);
    assert_eq!(nginx.command, ["nginx", "-g", "daemon off;"]);
    assert_eq!(nginx.streams[0].format, Some(Format::NginxAccess));
    assert_eq!(c.sinks[nginx.streams[1].sink].name, "stderr");
    assert_eq!(
        c.programs[2].kind,
        Kind::Every(Duration::from_secs(12 * 3600))
    );
    assert_eq!(
        c.programs[2].command.last().map(String::as_str),
        Some("example.org")
    );
    // USE_SSL is empty: certbot sits out, and its unset ${EMAIL_ADDRESS} is no error.
    assert!(!c.programs[3].enabled);
    let app = c.sinks.iter().find(|s| s.name == "app").unwrap();
    assert_eq!(app.on_full, OnFull::Drop);
    assert_eq!(
        app.kind,
        SinkKind::File {
            path: "/var/log/app.jsonl".into(),
            max_size: Some(10 << 20),
            max_files: 5
        }
    );
}

#[test]
fn errors_name_file_line_and_key() {
    assert_eq!(
        err("[program.a]\ncommand = \"x\"\nstopsignal = \"TERMM\"\n"),
        "/etc/logmux.toml:3:14: program.a.stopsignal: `TERMM` is not a signal name (TERM, INT, QUIT, HUP, KILL, USR1, USR2)"
    );
    assert_eq!(
        err("[program.a]\ncommand = \"x\"\ndepends_on = [\"b\"]\n"),
        "/etc/logmux.toml:3:15: program.a.depends_on: no program named `b`"
    );
    assert_eq!(
        err("[program.a]\ncommand = \"x\"\nstdout = { sink = \"nowhere\" }\n"),
        "/etc/logmux.toml:3:19: program.a.stdout.sink: no sink named `nowhere` (known: stdout, stderr, null, syslog)"
    );
    let e = err("[program.a]\ncomand = \"x\"\n");
    assert!(
        e.starts_with("/etc/logmux.toml:2:1: program.a.comand: unknown field `comand`"),
        "{e}"
    );
    let e = err("[program.a]\nuser = \"www-data\"\n");
    assert_eq!(
        e,
        "/etc/logmux.toml:1:1: program.a.command: missing: every program needs a command"
    );
}

#[test]
fn cycles_are_rejected() {
    let e = err("[program.a]\ncommand = \"x\"\ndepends_on = [\"b\"]\n[program.b]\ncommand = \"y\"\ndepends_on = [\"a\"]\n");
    assert!(e.contains("dependency cycle among a, b"), "{e}");
}

#[test]
fn missing_variables_are_named() {
    let e = load_str("[env]\nrequired = [\"DJANGO_SETTINGS_MODULE\"]\n").unwrap_err();
    // EX_CONFIG (78), as crate::exit::config says of every such error.
    assert!(!e.is_unreadable());
    assert_eq!(
        e.to_string(),
        "/etc/logmux.toml:2:13: env.required: environment variable DJANGO_SETTINGS_MODULE is required but not set"
    );
    let e =
        load_str("[program.a]\ncommand = \"run ${NOPE:?set it to the site name}\"\n").unwrap_err();
    assert!(matches!(&e, RunConfigError::MissingVariable { variable, .. } if variable == "NOPE"));
    assert_eq!(
        e.to_string(),
        "/etc/logmux.toml:2:11: program.a.command: environment variable NOPE is required: set it to the site name"
    );
}

#[test]
fn values_are_checked() {
    assert!(
        err("[program.a]\ncommand = \"x\"\nautorestart = \"sometimes\"\n")
            .contains("program.a.autorestart")
    );
    assert!(err("[program.a]\ncommand = \"x\"\nevery = \"0s\"\n").contains("at least 1s"));
    assert!(err("[program.a]\ncommand = \"x 'y\"\n").contains("unbalanced quotes"));
    assert!(err("[program.a]\ncommand = []\n").contains("empty command"));
    assert!(
        err("[program.a]\ncommand = \"x\"\nready = { tcp = \"a:1\", file = \"/f\" }\n")
            .contains("exactly one")
    );
    assert!(err("[sink.s]\ntype = \"file\"\n").contains("sink.s.path: missing"));
    assert!(err("[sink.s]\ntype = \"kafka\"\n").contains("sink.s.type: `kafka`"));
    assert!(
        err("[program.a]\ncommand = \"x\"\nstdout = { format = \"nginx\" }\n")
            .contains("program.a.stdout.format")
    );
    assert_eq!(parse_signal("int"), Ok(Signal::SIGINT));
    assert_eq!(parse_signal("SIGQUIT"), Ok(Signal::SIGQUIT));
    assert_eq!(parse_signal("1"), Ok(Signal::SIGHUP));
    assert_eq!(
        duration_value(&DurationValue::Text("12h".into())),
        Ok(Duration::from_secs(43200))
    );
    assert_eq!(
        duration_value(&DurationValue::Secs(10)),
        Ok(Duration::from_secs(10))
    );
}

#[test]
fn command_variables_keep_their_spaces() {
    let c = load_str("[env]\ndefaults = { GREETING = \"hello world\" }\n[program.a]\ncommand = \"echo ${GREETING} ${X:-a b} '${NGINX_SERVER_NAME}'\"\n").unwrap();
    assert_eq!(
        c.programs[0].command,
        ["echo", "hello world", "a", "b", "example.org"]
    );
}

#[test]
fn supervisord_files_are_told_from_toml_by_their_sections() {
    use crate::config::ini::looks_like_ini;
    assert!(looks_like_ini(
        Path::new("a.conf"),
        "[supervisord]\nnodaemon=true\n"
    ));
    assert!(looks_like_ini(
        Path::new("a.toml"),
        "; x\n[program:web]\ncommand=x\n"
    ));
    assert!(looks_like_ini(Path::new("a.ini"), ""));
    assert!(looks_like_ini(Path::new("a.conf"), "command=/bin/a\n"));
    assert!(!looks_like_ini(
        Path::new("logmux.conf"),
        "[program.web]\ncommand = \"x\"\n"
    ));
    let c = parse(
        Path::new("logmux.conf"),
        "[program.web]\ncommand = \"x\"\n",
        &env,
        &mut |_| {},
    )
    .unwrap();
    assert_eq!(c.programs[0].name, "web");
}

#[test]
fn every_program_with_a_problem_is_reported() {
    let e = load_str(
        "[program.a]\ncommand = \"x\"\nstopsignal = \"NOPE\"\n[program.b]\ncommand = \"y\"\n[program.c]\nautorestart = \"sometimes\"\ncommand = \"z\"\n",
    )
    .unwrap_err();
    // EX_CONFIG (78), as crate::exit::config says of every such error.
    assert!(!e.is_unreadable());
    let text = e.to_string();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2, "{text}");
    assert!(
        lines[0].starts_with("/etc/logmux.toml:3:14: program.a.stopsignal:"),
        "{text}"
    );
    assert!(
        lines[1].starts_with("/etc/logmux.toml:7:15: program.c.autorestart:"),
        "{text}"
    );
}

#[test]
fn routes_send_formats_to_other_sinks_inline_or_as_tables() {
    let c = load_str(
        r#"
[program.uwsgi]
command = "uwsgi"
stderr = { sink = "stderr", route = { "uwsgi.request" = "stdout", "python.traceback" = "errors" } }

[program.app]
command = "app"

[program.app.stdout]
format = "auto"

[program.app.stdout.route]
"nginx.access" = "null"

[sink.errors]
type = "file"
path = "/tmp/errors.jsonl"
"#,
    )
    .unwrap();
    let sink = |i: usize| c.sinks[i].name.as_str();
    let uwsgi = &c.programs[0].streams[1];
    assert_eq!(sink(uwsgi.sink), "stderr");
    let routes: Vec<(Format, &str)> = uwsgi.routes.iter().map(|&(f, s)| (f, sink(s))).collect();
    assert_eq!(
        routes,
        [
            (Format::UwsgiRequest, "stdout"),
            (Format::PythonTraceback, "errors")
        ]
    );
    let uwsgi_sinks: Vec<&str> = uwsgi.sinks().map(sink).collect();
    assert_eq!(uwsgi_sinks, ["stderr", "stdout", "errors"]);
    let app = &c.programs[1].streams[0];
    assert_eq!(sink(app.sink), "stdout");
    assert_eq!(app.routes.len(), 1);
    assert_eq!(app.routes[0].0, Format::NginxAccess);
    assert_eq!(sink(app.routes[0].1), "null");
    assert!(c.programs[1].streams[1].routes.is_empty());
}

#[test]
fn bad_routes_are_named_with_line_and_column() {
    let e = err(
        "[program.a]\ncommand = \"x\"\nstderr = { route = { \"uwsgi.requests\" = \"stdout\" } }\n",
    );
    assert!(
        e.starts_with("/etc/logmux.toml:3:22: program.a.stderr.route.\"uwsgi.requests\": unknown format `uwsgi.requests`; expected auto, "),
        "{e}"
    );
    assert_eq!(
        err("[program.a]\ncommand = \"x\"\n\n[program.a.stderr.route]\n\"uwsgi.request\" = \"stdot\"\n"),
        "/etc/logmux.toml:5:19: program.a.stderr.route.\"uwsgi.request\": no sink named `stdot` (known: stdout, stderr, null, syslog)"
    );
    assert_eq!(
        err("[program.a]\ncommand = \"x\"\nstdout = { route = { auto = \"stderr\" } }\n"),
        "/etc/logmux.toml:3:22: program.a.stdout.route.\"auto\": a route names a format, not `auto`"
    );
    let e = err("[program.a]\ncommand = \"x\"\nstdout = { route = \"stderr\" }\n");
    assert!(e.starts_with("/etc/logmux.toml:3:"), "{e}");
}

#[test]
fn service_name_defaults_to_the_program_name() {
    let c = load_str(
        "[program.certbot-renew]\ncommand = \"x\"\nservice_name = \"certbot\"\n[program.web]\ncommand = \"y\"\n",
    )
    .unwrap();
    assert_eq!(c.programs[0].name, "certbot-renew");
    assert_eq!(c.programs[0].service_name, "certbot");
    assert_eq!(c.programs[1].service_name, "web");
    assert_eq!(
        err("[program.a]\ncommand = \"x\"\nservice_name = \" \"\n"),
        "/etc/logmux.toml:3:16: program.a.service_name: must not be empty"
    );
}

#[test]
fn words_say_what_they_expect() {
    let program = "[program.a]\ncommand = \"x\"\n";
    assert_eq!(
        err(&format!("{program}autorestart = \"sometimes\"\n")),
        "/etc/logmux.toml:3:15: program.a.autorestart: `sometimes`: expected always, on-failure or never"
    );
    assert_eq!(
        err(&format!("{program}on_exit = \"stop\"\n")),
        "/etc/logmux.toml:3:11: program.a.on_exit: `stop`: expected restart, ignore or shutdown"
    );
    assert_eq!(
        err(&format!("{program}sighup = \"reload\"\n")),
        "/etc/logmux.toml:3:10: program.a.sighup: `reload`: expected forward, restart or ignore"
    );
    assert_eq!(
        err("[sink.s]\ntype = \"null\"\non_full = \"lose\"\n"),
        "/etc/logmux.toml:3:11: sink.s.on_full: `lose`: expected block or drop"
    );
    let c = load_str(&format!(
        "{program}autorestart = \"true\"\non_exit = \"ignore\"\nsighup = \"restart\"\n"
    ))
    .unwrap();
    let a = &c.programs[0];
    assert_eq!(
        (a.autorestart, a.on_exit, a.sighup),
        (AutoRestart::Always, OnExit::Ignore, Hup::Restart)
    );
    for mode in [
        AutoRestart::Always,
        AutoRestart::OnFailure,
        AutoRestart::Never,
    ] {
        assert_eq!(mode.name().parse(), Ok(mode));
    }
}

#[test]
fn a_program_may_name_its_uwsgi_logdate() {
    let c = load_str("[program.app]\ncommand = \"uwsgi\"\nuwsgi_logdate = \"%d/%b/%Y %H:%M:%S\"\n")
        .unwrap();
    let f = c.programs[0].uwsgi_logdate.as_ref().expect("compiled");
    assert!(f.parse_prefix(b"03/Dec/2026 14:39:33 - x").is_some());
    let e = err("[program.app]\ncommand = \"uwsgi\"\nuwsgi_logdate = \"%Q\"\n");
    assert!(
        e.starts_with("/etc/logmux.toml:3:17: program.app.uwsgi_logdate: `%Q` is not supported"),
        "{e}"
    );
}

#[test]
fn metrics_table_resolves_and_its_errors_name_file_line_and_key() {
    let c = load_str(
        "[program.a]\ncommand = \"x\"\n[metrics]\nlisten = \"9100\"\nroute_labels = 20\nduration_buckets = [0.1, 1, 10]\n",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let m = c.metrics.expect("[metrics] turns metrics on");
    assert_eq!(m.listen, Some("127.0.0.1:9100".parse().unwrap()));
    assert_eq!(m.route_labels, 20);
    assert_eq!(m.max_exception_types, 100);
    assert_eq!(m.duration_buckets, [0.1, 1.0, 10.0]);
    assert_eq!(m.size_buckets, crate::metrics::DEFAULT_SIZE_BUCKETS);
    let none = load_str("[program.a]\ncommand = \"x\"\n").unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(none.metrics, None);
    let base = "[program.a]\ncommand = \"x\"\n[metrics]\n";
    assert_eq!(
        err(&format!("{base}size_buckets = [100, 10]\n")),
        "/etc/logmux.toml:4:16: metrics.size_buckets: bucket bounds must increase: 10 is not above 100"
    );
    assert_eq!(
        err(&format!("{base}duration_buckets = []\n")),
        "/etc/logmux.toml:4:20: metrics.duration_buckets: needs at least one bucket bound"
    );
    assert_eq!(
        err(&format!("{base}max_exception_types = 20000\n")),
        "/etc/logmux.toml:4:23: metrics.max_exception_types: 20000 is more than 10000: each one is a series Prometheus keeps"
    );
    assert!(err(&format!("{base}listen = \"here\"\n")).starts_with(
        "/etc/logmux.toml:4:10: metrics.listen: `here` is not an address to listen on"
    ));
    assert!(err(&format!("{base}bucket = [1]\n"))
        .starts_with("/etc/logmux.toml:4:1: metrics.bucket: unknown field `bucket`"));
}
