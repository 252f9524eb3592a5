//! Whether Docker can run containers here, for the tests that start one.
//! No working engine skips (a failure under CI: see support/skip.rs); an
//! engine without the base image is a failure, since tests/run-all.sh
//! builds it before the tests.

use std::process::{Command, Stdio};

/// Docker's base image, built by docker/base-image.sh.
pub const IMAGE: &str = "logmux/debian:bookworm";

/// Whether `docker info` works and [`IMAGE`] is there; `test` names the
/// test that is skipped otherwise.
pub fn docker_ready(test: &str) -> bool {
    let info = Command::new("docker")
        .arg("info")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
    if !info.is_ok_and(|s| s.success()) {
        crate::support::skip_or_fail(test, "`docker info` fails (no Docker engine here)");
        return false;
    }
    let image = Command::new("docker")
        .args(["image", "inspect", IMAGE])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(
        image.success(),
        "Docker works but the image {IMAGE} is missing: build it with \
         `bash docker/base-image.sh` (tests/run-all.sh does before cargo test)"
    );
    true
}
