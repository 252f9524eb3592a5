#!/usr/bin/env bash
# A/B of `logmux run` throughput: bench/run.sh's workload (b) only (one
# child replaying a 200-byte-average nginx `combined` log in raw 4 KiB
# blocks, format `nginx.access`, JSON to /dev/null), for two or more
# builds, runs interleaved (A B A B ...) so that the machine's load falls
# on each alike. Prints each build's median wall, lines/s, logmux CPU per
# line (all its threads, bench/measure.py) and peak RSS.
#
# Usage: bash bench/run_ab.sh RUNS BINARY...
#   LINES=2000000   lines of the log (made once by bench/gen_nginx_log.py)
#   FORMAT=nginx.access   the stream's format (`auto`: detected)
#   WRITER=cat   the child is `cat LOG` (128 KiB writes, a few hundredths of
#                a CPU-second) instead of bench/blockwriter.py (4 KiB
#                writes, a third of a CPU-second): the second core is then
#                nearly free for logmux (`threads`)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
runs=$1
shift
lines=${LINES:-2000000}
format=${FORMAT:-nginx.access}
out=$root/target/bench/run-ab
mkdir -p "$out"
log=$root/target/bench/nginx-combined-$lines-w200.log
[ -s "$log" ] || python3 bench/gen_nginx_log.py "$lines" "$log" 200
py=$(python3 -c 'import sys; print(sys.executable)')
config=$out/logmux-$format-${WRITER:-python}.toml
if [ "${WRITER:-}" = cat ]; then
  writer="[\"cat\", \"$log\"]"
else
  writer="[\"$py\", \"$root/bench/blockwriter.py\", \"--file\", \"$log\"]"
fi
cat > "$config" <<TOML
control_socket = ""

[program.writer]
command = $writer
autorestart = "never"
stdout = { format = "$format", sink = "stdout" }
TOML
echo "load average at the start: $(cut -d' ' -f1-3 /proc/loadavg)"
for i in $(seq "$runs"); do
  for b in "$@"; do
    python3 bench/measure.py time 1 --poll -- "$b" run --config "$config" |
      python3 -c 'import json,sys; r=json.load(sys.stdin)["runs"][0]; print(sys.argv[1], r["wall"], r["cpu"], r["hwm_kib"], r["exit"])' "$b" \
      >> "$out/runs.txt.$$"
  done
done
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
python3 - "$lines" "$out/runs.txt.$$" "$@" <<'PY'
import statistics, sys
lines, path, bins = int(sys.argv[1]), sys.argv[2], sys.argv[3:]
rows = [l.split() for l in open(path)]
print(f"{'build':40} {'wall s':>8} {'lines/s':>10} {'µs CPU/line':>12} {'peak RSS MiB':>13}  (median of {len(rows)//len(bins)})")
for b in bins:
    rs = [r for r in rows if r[0] == b]
    assert all(r[4] == "0" for r in rs), f"{b}: a run failed"
    wall = statistics.median(float(r[1]) for r in rs)
    cpu = statistics.median(float(r[2]) for r in rs)
    hwm = statistics.median(int(r[3]) for r in rs)
    print(f"{b:40} {wall:8.3f} {lines / wall:10,.0f} {cpu / lines * 1e6:12.3f} {hwm / 1024:13.1f}")
PY
rm -f "$out/runs.txt.$$"
