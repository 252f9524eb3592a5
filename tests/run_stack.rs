//! `logmux run` against the real programs, no mocks: Debian's nginx in front
//! of Debian's uWSGI (python3 plugin) running the Django app in docker/app.
//! The tests send real HTTP requests, stop logmux with SIGTERM as
//! `docker stop` would, and then check what logmux wrote: one typed JSON
//! event per access line, per uWSGI request line and per whole Python
//! traceback, each tagged with its program and stream, logmux's own events
//! in the right order, every output line JSON, a clean stop in well under
//! the 10 s Docker allows, exit code 0, and no process of the stack left.
//!
//! `stack_serves_and_logs_every_request` runs `tests/stack/logmux.toml`,
//! whose `[[template]]`s render the nginx and uWSGI configs into a temporary
//! directory from `${VAR}`s the test sets. `seed_supervisord_conf_runs_unchanged`
//! runs the seed container's supervisord config
//! (`fixtures/supervisord/seed-supervisor-app.conf`) byte for byte, as PID 1 of
//! a private PID and mount namespace that provides the seed's paths (/app,
//! /usr/local/bin/uwsgi, /etc/nginx/nginx.conf) without changing the host.
//!
//! Both need root and the Debian packages (tests/run-all.sh installs them);
//! without them they are skipped, a failure under CI or `LOGMUX_LIVE=1`.
//! `check_names_the_missing_variable` is cheap and always runs.

mod common;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use serde_json::Value;

/// Start-up on a slow, shared machine: generous.
const START_TIMEOUT: Duration = Duration::from_secs(30);
/// What /boom/ raises (docker/app/demo/views.py: `1 / 0`).
const BOOM_EXCEPTION: &str = "ZeroDivisionError";

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn live(test: &str) -> bool {
    let lacking = common::lacking(common::STACK);
    if lacking.is_empty() {
        return true;
    }
    common::skip_or_fail(test, &format!("needs {}", lacking.join(", ")));
    false
}

/// A port nobody listens on now (the kernel's pick for port 0).
fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    l.local_addr().expect("local addr").port()
}

/// A temporary directory that nginx's and uWSGI's workers (nobody,
/// www-data) can traverse to reach the socket.
fn stack_dir() -> tempfile::TempDir {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::Builder::new()
        .prefix("logmux-run-stack-")
        .tempdir()
        .expect("temp dir");
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).expect("chmod");
    dir
}

/// The environment the stack's programs inherit through logmux: Debian's
/// Python, not a pyenv one, and no bytecode written into docker/app.
fn stack_env(cmd: &mut Command) {
    cmd.env_remove("PYTHONHOME")
        .env_remove("PYTHONPATH")
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .env("LC_ALL", "C.UTF-8");
}

// ------------------------------------------------------------ the output

/// Every line one stream of logmux wrote, read by a thread as it comes.
struct Lines {
    lines: Arc<Mutex<Vec<String>>>,
    reader: Option<JoinHandle<()>>,
}

impl Lines {
    fn capture(stream: impl Read + Send + 'static) -> Lines {
        let lines = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&lines);
        let reader = std::thread::spawn(move || {
            let mut r = BufReader::new(stream);
            let mut buf = Vec::new();
            loop {
                buf.clear();
                match r.read_until(b'\n', &mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {
                        let mut line = String::from_utf8_lossy(&buf).into_owned();
                        if line.ends_with('\n') {
                            line.pop();
                        } else {
                            // Kept visible: a last line without its newline is a defect.
                            line.push_str("<no newline>");
                        }
                        sink.lock().expect("lines").push(line);
                    }
                }
            }
        });
        Lines {
            lines,
            reader: Some(reader),
        }
    }

    fn snapshot(&self) -> Vec<String> {
        self.lines.lock().expect("lines").clone()
    }

    /// Waits for the stream's end (logmux has exited), then returns every line.
    fn finish(&mut self) -> Vec<String> {
        if let Some(r) = self.reader.take() {
            r.join().expect("reader thread");
        }
        self.snapshot()
    }
}

/// Parses every line as a JSON object, failing on the first that is not.
fn parse_all(stream: &str, lines: &[String]) -> Vec<Value> {
    lines
        .iter()
        .map(|l| {
            let v: Value = serde_json::from_str(l)
                .unwrap_or_else(|e| panic!("logmux {stream}: a line that is not JSON ({e}): {l}"));
            assert!(v.is_object(), "logmux {stream}: not a JSON object: {l}");
            v
        })
        .collect()
}

fn format_of(e: &Value) -> &str {
    e["logmux"]["format"].as_str().unwrap_or("")
}

fn service_of(e: &Value) -> &str {
    e["service"]["name"].as_str().unwrap_or("")
}

fn message_of(e: &Value) -> &str {
    e["message"].as_str().unwrap_or("")
}

/// Position of logmux's own event with exactly this message.
fn own_event(events: &[Value], message: &str) -> Option<usize> {
    events
        .iter()
        .position(|e| service_of(e) == "logmux" && message_of(e) == message)
}

/// Every program logmux stopped ended on that stop (its exit event after
/// the `stopping` one), with a success code or its stop signal, never
/// SIGKILL; the stop time itself is a FIGURE, not an assertion.
fn assert_stopped_by_their_signals(err: &[Value]) {
    let own: Vec<&str> = err
        .iter()
        .filter(|e| service_of(e) == "logmux")
        .map(message_of)
        .collect();
    let stops: Vec<(usize, &str, &str)> = own
        .iter()
        .enumerate()
        .filter_map(|(i, m)| {
            let (name, sig) = m.strip_prefix("stopping ")?.split_once(" with ")?;
            Some((i, name, sig))
        })
        .collect();
    assert!(!stops.is_empty(), "no stop in {own:#?}");
    for (i, name, sig) in stops {
        let exit = own[i..]
            .iter()
            .find(|m| m.starts_with(&format!("{name} exited: ")))
            .unwrap_or_else(|| panic!("{name} did not exit after its stop: {own:#?}"));
        let clean = exit.ends_with(": exit code 0") || exit.ends_with(&format!("({sig})"));
        assert!(clean, "{name} stopped with {sig}: {exit}");
    }
}

/// Whether logmux reported spawning `program` (`spawned NAME (pid N)`).
fn spawned(lines: &[String], program: &str) -> Option<usize> {
    let prefix = format!("spawned {program} (pid ");
    lines.iter().position(|l| {
        serde_json::from_str::<Value>(l)
            .is_ok_and(|e| service_of(&e) == "logmux" && message_of(&e).starts_with(&prefix))
    })
}

/// `status → count` over events of one format from one program.
fn status_counts(events: &[&Value]) -> BTreeMap<i64, usize> {
    let mut counts = BTreeMap::new();
    for e in events {
        let status = e["http"]["response"]["status_code"].as_i64().unwrap_or(-1);
        *counts.entry(status).or_insert(0) += 1;
    }
    counts
}

/// 32 lower-case hex digits, as nginx's `$request_id` and OTel write trace ids.
fn is_trace_id(s: &str) -> bool {
    s.len() == 32 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// The stream-tagged events of one program in one format.
fn select<'a>(events: &'a [Value], format: &str, service: &str) -> Vec<&'a Value> {
    events
        .iter()
        .filter(|e| format_of(e) == format && service_of(e) == service)
        .collect()
}

// ----------------------------------------------------------- processes

/// What a stopped stack left: logmux's exit (the stop's duration is printed), and
/// its stdout and stderr lines (and both together) as JSON.
struct Stopped {
    status: std::process::ExitStatus,
    out: Vec<Value>,
    err: Vec<Value>,
    all: Vec<Value>,
    /// stderr as text, in order.
    err_lines: Vec<String>,
}

/// Waits for uWSGI's tenth request line, stops logmux with SIGTERM, and
/// parses everything it wrote (every line must be a JSON object).
fn stop_after_traffic(run: &mut Running, label: &str) -> Stopped {
    stop_after_requests(run, label, 10)
}

/// [`stop_after_traffic`] after uWSGI's `n`th request line.
fn stop_after_requests(run: &mut Running, label: &str, n: usize) -> Stopped {
    run.wait_until("the last uWSGI request line", |r| {
        r.stderr
            .snapshot()
            .iter()
            .filter(|l| l.contains("\"uwsgi.request\""))
            .count()
            >= n
    });
    let (status, took) = run.terminate();
    let (out_lines, err_lines) = run.output();
    println!(
        "FIGURE {label}: stopped {took:?} after SIGTERM ({status}); {} stdout and {} stderr lines",
        out_lines.len(),
        err_lines.len()
    );
    let out = parse_all("stdout", &out_lines);
    let err = parse_all("stderr", &err_lines);
    let all: Vec<Value> = out.iter().chain(&err).cloned().collect();
    Stopped {
        status,
        out,
        err,
        all,
        err_lines,
    }
}

/// `(pid, ppid)` of every process now.
fn process_table() -> Vec<(i32, i32)> {
    let mut out = Vec::new();
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return out;
    };
    for entry in dir.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<i32>().ok())
        else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        // After the `)` closing the command name: state, then ppid.
        let ppid = stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().nth(1))
            .and_then(|p| p.parse().ok());
        if let Some(ppid) = ppid {
            out.push((pid, ppid));
        }
    }
    out
}

fn children_of(pid: i32) -> Vec<i32> {
    process_table()
        .into_iter()
        .filter(|&(_, ppid)| ppid == pid)
        .map(|(p, _)| p)
        .collect()
}

fn descendants_of(root: i32) -> Vec<i32> {
    let table = process_table();
    let mut found = vec![root];
    let mut i = 0;
    while i < found.len() {
        let parent = found[i];
        found.extend(
            table
                .iter()
                .filter(|&&(_, pp)| pp == parent)
                .map(|&(p, _)| p),
        );
        i += 1;
    }
    found.remove(0);
    found
}

fn cmdline(pid: i32) -> String {
    std::fs::read(format!("/proc/{pid}/cmdline"))
        .map(|b| String::from_utf8_lossy(&b).replace('\0', " "))
        .unwrap_or_default()
}

/// Alive and not a zombie.
fn alive(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| {
        s.rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().next())
            .is_some_and(|state| state != "Z")
    })
}

