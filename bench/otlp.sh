#!/usr/bin/env bash
# Benchmark: `logmux filter --config … --sink otlp`, 1,000,000 nginx
# `combined` lines parsed and sent as OTLP/HTTP (protobuf + gzip by default)
# to a local receiver that accepts without decoding (tests/otlp/receiver.py
# --discard). logmux's exit status 0 says every event was acknowledged.
#
# Usage: bash bench/otlp.sh [LINES] [RUNS]  (defaults: 1000000 lines, 3 runs)
#   ENCODING=protobuf|json  COMPRESSION=gzip|none
# Prints events/s (median of RUNS), logmux's peak RSS and CPU, and the
# receiver's CPU. Needs python3 (the receiver's venv: tests/run-all.sh makes
# target/otlp-venv) and GNU time.
set -euo pipefail
cd "$(dirname "$0")/.."
lines=${1:-1000000}
runs=${2:-3}
encoding=${ENCODING:-protobuf}
compression=${COMPRESSION:-gzip}
py=${LOGMUX_OTLP_PYTHON:-target/otlp-venv/bin/python}
[ -x "$py" ] || { python3 -m venv target/otlp-venv && target/otlp-venv/bin/pip install -q opentelemetry-proto; }

command -v /usr/bin/time >/dev/null || { apt-get install -y -qq time >/dev/null; }
cargo build --release --quiet
bin=target/release/logmux
mkdir -p target/bench
input=target/bench/nginx-combined-$lines.log
[ -s "$input" ] || python3 bench/gen_nginx_log.py "$lines" "$input"
echo "input: $input, $lines lines; encoding $encoding, compression $compression"
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
rates=()
for run in $(seq "$runs"); do
  rm -f "$tmp/port"
  "$py" tests/otlp/receiver.py --discard --port-file "$tmp/port" > "$tmp/receiver.out" &
  receiver=$!
  while [ ! -s "$tmp/port" ]; do sleep 0.05; done
  printf '[sink.otlp]\ntype = "otlp"\nendpoint = "http://127.0.0.1:%s"\nencoding = "%s"\ncompression = "%s"\n' \
    "$(cat "$tmp/port")" "$encoding" "$compression" > "$tmp/logmux.toml"
  # GNU time: elapsed, max RSS (KiB), user and system CPU seconds.
  out=$( { /usr/bin/time -f '%e %M %U %S' "$bin" filter --format nginx.access \
      --config "$tmp/logmux.toml" --sink otlp "$input"; } 2>&1 | tail -1)
  kill -TERM "$receiver"; wait "$receiver" || true
  read -r elapsed rss user sys <<<"$out"
  rate=$(python3 -c "print(round($lines / $elapsed))")
  rates+=("$rate")
  echo "run $run: $rate events/s, ${elapsed} s, logmux CPU $(python3 -c "print(round($user + $sys, 2))") s, peak RSS $((rss / 1024)) MiB; receiver: $(cat "$tmp/receiver.out")"
done
median=$(printf '%s\n' "${rates[@]}" | sort -n | sed -n "$(( (runs + 1) / 2 ))p")
echo "median: $median events/s over $runs runs ($encoding + $compression)"
