//! The image's first certificate backs off across restarts
//! (docker/certbot-first.py, program `certbot-first` in docker/logmux.toml):
//! the real script under `logmux run`, as a `once` program before the
//! stack, with a stand-in certbot that counts its calls. A failure leaves a
//! marker; a start within the back-off does not call certbot, says until
//! when (one JSON event) and exits 75; deleting the marker, or the back-off
//! elapsing, lets certbot run again; a success deletes the marker.
//! tests/docker/e2e.sh (case backoff) runs the same in the image.

#[path = "support/run.rs"]
mod support;

use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::Value;
use support::*;

const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/docker/certbot-first.py");

/// The letsencrypt folder, the stand-in certbot and its call count, kept
/// across the starts of one test.
struct Volume {
    dir: tempfile::TempDir,
}

impl Volume {
    /// A fresh folder whose certbot exits with `code` (`TERM`: killed by
    /// SIGTERM; 0: writes the renewal config, as certbot does).
    fn new(code: &str) -> Volume {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("le")).unwrap();
        let certbot = dir.path().join("certbot");
        let d = dir.path().display();
        std::fs::write(
            &certbot,
            format!(
                "#!/bin/sh\necho called >>{d}/calls\necho 'Saving debug log' >&2\n\
                 code=$(cat {d}/code)\n\
                 if [ \"$code\" = 0 ]; then mkdir -p {d}/le/renewal && touch {d}/le/renewal/x.conf; fi\n\
                 if [ \"$code\" = TERM ]; then kill -TERM $$; sleep 5; fi\nexit \"$code\"\n"
            ),
        )
        .unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&certbot, std::fs::Permissions::from_mode(0o755)).unwrap();
        let v = Volume { dir };
        v.certbot_exits(code);
        v
    }

    fn certbot_exits(&self, code: &str) {
        std::fs::write(self.dir.path().join("code"), code).unwrap();
    }

    fn marker(&self) -> PathBuf {
        self.dir.path().join("le/backoff-x.json")
    }

    fn calls(&self) -> usize {
        std::fs::read_to_string(self.dir.path().join("calls"))
            .map(|s| s.lines().count())
            .unwrap_or(0)
    }

    fn read_marker(&self) -> Value {
        serde_json::from_str(&std::fs::read_to_string(self.marker()).unwrap()).unwrap()
    }

    /// A marker as the script writes it: `attempts` failures, the last
    /// `ago` seconds ago.
    fn write_marker(&self, attempts: u64, ago: f64) {
        let at = now() - ago;
        let m =
            serde_json::json!({"attempts": attempts, "last_failure": "", "last_failure_unix": at});
        std::fs::write(self.marker(), m.to_string()).unwrap();
    }

    /// One container start: the image's two steps, the first certificate
    /// (`once`, skipped once the renewal config exists), then the stack.
    fn start(&self) -> Finished {
        let d = self.dir.path().display();
        let config = format!(
            r#"
control_socket = ""
[program.certbot-first]
service_name = "certbot"
command = ["/usr/bin/python3", "{SCRIPT}", "{marker}", "--", "{d}/certbot", "certonly"]
once = true
unless_exists = "{d}/le/renewal/x.conf"
[program.web]
command = ["echo", "served"]
autorestart = "never"
"#,
            marker = self.marker().display()
        );
        start(&config).finish(30)
    }
}

fn now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

/// The certbot-first events on stdout whose message contains `text`.
fn said<'e>(events: &'e [Value], text: &str) -> Vec<&'e Value> {
    events
        .iter()
        .filter(|e| e["service"]["name"] == "certbot")
        .filter(|e| e["message"].as_str().is_some_and(|m| m.contains(text)))
        .collect()
}

fn marker_name(v: &Volume) -> String {
    v.marker().display().to_string()
}

fn exists(p: &Path) -> bool {
    p.try_exists().unwrap()
}

