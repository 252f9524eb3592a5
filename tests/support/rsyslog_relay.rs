//! A real rsyslogd as a sender for the `logmux listen` tests: started in
//! the foreground on a config a test writes (its messages come in on a
//! unix socket, imuxsock, and go out to listen), with its own pidfile in
//! the test's temp dir. Only the rsyslogd a test started is ever stopped.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Our own rsyslogd, killed (only it) when dropped.
pub struct Rsyslog(pub Child);

impl Drop for Rsyslog {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

/// rsyslogd on `conf` (written to `dir/rsyslog.conf`), once it has made
/// its input `socket`; panics if it exits first or takes over 20 s.
pub fn start_rsyslogd(dir: &Path, conf: &str, socket: &Path) -> Rsyslog {
    let path = dir.join("rsyslog.conf");
    std::fs::write(&path, conf).unwrap();
    let child = Command::new("rsyslogd")
        .args(["-n", "-f"])
        .arg(&path)
        .arg("-i")
        .arg(dir.join("rsyslogd.pid"))
        .env("TZ", "UTC")
        .stdin(Stdio::null())
        .spawn()
        .unwrap();
    let mut r = Rsyslog(child);
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::fs::symlink_metadata(socket).is_err() {
        assert!(
            Instant::now() < deadline,
            "rsyslogd did not create {socket:?}"
        );
        assert!(r.0.try_wait().unwrap().is_none(), "rsyslogd exited");
        std::thread::sleep(Duration::from_millis(20));
    }
    r
}