/// Processes (other than this test) whose command line mentions `needle`.
fn processes_mentioning(needle: &str) -> Vec<String> {
    let me = std::process::id() as i32;
    process_table()
        .into_iter()
        .map(|(pid, _)| pid)
        .filter(|&pid| pid != me && alive(pid))
        .filter_map(|pid| {
            let c = cmdline(pid);
            c.contains(needle).then(|| format!("{pid}: {c}"))
        })
        .collect()
}

// ------------------------------------------------------------- logmux

/// A running `logmux run` whose output the test reads. Dropping it stops
/// everything it started, even when an assertion failed half-way.
struct Running {
    /// logmux itself, or the `unshare` process whose child it is.
    child: Child,
    /// logmux runs as PID 1 of a namespace under `unshare`.
    in_namespace: bool,
    logmux_path: PathBuf,
    stdout: Lines,
    stderr: Lines,
    status: Option<ExitStatus>,
}

impl Running {
    fn start(mut cmd: Command, in_namespace: bool) -> Running {
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("start logmux");
        let stdout = Lines::capture(child.stdout.take().expect("stdout"));
        let stderr = Lines::capture(child.stderr.take().expect("stderr"));
        Running {
            child,
            in_namespace,
            logmux_path: PathBuf::from(env!("CARGO_BIN_EXE_logmux")),
            stdout,
            stderr,
            status: None,
        }
    }

    /// logmux's pid as the host sees it. Under `unshare --fork` logmux is
    /// the forked child (its shell `exec`s `chroot`, which `exec`s logmux),
    /// so it is the child of `unshare` whose command line is logmux's.
    fn logmux_pid(&self) -> Option<i32> {
        let own = self.child.id() as i32;
        if !self.in_namespace {
            return Some(own);
        }
        let path = self.logmux_path.to_string_lossy().into_owned();
        children_of(own)
            .into_iter()
            .find(|&p| cmdline(p).starts_with(&format!("{path} ")))
    }

    fn exited(&mut self) -> bool {
        if self.status.is_none() {
            self.status = self.child.try_wait().expect("try_wait");
        }
        self.status.is_some()
    }

    /// Waits up to `limit` for the process the test started to end.
    fn wait_for_exit(&mut self, limit: Duration) -> bool {
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            if self.exited() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        self.exited()
    }

    /// Polls until `ready` holds, failing (with logmux's output) if logmux
    /// exits first or the start-up takes longer than `START_TIMEOUT`.
    fn wait_until(&mut self, what: &str, ready: impl FnMut(&Running) -> bool) {
        self.wait_until_or(what, ready, |_| false);
    }

