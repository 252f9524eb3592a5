use std::time::Duration;

use super::interpolate::Names;
use super::syntax::{comment_start, Value};
use super::*;
use crate::config::run::{self as config, AutoRestart, RunConfig, SinkKind};

const SEED: &str = include_str!("../../../fixtures/supervisord/seed-supervisor-app.conf");

fn env(name: &str) -> Option<String> {
    match name {
        "APP_DIR" => Some("/srv/app".into()),
        "WORKERS" => Some("4".into()),
        "SPACED" => Some("a b".into()),
        _ => None,
    }
}

/// Parses and resolves through `config::parse`, collecting warnings.
fn load(text: &str) -> (Result<RunConfig, ConfigError>, Vec<String>) {
    let mut warnings = Vec::new();
    let result = config::parse(Path::new("x.conf"), text, &env, &mut |w| warnings.push(w));
    (result, warnings)
}

fn ok(text: &str) -> RunConfig {
    match load(text).0 {
        Ok(c) => c,
        Err(e) => panic!("{e}\nfor:\n{text}"),
    }
}

fn err(text: &str) -> String {
    match load(text).0 {
        Ok(_) => panic!("expected an error for:\n{text}"),
        Err(e) => e.to_string(),
    }
}

fn warnings(text: &str) -> Vec<String> {
    let (result, warnings) = load(text);
    if let Err(e) = result {
        panic!("{e}");
    }
    warnings
}

fn sink_names(c: &RunConfig, program: usize) -> [&str; 2] {
    let p = &c.programs[program];
    [
        c.sinks[p.streams[0].sink].name.as_str(),
        c.sinks[p.streams[1].sink].name.as_str(),
    ]
}

#[test]
fn the_seed_config_runs_unchanged() {
    let (result, warnings) = load(SEED);
    let c = result.unwrap();
    assert!(warnings.is_empty(), "{warnings:?}");
    let names: Vec<&str> = c.programs.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["app-uwsgi", "nginx-app"]);
    assert_eq!(
        c.programs[0].command,
        ["/usr/local/bin/uwsgi", "--ini", "/app/dockerable/uwsgi.ini"]
    );
    assert_eq!(c.programs[1].command, ["/usr/sbin/nginx"]);
    for i in 0..2 {
        assert_eq!(sink_names(&c, i), ["stdout", "stderr"]);
    }
    assert_eq!(
        c.sinks.len(),
        4,
        "no file sinks (stdout, stderr, null, syslog)"
    );
}

#[test]
fn supervisord_defaults_apply() {
    let c = ok("[program:a]\ncommand=/bin/a\n");
    let a = &c.programs[0];
    assert_eq!(a.autorestart, AutoRestart::OnFailure);
    assert_eq!(a.startretries, 3);
    assert_eq!(a.startsecs, Duration::from_secs(1));
    assert_eq!(a.stopwait, Duration::from_secs(10));
    assert!(!a.stop_as_group && !a.kill_as_group);
    assert_eq!(a.exitcodes, [0]);
    assert_eq!(a.priority, 999);
    assert_eq!(sink_names(&c, 0), ["stdout", "stderr"]);

    let c = ok(
        "[program:a]\ncommand=/bin/a\nautorestart=true\nstopasgroup=true\n\
                startsecs=0\nstartretries=7\nstopwaitsecs=30\nexitcodes=0, 2\nstopsignal=quit\n",
    );
    let a = &c.programs[0];
    assert_eq!(a.autorestart, AutoRestart::Always);
    assert!(
        a.stop_as_group && a.kill_as_group,
        "stopasgroup implies killasgroup"
    );
    assert_eq!((a.startsecs, a.startretries), (Duration::ZERO, 7));
    assert_eq!(a.stopwait, Duration::from_secs(30));
    assert_eq!(a.exitcodes, [0, 2]);
    assert_eq!(a.stopsignal, nix::sys::signal::Signal::SIGQUIT);
    let c = ok("[program:a]\ncommand=/bin/a\nautorestart=false\nkillasgroup=true\n");
    assert_eq!(c.programs[0].autorestart, AutoRestart::Never);
    assert!(!c.programs[0].stop_as_group && c.programs[0].kill_as_group);
}

