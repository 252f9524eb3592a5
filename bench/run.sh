#!/usr/bin/env bash
# Benchmark: `logmux run` as a supervisor, against supervisord and honcho.
#
# Usage: bash bench/run.sh [RUNS]          (default: 3 runs, the median is kept)
#   LINES=2000000      lines of the throughput workloads
#   LAT_RATE=10000     lines a second of the latency probe
#   LAT_SECONDS=10     how long the latency probe writes
#   SKIP_HONCHO=1      leave honcho out (30 to 50 s a run at 2,000,000 lines)
#
# The whole run takes about 5 minutes with 3 runs (7 with 5), most of it honcho.
#
# What it runs (release build, output to /dev/null unless said otherwise):
#  1. Throughput: one child (bench/blockwriter.py) writes LINES lines of 200
#     bytes in raw 4 KiB blocks; (a) synthetic text lines, stream format
#     `text`; (b) a 200-byte-average nginx `combined` log made once by
#     bench/gen_nginx_log.py and replayed, format `nginx.access`. Through
#     `logmux run` (JSON to /dev/null), supervisord (nodaemon,
#     stdout_logfile=/dev/stdout) and `honcho start`. logmux and honcho exit
#     by themselves: wall time is start to exit. supervisord never exits:
#     bench/measure.py reads its stdout and stops the clock when every byte
#     the child wrote has come out, then stops it. CPU is the supervisor's own
#     (all its threads, not the child's), from /proc/PID/stat.
#     The writer alone (to /dev/null, and to `cat` through a pipe) is timed
#     too, to show it is not the bottleneck.
#  2. Latency: bench/latency_writer.py writes LAT_RATE lines a second, one
#     write() each, each carrying its CLOCK_REALTIME write time; the
#     supervisor's stdout goes to bench/latency_reader.py, which takes the
#     receive time per read() and prints p50/p99/p99.9/max of the difference.
#     A direct pipe (writer | reader, no supervisor) gives the floor.
#  3. Memory: VmRSS/VmHWM of logmux, of supervisord (its one python
#     process) and of honcho's main process (the children are not counted)
#     2 s after starting with two `sleep 3600` programs; logmux's VmHWM
#     while 4 programs write LINES/2 lines each at full speed (output to
#     /dev/null).
#
# Prints each result as it comes, then a markdown summary (for the README),
# also written to target/bench/run-summary.md; raw results (JSON) and the
# generated configs are in target/bench/run/.
# Needs python3; installs supervisor (Debian) and honcho (Debian, else PyPI
# into target/bench/venv) when missing. The machine should be otherwise idle:
# the 1-minute load average is printed at the start and in the summary.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
runs=${1:-3}
lines=${LINES:-2000000}
lat_rate=${LAT_RATE:-10000}
lat_seconds=${LAT_SECONDS:-10}
width=200

source bench/run_lib.sh
find_supervisors

