#!/usr/bin/env bash
# Benchmark: the disk spool (`buffer = { type = "disk", sync = "batch" }`) of
# a syslog TCP sink, through `logmux filter` on a 1,000,000-line nginx
# combined log (bench/gen_nginx_log.py), release build.
#
# Usage: bash bench/spool.sh [LINES] [RUNS]    (defaults: 1000000 lines, 3 runs)
#
# Per run (bench/spool_bench.py): the write rate into the spool with the
# receiver down, the replay rate of that spool once a receiver is up, the
# live rate (receiver up from the start, through the spool) and the same
# with the memory queue alone, in MB/s of spool bytes, and logmux's peak RSS over all three. Prints the runs and
# the median of each figure. The spool lives in target/bench/spool/ (the
# disk the repository is on).
set -euo pipefail
cd "$(dirname "$0")/.."
lines=${1:-1000000}
runs=${2:-3}
cargo build --release --quiet
bin=$(pwd)/target/release/logmux
mkdir -p target/bench/spool
input=target/bench/nginx-combined-$lines.log
[ -s "$input" ] || python3 bench/gen_nginx_log.py "$lines" "$input"
echo "input: $input, $lines lines, $(( $(stat -c %s "$input") / lines )) bytes/line average"
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), load $(cut -d' ' -f1 /proc/loadavg)"
results=target/bench/spool/results.jsonl
: > "$results"
for i in $(seq "$runs"); do
  python3 bench/spool_bench.py "$bin" "$input" "$lines" "$(pwd)/target/bench/spool" | tee -a "$results"
done
python3 - "$results" <<'PY'
import json, statistics, sys
runs = [json.loads(l) for l in open(sys.argv[1])]
med = lambda k: statistics.median(r[k] for r in runs)
print(f"median of {len(runs)}: spool {med('spool_mb')} MB; write {med('write_mb_s')} MB/s; "
      f"replay {med('replay_mb_s')} MB/s; live {med('live_mb_s')} MB/s; "
      f"live without the spool {med('memory_live_mb_s')} MB/s; "
      f"peak RSS {max(r['rss_max_kib'] for r in runs) / 1024:.1f} MiB (max over runs)")
bad = [r for r in runs if r["replayed"] < r["live_received"] or r["live_received"] == 0]
if bad:
    print("WARNING: a run did not deliver every line:", bad)
PY