#[test]
fn interpolation_fills_supervisord_names() {
    let text = "[program:web]\n\
                command=%(ENV_APP_DIR)s/run --name %(program_name)s-%(process_num)02d --pct 5%% %(ENV_SPACED)s\n\
                directory=%(here)s/app\n";
    let mut warn = |w: String| panic!("{w}");
    let c = config::parse(Path::new("/etc/supervisor/x.conf"), text, &env, &mut warn).unwrap();
    assert_eq!(
        c.programs[0].command,
        ["/srv/app/run", "--name", "web-00", "--pct", "5%", "a", "b"]
    );
    assert_eq!(c.programs[0].directory, Some("/etc/supervisor/app".into()));
    // A `${` is not logmux's template here: it reaches the program as written.
    let c = ok("[program:a]\ncommand=sh -c 'echo ${HOME} $PATH'\n");
    assert_eq!(c.programs[0].command, ["sh", "-c", "echo ${HOME} $PATH"]);
    let c = ok("[program:a]\ncommand=/bin/a\nenvironment=X=\"${Y}\"\n");
    assert_eq!(c.programs[0].environment, [("X".into(), "${Y}".into())]);
}

#[test]
fn conversions_follow_python() {
    // Each expected value is what Python's `%` gives for the same format.
    let cases = [
        ("%(process_num)02d", "00"),
        ("%(process_num)3d|", "  0|"),
        ("%(program_name)-5s|", "web  |"),
        ("%(program_name).2s", "we"),
        ("%(process_num)+d", "+0"),
        ("%(numprocs)-3d|", "1  |"),
        ("%(process_num).3d", "000"),
        ("%(program_name)5s", "  web"),
    ];
    let loc = Locator {
        path: Path::new("x.conf"),
        text: "",
    };
    let reader = Reader {
        loc: &loc,
        here: "/".into(),
        host: OnceCell::new(),
    };
    let names = Names {
        program: Some("web"),
        process_num: 0,
        numprocs: 1,
        env: &env,
    };
    for (format, expected) in cases {
        let value = Value {
            text: format.to_string(),
            starts: vec![(0, 0)],
            span: 0..format.len(),
        };
        let filled = reader.interpolate(&value, format, "k", &names);
        assert_eq!(filled.ok().as_deref(), Some(expected), "{format}");
    }
}

#[test]
fn missing_variables_name_file_line_and_key() {
    let (result, _) = load("[program:a]\n\ncommand = /bin/a --to %(ENV_NOPE)s\n");
    let e = result.unwrap_err();
    assert!(matches!(&e, ConfigError::MissingVariable { variable, .. } if variable == "NOPE"));
    // EX_CONFIG (78), as crate::exit::config says of every such error.
    assert!(!e.is_unreadable());
    assert_eq!(
        e.to_string(),
        "x.conf:3:23: program.a.command: environment variable NOPE is not set"
    );
    // On a continuation line, the column is that line's.
    assert_eq!(
        err("[program:a]\ncommand = /bin/a\n    --to %(ENV_NOPE)s\n"),
        "x.conf:3:10: program.a.command: environment variable NOPE is not set"
    );
    assert_eq!(
        err("[program:a]\ncommand=/bin/a %(nope)s\n"),
        "x.conf:2:16: program.a.command: `%(nope)`: unknown name (known: ENV_<VAR>, here, \
         host_node_name, program_name, group_name, process_num, numprocs)"
    );
    assert!(err("[program:a]\ncommand=date +%s\n")
        .contains("x.conf:2:15: program.a.command: a lone `%`"));
    assert!(err("[program:a]\ncommand=/bin/a %(here)d\n").contains("is text"));
    assert!(err("[program:a]\ncommand=/bin/a %(here\n").contains("not closed"));
    assert!(err("[program:a]\ncommand=/bin/a %(here)\n").contains("conversion is missing"));
}

#[test]
fn redirect_stderr_routes_stderr_with_stdout() {
    let c = ok("[program:a]\ncommand=/bin/a\nredirect_stderr=true\n");
    assert_eq!(sink_names(&c, 0), ["stdout", "stdout"]);
    let text = "[program:a]\ncommand=/bin/a\nredirect_stderr=yes\nstdout_logfile=/var/log/a.log\n";
    let c = ok(text);
    assert_eq!(
        sink_names(&c, 0),
        ["file:/var/log/a.log", "file:/var/log/a.log"]
    );
    assert!(warnings(text).is_empty());
    let w = warnings(
        "[program:a]\ncommand=/bin/a\nredirect_stderr=true\nstderr_logfile=/var/log/e.log\n",
    );
    assert_eq!(
        w,
        ["x.conf:4: [program:a] stderr_logfile: ignored, redirect_stderr=true sends stderr where stdout goes"]
    );
}