#[test]
fn a_failure_is_recorded_and_the_next_start_does_not_call_certbot() {
    if no_python() {
        return;
    }
    let v = Volume::new("1");
    let first = v.start();
    assert_eq!(first.code, Some(1), "stderr: {}", first.stderr);
    assert_eq!(v.calls(), 1);
    let m = v.read_marker();
    assert_eq!(m["attempts"], 1);
    assert_eq!(m["exit_code"], 1);
    let out = events(&first.stdout);
    let failed = said(
        &out,
        "first certificate: certbot failed (exit code 1), attempt 1;",
    );
    assert_eq!(failed.len(), 1, "stdout: {}", first.stdout);
    assert_eq!(failed[0]["severity_text"], "error");
    assert_eq!(failed[0]["backoff"]["marker"], marker_name(&v).as_str());
    assert_eq!(failed[0]["backoff"]["attempts"], 1);
    assert_eq!(failed[0]["backoff"]["wait_s"], 300);
    assert_eq!(failed[0]["backoff"]["next_attempt"], m["next_attempt"]);
    assert!(messages_of(&out, "web").is_empty());

    // The restart: certbot is not called, the event says until when.
    let second = v.start();
    assert_eq!(second.code, Some(75), "stderr: {}", second.stderr);
    assert_eq!(v.calls(), 1);
    let out = events(&second.stdout);
    let refused = said(
        &out,
        "first certificate: not calling certbot, 1 failed attempt, the last at ",
    );
    assert_eq!(refused.len(), 1, "stdout: {}", second.stdout);
    let b = &refused[0]["backoff"];
    assert_eq!(b["marker"], marker_name(&v).as_str());
    assert_eq!(b["attempts"], 1);
    assert_eq!(b["next_attempt"], m["next_attempt"]);
    assert_eq!(b["last_failure"], m["last_failure"]);
    let wait = b["wait_s"].as_u64().unwrap();
    assert!((1..=301).contains(&wait), "wait_s {wait}");
    assert_eq!(v.read_marker(), m, "the marker is left as it was");
    let own = events(&second.stderr);
    assert_eq!(
        own_with(&own, "certbot-first exited: exit code 75").len(),
        1
    );
    assert!(messages_of(&out, "web").is_empty());

    // Deleting the marker: the next start tries at once.
    std::fs::remove_file(v.marker()).unwrap();
    let third = v.start();
    assert_eq!(third.code, Some(1), "stderr: {}", third.stderr);
    assert_eq!(v.calls(), 2);
    assert_eq!(v.read_marker()["attempts"], 1);
}

#[test]
fn an_elapsed_back_off_tries_again_and_doubles_up_to_an_hour() {
    if no_python() {
        return;
    }
    let v = Volume::new("1");
    v.write_marker(1, 301.0);
    let done = v.start();
    assert_eq!(done.code, Some(1), "stderr: {}", done.stderr);
    assert_eq!(v.calls(), 1);
    assert_eq!(v.read_marker()["attempts"], 2);
    let out = events(&done.stdout);
    let failed = said(&out, "attempt 2;");
    assert_eq!(failed.len(), 1, "stdout: {}", done.stdout);
    assert_eq!(failed[0]["backoff"]["wait_s"], 600);
    let again = v.start();
    assert_eq!(again.code, Some(75));
    assert_eq!(v.calls(), 1);
    assert_eq!(
        said(
            &events(&again.stdout),
            "not calling certbot, 2 failed attempts"
        )
        .len(),
        1
    );

    // 5 min doubled 9 times is far past the hour: the cap.
    v.write_marker(9, 3601.0);
    let capped = v.start();
    assert_eq!(capped.code, Some(1));
    assert_eq!(v.calls(), 2);
    let m = v.read_marker();
    assert_eq!(m["attempts"], 10);
    let failed = said(&events(&capped.stdout), "attempt 10;")
        .into_iter()
        .cloned()
        .collect::<Vec<_>>();
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0]["backoff"]["wait_s"], 3600);
}

#[test]
fn a_success_deletes_the_marker_and_the_stack_starts() {
    if no_python() {
        return;
    }
    let v = Volume::new("0");
    v.write_marker(3, 1201.0); // 3 failures: 20 min
    let done = v.start();
    assert_eq!(done.code, Some(0), "stderr: {}", done.stderr);
    assert_eq!(v.calls(), 1);
    assert!(!exists(&v.marker()));
    assert_eq!(messages_of(&events(&done.stdout), "web"), ["served"]);
    // The renewal config now exists: certbot-first sits the next start out.
    let next = v.start();
    assert_eq!(next.code, Some(0));
    assert_eq!(v.calls(), 1);
}

#[test]
fn an_unreadable_marker_counts_as_one_failure_at_its_time() {
    if no_python() {
        return;
    }
    let v = Volume::new("0");
    std::fs::write(v.marker(), "not json").unwrap();
    let done = v.start();
    assert_eq!(done.code, Some(75), "stderr: {}", done.stderr);
    assert_eq!(v.calls(), 0);
    let out = events(&done.stdout);
    let refused = said(&out, "not calling certbot, 1 failed attempt");
    assert_eq!(refused.len(), 1, "stdout: {}", done.stdout);
    assert_eq!(refused[0]["backoff"]["attempts"], 1);
}

#[test]
fn a_certbot_killed_by_a_signal_is_not_an_attempt() {
    if no_python() {
        return;
    }
    let v = Volume::new("TERM");
    let done = v.start();
    assert_eq!(done.code, Some(143), "stderr: {}", done.stderr);
    assert_eq!(v.calls(), 1);
    assert!(!exists(&v.marker()));
}

/// The script runs under Debian's python3, as in the image.
fn no_python() -> bool {
    let missing = !Path::new("/usr/bin/python3").exists();
    if missing {
        skip_or_fail("image_certbot_backoff", "no /usr/bin/python3");
    }
    missing
}
