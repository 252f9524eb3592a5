//! Builds a Go program of the tests with Debian's Go and its packaged
//! libraries under /usr/share/gocode, offline (GOPATH mode, no module
//! proxy): tests/views_logfmt.rs's decoder and tests/app_loggers.rs's
//! loggers.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

/// Where Debian's `golang-*-dev` packages put their sources.
pub const GOPATH: &str = "/usr/share/gocode";

/// Builds `source` (a path under the repository) into target/go/NAME;
/// `None` when Go or the package under `needs` (a path below
/// /usr/share/gocode/src) is missing, or the build fails.
pub fn build(source: &str, name: &str, needs: &str) -> Option<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let gopath = Path::new(GOPATH);
    if !gopath.join("src").join(needs).exists() {
        return None;
    }
    let out = root.join("target/go").join(name);
    let built = Command::new("go")
        .args(["build", "-o"])
        .arg(&out)
        .arg(root.join(source))
        .env("GO111MODULE", "off")
        .env("GOPATH", gopath)
        .env("GOFLAGS", "")
        .env("GOCACHE", root.join("target/go/cache"))
        .status()
        .is_ok_and(|s| s.success());
    built.then_some(out)
}