#[test]
fn log_files_become_file_sinks() {
    let text = "[program:a]\ncommand=/bin/a\n\
                stdout_logfile=/var/log/a.log\nstdout_logfile_maxbytes=1KB\nstdout_logfile_backups=3\n\
                stderr_logfile=/var/log/a.err\n\
                [program:b]\ncommand=/bin/b\nstdout_logfile=/var/log/a.log\n\
                stdout_logfile_maxbytes=1KB\nstdout_logfile_backups=3\n\
                stderr_logfile=/var/log/b.err\nstderr_logfile_maxbytes=0\n\
                [program:c]\ncommand=/bin/c\nstdout_logfile=NONE\nstderr_logfile=/dev/null\n";
    let (result, warnings) = load(text);
    let c = result.unwrap();
    assert!(warnings.is_empty(), "{warnings:?}");
    let kind = |name: &str| {
        c.sinks
            .iter()
            .find(|s| s.name == name)
            .map(|s| s.kind.clone())
    };
    assert_eq!(
        kind("file:/var/log/a.log"),
        Some(SinkKind::File {
            path: "/var/log/a.log".into(),
            max_size: Some(1024),
            max_files: 3
        })
    );
    assert_eq!(
        kind("file:/var/log/a.err"),
        Some(SinkKind::File {
            path: "/var/log/a.err".into(),
            max_size: Some(50 << 20),
            max_files: 10
        })
    );
    assert_eq!(
        kind("file:/var/log/b.err"),
        Some(SinkKind::File {
            path: "/var/log/b.err".into(),
            max_size: None,
            max_files: 10
        })
    );
    // Two programs on one path share one sink.
    assert_eq!(
        c.sinks
            .iter()
            .filter(|s| s.name == "file:/var/log/a.log")
            .count(),
        1
    );
    assert_eq!(
        sink_names(&c, 0),
        ["file:/var/log/a.log", "file:/var/log/a.err"]
    );
    assert_eq!(
        sink_names(&c, 1),
        ["file:/var/log/a.log", "file:/var/log/b.err"]
    );
    assert_eq!(sink_names(&c, 2), ["null", "null"]);

    let w = load("[program:a]\ncommand=/bin/a\nstdout_logfile=/l\n[program:b]\ncommand=/bin/b\nstdout_logfile=/l\nstdout_logfile_backups=1\n").1;
    assert_eq!(w, ["x.conf:6: [program:b] stdout_logfile: /l is shared with [program:a], whose rotation applies"]);
    assert_eq!(
        err("[program:a]\ncommand=/bin/a\nstdout_logfile_maxbytes=50 MiB\n"),
        "x.conf:3:25: program.a.stdout_logfile_maxbytes: `50 MiB` is not a size like 1024, 512KB, 50MB or 1GB"
    );
    // resolve's own checks see the INI position.
    assert_eq!(
        err("[program:a]\ncommand=/bin/a\nstdout_logfile=/l\nstdout_logfile_maxbytes=2GB\n"),
        "x.conf:4:25: sink.file:/l.max_size: 2147483648 is outside 16..=1073741824"
    );
}

#[test]
fn auto_logs_go_to_logmux_streams() {
    let text = "[program:a]\ncommand=/bin/a\nstdout_logfile=AUTO\nstderr_logfile=auto\n";
    let (result, w) = load(text);
    assert_eq!(sink_names(&result.unwrap(), 0), ["stdout", "stderr"]);
    assert_eq!(
        w,
        ["x.conf:3: [program:a] AUTO logs: logmux writes them to its own stdout and stderr, not to files in childlogdir"]
    );
}

#[test]
fn environment_values_may_quote_commas() {
    let c = ok("[supervisord]\nenvironment=G=1,B=global\n\
                [program:a]\ncommand=/bin/a %(ENV_C)s %(ENV_G)s\n\
                environment=A=\"1\",B=2,C='x,y', D=%(ENV_WORKERS)s\n");
    assert_eq!(
        c.programs[0].environment,
        [
            ("G".into(), "1".into()),
            ("B".into(), "2".into()),
            ("A".into(), "1".into()),
            ("C".into(), "x,y".into()),
            ("D".into(), "4".into()),
        ]
    );
    assert_eq!(c.programs[0].command, ["/bin/a", "x,y", "1"]);
    assert!(
        err("[program:a]\ncommand=/bin/a\nenvironment=A=\"1\n").contains("a quote is not closed")
    );
    assert!(err("[program:a]\ncommand=/bin/a\nenvironment=A\n").contains("`A` is not KEY=value"));
}

#[test]
fn priority_orders_the_start() {
    let c = ok("[program:late]\ncommand=/bin/a\npriority=20\n\
                [program:early]\ncommand=/bin/b\npriority=-1\n\
                [program:default]\ncommand=/bin/c\n");
    let names: Vec<&str> = c.programs.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["early", "late", "default"]);
}

