#!/usr/bin/env bash
# Benchmark: what metrics cost. `logmux filter` and `logmux run`, each
# with metrics off and on (--metrics-listen), side by side in one run, and
# the time of a scrape of a busy process.
#
# Usage: bash bench/metrics.sh [LINES] [RUNS]   (defaults: 1000000 lines, 7 runs)
#
#  1. filter: `logmux filter --output json FILE > /dev/null`, pinned to one
#     core, on a generated nginx combined log (bench/gen_nginx_log.py);
#  2. run: `logmux run -- cat FILE` (auto-detect, JSON to /dev/null), the
#     program's output through a pipe as in production;
#  each off/on pair runs back to back, RUNS times, so that the machine's
#  load changes both alike; lines/s is LINES over the median wall time.
#  3. scrape: while `logmux run` parses the same file in a loop (busy), 50
#     `curl -w '%{time_total}' /metrics`; the median and the largest.
# Prints the 1-minute load average first: on a loaded machine the figures
# are noisy, compare the pairs, not the absolute numbers.
set -euo pipefail
cd "$(dirname "$0")/.."
lines=${1:-1000000}
runs=${2:-7}
[ -n "${NO_BUILD:-}" ] || cargo build --release --quiet   # NO_BUILD=1: the binary as it is
bin=$(pwd)/target/release/logmux
mkdir -p target/bench
input=$(pwd)/target/bench/nginx-combined-$lines.log
[ -s "$input" ] || python3 bench/gen_nginx_log.py "$lines" "$input"
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), load average $(cut -d' ' -f1 /proc/loadavg)"
echo "input: $input, $lines lines"

now() { date +%s.%N; }
# elapsed seconds of one command
timed() { local t0; t0=$(now); "$@" >/dev/null 2>&1; python3 -c "import sys; print(float(sys.argv[2]) - float(sys.argv[1]))" "$t0" "$(now)"; }
median() { sort -n | sed -n "$(( (runs + 1) / 2 ))p"; }
report() { # label, file of times
  python3 -c "import sys; l,t=int(sys.argv[1]),float(sys.argv[2]); print(f'{sys.argv[3]:<24} {l/t:>12,.0f} lines/s   median {t:.3f} s of {sys.argv[4]} runs')" \
    "$lines" "$(median < "$2")" "$1" "$runs"
}

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for _ in $(seq "$runs"); do
  timed taskset -c 0 "$bin" filter --output json "$input" >> "$tmp/filter-off"
  timed taskset -c 0 "$bin" filter --output json --metrics-listen 127.0.0.1:0 "$input" >> "$tmp/filter-on"
  timed "$bin" run --output json -- cat "$input" >> "$tmp/run-off"
  timed "$bin" run --output json --metrics-listen 127.0.0.1:0 -- cat "$input" >> "$tmp/run-on"
done
report "filter, metrics off" "$tmp/filter-off"
report "filter, metrics on" "$tmp/filter-on"
report "run, metrics off" "$tmp/run-off"
report "run, metrics on" "$tmp/run-on"

# A scrape of a busy process.
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$bin" run --output json --metrics-listen "127.0.0.1:$port" -- sh -c "while :; do cat '$input'; done" >/dev/null 2>&1 &
pid=$!
for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$port/healthz" && break; sleep 0.1; done
sleep 1 # let it get busy
for _ in $(seq 50); do
  curl -s -o "$tmp/scrape.txt" -w '%{time_total}\n' "http://127.0.0.1:$port/metrics" >> "$tmp/scrapes"
done
kill -TERM "$pid"; wait "$pid" || true
python3 - "$tmp/scrapes" "$(wc -c < "$tmp/scrape.txt")" "$(grep -m1 '^log_events_total' "$tmp/scrape.txt" || true)" <<'PY'
import statistics, sys
t = sorted(float(x) * 1000 for x in open(sys.argv[1]))
print(f"scrape of a busy run        median {statistics.median(t):.2f} ms, max {t[-1]:.2f} ms of {len(t)} ({sys.argv[2]} bytes; {sys.argv[3]})")
PY