cargo build --release --quiet
bin=$root/target/release/logmux
out=$root/target/bench/run
mkdir -p "$out"
rm -f "$out"/*.json
measure="python3 $root/bench/measure.py"
# The interpreter itself, not a shim (pyenv's adds a bash start-up per run).
py=$(python3 -c 'import sys; print(sys.executable)')
writer="$py $root/bench/blockwriter.py"

load=$(cut -d' ' -f1 /proc/loadavg)
{
  echo "nproc=$(nproc)"
  echo "cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
  echo "mem_gib=$(awk '/MemTotal/ {printf "%.0f", $2 / 1048576}' /proc/meminfo)"
  echo "kernel=$(uname -r)"
  echo "load=$load"
  echo "runs=$runs"
  echo "lines=$lines"
  echo "lat_rate=$lat_rate"
  echo "lat_seconds=$lat_seconds"
  echo "supervisord=$(supervisord --version)"
  echo "honcho=$([ -n "$honcho" ] && "$honcho" --version 2>&1 | awk '{print $2}')"
  echo "python=$(python3 -c 'import platform; print(platform.python_version())')"
  echo "logmux=$(git rev-parse --short HEAD)$(git diff --quiet HEAD -- src parsers || echo '+changes')"
} > "$out/machine.env"
echo "machine: $(nproc) cores, $(sed -n 's/^cpu=//p' "$out/machine.env"), load average $load"
if awk -v l="$load" 'BEGIN { exit !(l > 0.5) }'; then
  echo "warning: 1-minute load average $load (> 0.5): other work on the machine may make the figures noisy" >&2
fi

# ------------------------------------------------------------------ inputs
nginx_log=$root/target/bench/nginx-combined-$lines-w$width.log
[ -s "$nginx_log" ] || python3 bench/gen_nginx_log.py "$lines" "$nginx_log" "$width"
text_bytes=$((lines * width))
nginx_bytes=$(stat -c %s "$nginx_log")
declare -A cmd=(
  [text]="$writer $lines $width"
  [nginx]="$writer --file $nginx_log"
)
declare -A bytes=([text]=$text_bytes [nginx]=$nginx_bytes)
declare -A format=([text]=text [nginx]=nginx.access)

show() { # label, json file
  python3 - "$1" "$2" <<'EOF'
import json, sys
label, path = sys.argv[1:]
m = json.load(open(path))
m = m.get("median", m)
print(f"  {label:<34} " + "  ".join(f"{k}={v:.3f}" if isinstance(v, float) else f"{k}={v}" for k, v in m.items()))
EOF
}

# ------------------------------------------------------------- throughput
echo "== throughput: $lines lines, median of $runs runs"
for w in text nginx; do
  $measure time "$runs" -- bash -c "${cmd[$w]} > /dev/null" > "$out/writer-$w-devnull.json"
  show "writer alone ($w) > /dev/null" "$out/writer-$w-devnull.json"
  $measure time "$runs" -- bash -c "${cmd[$w]} | cat > /dev/null" > "$out/writer-$w-pipe.json"
  show "writer alone ($w) | cat" "$out/writer-$w-pipe.json"

  logmux_config "$out/logmux-$w.toml" "${format[$w]}" "writer=${cmd[$w]}"
  $measure time "$runs" --poll -- "$bin" run --config "$out/logmux-$w.toml" > "$out/logmux-$w.json"
  show "logmux run ($w)" "$out/logmux-$w.json"

  supervisord_config "$out/supervisord-$w.conf" "writer=${cmd[$w]}"
  $measure drain "$runs" "${bytes[$w]}" -- supervisord -n -c "$out/supervisord-$w.conf" > "$out/supervisord-$w.json"
  show "supervisord ($w)" "$out/supervisord-$w.json"

  if [ -n "$honcho" ] && [ -z "${SKIP_HONCHO:-}" ]; then
    echo "writer: ${cmd[$w]}" > "$out/Procfile.$w"
    $measure time "$runs" -- "$honcho" start -f "$out/Procfile.$w" > "$out/honcho-$w.json"
    show "honcho ($w)" "$out/honcho-$w.json"
  fi
done

# ---------------------------------------------------------------- latency
lat_lines=$((lat_rate * lat_seconds))
probe="$py $root/bench/latency_writer.py $lat_rate $lat_seconds"
reader="python3 $root/bench/latency_reader.py $lat_lines"
echo "== latency: $lat_rate lines/s for $lat_seconds s, one write() per line"
bash -c "$probe | $reader" > "$out/latency-pipe.json"
show "direct pipe (no supervisor)" "$out/latency-pipe.json"
logmux_config "$out/logmux-latency.toml" text "probe=$probe"
"$bin" run --config "$out/logmux-latency.toml" 2>/dev/null | $reader > "$out/latency-logmux.json"
show "logmux run" "$out/latency-logmux.json"
supervisord_config "$out/supervisord-latency.conf" "probe=$probe"
$reader -- supervisord -n -c "$out/supervisord-latency.conf" > "$out/latency-supervisord.json"
show "supervisord" "$out/latency-supervisord.json"
if [ -n "$honcho" ] && [ -z "${SKIP_HONCHO:-}" ]; then
  echo "probe: $probe" > "$out/Procfile.latency"
  $reader -- "$honcho" start -f "$out/Procfile.latency" > "$out/latency-honcho.json"
  show "honcho" "$out/latency-honcho.json"
fi

# ----------------------------------------------------------------- memory
echo "== memory"
logmux_config "$out/logmux-idle.toml" text "a=sleep 3600" "b=sleep 3600"
$measure idle 2 -- "$bin" run --config "$out/logmux-idle.toml" > "$out/idle-logmux.json"
show "logmux run, 2 x sleep, idle" "$out/idle-logmux.json"
supervisord_config "$out/supervisord-idle.conf" "a=sleep 3600" "b=sleep 3600"
$measure idle 2 -- supervisord -n -c "$out/supervisord-idle.conf" > "$out/idle-supervisord.json"
show "supervisord, 2 x sleep, idle" "$out/idle-supervisord.json"
if [ -n "$honcho" ] && [ -z "${SKIP_HONCHO:-}" ]; then
  printf 'a: sleep 3600\nb: sleep 3600\n' > "$out/Procfile.idle"
  $measure idle 2 -- "$honcho" start -f "$out/Procfile.idle" > "$out/idle-honcho.json"
  show "honcho, 2 x sleep, idle" "$out/idle-honcho.json"
fi
burst=$((lines / 2))
logmux_config "$out/logmux-burst.toml" text \
  "w1=$writer $burst $width" "w2=$writer $burst $width" "w3=$writer $burst $width" "w4=$writer $burst $width"
$measure time "$runs" --poll -- "$bin" run --config "$out/logmux-burst.toml" > "$out/burst-logmux.json"
show "logmux run, 4 x $burst-line burst" "$out/burst-logmux.json"

# ---------------------------------------------------------------- summary
python3 bench/run_summary.py "$out" | tee "$root/target/bench/run-summary.md"
echo "(written to target/bench/run-summary.md)"