#[test]
fn continuation_lines_and_comments() {
    let text = "; full-line comment\n# another\n[program:a]\n\
                command = /bin/a ; an inline comment\n\
                \x20   --flag=x;y   # another\n\
                \x20 ; a comment line inside the value\n\
                \n\
                \x20   last\n\
                environment =\n    A=1,\n    B=\"2 3\"\n\
                stopsignal: INT\n\
                USER = nobody\n";
    let c = ok(text);
    let a = &c.programs[0];
    assert_eq!(a.command, ["/bin/a", "--flag=x;y", "last"]);
    assert_eq!(
        a.environment,
        [("A".into(), "1".into()), ("B".into(), "2 3".into())]
    );
    assert_eq!(a.stopsignal, nix::sys::signal::Signal::SIGINT);
    assert_eq!(a.user.as_deref(), Some("nobody"));
    // Python's quirk: the first prefix to find a valid start wins.
    assert_eq!(comment_start("x = a#b #c ;d"), Some(11));
    assert_eq!(comment_start("x = a#b #c"), Some(8));
    assert_eq!(comment_start("  ; all"), Some(0));
    assert_eq!(comment_start("x = a;b"), None);
}

#[test]
fn warnings_name_file_line_and_key() {
    let w = warnings(
        "[unix_http_server]\nfile=/run/s.sock\n[supervisorctl]\nserverurl=unix:///run/s.sock\n\
         [rpcinterface:supervisor]\nsupervisor.rpcinterface_factory = x:y\n\
         [supervisord]\nnodaemon=false\numask=022\nfrobnicate=1\n\
         [program:a]\ncommand=/bin/a\ncolour=blue\nserverurl=AUTO\numask=002\nprocess_name=%(program_name)s\n\
         [program:b]\ncommand=/bin/b\nautostart=false\n\
         [group:x]\nprograms=a\n\
         [eventlistener:m]\ncommand=/bin/m\n\
         [include]\nfiles = conf.d/*.conf\n   more/*.ini\n\
         [fcgi-program:f]\n[weird]\n",
    );
    assert_eq!(
        w,
        [
            "x.conf:9: [supervisord] umask: applies when supervisord daemonizes; logmux stays in the foreground, ignored",
            "x.conf:10: [supervisord] frobnicate: unknown key, ignored",
            "x.conf:13: [program:a] colour: unknown key, ignored",
            "x.conf:15: [program:a] umask: not reproduced, the program inherits logmux's umask",
            "x.conf:22: [eventlistener:m] not supported, ignored",
            "x.conf:24: [include] files=conf.d/*.conf more/*.ini: includes are not followed, those files are not read",
            "x.conf:27: [fcgi-program:f] not supported, ignored",
            "x.conf:28: [weird] unknown section, ignored",
        ]
    );
    let c = ok("[program:a]\ncommand=/bin/a\n[program:b]\ncommand=/bin/b\nautostart=false\n");
    let autostart: Vec<(&str, bool)> = c
        .programs
        .iter()
        .map(|p| (p.name.as_str(), p.autostart))
        .collect();
    assert_eq!(autostart, [("a", true), ("b", false)]);
}

#[test]
fn numprocs_makes_one_program_per_process_and_groups_gather_them() {
    let c = ok("[group:pool]\nprograms=web, cron\n\
         [program:web]\ncommand=/bin/web --port 80%(process_num)02d\nprocess_name=%(program_name)s_%(process_num)d\n\
         numprocs=3\nnumprocs_start=1\nenvironment=N=\"%(process_num)d of %(numprocs)d\"\n\
         [program:cron]\ncommand=/bin/cron\n[program:solo]\ncommand=/bin/solo\nprocess_name=only\n");
    let got: Vec<(&str, &str, String, String)> = c
        .programs
        .iter()
        .map(|p| {
            let n = p
                .environment
                .iter()
                .find(|(k, _)| k == "N")
                .map_or(String::new(), |(_, v)| v.clone());
            (p.name.as_str(), p.group.as_str(), p.command.join(" "), n)
        })
        .collect();
    assert_eq!(
        got,
        [
            (
                "web_1",
                "pool",
                "/bin/web --port 8001".to_string(),
                "1 of 3".to_string()
            ),
            (
                "web_2",
                "pool",
                "/bin/web --port 8002".to_string(),
                "2 of 3".to_string()
            ),
            (
                "web_3",
                "pool",
                "/bin/web --port 8003".to_string(),
                "3 of 3".to_string()
            ),
            ("cron", "pool", "/bin/cron".to_string(), String::new()),
            ("only", "solo", "/bin/solo".to_string(), String::new()),
        ]
    );
    // Each process's events carry its own name.
    assert_eq!(c.programs[1].service_name, "web_2");
    // What logmux does not reproduce is said once, not once per process.
    let w = warnings("[program:web]\ncommand=/bin/web\nprocess_name=w%(process_num)d\nnumprocs=3\nstdout_logfile=AUTO\n");
    assert_eq!(
        w,
        ["x.conf:5: [program:web] AUTO logs: logmux writes them to its own stdout and stderr, not to files in childlogdir"]
    );
}