    /// [`Running::wait_until`], but false as soon as `give_up` holds.
    fn wait_until_or(
        &mut self,
        what: &str,
        mut ready: impl FnMut(&Running) -> bool,
        give_up: impl Fn(&Running) -> bool,
    ) -> bool {
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if ready(self) {
                return true;
            }
            if give_up(self) {
                return false;
            }
            if self.exited() {
                panic!("logmux ended ({:?}) before {what}", self.status);
            }
            if Instant::now() > deadline {
                panic!("no {what} after {START_TIMEOUT:?}");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// SIGTERM to logmux, as `docker stop` sends; returns how it ended and
    /// how long the stop took.
    fn terminate(&mut self) -> (ExitStatus, Duration) {
        let pid = self.logmux_pid().expect("logmux's pid");
        let sent = Instant::now();
        kill(Pid::from_raw(pid), Signal::SIGTERM).expect("SIGTERM to logmux");
        // Twice the limit: a slow stop fails below with its real duration.
        assert!(
            self.wait_for_exit(Duration::from_secs(20)),
            "logmux still runs 20 s after SIGTERM"
        );
        let took = sent.elapsed();
        (self.status.expect("exit status"), took)
    }

    /// Everything logmux wrote, once it has exited: (stdout, stderr).
    fn output(&mut self) -> (Vec<String>, Vec<String>) {
        (self.stdout.finish(), self.stderr.finish())
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if std::thread::panicking() {
            let show = |name: &str, lines: Vec<String>| {
                let skip = lines.len().saturating_sub(150);
                eprintln!("---- logmux {name} (last {} lines)", lines.len() - skip);
                for l in &lines[skip..] {
                    eprintln!("{l}");
                }
            };
            show("stdout", self.stdout.snapshot());
            show("stderr", self.stderr.snapshot());
        }
        if self.exited() {
            return;
        }
        // First as a container stop: logmux stops its programs itself.
        let leftovers = match self.logmux_pid() {
            Some(pid) => {
                let tree = descendants_of(pid);
                let _ = kill(Pid::from_raw(pid), Signal::SIGTERM);
                tree
            }
            None => Vec::new(),
        };
        if self.wait_for_exit(Duration::from_secs(8)) {
            return;
        }
        // Then by force. In a namespace, SIGKILL to `unshare` makes
        // --kill-child SIGKILL logmux, the namespace's init, and the kernel
        // then kills every process left in it.
        for p in leftovers {
            let _ = kill(Pid::from_raw(p), Signal::SIGKILL);
        }
        if let Some(pid) = self.logmux_pid() {
            for p in descendants_of(pid) {
                let _ = kill(Pid::from_raw(p), Signal::SIGKILL);
            }
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

// ---------------------------------------------------------------- HTTP

/// One HTTP/1.0 request; returns the response's status code.
fn http_get(port: u16, path: &str) -> u16 {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect to nginx");
    s.set_read_timeout(Some(Duration::from_secs(30)))
        .expect("timeout");
    write!(
        s,
        "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\nUser-Agent: logmux-run-stack\r\n\r\n"
    )
    .expect("send request");
    // No half-close: nginx would take it for a client that gave up (499).
    let mut response = Vec::new();
    s.read_to_end(&mut response).expect("read response");
    let head = String::from_utf8_lossy(&response);
    head.split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("GET {path}: no HTTP status in {:?}", head.lines().next()))
}

/// One HTTP/1.0 request with `headers`; returns the status code and the
/// response's `X-Request-ID` header.
fn http_get_id(port: u16, path: &str, headers: &[(&str, &str)]) -> (u16, String) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect to nginx");
    s.set_read_timeout(Some(Duration::from_secs(30)))
        .expect("timeout");
    let mut request =
        format!("GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\nUser-Agent: logmux-run-stack\r\n");
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    s.write_all(request.as_bytes()).expect("send request");
    let mut response = Vec::new();
    s.read_to_end(&mut response).expect("read response");
    let text = String::from_utf8_lossy(&response);
    let head = text.split("\r\n\r\n").next().unwrap_or("");
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("GET {path}: no HTTP status in {head:?}"));
    let id = head
        .lines()
        .find_map(|l| {
            let (name, value) = l.split_once(':')?;
            name.eq_ignore_ascii_case("x-request-id")
                .then(|| value.trim().to_string())
        })
        .unwrap_or_else(|| panic!("GET {path}: no X-Request-ID in {head}"));
    (status, id)
}

/// The requests both tests send: path, expected status, how many times.
const TRAFFIC: [(&str, u16, usize); 3] = [("/", 200, 5), ("/nope/", 404, 3), ("/boom/", 500, 2)];

fn send_traffic(port: u16) {
    for (path, status, times) in TRAFFIC {
        for _ in 0..times {
            assert_eq!(http_get(port, path), status, "GET {path}");
        }
    }
}

fn traffic_counts() -> BTreeMap<i64, usize> {
    TRAFFIC
        .iter()
        .map(|&(_, status, times)| (i64::from(status), times))
        .collect()
}

/// How many ports a stack start tries (see [`start_on_a_free_port`]).
const PORT_ATTEMPTS: usize = 3;

/// Whether nginx said another program holds its port.
fn port_taken(r: &Running) -> bool {
    let said = |lines: Vec<String>| lines.iter().any(|l| l.contains("Address already in use"));
    said(r.stdout.snapshot()) || said(r.stderr.snapshot())
}

/// Starts the stack (`start`, given a free port) and waits until `ready`.
/// nginx cannot bind port 0 and say which it got, so the port is picked
/// before nginx binds it: when another program took it meanwhile (nginx
/// says so), the whole start is made again on another port.
fn start_on_a_free_port(
    what: &str,
    mut start: impl FnMut(u16) -> Running,
    ready: impl Fn(&Running, u16) -> bool,
) -> (Running, u16) {
    for _ in 0..PORT_ATTEMPTS {
        let port = free_port();
        let mut run = start(port);
        if run.wait_until_or(what, |r| ready(r, port), port_taken) {
            return (run, port);
        }
        eprintln!("port {port} was taken before nginx bound it: starting again on another");
    }
    panic!("{what}: each of {PORT_ATTEMPTS} free ports was taken before nginx bound it");
}

/// The stack on tests/stack/`config` in `dir`, with `env` besides the
/// usual, started on a free port and waited for until nginx serves.
fn start_stack(dir: &tempfile::TempDir, config: &str, env: &[(&str, &str)]) -> (Running, u16) {
    let tmp = dir.path().to_str().expect("utf-8 temp path").to_string();
    let app = repo().join("docker/app");
    let start = |port: u16| {
        let mut cmd = common::logmux();
        cmd.arg("run")
            .arg("--config")
            .arg(repo().join("tests/stack").join(config))
            .env("STACK_DIR", &tmp)
            .env("STACK_PORT", port.to_string())
            .env("APP_DIR", &app)
            .envs(env.iter().copied())
            .env_remove("UWSGI_PROCESSES")
            .current_dir(dir.path());
        stack_env(&mut cmd);
        Running::start(cmd, false)
    };
    start_on_a_free_port("nginx spawned and listening", start, |r, port| {
        spawned(&r.stderr.snapshot(), "nginx").is_some() && nginx_listens(port) && accepts_tcp(port)
    })
}

/// Whether nginx itself listens on `port` (`ss` names the socket's
/// owner): not another program that took the port first.
fn nginx_listens(port: u16) -> bool {
    Command::new("ss")
        .args(["-Hltnp", &format!("sport = :{port}")])
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains("((\"nginx\""))
}

/// A TCP connection that is closed without a byte: nginx logs nothing.
fn accepts_tcp(port: u16) -> bool {
    TcpStream::connect_timeout(
        &std::net::SocketAddr::from(([127, 0, 0, 1], port)),
        Duration::from_millis(200),
    )
    .is_ok()
}

// ------------------------------------------------------------ the tests

#[test]
fn stack_serves_and_logs_every_request() {
    if !live("stack_serves_and_logs_every_request") {
        return;
    }
    let dir = stack_dir();
    let tmp = dir.path().to_str().expect("utf-8 temp path").to_string();
    let (mut run, port) = start_stack(&dir, "logmux.toml", &[]);
    send_traffic(port);
    // uWSGI writes its request line after the response: let the last reach logmux.
    // Every line on both streams is a JSON object: no raw line leaks.
    let Stopped {
        status,
        out,
        err,
        all,
        err_lines,
    } = stop_after_traffic(&mut run, "stack");

    assert_eq!(status.code(), Some(0), "logmux's exit status: {status}");
    assert_stopped_by_their_signals(&err);
    let killed: Vec<&str> = all
        .iter()
        .filter(|e| service_of(e) == "logmux" && message_of(e).contains("did not stop"))
        .map(message_of)
        .collect();
    assert!(killed.is_empty(), "SIGKILL was needed: {killed:?}");

    // The templates were rendered from the test's variables.
    for name in ["nginx.conf", "uwsgi.ini"] {
        let target = dir.path().join(name);
        let text = std::fs::read_to_string(&target).expect("rendered template");
        assert!(!text.contains("${"), "{name} still has a variable:\n{text}");
        assert!(text.contains(&tmp), "{name} does not name the temp dir");
        let message = format!(
            "rendered {} to {}",
            repo()
                .join("tests/stack")
                .join(format!("{name}.in"))
                .display(),
            target.display()
        );
        assert!(own_event(&err, &message).is_some(), "no event `{message}`");
    }
    let nginx_conf = std::fs::read_to_string(dir.path().join("nginx.conf")).expect("nginx.conf");
    assert!(nginx_conf.contains(&format!("listen 127.0.0.1:{port};")));

    // Order: nginx was spawned only once uWSGI's socket accepted.
    let uwsgi_spawned = spawned(&err_lines, "uwsgi").expect("no `spawned uwsgi` event");
    let uwsgi_ready = own_event(&err, "uwsgi is ready").expect("no `uwsgi is ready` event");
    let nginx_spawned = spawned(&err_lines, "nginx").expect("no `spawned nginx` event");
    assert!(
        uwsgi_spawned < uwsgi_ready && uwsgi_ready < nginx_spawned,
        "start order: spawned uwsgi #{uwsgi_spawned}, uwsgi ready #{uwsgi_ready}, spawned nginx #{nginx_spawned}"
    );
    // And the stop went the other way: nginx first, then uWSGI with SIGINT.
    let stop_nginx = own_event(&err, "stopping nginx with SIGTERM").expect("nginx stop");
    let nginx_exit = own_event(&err, "nginx exited: exit code 0").expect("nginx's clean exit");
    let stop_uwsgi = own_event(&err, "stopping uwsgi with SIGINT").expect("uwsgi stop");
    let uwsgi_exit = own_event(&err, "uwsgi exited: exit code 0").expect("uwsgi's clean exit");
    assert!(stop_nginx < nginx_exit && nginx_exit < stop_uwsgi && stop_uwsgi < uwsgi_exit);
    assert!(own_event(&err, "logmux exits with 0").is_some());
    let complaints: Vec<&str> = err
        .iter()
        .filter(|e| service_of(e) == "logmux" && e["severity_text"] != "INFO")
        .map(message_of)
        .collect();
    assert!(complaints.is_empty(), "logmux warned: {complaints:#?}");

    // nginx: exactly one access event per request, from its stdout.
    let access: Vec<&Value> = all
        .iter()
        .filter(|e| format_of(e) == "nginx.access")
        .collect();
    assert_eq!(access.len(), 10, "nginx.access events: {access:#?}");
    for e in &access {
        assert_eq!(service_of(e), "nginx", "{e}");
        assert_eq!(e["log"]["iostream"], "stdout", "{e}");
        assert_eq!(e["user_agent"]["original"], "logmux-run-stack", "{e}");
        assert_eq!(e["network"]["protocol"]["version"], "1.0", "{e}");
    }
    assert_eq!(status_counts(&access), traffic_counts());
    assert_eq!(out.len(), 10, "stdout holds the access log only");

    // uWSGI: its request log is on its stderr, one typed event per request.
    let requests: Vec<&Value> = all
        .iter()
        .filter(|e| format_of(e) == "uwsgi.request")
        .collect();
    assert_eq!(requests.len(), 10, "uwsgi.request events: {requests:#?}");
    for e in &requests {
        assert_eq!(service_of(e), "uwsgi", "{e}");
        assert_eq!(e["log"]["iostream"], "stderr", "{e}");
    }
    assert_eq!(status_counts(&requests), traffic_counts());
    let paths = |events: &[&Value], status: i64| -> Vec<String> {
        events
            .iter()
            .filter(|e| e["http"]["response"]["status_code"] == status)
            .map(|e| e["url"]["path"].as_str().unwrap_or("").to_string())
            .collect()
    };
    for (path, status, times) in TRAFFIC {
        let status = i64::from(status);
        assert_eq!(paths(&access, status), vec![path; times]);
        assert_eq!(paths(&requests, status), vec![path; times]);
    }

    // Django's tracebacks: one merged event per 500, never one per line.
    let tracebacks = select(&all, "python.traceback", "uwsgi");
    assert_eq!(
        tracebacks.len(),
        2,
        "python.traceback events: {tracebacks:#?}"
    );
    assert_eq!(
        all.iter()
            .filter(|e| format_of(e) == "python.traceback")
            .count(),
        2
    );
    for e in &tracebacks {
        assert_eq!(e["exception"]["type"], BOOM_EXCEPTION, "{e}");
        assert_eq!(e["exception"]["message"], "division by zero", "{e}");
        assert_eq!(e["url"]["path"], "/boom/", "{e}");
        assert_eq!(e["log"]["iostream"], "stderr", "{e}");
        assert_eq!(e["severity_text"], "ERROR", "{e}");
        // Behind the example project's prefix (time, level, logger, id).
        let m = message_of(e);
        let (head, _) = m
            .split_once("] Internal Server Error: /boom/\nTraceback (most recent call last):\n")
            .unwrap_or_else(|| panic!("{m}"));
        let (_, id) = head
            .rsplit_once(" ERROR [django.request] [")
            .unwrap_or_else(|| panic!("{m}"));
        assert_eq!(e["http"]["request"]["id"], id, "{e}");
        assert!(is_trace_id(id), "{m}");
        assert_eq!(e["log"]["logger"], "django.request", "{e}");
        assert!(m.ends_with("ZeroDivisionError: division by zero"), "{m}");
    }
    for e in &all {
        let m = message_of(e);
        let stray = m.starts_with("  File \"")
            || m == "Traceback (most recent call last):"
            || (m.starts_with(BOOM_EXCEPTION) && format_of(e) != "python.traceback");
        assert!(!stray, "a traceback line on its own: {e}");
    }
    // Django's own 404 warnings, one per /nope/.
    let not_found = select(&all, "django", "uwsgi");
    assert_eq!(
        not_found
            .iter()
            .filter(|e| message_of(e).ends_with("] Not Found: /nope/")
                && message_of(e).contains(" WARNING [django.request] [")
                && e["severity_text"] == "WARNING"
                && e["log"]["logger"] == "django.request")
            .count(),
        3,
        "{not_found:#?}"
    );

    // Nothing of the stack is left: no process that names the temp dir,
    // and none of the pids logmux and the programs reported.
    assert_eq!(processes_mentioning(&tmp), Vec::<String>::new());
    for pid in stack_pids(&all) {
        assert!(
            !alive(pid) || !is_stack_process(pid),
            "pid {pid} is still alive: {}",
            cmdline(pid)
        );
    }
    assert_every_line_typed(&all);
}

/// Issue 18: one id per request, end to end. nginx makes it (or takes the
/// client's `traceparent`), returns it as X-Request-ID, logs it and passes it
/// to Django, whose records log it: logmux puts the same `trace_id` on
/// nginx's access event and Django's events of the request, with the span
/// id of each part (tracing.md: nginx's server span, uWSGI's span).
#[test]
fn one_request_one_trace_id() {
    use logmux::trace::ids::{span_id, SpanRole};
    use logmux_parsers::trace_context::{to_hex, trace_id};
    if !live("one_request_one_trace_id") {
        return;
    }
    let dir = stack_dir();
    let (mut run, port) = start_stack(&dir, "logmux.toml", &[]);
    let client_trace = "4bf92f3577b34da6a3ce929d0e0e4736";
    let traceparent = format!("00-{client_trace}-00f067aa0ba902b7-01");
    // (path, status, traceparent); the static file never reaches uWSGI.
    let requests: [(&str, u16, Option<&str>); 6] = [
        ("/", 200, None),
        ("/nope/", 404, None),
        ("/boom/", 500, None),
        ("/static/demo/hello.txt", 200, None),
        ("/stock/", 200, None),
        ("/boom/", 500, Some(traceparent.as_str())),
    ];
    let mut ids = Vec::new();
    for (path, status, parent) in &requests {
        let headers: Vec<(&str, &str)> = parent.iter().map(|p| ("traceparent", *p)).collect();
        let (got, id) = http_get_id(port, path, &headers);
        assert_eq!(got, *status, "GET {path}");
        assert!(is_trace_id(&id), "GET {path}: X-Request-ID {id}");
        ids.push(id);
    }
    assert_eq!(
        ids[5], client_trace,
        "the client's trace id is the request's"
    );
    let Stopped { status, all, .. } = stop_after_requests(&mut run, "trace ids", 5);
    assert_eq!(status.code(), Some(0), "logmux's exit status: {status}");

    let span = |t: &str, role| to_hex(&span_id(&trace_id(t).expect("trace id"), role));
    let with_trace = |t: &str| -> Vec<&Value> {
        all.iter()
            .filter(|e| e["trace_id"] == t && service_of(e) != "logmux")
            .collect()
    };
    // Every event that has a trace id has one of the requests'.
    for e in all.iter().filter(|e| !e["trace_id"].is_null()) {
        let t = e["trace_id"].as_str().unwrap_or("");
        assert!(
            ids.iter().any(|id| id == t),
            "a trace id of no request: {e}"
        );
    }
    for (i, (path, status, _)) in requests.iter().enumerate() {
        let t = ids[i].as_str();
        let events = with_trace(t);
        // nginx's access line: its server span.
        let access: Vec<&&Value> = events
            .iter()
            .filter(|e| format_of(e) == "nginx.access")
            .collect();
        assert_eq!(access.len(), 1, "GET {path}: {events:#?}");
        let a = access[0];
        assert_eq!(a["url"]["path"], *path, "{a}");
        assert_eq!(a["http"]["response"]["status_code"], *status, "{a}");
        assert_eq!(a["http"]["request"]["id"], t, "{a}");
        assert_eq!(a["span_id"], span(t, SpanRole::NginxServer), "{a}");
        assert!(
            a["http"]["server"]["request"]["duration"].is_number(),
            "{a}"
        );
        let upstream = !path.starts_with("/static/");
        assert_eq!(a["nginx"]["upstream_status"].is_string(), upstream, "{a}");
        assert_eq!(
            a["nginx"]["upstream_response_time"].is_array(),
            upstream,
            "{a}"
        );
        // uWSGI's request line (the image's log-format logs the id): one
        // per request that reached uWSGI, in uWSGI's span.
        let requests_line: Vec<&&Value> = events
            .iter()
            .filter(|e| format_of(e) == "uwsgi.request")
            .collect();
        assert_eq!(
            requests_line.len(),
            usize::from(upstream),
            "GET {path}: {events:#?}"
        );
        for u in &requests_line {
            assert_eq!(u["url"]["path"], *path, "{u}");
            assert_eq!(u["http"]["response"]["status_code"], *status, "{u}");
            assert_eq!(u["http"]["request"]["id"], t, "{u}");
            assert_eq!(u["span_id"], span(t, SpanRole::Uwsgi), "{u}");
            assert!(
                u["http"]["server"]["request"]["duration"].is_number(),
                "{u}"
            );
        }
        // Django's events of the request: uWSGI's span.
        let django: Vec<&&Value> = events
            .iter()
            .filter(|e| !matches!(format_of(e), "nginx.access" | "uwsgi.request"))
            .collect();
        for e in &django {
            assert_eq!(service_of(e), "uwsgi", "{e}");
            assert_eq!(e["http"]["request"]["id"], t, "{e}");
            assert_eq!(e["span_id"], span(t, SpanRole::Uwsgi), "{e}");
        }
        let shape: Vec<(&str, &str, &str)> = django
            .iter()
            .map(|e| {
                (
                    format_of(e),
                    e["severity_text"].as_str().unwrap_or(""),
                    e["log"]["logger"].as_str().unwrap_or(""),
                )
            })
            .collect();
        let want: Vec<(&str, &str, &str)> = match *path {
            "/nope/" => vec![("django", "WARNING", "django.request")],
            "/boom/" => vec![("python.traceback", "ERROR", "django.request")],
            "/stock/" => vec![("django", "WARNING", "demo.stock")],
            _ => vec![],
        };
        assert_eq!(shape, want, "GET {path}: {django:#?}");
        if *path == "/stock/" {
            let e = django[0];
            assert_eq!(e["severity_number"], 13, "{e}");
            assert!(message_of(e).ends_with("] stock low: 3 items left"), "{e}");
        }
        if *path == "/boom/" {
            let e = django[0];
            assert_eq!(e["exception"]["type"], BOOM_EXCEPTION, "{e}");
            assert_eq!(e["url"]["path"], "/boom/", "{e}");
        }
    }
    // The client's traceparent: logged as sent, its trace id everywhere.
    let access = with_trace(client_trace)
        .into_iter()
        .find(|e| format_of(e) == "nginx.access")
        .expect("the traceparent request's access event");
    assert_eq!(
        access["http"]["request"]["header"]["traceparent"],
        traceparent.as_str()
    );
    assert!(all
        .iter()
        .filter(|e| format_of(e) == "nginx.access" && e["trace_id"] != client_trace)
        .all(|e| e["http"]["request"]["header"]["traceparent"].is_null()));
    assert_every_line_typed(&all);
}

/// Every pid the stack reported: the programs (logmux's `spawned` events)
/// and their workers (`spawned uWSGI worker N (pid: P, …)`,
/// nginx's `start worker process P`).
fn stack_pids(events: &[Value]) -> Vec<i32> {
    let mut pids = Vec::new();
    for e in events {
        let m = message_of(e);
        if service_of(e) == "logmux" && m.starts_with("spawned ") {
            pids.extend(
                e["logmux"]["pid"]
                    .as_i64()
                    .and_then(|p| i32::try_from(p).ok()),
            );
        } else if let Some(rest) = m.split_once("(pid: ").map(|(_, r)| r) {
            pids.extend(
                rest.split(|c: char| !c.is_ascii_digit())
                    .next()
                    .and_then(|p| p.parse::<i32>().ok()),
            );
        } else if let Some(rest) = m.strip_prefix("start worker process ") {
            pids.extend(rest.trim().parse::<i32>().ok());
        }
    }
    assert!(pids.len() >= 5, "too few pids reported: {pids:?}");
    pids
}

fn is_stack_process(pid: i32) -> bool {
    let c = cmdline(pid);
    c.contains("nginx") || c.contains("uwsgi")
}

/// Every line nginx, uWSGI and Django wrote was recognised: none is left
/// as `text`. (logmux's own events are `text` by design.) Also prints
/// logmux's warnings, if any, for the record.
fn assert_every_line_typed(events: &[Value]) {
    for e in events
        .iter()
        .filter(|e| service_of(e) == "logmux" && e["severity_number"].as_i64() >= Some(13))
    {
        eprintln!("logmux {}: {}", e["severity_text"], message_of(e));
    }
    let untyped: Vec<String> = events
        .iter()
        .filter(|e| format_of(e) == "text" && service_of(e) != "logmux")
        .map(|e| {
            format!(
                "{} {}: {}",
                service_of(e),
                e["log"]["iostream"],
                message_of(e)
            )
        })
        .collect();
    assert!(untyped.is_empty(), "lines left as text: {untyped:#?}");
}

/// The seed container's `supervisor-app.conf`, byte for byte (shared with
/// the INI reader's unit tests).
fn seed_conf() -> PathBuf {
    repo().join("fixtures/supervisord/seed-supervisor-app.conf")
}

/// The namespace's set-up, run by `sh` as PID 1 of the new PID namespace.
///
/// The seed's paths must exist for its config to run unchanged: /app does
/// not exist on the host, and creating it (or changing /usr/local/bin or
/// /etc/nginx) would change the host. So the shell builds a new root in a
/// tmpfs that only this mount namespace sees: the host's /usr, /etc and
/// /dev bind-mounted (/usr and /etc read-only), the host's /bin, /lib, …
/// symlinks copied, a fresh /proc for the new PID namespace, empty /run and
/// /var (nginx's pid, temp paths, its compiled-in error log; logmux's
/// default control socket), and the seed's three paths bound over it. The
/// repository and the logmux binary keep their paths (read-only), the temp
/// dir its (read-write). Then it `exec`s chroot, which `exec`s logmux: no
/// extra process, logmux is the namespace's PID 1 as in the container.
const NAMESPACE_SETUP: &str = r#"
set -eu
root=$1 tmp=$2 repo=$3 bindir=$4 logmux=$5 config=$6 app=$7 localbin=$8 nginx_conf=$9
mount -t tmpfs -o mode=755 logmux-test-root "$root"
for d in bin sbin lib lib32 lib64 libx32; do
    if [ -L "/$d" ]; then ln -s "$(readlink "/$d")" "$root/$d"
    elif [ -d "/$d" ]; then mkdir "$root/$d"; mount --rbind "/$d" "$root/$d"
    fi
done
for d in usr etc dev; do
    mkdir "$root/$d"
    mount --rbind "/$d" "$root/$d"
done
mount -o remount,bind,ro "$root/usr"
mount -o remount,bind,ro "$root/etc"
mkdir -p "$root/proc" "$root/run" "$root/tmp" "$root/var/log/nginx" "$root/var/lib/nginx" "$root/app"
chmod 1777 "$root/tmp"
mount -t proc proc "$root/proc"
for d in "$repo" "$bindir"; do
    mkdir -p "$root$d"
    mount --bind "$d" "$root$d"
    mount -o remount,bind,ro "$root$d"
done
mkdir -p "$root$tmp"
mount --bind "$tmp" "$root$tmp"
mount --bind "$app" "$root/app"
mount --bind "$localbin" "$root/usr/local/bin"
mount --bind "$nginx_conf" "$root/etc/nginx/nginx.conf"
exec chroot "$root" "$logmux" run --config "$config"
"#;

/// The seed container's stack as tests/run_stack.rs runs it: its
/// supervisord config unchanged, in a private namespace (see
/// [`NAMESPACE_SETUP`]), with `env` besides the seed's; started on a free
/// port and waited for until both uWSGI's socket and nginx's port answer.
struct Seed {
    /// Holds the stack's files until the test ends.
    dir: tempfile::TempDir,
    run: Running,
    port: u16,
}

fn start_seed(env: &[(&str, &str)]) -> Seed {
    let dir = stack_dir();
    let tmp = dir.path().to_str().expect("utf-8 temp path").to_string();

    // /app: the Django project (symlinks into docker/app) and dockerable/uwsgi.ini.
    let app = dir.path().join("app");
    std::fs::create_dir_all(app.join("dockerable")).expect("mkdir app");
    for entry in std::fs::read_dir(repo().join("docker/app"))
        .expect("docker/app")
        .flatten()
    {
        let name = entry.file_name();
        if name != "__pycache__" {
            std::os::unix::fs::symlink(entry.path(), app.join(&name)).expect("symlink");
        }
    }
    std::fs::copy(
        repo().join("tests/stack/seed-uwsgi.ini"),
        app.join("dockerable/uwsgi.ini"),
    )
    .expect("uwsgi.ini");
    // /usr/local/bin/uwsgi: pip's uWSGI in the seed image, Debian's here.
    let localbin = dir.path().join("usr-local-bin");
    std::fs::create_dir(&localbin).expect("mkdir");
    std::os::unix::fs::symlink("/usr/bin/uwsgi", localbin.join("uwsgi")).expect("symlink uwsgi");
    // /etc/nginx/nginx.conf, with a free port (written by `start`).
    let template = std::fs::read_to_string(repo().join("tests/stack/seed-nginx.conf.in"))
        .expect("seed-nginx.conf.in");
    let nginx_conf = dir.path().join("nginx.conf");
    let root = dir.path().join("root");
    std::fs::create_dir(&root).expect("mkdir root");

    let logmux = PathBuf::from(env!("CARGO_BIN_EXE_logmux"));
    let bindir = logmux.parent().expect("binary's dir").to_path_buf();
    // unshare --fork blocks SIGINT and SIGTERM while it waits, and does not
    // forward them: the test signals logmux (unshare's child) directly and
    // reads logmux's exit code from unshare's, which passes it on.
    // --kill-child: if unshare is killed (the Drop guard's last resort),
    // logmux gets SIGKILL, and with the namespace's init gone the kernel
    // kills everything else in it.
    let start = |port: u16| {
        std::fs::write(&nginx_conf, template.replace("${PORT}", &port.to_string()))
            .expect("nginx.conf");
        let mut cmd = Command::new("unshare");
        cmd.args([
            "--mount",
            "--pid",
            "--fork",
            "--kill-child",
            "--propagation",
            "private",
        ])
        .args(["sh", "-c", NAMESPACE_SETUP, "sh"])
        .arg(&root)
        .arg(&tmp)
        .arg(repo())
        .arg(&bindir)
        .arg(&logmux)
        .arg(seed_conf())
        .arg(&app)
        .arg(&localbin)
        .arg(&nginx_conf)
        .env("TZ", "UTC")
        .env_remove("NO_COLOR")
        .env("UWSGI_PROCESSES", "2")
        .env("DJANGO_SETTINGS_MODULE", "project.settings.dev.settings")
        .env_remove("LOGMUX_CONTROL_SOCKET")
        .env_remove("LOGMUX_TRACE_JOIN")
        .envs(env.iter().copied())
        .current_dir("/");
        stack_env(&mut cmd);
        Running::start(cmd, true)
    };

    // No depends_on in a supervisord file: wait for both sockets, without
    // a request that would add to the counts.
    let uwsgi_socket = app.join("app.sock");
    let (run, port) = start_on_a_free_port("uWSGI's socket and nginx's port", start, |r, port| {
        r.logmux_pid().is_some()
            && std::os::unix::net::UnixStream::connect(&uwsgi_socket).is_ok()
            && nginx_listens(port)
            && accepts_tcp(port)
    });
    Seed { dir, run, port }
}

#[test]
fn seed_supervisord_conf_runs_unchanged() {
    if !live("seed_supervisord_conf_runs_unchanged") {
        return;
    }
    let Seed { dir, mut run, port } = start_seed(&[]);
    let tmp = dir.path().to_str().expect("utf-8 temp path").to_string();
    let namespace_pid = run.logmux_pid().expect("logmux's pid");
    send_traffic(port);
    let Stopped {
        status,
        err,
        all,
        err_lines,
        ..
    } = stop_after_traffic(&mut run, "seed");

    assert_eq!(
        status.code(),
        Some(0),
        "exit status of logmux (through unshare): {status}"
    );
    assert_stopped_by_their_signals(&err);
    assert!(
        !all.iter()
            .any(|e| service_of(e) == "logmux" && message_of(e).contains("did not stop")),
        "SIGKILL was needed"
    );
    assert!(
        spawned(&err_lines, "app-uwsgi").is_some(),
        "no `spawned app-uwsgi` event"
    );
    assert!(
        spawned(&err_lines, "nginx-app").is_some(),
        "no `spawned nginx-app` event"
    );
    assert!(own_event(&err, "logmux exits with 0").is_some());
    let errors: Vec<&str> = err
        .iter()
        .filter(|e| service_of(e) == "logmux" && e["severity_text"] == "ERROR")
        .map(message_of)
        .collect();
    assert!(errors.is_empty(), "logmux errors: {errors:#?}");

    let access = select(&all, "nginx.access", "nginx-app");
    assert_eq!(
        access.len(),
        10,
        "nginx.access events of nginx-app: {access:#?}"
    );
    assert!(access.iter().all(|e| e["log"]["iostream"] == "stdout"));
    assert_eq!(status_counts(&access), traffic_counts());
    assert_eq!(
        all.iter()
            .filter(|e| format_of(e) == "nginx.access")
            .count(),
        10,
        "access events under another name"
    );
    let requests = select(&all, "uwsgi.request", "app-uwsgi");
    assert_eq!(
        requests.len(),
        10,
        "uwsgi.request events of app-uwsgi: {requests:#?}"
    );
    assert!(requests.iter().all(|e| e["log"]["iostream"] == "stderr"));
    assert_eq!(status_counts(&requests), traffic_counts());
    let tracebacks = select(&all, "python.traceback", "app-uwsgi");
    assert_eq!(tracebacks.len(), 2, "{tracebacks:#?}");
    assert!(tracebacks
        .iter()
        .all(|e| e["exception"]["type"] == BOOM_EXCEPTION));

    // The namespace is gone with its init, and nothing names the temp dir.
    assert!(
        !alive(namespace_pid),
        "logmux ({namespace_pid}) is still alive"
    );
    assert_eq!(processes_mentioning(&tmp), Vec::<String>::new());
    assert_every_line_typed(&all);
}

/// The rest of the line after `start` in `path`.
fn line_after(path: &str, start: &str) -> String {
    let text = std::fs::read_to_string(repo().join(path)).unwrap_or_else(|e| panic!("{path}: {e}"));
    let (_, rest) = text
        .split_once(start)
        .unwrap_or_else(|| panic!("{path}: no `{start}`"));
    rest.lines().next().unwrap_or("").to_string()
}

/// The text between `start` and the next `'` after it in `path`.
fn quoted_after(path: &str, start: &str) -> String {
    let text = std::fs::read_to_string(repo().join(path)).unwrap_or_else(|e| panic!("{path}: {e}"));
    let (_, rest) = text
        .split_once(start)
        .unwrap_or_else(|| panic!("{path}: no `{start}`"));
    rest.split_once('\'')
        .map(|(inside, _)| inside.to_string())
        .unwrap_or_else(|| panic!("{path}: `{start}` is not closed"))
}

/// nginx's `log_format logmux` (the image's and the test stack's) is the
/// string logmux is given as `nginx_log_format`, word for word, and it
/// logs the request id, the traceparent and the timings.
#[test]
fn logmux_reads_the_log_format_nginx_writes() {
    let nginx = quoted_after("docker/nginx-http.conf", "log_format logmux '");
    for conf in ["docker/nginx-https.conf", "tests/stack/nginx.conf.in"] {
        assert_eq!(quoted_after(conf, "log_format logmux '"), nginx, "{conf}");
    }
    for toml in [
        "docker/logmux.toml",
        "tests/stack/logmux.toml",
        "tests/stack/health.toml",
        "tests/stack/otlp.toml",
    ] {
        assert_eq!(quoted_after(toml, "nginx_log_format = '"), nginx, "{toml}");
    }
    // uWSGI's log-format, likewise: the uWSGI configs' line is logmux's.
    let uwsgi = line_after("docker/uwsgi.ini", "log-format = ");
    assert_eq!(
        line_after("tests/stack/uwsgi.ini.in", "log-format = "),
        uwsgi
    );
    for toml in [
        "docker/logmux.toml",
        "tests/stack/logmux.toml",
        "tests/stack/health.toml",
        "tests/stack/otlp.toml",
    ] {
        assert_eq!(quoted_after(toml, "uwsgi_log_format = '"), uwsgi, "{toml}");
    }
    assert!(uwsgi.contains("%(var.HTTP_X_REQUEST_ID)"), "{uwsgi}");
    for var in [
        "$trace_id",
        "$http_traceparent",
        "$request_time",
        "$upstream_response_time",
        "$upstream_status",
    ] {
        assert!(nginx.contains(var), "{var} not in {nginx}");
    }
}

/// The burst of the heuristic join's test: requests, client threads (the
/// seed's nginx has `worker_connections 64`, and each request holds two:
/// the client's and uWSGI's), and paths.
const BURST: usize = 1_000;
const BURST_CLIENTS: usize = 24;
/// 20 paths: four 200s, one 500 (a traceback each), fifteen 404s (Django's
/// own 404 page, so each line pair still goes through uWSGI).
const BURST_PATHS: [&str; 20] = [
    "/", "/healthz", "/big/", "/file/", "/boom/", "/n01/", "/n02/", "/n03/", "/n04/", "/n05/",
    "/n06/", "/n07/", "/n08/", "/n09/", "/n10/", "/n11/", "/n12/", "/n13/", "/n14/", "/n15/",
];

/// Request `i`'s own source address: 127.77.x.y, all loopback on Linux.
fn burst_source(i: usize) -> std::net::Ipv4Addr {
    std::net::Ipv4Addr::new(127, 77, (i / 250) as u8, (i % 250 + 1) as u8)
}

/// GET `path` from the source address `from` (bound before connecting).
fn http_get_from(from: std::net::Ipv4Addr, port: u16, path: &str) -> u16 {
    use std::os::fd::{FromRawFd, OwnedFd};
    let sockaddr = |ip: std::net::Ipv4Addr, port: u16| libc::sockaddr_in {
        sin_family: libc::AF_INET as libc::sa_family_t,
        sin_port: port.to_be(),
        sin_addr: libc::in_addr {
            s_addr: u32::from(ip).to_be(),
        },
        sin_zero: [0; 8],
    };
    let len = std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
    // SAFETY: plain socket calls on a descriptor this function owns, with
    // addresses that live across each call (std cannot bind before connect).
    let fd = unsafe {
        let raw = libc::socket(libc::AF_INET, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0);
        assert!(raw >= 0, "socket: {}", std::io::Error::last_os_error());
        let fd = OwnedFd::from_raw_fd(raw);
        let src = sockaddr(from, 0);
        let rc = libc::bind(raw, (&raw const src).cast(), len);
        assert_eq!(rc, 0, "bind {from}: {}", std::io::Error::last_os_error());
        let dst = sockaddr(std::net::Ipv4Addr::LOCALHOST, port);
        let rc = libc::connect(raw, (&raw const dst).cast(), len);
        assert_eq!(
            rc,
            0,
            "connect from {from}: {}",
            std::io::Error::last_os_error()
        );
        fd
    };
    let mut s = TcpStream::from(fd);
    s.set_read_timeout(Some(Duration::from_secs(30)))
        .expect("timeout");
    write!(
        s,
        "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\nUser-Agent: logmux-infer-burst\r\n\r\n"
    )
    .expect("send request");
    let mut response = Vec::new();
    s.read_to_end(&mut response).expect("read response");
    let head = String::from_utf8_lossy(&response);
    head.split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("GET {path}: no HTTP status in {:?}", head.lines().next()))
}

