//! A real rsyslogd (Debian's) for the syslog sink tests: started in the
//! foreground on a config of its own in a temp dir (no system config, its
//! own pidfile and work directory), listening on the inputs a test gives,
//! and writing every message it receives to `fields.log` (the parsed
//! properties, one line each) and `raw.log` (the message as received).
//! Only the rsyslogd a test started is ever stopped.
#![allow(dead_code)]

use std::net::{TcpListener, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

#[path = "certs.rs"]
mod certs;

/// One line per message: PRI, HOSTNAME, TAG, APP-NAME, PROCID, MSGID,
/// STRUCTURED-DATA and MSG, separated by `|`.
pub const FIELDS: &str =
    "%pri%|%hostname%|%syslogtag%|%app-name%|%procid%|%msgid%|%structured-data%|%msg%\\n";

/// Whether the tests can run: rsyslogd is installed. Without it they are
/// skipped (a failure under CI or `LOGMUX_LIVE=1`: see skip.rs).
pub fn available(test: &str) -> bool {
    if Path::new("/usr/sbin/rsyslogd").exists() {
        return true;
    }
    // The includer's `mod support` (support/run.rs) loads skip.rs once.
    crate::support::skip_or_fail(
        test,
        "rsyslogd is not installed (apt-get install rsyslog rsyslog-gnutls openssl)",
    );
    false
}

/// A port free for both TCP and UDP on 127.0.0.1 right now.
pub fn free_port() -> u16 {
    loop {
        let tcp = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = tcp.local_addr().unwrap().port();
        if UdpSocket::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

/// How a test waits for rsyslogd to take messages.
#[derive(Clone, Copy)]
pub enum Ready {
    /// Its TCP input listens (on the port the config names, or with port 0
    /// the one rsyslogd wrote to `tcp.port`).
    Tcp,
    /// It logged its start and bound its UDP input.
    Udp,
    /// rsyslogd logged its start.
    Started,
    /// rsyslogd logged its start and made this unix socket.
    Socket(&'static str),
}

pub struct Rsyslog {
    pub dir: PathBuf,
    conf: PathBuf,
    ready: Ready,
    child: Option<Child>,
    /// The port of its TCP or UDP input, once it listens.
    pub port: u16,
}

/// The rsyslogd that started, or a panic saying why it did not.
fn bound(started: Result<Rsyslog, Rsyslog>) -> Rsyslog {
    started.unwrap_or_else(|r| panic!("rsyslogd did not bind its input: {}", r.output()))
}

/// How many times a UDP input is started on another free port when a
/// program took the one picked before rsyslogd bound it.
const UDP_ATTEMPTS: usize = 5;

impl Rsyslog {
    /// rsyslogd with one UDP input on 127.0.0.1:`port`; with port 0, on a
    /// free port (imudp cannot bind port 0 and say which it got: a new pick
    /// if another program took it first), in [`Rsyslog::port`].
    pub fn udp(dir: &Path, port: u16) -> Rsyslog {
        let start = |port: u16| {
            Rsyslog::start_on(
                dir,
                "",
                r#"module(load="imudp")"#,
                &format!(r#"input(type="imudp" address="127.0.0.1" port="{port}" ruleset="in")"#),
                Ready::Udp,
                port,
            )
        };
        if port != 0 {
            return bound(start(port));
        }
        let mut last = String::new();
        for _ in 0..UDP_ATTEMPTS {
            match start(free_port()) {
                Ok(r) => return r,
                Err(r) => last = r.output(),
            }
        }
        panic!("rsyslogd could not bind a free udp port in {UDP_ATTEMPTS} attempts: {last}")
    }

    /// The TCP input of [`Rsyslog::tcp`] and [`Rsyslog::tls`]: with port 0
    /// rsyslogd binds one itself and writes it to `tcp.port` (no race).
    fn tcp_input(dir: &Path, port: u16) -> String {
        let file = dir.join("tcp.port");
        format!(
            r#"input(type="imtcp" address="127.0.0.1" port="{port}" listenPortFileName="{}" ruleset="in")"#,
            file.display()
        )
    }

    /// rsyslogd with one plain TCP input on 127.0.0.1:`port` (0: a port of
    /// rsyslogd's choosing, in [`Rsyslog::port`]).
    pub fn tcp(dir: &Path, port: u16) -> Rsyslog {
        bound(Rsyslog::start_on(
            dir,
            "",
            r#"module(load="imtcp")"#,
            &Rsyslog::tcp_input(dir, port),
            Ready::Tcp,
            port,
        ))
    }

    /// rsyslogd with one TLS input (the gtls driver, no client
    /// authentication) on 127.0.0.1:`port` (0 as for [`Rsyslog::tcp`]),
    /// serving the certificate that [`make_certificates`] made in `dir`.
    pub fn tls(dir: &Path, port: u16) -> Rsyslog {
        let d = dir.display();
        bound(Rsyslog::start_on(
            dir,
            &format!(
                r#"defaultNetstreamDriverCAFile="{d}/ca.pem" defaultNetstreamDriverCertFile="{d}/server.pem" defaultNetstreamDriverKeyFile="{d}/server.key""#
            ),
            r#"module(load="imtcp" streamDriver.name="gtls" streamDriver.mode="1" streamDriver.authMode="anon")"#,
            &Rsyslog::tcp_input(dir, port),
            Ready::Tcp,
            port,
        ))
    }

    /// Writes a config with `globals` (inside `global(...)`), `modules` and
    /// `inputs` (each input must say `ruleset="in"`) and starts rsyslogd.
    pub fn start(dir: &Path, globals: &str, modules: &str, inputs: &str, ready: Ready) -> Rsyslog {
        bound(Rsyslog::start_on(dir, globals, modules, inputs, ready, 0))
    }

    /// [`Rsyslog::start`] with an input on `port` (0: see [`Ready::Tcp`]);
    /// `Err` (rsyslogd stopped) when it could not bind it.
    fn start_on(
        dir: &Path,
        globals: &str,
        modules: &str,
        inputs: &str,
        ready: Ready,
        port: u16,
    ) -> Result<Rsyslog, Rsyslog> {
        let d = dir.display();
        let conf = dir.join("rsyslog.conf");
        let text = format!(
            r#"global(workDirectory="{d}" maxMessageSize="64k" processInternalMessages="on" {globals})
{modules}
template(name="fields" type="string" string="{FIELDS}")
template(name="raw" type="string" string="%rawmsg%\n")
ruleset(name="in") {{
  action(type="omfile" file="{d}/fields.log" template="fields")
  action(type="omfile" file="{d}/raw.log" template="raw")
}}
{inputs}
action(type="omfile" file="{d}/internal.log")
"#
        );
        std::fs::write(&conf, text).unwrap();
        let mut r = Rsyslog {
            dir: dir.to_path_buf(),
            conf,
            ready,
            child: None,
            port,
        };
        if r.launch() {
            Ok(r)
        } else {
            r.stop();
            Err(r)
        }
    }

    /// Starts rsyslogd again (on the same port) and waits until it takes
    /// messages.
    pub fn restart(&mut self) {
        assert!(
            self.launch(),
            "rsyslogd did not bind its input: {}",
            self.output()
        );
    }

    /// Whether rsyslogd's own socket in /proc/PID/net/`tables` listens on
    /// `port` (state 0A for TCP, 07 for UDP).
    fn listens(&self, tables: &[&str], port: u16) -> bool {
        let Some(child) = &self.child else {
            return false;
        };
        let local = format!(":{port:04X}");
        let rows = crate::support::sockets_of(child.id() as i32, tables);
        rows.iter()
            .any(|r| r[1].ends_with(&local) && (r[3] == "0A" || r[3] == "07"))
    }

    /// Whether the input is up: for TCP with port 0, the port rsyslogd
    /// wrote is taken, and kept for a restart.
    fn input_up(&mut self) -> bool {
        match self.ready {
            Ready::Tcp => {
                if self.port == 0 {
                    let file = std::fs::read_to_string(self.dir.join("tcp.port"));
                    let Some(port) = file.ok().and_then(|p| p.trim().parse().ok()) else {
                        return false;
                    };
                    self.port = port;
                    let conf = std::fs::read_to_string(&self.conf).unwrap();
                    let conf = conf.replace("port=\"0\"", &format!("port=\"{port}\""));
                    std::fs::write(&self.conf, conf).unwrap();
                }
                self.listens(&["tcp", "tcp6"], self.port)
            }
            Ready::Udp => self.started() && self.listens(&["udp", "udp6"], self.port),
            Ready::Started => self.started(),
            Ready::Socket(name) => self.started() && self.dir.join(name).exists(),
        }
    }

    /// Starts rsyslogd and waits until it takes messages; false if it
    /// started but its input is still not up 2 s later (the port is taken).
    fn launch(&mut self) -> bool {
        assert!(self.child.is_none(), "rsyslogd is already running");
        let _ = std::fs::remove_file(self.dir.join("internal.log"));
        let out = std::fs::File::create(self.dir.join("rsyslogd.out")).unwrap();
        let child = Command::new("/usr/sbin/rsyslogd")
            .arg("-n")
            .arg("-f")
            .arg(&self.conf)
            .arg("-i")
            .arg(self.dir.join("rsyslogd.pid"))
            .stdin(Stdio::null())
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .spawn()
            .expect("start rsyslogd");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(20);
        let mut started_at = None;
        loop {
            if self.input_up() {
                return true;
            }
            // Inputs are bound before rsyslogd logs its start.
            if self.started() {
                let since = *started_at.get_or_insert_with(Instant::now);
                if since.elapsed() > Duration::from_secs(2) {
                    return false;
                }
            }
            if let Some(Some(status)) = self.child.as_mut().map(|c| c.try_wait().unwrap()) {
                panic!("rsyslogd exited with {status}: {}", self.output());
            }
            assert!(
                Instant::now() < deadline,
                "rsyslogd did not get ready: {}",
                self.output()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn started(&self) -> bool {
        std::fs::read_to_string(self.dir.join("internal.log")).is_ok_and(|t| t.contains("] start"))
    }

    /// Stops the rsyslogd this test started (SIGTERM) and waits for it.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            // SAFETY: kill with the pid of our own child.
            unsafe {
                libc::kill(child.id() as i32, libc::SIGTERM);
            }
            let deadline = Instant::now() + Duration::from_secs(10);
            while child.try_wait().unwrap().is_none() {
                if Instant::now() > deadline {
                    let _ = child.kill();
                    let _ = child.wait();
                    break;
                }
                std::thread::sleep(Duration::from_millis(10));
            }
        }
    }

    /// What rsyslogd said on stdout and stderr and in its own log.
    pub fn output(&self) -> String {
        let read = |name: &str| std::fs::read_to_string(self.dir.join(name)).unwrap_or_default();
        format!(
            "--- rsyslogd.out:\n{}\n--- internal.log:\n{}",
            read("rsyslogd.out"),
            read("internal.log")
        )
    }

    /// The lines of `file` (`fields.log` or `raw.log`) so far.
    pub fn lines(&self, file: &str) -> Vec<String> {
        std::fs::read_to_string(self.dir.join(file))
            .unwrap_or_default()
            .lines()
            .map(str::to_string)
            .collect()
    }

    /// Waits until `file` has `n` lines, then a little longer to see that
    /// no more come; returns them all.
    pub fn wait_lines(&self, file: &str, n: usize, secs: u64) -> Vec<String> {
        let deadline = Instant::now() + Duration::from_secs(secs);
        while self.lines(file).len() < n {
            assert!(
                Instant::now() < deadline,
                "{file} has {} lines, not {n}:\n{}\n{}",
                self.lines(file).len(),
                self.lines(file).join("\n"),
                self.output()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        std::thread::sleep(Duration::from_millis(300));
        self.lines(file)
    }
}

impl Drop for Rsyslog {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A CA and a server certificate for 127.0.0.1 and localhost, made with
/// openssl in `dir`: `ca.pem`, `server.pem`, `server.key`; and a second,
/// unrelated CA, `other-ca.pem`.
pub fn make_certificates(dir: &Path) {
    certs::make_server_certificates(dir);
}
