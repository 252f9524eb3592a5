#!/usr/bin/env bash
# Benchmark: logmux's three doors against their peers, one after another on
# the same inputs and machine, in ONE table.
#
# Usage: bash bench/compare.sh [RUNS]      (default 3 runs; medians are kept)
#   COUNT=200000    syslog messages for `listen` (bench/listen.sh's COUNT)
#   LINES=500000    nginx lines for `run` and `filter`
#   SKIP_HONCHO=1   leave honcho out
#   LOGMUX=PATH     the logmux binary measured (default: build the release one)
# With the defaults it takes about 5 minutes on 2 cores.
#
# What it runs (release build; each peer started fresh for each run):
#  - listen: bench/listen.sh as it is (COUNT Docker rfc5424micro messages of
#    ~200 B, nginx bodies; TCP over one connection and UDP): `logmux listen`
#    (full parsing, JSON to a file) against rsyslogd (imtcp/imudp → omfile,
#    the text template RSYSLOG_FileFormat and a JSON one, %jsonmesg%).
#  - run: one child (bench/blockwriter.py) writes LINES nginx `combined`
#    lines of ~200 B in 4 KiB blocks; `logmux run` (format nginx.access,
#    JSON to /dev/null), supervisord (stdout_logfile=/dev/stdout, passed on
#    as text) and `honcho start` (prefixes each line). bench/run.sh's
#    configs (bench/run_lib.sh). CPU is the supervisor's own, not the child's.
#  - filter: `logmux filter --output json` on the same nginx file, pinned to
#    one core, forced (--format nginx.access) and auto-detected.
#  - Vector: used if a `vector` binary is on PATH; it is not in Debian's
#    archive nor on crates.io as a binary, and building it from source is too
#    big for a 2-core machine, so the table says so when it is missing.
#
# The table goes to stdout and to target/bench/compare-summary.md.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
runs=${1:-3}
count=${COUNT:-200000}
lines=${LINES:-500000}
width=200
out=$root/target/bench/compare
mkdir -p "$out"
rm -f "$out"/*.json

source bench/run_lib.sh
find_supervisors
bin=${LOGMUX:-}
if [ -z "$bin" ]; then
  cargo build --release --quiet
  bin=${CARGO_TARGET_DIR:-$root/target}/release/logmux
fi
measure="python3 $root/bench/measure.py"
py=$(python3 -c 'import sys; print(sys.executable)')

load=$(cut -d' ' -f1 /proc/loadavg)
cpu_model=$(lscpu | sed -n 's/^Model name: *//p' | head -1)
{
  echo "cpu=$cpu_model"
  echo "cores=$(nproc)"
  echo "load=$load"
  echo "runs=$runs"
  echo "count=$count"
  echo "lines=$lines"
  echo "logmux=$(git rev-parse --short HEAD)$(git diff --quiet HEAD -- src parsers || echo '+changes')"
  echo "rsyslog=$(rsyslogd -v 2>/dev/null | head -1 | awk '{print $2}' | tr -d ,)"
  echo "supervisord=$(supervisord --version)"
  echo "honcho=$([ -n "$honcho" ] && "$honcho" --version 2>&1 | awk '{print $2}')"
  echo "vector=$(command -v vector >/dev/null && vector --version | awk '{print $2}')"
} > "$out/machine.env"
echo "machine: $cpu_model, $(nproc) cores, load average $load"

# ------------------------------------------------------------------ listen
echo "== listen: $count messages, $runs runs (bench/listen.sh)"
LOGMUX=$bin COUNT=$count CONNECTIONS=1 BASELINE= KINDS="logmux rsyslog-text rsyslog-json" \
  bash bench/listen.sh "$runs" > "$out/listen.log"
cp target/bench/listen/results.tsv "$out/listen.tsv"
awk '{s+=length($0)+1} END {printf "%d\n", s/NR}' "target/bench/listen/wl-$count.lines" > "$out/listen.avg"

# ------------------------------------------------------------- run, filter
nginx_log=$root/target/bench/nginx-combined-$lines-w$width.log
[ -s "$nginx_log" ] || python3 bench/gen_nginx_log.py "$lines" "$nginx_log" "$width"
stat -c %s "$nginx_log" > "$out/nginx.bytes"
writer="$py $root/bench/blockwriter.py --file $nginx_log"

echo "== run: $lines nginx lines, $runs runs"
logmux_config "$out/logmux-run.toml" nginx.access "writer=$writer"
$measure time "$runs" --poll -- "$bin" run --config "$out/logmux-run.toml" > "$out/run-logmux.json"
supervisord_config "$out/supervisord.conf" "writer=$writer"
$measure drain "$runs" "$(cat "$out/nginx.bytes")" -- supervisord -n -c "$out/supervisord.conf" > "$out/run-supervisord.json"
if [ -n "$honcho" ] && [ -z "${SKIP_HONCHO:-}" ]; then
  echo "writer: $writer" > "$out/Procfile"
  $measure time "$runs" --poll -- "$honcho" start -f "$out/Procfile" > "$out/run-honcho.json"
fi

echo "== filter: $lines nginx lines, $runs runs, one core"
$measure time "$runs" --poll -- taskset -c 0 "$bin" filter --output json --format nginx.access "$nginx_log" > "$out/filter-forced.json"
$measure time "$runs" --poll -- taskset -c 0 "$bin" filter --output json "$nginx_log" > "$out/filter-auto.json"

python3 bench/compare_summary.py "$out" | tee "$root/target/bench/compare-summary.md"