/// Sends the burst: `BURST` requests over `BURST_PATHS` in turn, from
/// `BURST_CLIENTS` threads at once; each request from its own address.
fn send_burst(port: u16) -> BTreeMap<String, u16> {
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let threads: Vec<_> = (0..BURST_CLIENTS)
        .map(|_| {
            let next = Arc::clone(&next);
            std::thread::spawn(move || {
                let mut got = Vec::new();
                loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    if i >= BURST {
                        return got;
                    }
                    let path = BURST_PATHS[i % BURST_PATHS.len()];
                    got.push((
                        burst_source(i).to_string(),
                        http_get_from(burst_source(i), port, path),
                    ));
                }
            })
        })
        .collect();
    threads
        .into_iter()
        .flat_map(|t| t.join().expect("client thread"))
        .collect()
}

/// Issue 18: the heuristic join (`--trace-join infer`, here through
/// `LOGMUX_TRACE_JOIN`) on the seed's original configuration, which logs no
/// request id: nginx's `combined` line and uWSGI's default request line.
///
/// How it is measured: the ground truth must be something both lines carry
/// and the join does not look at. Each request is sent from its own source
/// address (127.77.x.y; Linux answers on all of 127/8), which nginx logs as
/// `$remote_addr` and passes to uWSGI as `REMOTE_ADDR` (uwsgi_params), which
/// uWSGI's line logs: both events have it as `client.address`, and the
/// join uses only method, path, query, status, times and durations. A join
/// is correct when the two events it ties have the same client address.
/// Precision = correct joins / joins; recall = joins / requests.
///
/// Asserted: every request line gets a trace id; the joined pairs are
/// exactly one nginx and one uWSGI event each, never of two statuses,
/// methods or paths (by the rule, whatever the load); ids of lines not
/// joined are never shared. The precision and recall are printed as
/// measured (they depend on how many requests of one path end in the same
/// second: the combined format's time has whole seconds and no duration).
#[test]
fn seed_burst_heuristic_join_precision() {
    if !live("seed_burst_heuristic_join_precision") {
        return;
    }
    let mut seed = start_seed(&[("LOGMUX_TRACE_JOIN", "infer")]);
    let started = Instant::now();
    let statuses = send_burst(seed.port);
    let took = started.elapsed();
    assert_eq!(statuses.len(), BURST, "requests answered");
    let count = |r: &Running, format: &str| {
        let needle = format!("\"{format}\"");
        let n = r
            .stdout
            .snapshot()
            .iter()
            .filter(|l| l.contains(&needle))
            .count();
        n + r
            .stderr
            .snapshot()
            .iter()
            .filter(|l| l.contains(&needle))
            .count()
    };
    seed.run.wait_until("every request's two lines", |r| {
        count(r, "uwsgi.request") >= BURST && count(r, "nginx.access") >= BURST
    });
    let (status, _) = seed.run.terminate();
    assert_eq!(status.code(), Some(0), "logmux's exit: {status}");
    let (out_lines, err_lines) = seed.run.output();
    let all: Vec<Value> = parse_all("stdout", &out_lines)
        .into_iter()
        .chain(parse_all("stderr", &err_lines))
        .collect();
    let ours = |e: &&Value| {
        e["client"]["address"]
            .as_str()
            .is_some_and(|a| a.starts_with("127.77."))
    };
    let access: Vec<&Value> = select(&all, "nginx.access", "nginx-app")
        .into_iter()
        .filter(ours)
        .collect();
    let requests: Vec<&Value> = select(&all, "uwsgi.request", "app-uwsgi")
        .into_iter()
        .filter(ours)
        .collect();
    assert_eq!((access.len(), requests.len()), (BURST, BURST));
    let joined = check_joins(&access, &requests);
    let correct = joined
        .iter()
        .filter(|(a, b)| a["client"]["address"] == b["client"]["address"])
        .count();
    let share = |n: usize, of: usize| if of == 0 { 0.0 } else { n as f64 / of as f64 };
    println!(
        "FIGURE infer (seed config, combined + uWSGI default line): {BURST} requests to {} paths from {BURST_CLIENTS} clients in {took:.1?}: {} joins, {correct} correct; precision {:.3}, recall (joins/requests) {:.3}, correct/requests {:.3}; path/status precision 1.000",
        BURST_PATHS.len(),
        joined.len(),
        share(correct, joined.len()),
        share(joined.len(), BURST),
        share(correct, BURST),
    );
}

