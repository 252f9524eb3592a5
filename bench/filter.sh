#!/usr/bin/env bash
# Benchmark: `logmux filter` throughput and peak memory on a 1,000,000-line
# nginx combined log, pinned to one core, JSON to /dev/null.
#
# Usage: [LOGMUX_BIN=path] bench/filter.sh [LINES] [RUNS]   (defaults: 1000000 lines, 5 runs)
# Prints lines/s (median of RUNS) and peak RSS for the forced and the
# auto-detect mode (one core: `taskset -c 0` leaves one thread), then
# `--threads 1` against `--threads 2` on every core, interleaved, from the
# file and through a pipe
# (bench/filter_threads.py: wall time, CPU time, the busiest thread's CPU
# time, peak RSS). Needs python3 and GNU time (`apt-get install time`).
set -euo pipefail
cd "$(dirname "$0")/.."
lines=${1:-1000000}
runs=${2:-5}

command -v /usr/bin/time >/dev/null || { apt-get install -y -qq time >/dev/null; }
# LOGMUX_BIN: another build to measure (e.g. main's, for a before/after in
# one run); without it, the release build of this tree.
bin=${LOGMUX_BIN:-target/release/logmux}
[ -n "${LOGMUX_BIN:-}" ] || cargo build --release --quiet
mkdir -p target/bench
input=target/bench/nginx-combined-$lines.log
[ -s "$input" ] || python3 bench/gen_nginx_log.py "$lines" "$input"
bytes=$(stat -c %s "$input")
echo "input: $input, $lines lines, $((bytes / lines)) bytes/line average"
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"

measure() { # label, args...
  local label=$1; shift
  local times=() rss=0
  for _ in $(seq "$runs"); do
    # GNU time: elapsed seconds and max RSS (KiB) of the one process.
    out=$( { /usr/bin/time -f '%e %M' taskset -c 0 "$bin" filter --output json "$@" "$input" >/dev/null; } 2>&1 | tail -1)
    times+=("${out% *}")
    rss=${out#* }
  done
  median=$(printf '%s\n' "${times[@]}" | sort -n | sed -n "$(( (runs + 1) / 2 ))p")
  python3 -c "import sys; l,t,r=int(sys.argv[1]),float(sys.argv[2]),int(sys.argv[3]); print(f'{sys.argv[4]:<28} {l/t:>12,.0f} lines/s   median {t:.3f} s of {sys.argv[5]} runs   peak RSS {r/1024:.1f} MiB')" \
    "$lines" "$median" "$rss" "$label" "$runs"
}

measure "--format nginx.access" --format nginx.access
measure "auto-detect" 

echo
echo "--threads 1 and 2, every core (no taskset), auto-detect:"
python3 bench/filter_threads.py "$bin" "$input" "$lines" "$runs" 1 2
echo
echo "the same through a pipe (cat FILE | logmux filter):"
PIPE=1 python3 bench/filter_threads.py "$bin" "$input" "$lines" "$runs" 1 2
