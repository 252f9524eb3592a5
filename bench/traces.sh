#!/usr/bin/env bash
# Benchmark: what span building costs `logmux filter --sink otlp`. The same
# input goes to an otlp sink with signals = ["logs"] and with
# signals = ["logs", "traces"], to a local receiver that accepts without
# decoding (tests/otlp/receiver.py --discard); logmux's CPU time (user +
# system) is compared, median of RUNS.
#
# Usage: bash bench/traces.sh INPUT [RUNS]   (default 3 runs)
# INPUT: lines logmux reads (nginx and uWSGI events with a trace_id for the
# builder's cost; plain nginx lines for the cost of events without an id).
# Needs: a release build, the receiver's venv (target/otlp-venv).
set -euo pipefail
cd "$(dirname "$0")/.."
input=$1
runs=${2:-3}
py=${LOGMUX_OTLP_PYTHON:-target/otlp-venv/bin/python}
cargo build --release --quiet
bin=target/release/logmux
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
echo "input: $input ($(wc -l <"$input") lines); machine: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
for signals in '"logs"' '"logs", "traces"'; do
  cpus=()
  for run in $(seq "$runs"); do
    rm -f "$tmp/port"
    "$py" tests/otlp/receiver.py --discard --port-file "$tmp/port" >"$tmp/receiver.out" &
    receiver=$!
    while [ ! -s "$tmp/port" ]; do sleep 0.05; done
    printf '[sink.otlp]\ntype = "otlp"\nendpoint = "http://127.0.0.1:%s"\nsignals = [%s]\n' \
      "$(cat "$tmp/port")" "$signals" >"$tmp/logmux.toml"
    /usr/bin/time -o "$tmp/time" -f '%e %M %U %S' "$bin" filter --config "$tmp/logmux.toml" --sink otlp "$input" 2>"$tmp/stderr"
    out=$(tail -1 "$tmp/time")
    kill -TERM "$receiver"; wait "$receiver" || true
    read -r elapsed rss user sys <<<"$out"
    cpu=$(python3 -c "print(round($user + $sys, 2))")
    cpus+=("$cpu")
    echo "signals [$signals] run $run: CPU $cpu s, ${elapsed} s, peak RSS $((rss / 1024)) MiB; $(grep -o 'traces: [^"]*' "$tmp/stderr" || true)"
  done
  echo "signals [$signals]: median CPU $(printf '%s\n' "${cpus[@]}" | sort -n | sed -n "$(( (runs + 1) / 2 ))p") s"
done
