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
fn numprocs_makes_one_program_per_process() {
    let c = load_str(
        r#"
[program.web]
command = "serve --port 80%(process_num)02d --pid %(program_name)s.pid --at +%s"
numprocs = 2
environment = { N = "%(process_num)d/%(numprocs)d" }
ready = { tcp = "127.0.0.1:80%(process_num)02d" }
[program.nginx]
command = ["nginx"]
depends_on = ["web"]
group = "front"
autostart = false
"#,
    )
    .unwrap();
    let got: Vec<(&str, &str, String, bool)> = c
        .programs
        .iter()
        .map(|p| {
            (
                p.name.as_str(),
                p.group.as_str(),
                p.command.join(" "),
                p.autostart,
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            (
                "web_00",
                "web",
                "serve --port 8000 --pid web.pid --at +%s".into(),
                true
            ),
            (
                "web_01",
                "web",
                "serve --port 8001 --pid web.pid --at +%s".into(),
                true
            ),
            ("nginx", "front", "nginx".into(), false),
        ]
    );
    assert_eq!(
        c.programs[1].environment,
        [("N".to_string(), "1/2".to_string())]
    );
    assert_eq!(
        c.programs[1].ready.as_ref().map(|r| r.probe.clone()),
        Some(ReadyProbe::Tcp("127.0.0.1:8001".into()))
    );
    // Depending on `web` is depending on every one of its processes.
    assert_eq!(c.programs[2].depends_on, [0, 1]);
    assert_eq!(c.programs[0].service_name, "web_00");
}

#[test]
fn numprocs_errors_name_the_key() {
    assert_eq!(
        err("[program.a]\ncommand = [\"a\"]\nnumprocs = 0\n"),
        "/etc/logmux.toml:3:12: program.a.numprocs: 0: must be 1 to 256"
    );
    assert_eq!(
        err("[program.a]\ncommand = [\"a\"]\nnumprocs = 2\nprocess_name = \"a\"\n"),
        "/etc/logmux.toml:4:16: program.a.process_name: with numprocs over 1, process_name must hold %(process_num)"
    );
    assert_eq!(
        err("[program.a]\ncommand = [\"a %(process_num)q\"]\nnumprocs = 2\n"),
        "/etc/logmux.toml:2:11: program.a.command: `%(process_num)`: `q` is not a conversion supervisord configs use (s or d)"
    );
    assert_eq!(
        err("[program.a]\ncommand = [\"a\"]\ngroup = \"x y\"\n"),
        "/etc/logmux.toml:3:9: program.a.group: a group name must be non-empty, without spaces or `:`"
    );
}

#[test]
fn ready_kinds_and_health_resolve() {
    let c = load_str(
        r#"
[program.a]
command = "a"
ready = { fd = 3, timeout = "5s" }
[program.b]
command = "b"
ready = { notify = true }
[program.c]
command = "c"
ready = { exec = "test -e /run/c", interval = "200ms" }
[program.d]
command = "d"
ready = { http = "http://127.0.0.1:8000/" }
health = { http = "http://127.0.0.1/healthz", interval = "10s", timeout = "2s", failures = 2 }
[program.e]
command = "e"
health = { exec = ["true", "x y"] }
"#,
    )
    .unwrap();
    let p = |n: &str| c.programs.iter().find(|p| p.name == n).unwrap();
    let a = p("a").ready.clone().unwrap();
    assert_eq!(a.probe, ReadyProbe::Fd(3));
    assert_eq!(a.timeout, Duration::from_secs(5));
    assert_eq!(p("b").ready.as_ref().unwrap().probe, ReadyProbe::Notify);
    let cr = p("c").ready.clone().unwrap();
    assert_eq!(
        cr.probe,
        ReadyProbe::Check(Check::Exec(vec![
            "test".into(),
            "-e".into(),
            "/run/c".into()
        ]))
    );
    assert_eq!(cr.interval, Duration::from_millis(200));
    assert_eq!(cr.timeout, Duration::from_secs(60));
    let d = p("d");
    assert_eq!(
        d.ready.as_ref().unwrap().probe,
        ReadyProbe::Check(Check::Http("http://127.0.0.1:8000/".into()))
    );
    assert_eq!(d.ready.as_ref().unwrap().interval, Duration::from_secs(1));
    assert_eq!(
        d.health,
        Some(Health {
            check: Check::Http("http://127.0.0.1/healthz".into()),
            interval: Duration::from_secs(10),
            timeout: Duration::from_secs(2),
            failures: 2,
        })
    );
    let e = p("e").health.clone().unwrap();
    assert_eq!(e.check, Check::Exec(vec!["true".into(), "x y".into()]));
    assert_eq!(
        (e.interval, e.timeout, e.failures),
        (Duration::from_secs(10), Duration::from_secs(2), 3)
    );
}

#[test]
fn bad_probes_name_their_key() {
    let bad = |t: &str| err(&format!("[program.a]\ncommand = \"x\"\n{t}\n"));
    assert_eq!(
        bad("ready = { fd = 1 }"),
        "/etc/logmux.toml:3:9: program.a.ready.fd: 1 is not a notification descriptor: use 3..=255 (0-2 are stdin, stdout and stderr)"
    );
    assert!(
        bad("ready = { fd = 3, notify = true }").contains("program.a.ready: give exactly one of")
    );
    assert!(bad("ready = { notify = false }").contains("program.a.ready.notify"));
    assert!(bad("ready = { http = \"ftp://x\" }")
        .contains("program.a.ready.http: `ftp://x` is not an http"));
    assert!(bad("ready = { exec = [] }").contains("program.a.ready.exec: empty command"));
    assert!(bad("ready = { exec = \"a 'b\" }").contains("program.a.ready.exec: unbalanced quotes"));
    assert!(bad("health = { interval = \"1s\" }")
        .contains("program.a.health: give exactly one of http or exec"));
    assert!(
        bad("health = { exec = \"true\", failures = 0 }").contains("program.a.health.failures: 0")
    );
    assert!(bad("health = { exec = \"true\", timeout = \"0s\" }")
        .contains("program.a.health.timeout: must be more than 0"));
    assert!(bad("health = { exec = \"true\", retries = 3 }").contains("unknown field `retries`"));
}

#[test]
fn tail_buffer_has_defaults_and_checks_its_values() {
    let c = load_str("[program.a]\ncommand = \"true\"\n").unwrap();
    assert_eq!(
        c.tail_buffer,
        TailBuffer {
            events: 1000,
            bytes: 1 << 20
        }
    );
    let c = load_str(
        "tail_buffer = { events = 50, bytes = \"64KiB\" }\n[program.a]\ncommand = \"true\"\n",
    )
    .unwrap();
    assert_eq!(
        c.tail_buffer,
        TailBuffer {
            events: 50,
            bytes: 65536
        }
    );
    let c = load_str("tail_buffer = { events = 0 }\n[program.a]\ncommand = \"true\"\n").unwrap();
    assert_eq!(c.tail_buffer.events, 0);
    assert_eq!(
        err("tail_buffer = { events = 2000000 }\n"),
        "/etc/logmux.toml:1:26: tail_buffer.events: 2000000 is more than 1000000"
    );
    let e = err("tail_buffer = { bytes = \"lots\" }\n");
    assert!(
        e.starts_with("/etc/logmux.toml:1:25: tail_buffer.bytes: "),
        "{e}"
    );
    let e = err("tail_buffer = { lines = 5 }\n");
    assert!(e.contains("tail_buffer") && e.contains("lines"), "{e}");
}

#[test]
fn logmux_cpus_is_the_cgroup_limited_cpu_count_unless_set() {
    let c = load_str("[program.a]\ncommand = \"nginx -g 'worker_processes ${LOGMUX_CPUS};'\"\n")
        .unwrap();
    let cpus = crate::sys::cpus::available().to_string();
    assert_eq!(
        c.programs[0].command,
        ["nginx", "-g", &format!("worker_processes {cpus};")]
    );
    assert!(c.env_defaults.contains(&("LOGMUX_CPUS".to_string(), cpus)));
    // [env] defaults (or the environment) decide instead.
    let c = load_str(
        "[env]\ndefaults = { LOGMUX_CPUS = \"7\" }\n[program.a]\ncommand = \"echo ${LOGMUX_CPUS}\"\n",
    )
    .unwrap();
    assert_eq!(c.programs[0].command, ["echo", "7"]);
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

#[test]
fn uwsgi_log_format_top_level_is_every_programs_unless_one_has_its_own() {
    let c = load_str(
        "uwsgi_log_format = \"%(addr) %(status)\"\n\
         [program.a]\ncommand = \"uwsgi\"\n\
         [program.b]\ncommand = \"uwsgi\"\nuwsgi_log_format = \"%(method) %(uri) %(var.HTTP_X_REQUEST_ID)\"\n",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let vars = |i: usize| -> Vec<String> {
        c.programs[i]
            .uwsgi_log_format
            .as_ref()
            .map(|f| f.variables().map(str::to_owned).collect())
            .unwrap_or_default()
    };
    assert_eq!(vars(0), ["addr", "status"]);
    assert_eq!(vars(1), ["method", "uri", "var.HTTP_X_REQUEST_ID"]);
    let c = load_str("[program.a]\ncommand = \"uwsgi\"\n").unwrap_or_else(|e| panic!("{e}"));
    assert!(c.programs[0].uwsgi_log_format.is_none());
}

#[test]
fn a_command_lines_words_are_run_as_given_not_filled_again() {
    // The shell that ran `logmux run -- …` has filled what it meant to
    // fill: a `${VAR}` left in a word is the program's (as under tini).
    let words = ["sh", "-c", "echo ${NGINX_SERVER_NAME} $${X} %(ENV_HOME)s"];
    let config = for_command(words.iter().map(|w| w.to_string()).collect(), &env)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(config.programs.len(), 1);
    assert_eq!(config.programs[0].command, words);
    assert_eq!(config.programs[0].name, "sh");
}
