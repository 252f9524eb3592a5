#!/usr/bin/env bash
# Runs every test of logmux on a fresh Debian 12 machine, as root:
# installs what the tests need, checks formatting and lints, then runs the
# unit, property, golden and integration tests. `.ci/run` calls exactly this.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '\n== %s\n' "$*"; }

# Real programs the tests run or that produced the fixtures (rsyslog with its
# TLS driver, and openssl for the certificates, receive the syslog sink);
# debootstrap builds the base image of the Docker tests; pebble (the ACME
# test server), iproute2 and docker-compose are for tests/docker/e2e.sh.
packages=(nginx uwsgi uwsgi-plugin-python3 python3-django curl supervisor rsyslog rsyslog-gnutls pebble openssl iproute2 debootstrap docker-compose)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  say "installing ${missing[*]}"
  if [ "$(id -u)" -ne 0 ]; then
    echo "run as root (or install: ${missing[*]})" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# Debian's nginx and supervisor packages start daemons; the tests start their own.
if command -v systemctl >/dev/null 2>&1; then systemctl stop nginx supervisor 2>/dev/null || true; fi
pkill -x nginx 2>/dev/null || true
pkill -f /usr/bin/supervisord 2>/dev/null || true

say "cargo fmt --check"
cargo fmt --all -- --check

say "cargo clippy --all-targets -- -D warnings"
cargo clippy --workspace --all-targets --quiet -- -D warnings

say "layering and function length (tests/layout/check.py)"
python3 tests/layout/check.py

# tests/listen_docker.rs runs containers of this image when Docker works,
# and fails without it (no registry: it is bootstrapped from Debian's mirror;
# an existing image is reused).
if docker info >/dev/null 2>&1; then
  say "docker base image (docker/base-image.sh)"
  bash docker/base-image.sh
else
  say "no Docker engine: tests/listen_docker.rs will skip"
fi

say "cargo test (unit, property, golden and integration tests)"
LOGMUX_LIVE=1 cargo test --workspace --quiet 2>&1 | tee target/test-output.txt
grep -q 'test result: ok' target/test-output.txt

say "the web image end to end (tests/docker/e2e.sh)"
bash tests/docker/e2e.sh

say "fuzz targets compile"
cargo check --quiet --manifest-path fuzz/Cargo.toml

say "all tests passed"