/// Checks the trace ids the join gave and returns the joined pairs
/// (nginx's event, uWSGI's event).
fn check_joins<'e>(access: &[&'e Value], requests: &[&'e Value]) -> Vec<(&'e Value, &'e Value)> {
    let mut by_trace: BTreeMap<&str, Vec<&Value>> = BTreeMap::new();
    for e in access.iter().chain(requests) {
        let t = e["trace_id"]
            .as_str()
            .expect("every request line has a trace id");
        assert_eq!(t.len(), 32, "{t}");
        assert!(e["span_id"].as_str().is_some_and(|s| s.len() == 16), "{e}");
        by_trace.entry(t).or_default().push(e);
    }
    let mut pairs = Vec::new();
    for (trace, events) in by_trace {
        let marked = events
            .iter()
            .filter(|e| e["logmux"]["trace_join"] == "inferred")
            .count();
        match events.as_slice() {
            [one] => assert_eq!(marked, 0, "{one}"),
            [a, b] => {
                assert_eq!(marked, 1, "one of a pair is marked: {trace}");
                let (n, u) = if format_of(a) == "nginx.access" {
                    (*a, *b)
                } else {
                    (*b, *a)
                };
                assert_eq!(
                    (format_of(n), format_of(u)),
                    ("nginx.access", "uwsgi.request")
                );
                for key in [
                    ["http", "response", "status_code"],
                    ["http", "request", "method"],
                ] {
                    assert_eq!(
                        n[key[0]][key[1]][key[2]], u[key[0]][key[1]][key[2]],
                        "{n}\n{u}"
                    );
                }
                assert_eq!(n["url"]["path"], u["url"]["path"], "{n}\n{u}");
                assert_eq!(n["url"]["query"], u["url"]["query"], "{n}\n{u}");
                assert_ne!(n["span_id"], u["span_id"]);
                pairs.push((n, u));
            }
            more => panic!("{} events share {trace}", more.len()),
        }
    }
    pairs
}

