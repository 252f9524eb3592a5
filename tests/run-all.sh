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
# Go and go-logfmt read the logfmt output back (tests/views_logfmt.rs); man-db
# renders `logmux man` (tests/views_completions.rs); util-linux's `script`
# gives the terminal of tests/views_diagnostics.rs.
packages=(nginx uwsgi uwsgi-plugin-python3 python3-django curl supervisor rsyslog rsyslog-gnutls pebble openssl iproute2 debootstrap docker-compose python3-venv jq tzdata golang-go golang-github-go-logfmt-logfmt-dev golang-go.uber-zap-dev golang-github-sirupsen-logrus-dev golang-golang-x-exp-dev node-bunyan node-winston man-db tmux prometheus)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
# The Docker tests need an engine. Debian's docker.io only when there is no
# docker at all: one from Docker's own packages conflicts with it.
if ! command -v docker >/dev/null 2>&1 && ! command -v dockerd >/dev/null 2>&1; then
  missing+=(docker.io)
fi
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
# Debian's nginx and supervisor start daemons: the tests leave them alone
# (theirs run on their own configs, ports and pid files).

# CI (CI set, other than 0 or false) or LOGMUX_LIVE=1: everything must run,
# so what would be a skip fails (tests/support/skip.rs says the same).
strict() {
  case "${CI:-}" in
    '' | 0 | false) [ "${LOGMUX_LIVE:-}" = 1 ] ;;
    *) true ;;
  esac
}

# The OTLP receiver of tests/otlp_*.rs and bench/otlp.sh decodes with the
# official OpenTelemetry definitions (PyPI's opentelemetry-proto), in a venv
# the tests find at target/otlp-venv (tests/support/otlp.rs).
if ! target/otlp-venv/bin/python -c 'import opentelemetry.proto.collector.logs.v1' 2>/dev/null; then
  say "python venv for the OTLP receiver (target/otlp-venv)"
  mkdir -p target
  python3 -m venv target/otlp-venv
  target/otlp-venv/bin/pip install -q opentelemetry-proto
fi

say "cargo fmt --check"
cargo fmt --all -- --check

say "cargo clippy --all-targets -- -D warnings"
cargo clippy --workspace --all-targets --quiet -- -D warnings

say "layering and function length (tests/layout/check.py)"
python3 tests/layout/check.py

# tests/listen_docker.rs and tests/docker/e2e.sh run containers of this
# image (no registry: it is bootstrapped from Debian's mirror; an existing
# image is reused). An engine that does not answer is started: systemd's or
# the init script's service, else dockerd in the background.
docker_up() { timeout 20 docker info >/dev/null 2>&1; }
if command -v dockerd >/dev/null 2>&1 && ! docker_up; then
  say "starting the Docker engine"
  if ! { systemctl start docker || service docker start; } >/dev/null 2>&1; then
    mkdir -p target
    nohup dockerd >target/dockerd.log 2>&1 &
  fi
  for _ in $(seq 60); do docker_up && break; sleep 1; done
fi
if docker_up; then
  say "docker base image (docker/base-image.sh)"
  bash docker/base-image.sh
elif strict; then
  echo "no Docker engine answers (docker info fails; see target/dockerd.log if it was started here): CI needs one" >&2
  exit 1
else
  say "no Docker engine: the Docker tests will be skipped (and listed below)"
fi

# Every skipped test adds one `test: reason` line here (tests/support/skip.rs,
# tests/docker/e2e.sh); listed and counted at the end.
mkdir -p target
export LOGMUX_SKIP_LIST=$PWD/target/skipped.txt
: >"$LOGMUX_SKIP_LIST"
# Golden files are compared here, never rewritten (tests/golden.rs).
unset UPDATE_GOLDEN

# Overall limits, well under CI's 90 minutes; a hung test fails the run.
say "cargo test (unit, property, golden and integration tests)"
test_rc=0
timeout --kill-after=30s 40m cargo test --workspace --no-fail-fast --quiet 2>&1 |
  tee target/test-output.txt || test_rc=$?

say "the web image end to end (tests/docker/e2e.sh)"
e2e_rc=0
timeout --kill-after=30s 25m bash tests/docker/e2e.sh 2>&1 | tee target/e2e-output.txt || e2e_rc=$?

say "fuzz targets compile"
fuzz_rc=0
cargo check --quiet --manifest-path fuzz/Cargo.toml || fuzz_rc=$?

# The count: passed and failed sum cargo's `test result:` lines plus e2e's
# cases; a test that skipped (all or part of itself) reported ok to cargo,
# so it moves from passed to skipped; #[ignore]d tests count as skipped too.
count() { grep '^test result:' target/test-output.txt | grep -o "[0-9]* $1" | awk '{ n += $1 } END { print n + 0 }'; }
e2e_count() { grep -o "^e2e: [0-9]* passed, [0-9]* failed$" target/e2e-output.txt | grep -o "[0-9]* $1" | awk '{ n += $1 } END { print n + 0 }'; }
skips_cargo=$(grep -vc '^e2e ' "$LOGMUX_SKIP_LIST" || true)
skips_e2e=$(grep -c '^e2e ' "$LOGMUX_SKIP_LIST" || true)
passed=$(( $(count passed) - skips_cargo + $(e2e_count passed) ))
failed=$(( $(count failed) + $(e2e_count failed) ))
# A run that failed without a failed test (a build error, the time limit)
# is one failure more, so that the line never says 0 failed for it.
if [ "$test_rc" != 0 ] && [ "$(count failed)" = 0 ]; then failed=$((failed + 1)); fi
if [ "$e2e_rc" != 0 ] && [ "$(e2e_count failed)" = 0 ]; then failed=$((failed + 1)); fi
if [ "$fuzz_rc" != 0 ]; then failed=$((failed + 1)); fi
skipped=$(( skips_cargo + skips_e2e + $(count ignored) ))
if [ -s "$LOGMUX_SKIP_LIST" ]; then
  say "skipped (test: reason)"
  cat "$LOGMUX_SKIP_LIST"
fi
[ "$test_rc" = 0 ] || say "cargo test failed (exit $test_rc; 124 or 137: the time limit)"
[ "$e2e_rc" = 0 ] || say "tests/docker/e2e.sh failed (exit $e2e_rc)"
[ "$fuzz_rc" = 0 ] || say "the fuzz targets do not compile"
echo
echo "$passed passed, $failed failed, $skipped skipped"
[ "$test_rc" = 0 ] && [ "$e2e_rc" = 0 ] && [ "$fuzz_rc" = 0 ]
