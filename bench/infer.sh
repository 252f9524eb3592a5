#!/usr/bin/env bash
# Benchmark: what the heuristic join costs (`--trace-join infer`, issue 18).
# `logmux filter` (pinned to one core) and `logmux run -- cat FILE`, each
# with the join off and on, side by side, on N generated requests of the
# seed's stack (bench/gen_request_pairs.py: 2N lines, uWSGI's and nginx's
# `combined` line of each request), JSON to /dev/null; then how many lines
# the join tied, and how many of those right (same client address).
#
# Usage: bash bench/infer.sh [REQUESTS] [RUNS]   (defaults: 500000, 5)
# NO_BUILD=1: the release binary as it is. On a loaded machine compare the
# pairs, not the absolute figures.
set -euo pipefail
cd "$(dirname "$0")/.."
requests=${1:-500000}
runs=${2:-5}
[ -n "${NO_BUILD:-}" ] || cargo build --release --quiet
bin=$(pwd)/target/release/logmux
mkdir -p target/bench
input=$(pwd)/target/bench/request-pairs-$requests.log
[ -s "$input" ] || python3 bench/gen_request_pairs.py "$requests" "$input"
lines=$((requests * 2))
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), load average $(cut -d' ' -f1 /proc/loadavg)"
echo "input: $input, $lines lines"
export TZ=UTC

now() { date +%s.%N; }
timed() { local t0; t0=$(now); "$@" >/dev/null 2>&1; python3 -c "import sys; print(float(sys.argv[2]) - float(sys.argv[1]))" "$t0" "$(now)"; }
median() { sort -n | sed -n "$(( (runs + 1) / 2 ))p"; }
report() { # label, file of times
  python3 -c "import sys; l,t=int(sys.argv[1]),float(sys.argv[2]); print(f'{sys.argv[3]:<22} {l/t:>12,.0f} lines/s   median {t:.3f} s of {sys.argv[4]} runs')" \
    "$lines" "$(median < "$2")" "$1" "$runs"
}

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for _ in $(seq "$runs"); do
  timed taskset -c 0 "$bin" filter --output json "$input" >> "$tmp/filter-off"
  timed taskset -c 0 "$bin" filter --output json --trace-join infer "$input" >> "$tmp/filter-on"
  timed "$bin" run --output json -- cat "$input" >> "$tmp/run-off"
  timed "$bin" run --output json --trace-join infer -- cat "$input" >> "$tmp/run-on"
done
report "filter, join off" "$tmp/filter-off"
report "filter, join infer" "$tmp/filter-on"
report "run, join off" "$tmp/run-off"
report "run, join infer" "$tmp/run-on"

"$bin" filter --output json --trace-join infer "$input" | python3 -c '
import collections, json, sys
by = collections.defaultdict(list)
for line in sys.stdin:
    e = json.loads(line)
    by[e["trace_id"]].append(e["client"]["address"])
pairs = [v for v in by.values() if len(v) == 2]
right = sum(1 for a, b in pairs if a == b)
print(f"joins: {len(pairs):,} of {sys.argv[1]} requests, {right:,} right")
' "$requests"