/// `logmux check` on the stack's config: fine with its variables, exit 78
/// with one line naming the variable without them. The ok half needs
/// nginx and uwsgi (check looks for the commands).
#[test]
fn check_names_the_missing_variable() {
    let config = repo().join("tests/stack/logmux.toml");
    let check = |unset: Option<&str>| {
        let mut cmd = common::logmux();
        cmd.arg("check").arg("--config").arg(&config);
        for (k, v) in [
            ("STACK_DIR", "/tmp/logmux-check"),
            ("STACK_PORT", "8080"),
            // check also looks at this machine: the directory must exist.
            ("APP_DIR", "/tmp"),
        ] {
            if Some(k) == unset {
                cmd.env_remove(k);
            } else {
                cmd.env(k, v);
            }
        }
        cmd.output().expect("run logmux check")
    };

    // check also looks for the programs on this machine: the "ok" half
    // needs nginx and uwsgi installed.
    let programs = ["/usr/bin/uwsgi", "/usr/sbin/nginx"];
    let absent: Vec<&str> = programs
        .into_iter()
        .filter(|p| !std::path::Path::new(p).exists())
        .collect();
    if absent.is_empty() {
        let ok = check(None);
        assert_eq!(
            ok.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&ok.stderr)
        );
        let said = String::from_utf8_lossy(&ok.stdout);
        assert!(
            said.contains("ok (2 programs, 2 enabled here; 4 sinks; 2 templates)"),
            "{said}"
        );
    } else {
        common::skip_or_fail(
            "check_names_the_missing_variable (the ok half)",
            &format!("{} not installed", absent.join(", ")),
        );
    }

    for var in ["STACK_DIR", "STACK_PORT", "APP_DIR"] {
        let failed = check(Some(var));
        assert_eq!(failed.status.code(), Some(78), "without {var}");
        assert!(failed.stdout.is_empty());
        let stderr = String::from_utf8_lossy(&failed.stderr);
        let lines: Vec<&str> = stderr.lines().collect();
        assert_eq!(lines.len(), 1, "one line without {var}: {stderr}");
        let e: Value = serde_json::from_str(lines[0]).expect("a JSON event");
        assert_eq!(e["logmux"]["variable"], var, "{e}");
        let message = message_of(&e);
        assert!(
            message.ends_with(&format!(
                "env.required: environment variable {var} is required but not set"
            )),
            "{message}"
        );
        assert!(
            message.starts_with(&format!("{}:", config.display())),
            "{message}"
        );
    }
}

#[path = "support/otlp.rs"]
mod otlp;