#[test]
fn errors_point_at_the_value() {
    assert_eq!(
        err("[program:a]\ncommand=/bin/a\nnumprocs = 2\n"),
        "x.conf:3:12: program.a.process_name: missing: with numprocs over 1, process_name must hold %(process_num) (e.g. %(program_name)s_%(process_num)02d)"
    );
    assert_eq!(
        err("[program:a]\ncommand=/bin/a\nnumprocs = 2\nprocess_name=a\n"),
        "x.conf:4:14: program.a.process_name: with numprocs over 1, process_name must hold %(process_num)"
    );
    assert_eq!(
        err("[program:a]\ncommand=/bin/a\nnumprocs = 0\n"),
        "x.conf:3:12: program.a.numprocs: 0: must be 1 to 256"
    );
    assert_eq!(
        err("[group:g]\nprograms=a,b\n[program:a]\ncommand=/bin/a\n"),
        "x.conf:2:10: group.g.programs: no [program:b] section"
    );
    assert_eq!(
        err("[program:a]\ncommand=/bin/a\nCommand=/bin/b\n"),
        "x.conf:3:1: program.a.command: duplicate key (first at line 2)"
    );
    assert_eq!(
        err("[program:a]\ncommand=/bin/a\n[program: a ]\n"),
        "x.conf:3:1: program.a: duplicate section (first at line 1)"
    );
    assert_eq!(
        err("[program:a]\ncommand=/bin/a\nstartretries=many\n"),
        "x.conf:3:14: program.a.startretries: `many` is not a whole number"
    );
    assert_eq!(
        err("[program:a]\ncommand=/bin/a\nstartsecs=-1\n"),
        "x.conf:3:11: program.a.startsecs: -1 is outside 0..=4294967295"
    );
    assert_eq!(
        err("[program:a]\ncommand=/bin/a\nautorestart=sometimes\n"),
        "x.conf:3:13: program.a.autorestart: `sometimes`: expected true, false or unexpected"
    );
    assert_eq!(
        err("[program:a]\ncommand=/bin/a\nstopasgroup=true\nkillasgroup=false\n"),
        "x.conf:4:13: program.a.killasgroup: cannot be false when stopasgroup is true"
    );
    assert!(err("[program:a]\ncommand=/bin/a\nexitcodes=0,256\n").contains("program.a.exitcodes"));
    assert!(err("[program:a]\ncommand=/bin/a\nredirect_stderr=maybe\n")
        .contains("`maybe` is not true or false"));
    // resolve's checks point into the INI text too.
    assert_eq!(
        err("[program:a]\ncommand=/bin/a\nstopsignal = TERMM\n"),
        "x.conf:3:14: program.a.stopsignal: `TERMM` is not a signal name (TERM, INT, QUIT, HUP, KILL, USR1, USR2)"
    );
    assert_eq!(
        err("[program:a]\nuser=nobody\n"),
        "x.conf:1:1: program.a.command: missing: every program needs a command"
    );
    assert_eq!(
        err("command=/bin/a\n"),
        "x.conf:1:1: command: a key before the first [section]"
    );
    assert_eq!(
        err("[program:a]\njust words\n"),
        "x.conf:2:1: program.a: `just words` is neither `key = value` nor a [section]"
    );
}

proptest::proptest! {
    #[test]
    fn never_panics(text in ".{0,300}") {
        let loc = Locator { path: Path::new("x.conf"), text: &text };
        let _ = parse(&loc, &env, &mut |_| {});
    }

    #[test]
    fn never_panics_on_ini_like_text(text in "[\\[\\]a-z:=%()_ \n;#\"',.]{0,300}") {
        let loc = Locator { path: Path::new("x.conf"), text: &text };
        let _ = parse(&loc, &env, &mut |_| {});
        let _ = config::parse(Path::new("x.conf"), &text, &env, &mut |_| {});
    }
}