/// nginx's `[03/Dec/2026:13:50:01 +0000]` in a line, as Unix nanoseconds.
fn nginx_time_nanos(line: &str) -> u64 {
    let inside = line
        .split_once('[')
        .and_then(|(_, rest)| rest.split_once(']'))
        .map(|(t, _)| t)
        .unwrap_or_else(|| panic!("no [time] in {line}"));
    let t = chrono::DateTime::parse_from_str(inside, "%d/%b/%Y:%H:%M:%S %z")
        .unwrap_or_else(|e| panic!("{inside}: {e}"));
    let whole = t.timestamp_nanos_opt().expect("in range") as u64;
    // The stack's format ends in ` t=$msec`: the same second, with its
    // milliseconds, which logmux takes over `$time_local`'s whole second.
    match line.rsplit_once(" t=") {
        Some((_, msec)) => {
            let (secs, millis) = msec.split_once('.').expect("t=$msec has a fraction");
            let secs: u64 = secs.parse().expect("t=$msec's seconds");
            let millis: u64 = millis.parse().expect("t=$msec's milliseconds");
            assert_eq!(secs * 1_000_000_000, whole, "t= and [time] in {line}");
            whole + millis * 1_000_000
        }
        None => whole,
    }
}

/// The stack of tests/stack/otlp.toml shipping to a fresh receiver built on
/// the official protobuf definitions: the receiver, the stack's directory
/// (kept while it runs), logmux and nginx's port. `None` (skipped, or a
/// failure under CI) without the stack's programs or the Python venv.
fn start_otlp_stack(test: &str) -> Option<(otlp::Receiver, tempfile::TempDir, Running, u16)> {
    if !live(test) {
        return None;
    }
    let Some(py) = otlp::python() else {
        common::skip_or_fail(
            test,
            "no Python with opentelemetry-proto (tests/run-all.sh makes target/otlp-venv)",
        );
        return None;
    };
    let receiver = otlp::Receiver::start(&py, "", 0);
    let dir = stack_dir();
    let endpoint = receiver.endpoint();
    let (run, port) = start_stack(&dir, "otlp.toml", &[("OTLP_ENDPOINT", &endpoint)]);
    Some((receiver, dir, run, port))
}

#[test]
fn stack_ships_every_event_over_otlp() {
    let Some((receiver, _dir, mut run, port)) =
        start_otlp_stack("stack_ships_every_event_over_otlp")
    else {
        return;
    };
    send_traffic(port);
    // uWSGI writes its request line after the response: wait for the last.
    let uwsgi_requests = || {
        receiver
            .records()
            .iter()
            .filter(|r| r["attrs"]["logmux.format"][1] == "uwsgi.request")
            .count()
    };
    run.wait_until("the last uWSGI request record", |_| uwsgi_requests() >= 10);
    let (status, _) = run.terminate();
    let (out_lines, err_lines) = run.output();
    assert_eq!(
        status.code(),
        Some(0),
        "logmux's exit status: {err_lines:#?}"
    );
    assert!(out_lines.is_empty(), "stdout is unused: {out_lines:?}");
    // logmux's own events at WARN or above (nginx's `notice` lines are
    // nginx's, and keep nginx's word).
    let complaints: Vec<&String> = err_lines
        .iter()
        .filter(|l| {
            let e: Value = serde_json::from_str(l).unwrap_or_default();
            e["service"]["name"] == "logmux" && e["severity_number"].as_u64() >= Some(13)
        })
        .collect();
    assert!(complaints.is_empty(), "logmux warned: {complaints:#?}");
    let records = receiver.records();
    let format = |r: &Value| {
        r["attrs"]["logmux.format"][1]
            .as_str()
            .unwrap_or("")
            .to_string()
    };
    let of = |f: &str| -> Vec<&Value> { records.iter().filter(|r| format(r) == f).collect() };

    // nginx: one protobuf + gzip record per request, its resource and types.
    let access = of("nginx.access");
    assert_eq!(access.len(), 10, "{access:#?}");
    let status =
        |r: &Value| otlp::typed(&r["attrs"]["http.response.status_code"], "int_value").as_i64();
    let mut counts = BTreeMap::new();
    for r in &access {
        assert_eq!(r["content_type"], "application/x-protobuf");
        assert_eq!(r["gzip"], true);
        let res = &r["resource"];
        assert_eq!(otlp::typed(&res["service.name"], "string_value"), "nginx");
        assert_eq!(
            otlp::typed(&res["deployment.environment.name"], "string_value"),
            "stack-test"
        );
        otlp::typed(&res["process.pid"], "int_value");
        assert_eq!(res.as_object().map(|o| o.len()), Some(3), "{res}");
        assert_eq!(
            otlp::typed(&r["attrs"]["log.iostream"], "string_value"),
            "stdout"
        );
        assert_eq!(
            otlp::typed(&r["attrs"]["user_agent.original"], "string_value"),
            "logmux-run-stack"
        );
        assert_eq!(
            otlp::typed(&r["attrs"]["network.protocol.version"], "string_value"),
            "1.0"
        );
        otlp::typed(&r["attrs"]["http.response.body.size"], "int_value");
        let code = status(r).expect("status");
        *counts.entry(code).or_insert(0) += 1;
        let severity = match code {
            500.. => 17,
            400.. => 13,
            _ => 9,
        };
        assert_eq!(r["severity_number"], severity, "{r}");
        let line = otlp::typed(&r["body"], "string_value")
            .as_str()
            .unwrap_or("");
        assert_eq!(r["time"].as_u64(), Some(nginx_time_nanos(line)), "{r}");
        assert!(r["observed"].as_u64() >= r["time"].as_u64());
    }
    assert_eq!(counts, traffic_counts());
    // Each request's id is the record's trace id (issue 18), nginx's span
    // id derived from it.
    let access_traces: Vec<&str> = access
        .iter()
        .map(|r| r["trace_id"].as_str().unwrap_or(""))
        .collect();
    for (r, t) in access.iter().zip(&access_traces) {
        assert!(is_trace_id(t), "{r}");
        let id = logmux_parsers::trace_context::trace_id(t).expect("trace id");
        let span = logmux::trace::ids::span_id(&id, logmux::trace::ids::SpanRole::NginxServer);
        assert_eq!(
            r["span_id"],
            logmux_parsers::trace_context::to_hex(&span),
            "{r}"
        );
    }

    // uWSGI's request lines: OTLP/JSON, uncompressed, typed the same way.
    let requests = of("uwsgi.request");
    assert_eq!(requests.len(), 10, "{requests:#?}");
    for r in &requests {
        assert_eq!(r["content_type"], "application/json");
        assert_eq!(r["gzip"], false);
        assert_eq!(
            otlp::typed(&r["resource"]["service.name"], "string_value"),
            "uwsgi"
        );
        otlp::typed(&r["resource"]["process.pid"], "int_value");
        assert_eq!(
            otlp::typed(&r["attrs"]["log.iostream"], "string_value"),
            "stderr"
        );
        otlp::typed(&r["attrs"]["http.server.request.duration"], "double_value");
    }
    let mut counts = BTreeMap::new();
    for r in &requests {
        *counts.entry(status(r).expect("status")).or_insert(0) += 1;
    }
    assert_eq!(counts, traffic_counts());

    // Django's tracebacks: one record each, the whole text in the body.
    let tracebacks = of("python.traceback");
    assert_eq!(tracebacks.len(), 2, "{tracebacks:#?}");
    for r in &tracebacks {
        assert_eq!(r["severity_number"], 17);
        assert_eq!(r["severity_text"], "ERROR");
        assert_eq!(
            otlp::typed(&r["attrs"]["exception.type"], "string_value"),
            BOOM_EXCEPTION
        );
        assert_eq!(
            otlp::typed(&r["attrs"]["url.path"], "string_value"),
            "/boom/"
        );
        let body = otlp::typed(&r["body"], "string_value")
            .as_str()
            .unwrap_or("");
        assert!(
            body.contains("] Internal Server Error: /boom/\nTraceback (most recent call last):\n"),
            "{body}"
        );
        assert!(
            body.ends_with("ZeroDivisionError: division by zero"),
            "{body}"
        );
        // The trace of its request: the id of one of nginx's 500s.
        let t = r["trace_id"].as_str().unwrap_or("");
        let request = access.iter().zip(&access_traces).find(|(_, a)| *a == &t);
        assert!(
            request.is_some_and(|(a, _)| status(a) == Some(500)),
            "{t}: {r}"
        );
    }
    let strays: Vec<&Value> = records
        .iter()
        .filter(|r| {
            r["body"][1]
                .as_str()
                .is_some_and(|b| b.starts_with("  File \""))
        })
        .collect();
    assert!(
        strays.is_empty(),
        "traceback lines on their own: {strays:#?}"
    );
}

// ---------------------------------------------------- issue 18: traces

/// One request of the traces test: path, status, the client's traceparent.
struct Traced {
    path: &'static str,
    status: i64,
    traceparent: Option<String>,
    /// The trace id nginx answered with (X-Request-ID).
    id: String,
}

/// The client's trace context of the traceparent request.
const CLIENT_TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const CLIENT_SPAN: &str = "00f067aa0ba902b7";

/// Sends 200, 404, 500, a static file, a retried upstream and a request
/// with the client's traceparent; each answer's status and id checked.
fn send_traced(port: u16) -> Vec<Traced> {
    let traceparent = format!("00-{CLIENT_TRACE}-{CLIENT_SPAN}-01");
    let wanted: [(&str, i64, Option<String>); 6] = [
        ("/", 200, None),
        ("/nope/", 404, None),
        ("/boom/", 500, None),
        ("/static/demo/hello.txt", 200, None),
        ("/retry/", 200, None),
        ("/", 200, Some(traceparent)),
    ];
    wanted
        .into_iter()
        .map(|(path, status, traceparent)| {
            let headers: Vec<(&str, &str)> = traceparent
                .iter()
                .map(|p| ("traceparent", p.as_str()))
                .collect();
            let (got, id) = http_get_id(port, path, &headers);
            assert_eq!(i64::from(got), status, "GET {path}");
            assert!(is_trace_id(&id), "GET {path}: X-Request-ID {id}");
            Traced {
                path,
                status,
                traceparent,
                id,
            }
        })
        .collect()
}

/// The span id of `role` in trace `t`, in hex.
fn role_span(t: &str, role: logmux::trace::ids::SpanRole) -> String {
    use logmux_parsers::trace_context::{to_hex, trace_id};
    to_hex(&logmux::trace::ids::span_id(
        &trace_id(t).expect("trace id"),
        role,
    ))
}

/// Seconds (nginx's milliseconds, uWSGI's microseconds) as nanoseconds,
/// through whole microseconds as the span builder counts them.
fn secs_to_nanos(s: f64) -> u64 {
    (s * 1e6).round() as u64 * 1000
}

fn span_duration(s: &Value) -> u64 {
    let (start, end) = (s["start"].as_u64(), s["end"].as_u64());
    end.expect("end") - start.expect("start")
}

fn record_duration(r: &Value) -> f64 {
    otlp::typed(&r["attrs"]["http.server.request.duration"], "double_value")
        .as_f64()
        .unwrap_or_else(|| panic!("no duration: {r}"))
}

/// The one span of `spans` with id `id`.
fn span_with_id<'s>(spans: &[&'s Value], id: &str) -> &'s Value {
    let found: Vec<&&Value> = spans.iter().filter(|s| s["span_id"] == id).collect();
    assert_eq!(found.len(), 1, "span {id} in {spans:#?}");
    found[0]
}

/// The one log record of trace `t` in `format`, if any (never two).
fn record_of<'r>(records: &'r [Value], t: &str, format: &str) -> Option<&'r Value> {
    let found: Vec<&Value> = records
        .iter()
        .filter(|r| r["trace_id"] == t && r["attrs"]["logmux.format"][1] == format)
        .collect();
    assert!(found.len() <= 1, "{format} of {t}: {found:#?}");
    found.first().copied()
}

/// A server span's common shape: name, kind, program, HTTP attributes.
fn assert_server_span(s: &Value, r: &Traced, service: &str) {
    assert_eq!(s["name"], "GET", "{s}");
    assert_eq!(s["kind"], 2, "SERVER: {s}");
    assert_eq!(s["scope"][0], "logmux", "{s}");
    let res = &s["resource"];
    assert_eq!(otlp::typed(&res["service.name"], "string_value"), service);
    assert_eq!(
        otlp::typed(&res["deployment.environment.name"], "string_value"),
        "stack-test"
    );
    assert_eq!(
        otlp::typed(&s["attrs"]["http.response.status_code"], "int_value"),
        r.status,
        "{s}"
    );
    assert_eq!(
        otlp::typed(&s["attrs"]["url.path"], "string_value"),
        r.path,
        "{s}"
    );
    assert_eq!(
        otlp::typed(&s["attrs"]["http.request.method"], "string_value"),
        "GET"
    );
    // ERROR for a 5xx answer (the server span rule), UNSET otherwise.
    let error = r.status >= 500;
    assert_eq!(s["status"][0], if error { 2 } else { 0 }, "{s}");
}

/// The retried request: two CLIENT spans under nginx's, laid end to end
/// and ending with it, durations and statuses from nginx's lists.
fn assert_tries(spans: &[&Value], nginx: &Value, access: &Value) -> String {
    use logmux::trace::ids::SpanRole;
    let t = nginx["trace_id"].as_str().expect("trace id");
    let urt: Vec<f64> = otlp::typed(
        &access["attrs"]["nginx.upstream_response_time"],
        "array_value",
    )
    .as_array()
    .expect("list")
    .iter()
    .map(|v| otlp::typed(v, "double_value").as_f64().expect("seconds"))
    .collect();
    assert_eq!(urt.len(), 2, "{access}");
    assert_eq!(
        otlp::typed(&access["attrs"]["nginx.upstream_status"], "string_value"),
        "502, 200"
    );
    let t0 = span_with_id(spans, &role_span(t, SpanRole::UpstreamTry(0)));
    let t1 = span_with_id(spans, &role_span(t, SpanRole::UpstreamTry(1)));
    for (i, s) in [t0, t1].iter().enumerate() {
        assert_eq!(s["kind"], 3, "CLIENT: {s}");
        assert_eq!(s["parent_span_id"], nginx["span_id"], "{s}");
        assert_eq!(span_duration(s), secs_to_nanos(urt[i]), "{s}");
        let (code, status) = if i == 0 { (502, 2) } else { (200, 0) };
        assert_eq!(
            otlp::typed(&s["attrs"]["http.response.status_code"], "int_value"),
            code
        );
        assert_eq!(s["status"][0], status, "{s}");
    }
    assert_eq!(
        otlp::typed(&t1["attrs"]["http.request.resend_count"], "int_value"),
        1
    );
    assert_eq!(t0["end"], t1["start"]);
    assert_eq!(t1["end"], nginx["end"]);
    t1["span_id"].as_str().expect("id").to_string()
}

/// uWSGI's span ends with its parent (nginx's, or the last try's), or,
/// when uWSGI's time is the longer (uWSGI counts its work after nginx had
/// the whole answer: common for quick requests), starts with it: never
/// before it.
fn assert_placed_in(u: &Value, parent: &Value) {
    if span_duration(u) <= span_duration(parent) {
        assert_eq!(u["end"], parent["end"], "{u}\n{parent}");
    } else {
        assert_eq!(u["start"], parent["start"], "{u}\n{parent}");
    }
}

/// The 500's uWSGI span holds Django's traceback as its exception event.
fn assert_exception_event(u: &Value) {
    let events = u["events"].as_array().expect("events");
    assert_eq!(events.len(), 1, "{u}");
    let e = &events[0];
    assert_eq!(e["name"], "exception");
    let attr = |k: &str| {
        otlp::typed(&e["attrs"][k], "string_value")
            .as_str()
            .unwrap_or("")
            .to_string()
    };
    assert_eq!(attr("exception.type"), BOOM_EXCEPTION);
    assert_eq!(attr("exception.message"), "division by zero");
    let stack = attr("exception.stacktrace");
    assert!(
        stack.contains("Traceback (most recent call last):\n"),
        "{stack}"
    );
    assert!(
        stack.ends_with("ZeroDivisionError: division by zero"),
        "{stack}"
    );
    assert_eq!(u["status"][1], "ZeroDivisionError: division by zero");
}

/// Issue 18, end to end: the real nginx + uWSGI + Django stack under
/// `logmux run`, its spans to the receiver built on the official
/// OpenTelemetry protobuf definitions. One trace per request, its id the
/// X-Request-ID nginx answered; nginx's SERVER span (under the client's
/// span when it sent a traceparent), uWSGI's under it (under the last try
/// when nginx retried), nginx alone for a static file; every duration the
/// lines' to the microsecond; the 500's traceback on uWSGI's span.
#[test]
fn stack_sends_one_trace_per_request() {
    use logmux::trace::ids::SpanRole;
    let Some((receiver, _dir, mut run, port)) =
        start_otlp_stack("stack_sends_one_trace_per_request")
    else {
        return;
    };
    let requests = send_traced(port);
    assert_eq!(
        requests[5].id, CLIENT_TRACE,
        "the client's trace id is kept"
    );
    // nginx + uWSGI each; the static file nginx alone; the retry two tries more.
    let want_spans = [2, 2, 2, 1, 4, 2];
    let uwsgi_requests = || {
        receiver
            .records()
            .iter()
            .filter(|r| r["attrs"]["logmux.format"][1] == "uwsgi.request")
            .count()
    };
    run.wait_until("every span and uWSGI request record", |_| {
        receiver.spans().len() >= want_spans.iter().sum() && uwsgi_requests() >= 5
    });
    let (status, _) = run.terminate();
    let (_, err_lines) = run.output();
    assert_eq!(status.code(), Some(0), "logmux's exit: {err_lines:#?}");
    let spans = receiver.spans();
    let records = receiver.records();

    // Exactly one trace per request: no other trace id, no span more.
    let ids: Vec<&str> = requests.iter().map(|r| r.id.as_str()).collect();
    for s in &spans {
        assert!(ids.contains(&s["trace_id"].as_str().unwrap_or("")), "{s}");
    }
    assert_eq!(spans.len(), want_spans.iter().sum::<usize>(), "{spans:#?}");
    // Every log record of the stack's programs with a trace id is of a request.
    for r in records.iter().filter(|r| r["trace_id"] != "") {
        assert!(ids.contains(&r["trace_id"].as_str().unwrap_or("")), "{r}");
    }

    for (r, want) in requests.iter().zip(want_spans) {
        let t = r.id.as_str();
        let mine: Vec<&Value> = spans.iter().filter(|s| s["trace_id"] == t).collect();
        assert_eq!(mine.len(), want, "GET {}: {mine:#?}", r.path);
        // nginx's SERVER span: the access line's id and $request_time.
        let access = record_of(&records, t, "nginx.access").expect("access record");
        let n = span_with_id(&mine, &role_span(t, SpanRole::NginxServer));
        assert_eq!(
            access["span_id"], n["span_id"],
            "the log's span is the span"
        );
        assert_server_span(n, r, "nginx");
        let parent = if r.traceparent.is_some() {
            CLIENT_SPAN
        } else {
            ""
        };
        assert_eq!(n["parent_span_id"], parent, "{n}");
        assert_eq!(span_duration(n), secs_to_nanos(record_duration(access)));
        assert_eq!(n["events"], serde_json::json!([]), "{n}");
        let request_line = record_of(&records, t, "uwsgi.request");
        if r.path.starts_with("/static/") {
            assert!(request_line.is_none(), "{request_line:?}");
            continue;
        }
        // uWSGI's SERVER span: its request line's id and micros.
        let line = request_line.expect("uWSGI's request record");
        let u = span_with_id(&mine, &role_span(t, SpanRole::Uwsgi));
        assert_eq!(line["span_id"], u["span_id"], "the log's span is the span");
        assert_server_span(u, r, "uwsgi");
        assert_eq!(span_duration(u), secs_to_nanos(record_duration(line)));
        let parent = if r.path == "/retry/" {
            assert_tries(&mine, n, access)
        } else {
            n["span_id"].as_str().expect("id").to_string()
        };
        assert_eq!(u["parent_span_id"], parent.as_str(), "{u}");
        assert_placed_in(u, span_with_id(&mine, &parent));
        if r.status == 500 {
            assert_exception_event(u);
        } else {
            assert_eq!(u["events"], serde_json::json!([]), "{u}");
        }
    }
}

#[path = "stack/prometheus.rs"]
mod prometheus;
