#!/usr/bin/env bash
# Benchmark: what trace ids and span building cost (issue 18).
#
#   bash bench/traces.sh run [REQUESTS] [RUNS]   (defaults: 200000, 5)
#   bash bench/traces.sh listen [REQUESTS] [RUNS] (defaults: 200000, 5)
#   bash bench/traces.sh INPUT [RUNS]            (default 3 runs)
#   bash bench/traces.sh ab REQUESTS RUNS BIN_A BIN_B
#   bash bench/traces.sh count [REQUESTS]       (default 50000)
#
# `ab`: the `run` mode's "ids, logs" and "ids, logs + traces" configs
# for two builds, interleaved run by run (each run: A's two, then B's),
# so that the machine's drift moves both alike; medians and span
# building's cost per build.
#
# `count`: the `run` mode's "ids, logs" and "ids, logs + traces" configs
# once each under callgrind (valgrind), which counts instructions, not
# seconds: the same for the same binary and input whatever else the VM is
# doing, where the wall-clock figures move by 20 % and more. Prints each
# thread's instructions (readers: the main thread; the log sink and the
# traces sink: the first and the second thread running the OTLP sink; the
# span thread: the other one running logmux's trace code), gzip's part, and span
# building's cost as the instructions the traces config adds. Threads are
# told apart by their functions: use a build with symbols
# (CARGO_PROFILE_RELEASE_STRIP=false
# CARGO_PROFILE_RELEASE_DEBUG=line-tables-only cargo build --release).
#
# `run` (the issue's measure): `logmux run` supervising two programs that
# replay the image's lines (bench/gen_traced_mix.py): nginx's access lines
# in the image's log_format (stdout, nginx.access) and uWSGI's request lines
# in its log-format (stdout, auto), both formats read word for word from
# docker/logmux.toml, both to one otlp sink posting to a local receiver that
# accepts without decoding (tests/otlp/receiver.py --discard). The two
# programs write at full speed in step (bench/lockstep_writer.py), so a
# request's two lines arrive close together as in a live stack. Three configs run
# back to back RUNS times, so the machine's load changes them alike:
#   ids, logs        every request has a trace id, signals = ["logs"]
#   ids, traces      the same, signals = ["logs", "traces"] (span building)
#   no ids, logs     the same lines with `-` for the ids (no stamping)
# Reported per config: median wall time (start to exit: every record and
# span delivered), throughput (lines over that), logmux's own CPU (all its
# threads, bench/measure.py) and peak RSS; then the traces config against
# the logs one.
#
# `listen`: the same mix as Docker's syslog driver sends it (rfc5424micro,
# octet-counted; nginx's lines from container web-nginx, uWSGI's from
# web-app) over two TCP connections in step (send_mix), into
# `logmux listen --sink otlp` with the image's two formats in its config;
# `[trace] max_pending = 200000` (the two connections drift apart by up to
# their socket buffers at full speed; a live stack's do not), signals
# ["logs"] against ["logs", "traces"], interleaved, RUNS times each:
# logmux's CPU time (user + system, from its start to its exit after TERM,
# every record and span delivered) and peak RSS, medians.
#
# INPUT: `logmux filter --sink otlp` on the given lines, signals ["logs"]
# against ["logs", "traces"], logmux's CPU time (user + system).
#
# Needs: the receiver's venv (target/otlp-venv; LOGMUX_OTLP_PYTHON to use
# another python with opentelemetry-proto). NO_BUILD=1: the release binary
# as it is; LOGMUX_BIN: another binary. COMPRESSION=none (`run`, `ab`,
# `count`): the sink's `compression` for both configs (default gzip).
# WRITER=native (`run`, `ab`, `count`): the two writers are
# bench/lockstep_writer.rs (built as an example), which write the same
# chunks in the same step as the Python ones for a third of their CPU (most
# of it the kernel's pipe writes): logmux's threads have the machine nearly
# to themselves.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
py=${LOGMUX_OTLP_PYTHON:-target/otlp-venv/bin/python}
[ -n "${NO_BUILD:-}" ] || cargo build --release --quiet
# NO_BUILD keeps a writer already built (it does not change with logmux).
writer_bin=target/release/examples/lockstep_writer
[ "${WRITER:-}" != native ] || { [ -n "${NO_BUILD:-}" ] && [ -x "$writer_bin" ]; } ||
  cargo build --release --quiet --example lockstep_writer
bin=${LOGMUX_BIN:-$root/target/release/logmux}
tmp=$(mktemp -d)
receiver=
trap '[ -z "$receiver" ] || kill -TERM "$receiver" 2>/dev/null; [ -n "${KEEP_TMP:-}" ] || rm -rf "$tmp"' EXIT

start_receiver() {
  rm -f "$tmp/port"
  "$py" tests/otlp/receiver.py --discard --port-file "$tmp/port" >"$tmp/receiver.out" &
  receiver=$!
  while [ ! -s "$tmp/port" ]; do sleep 0.05; done
}
stop_receiver() {
  kill -TERM "$receiver"
  wait "$receiver" || true
  receiver=
}
median() { local v; v=$(sort -n); sed -n "$(( ($(wc -l <<<"$v") + 1) / 2 ))p" <<<"$v"; }

filter_mode() { # INPUT RUNS
  local input=$1 runs=$2
  echo "input: $input ($(wc -l <"$input") lines); machine: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
  for signals in '"logs"' '"logs", "traces"'; do
    cpus=()
    for run in $(seq "$runs"); do
      start_receiver
      printf '[sink.otlp]\ntype = "otlp"\nendpoint = "http://127.0.0.1:%s"\nsignals = [%s]\n' \
        "$(cat "$tmp/port")" "$signals" >"$tmp/logmux.toml"
      /usr/bin/time -o "$tmp/time" -f '%e %M %U %S' "$bin" filter --config "$tmp/logmux.toml" --sink otlp "$input" 2>"$tmp/stderr"
      out=$(tail -1 "$tmp/time")
      stop_receiver
      read -r elapsed rss user sys <<<"$out"
      cpu=$(python3 -c "print(round($user + $sys, 2))")
      cpus+=("$cpu")
      echo "signals [$signals] run $run: CPU $cpu s, ${elapsed} s, peak RSS $((rss / 1024)) MiB; $(grep -o 'traces: [^"]*' "$tmp/stderr" || true)"
    done
    echo "signals [$signals]: median CPU $(printf '%s\n' "${cpus[@]}" | median) s"
  done
}

# The `run` config: FILE SIGNALS INPUT-PREFIX.
run_config() {
  python3 - "$@" "$(cat "$tmp/port")" "$root" <<'PY'
import json, os, sys, tomllib
file, signals, prefix, port, root = sys.argv[1:]
image = tomllib.load(open(f"{root}/docker/logmux.toml", "rb"))["program"]
py = sys.executable
with open(file, "w") as f:
    f.write('control_socket = ""\n\n[sink.otlp]\ntype = "otlp"\n')
    f.write(f'endpoint = "http://127.0.0.1:{port}"\nsignals = [{signals}]\n')
    if os.environ.get("COMPRESSION"):
        f.write(f'compression = "{os.environ["COMPRESSION"]}"\n')
    for slot, (name, fmt, key) in enumerate([("nginx", "nginx.access", "nginx_log_format"),
                                             ("uwsgi", "auto", "uwsgi_log_format")]):
        shm = f"{file}.step"
        writer = [py, f"{root}/bench/lockstep_writer.py"]
        if os.environ.get("WRITER") == "native":
            writer = [f"{root}/target/release/examples/lockstep_writer"]
        command = writer + [f"{prefix}.{name}", shm, str(slot)]
        f.write(f"\n[program.{name}]\ncommand = {json.dumps(command)}\n")
        f.write('autorestart = "never"\n')
        f.write(f'stdout = {{ format = "{fmt}", sink = "otlp" }}\n')
        f.write(f"{key} = {json.dumps(image[name][key])}\n")
PY
}

run_mode() { # REQUESTS RUNS
  local requests=$1 runs=$2 lines=$(($1 * 2))
  mkdir -p target/bench
  local mix=$root/target/bench/traced-mix-$requests bare=$root/target/bench/untraced-mix-$requests
  [ -s "$mix.uwsgi" ] || python3 bench/gen_traced_mix.py "$requests" "$mix"
  [ -s "$bare.uwsgi" ] || python3 bench/gen_traced_mix.py --no-ids "$requests" "$bare"
  echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), load average $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "input: $requests requests ($lines lines: nginx $(stat -c %s "$mix.nginx") bytes, uWSGI $(stat -c %s "$mix.uwsgi") bytes), $runs runs; writers: ${WRITER:-python}"
  start_receiver
  run_config "$tmp/logs.toml" '"logs"' "$mix"
  run_config "$tmp/traces.toml" '"logs", "traces"' "$mix"
  run_config "$tmp/bare.toml" '"logs"' "$bare"
  local run config
  for run in $(seq "$runs"); do
    for config in logs traces bare; do
      head -c 16 /dev/zero >"$tmp/$config.toml.step"
      python3 bench/measure.py time 1 --poll -- "$bin" run --config "$tmp/$config.toml" \
        | python3 -c 'import json, sys; r = json.load(sys.stdin)["runs"][0]; print(r["wall"], r["cpu"], r["hwm_kib"], r["exit"])' \
        >>"$tmp/$config.runs"
      echo "run $run, $config: $(tail -1 "$tmp/$config.runs") (wall s, CPU s, peak KiB, exit)"
    done
  done
  head -c 16 /dev/zero >"$tmp/traces.toml.step"
  local report
  report=$("$bin" run --config "$tmp/traces.toml" 2>&1 >/dev/null | grep -o 'traces: [^"]*' | head -1)
  echo "spans of one more traces run: $report"
  # Figures taken while spans were left out would flatter span building.
  grep -q " 0 sent early (max_pending),.* 0 parts dropped" <<<"$report" \
    || echo "warning: that run sent traces early or dropped parts: the figures below leave spans out"
  stop_receiver
  echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
  python3 - "$tmp" "$lines" <<'PY'
import statistics, sys
tmp, lines = sys.argv[1], int(sys.argv[2])
m = {}
for config, label in [("bare", "no ids, logs"), ("logs", "ids, logs"), ("traces", "ids, logs + traces")]:
    runs = [tuple(float(x) for x in l.split()) for l in open(f"{tmp}/{config}.runs")]
    if any(r[3] != 0 for r in runs):
        print(f"warning: {label}: a run exited non-zero (undelivered records?)")
    wall, cpu, hwm = (statistics.median(r[i] for r in runs) for i in range(3))
    m[config] = (wall, cpu)
    print(f"| {label} | {lines / wall:,.0f} lines/s ({wall:.3f} s) | {cpu:.2f} s | {hwm / 1024:.0f} MiB |")
(lw, lc), (tw, tc), (bw, bc) = m["logs"], m["traces"], m["bare"]
print(f"span building: throughput -{(1 - lw / tw) * 100:.1f}%, CPU +{(tc / lc - 1) * 100:.1f}% (traces against logs)")
print(f"stamping ids: throughput -{(1 - bw / lw) * 100:.1f}%, CPU +{(lc / bc - 1) * 100:.1f}% (ids against no ids)")
PY
}

# The `listen` config: FILE SIGNALS.
listen_config() {
  python3 - "$@" "$(cat "$tmp/port")" "$root" <<'PY'
import json, sys, tomllib
file, signals, port, root = sys.argv[1:]
image = tomllib.load(open(f"{root}/docker/logmux.toml", "rb"))["program"]
with open(file, "w") as f:
    for name, key in [("nginx", "nginx_log_format"), ("uwsgi", "uwsgi_log_format")]:
        f.write(f"{key} = {json.dumps(image[name][key])}\n")
    # The two connections drift apart by up to their socket buffers (tens
    # of thousands of requests at full speed): room for every trace to wait.
    f.write('[trace]\nmax_pending = 200000\n')
    f.write(f'[sink.otlp]\ntype = "otlp"\nendpoint = "http://127.0.0.1:{port}"\nsignals = [{signals}]\n')
PY
}

# Sends the mix as Docker's driver does (rfc5424micro, octet-counted):
# uWSGI's lines from container web-app, nginx's from web-nginx, over two TCP
# connections, in step (1,000 requests at a time on each, uWSGI's first), as
# a live stack's two containers send them; waits until listen has read all.
send_mix() { # PORT MIX
  python3 - "$1" "$2" <<'PY'
import socket, sys
port, mix = int(sys.argv[1]), sys.argv[2]
def frames(part, name, pri):
    out = []
    with open(f"{mix}.{part}", "rb") as src:
        for i, line in enumerate(src):
            msg = b"<%d>1 2026-12-04T10:00:00.%06d+00:00 dockerhost %s 4242 %s - %s\n" % (
                pri, i % 1000000, name, name, line.rstrip(b"\n"))
            out.append(b"%d " % len(msg) + msg)
    return out
parts = [frames("uwsgi", b"web-app", 27), frames("nginx", b"web-nginx", 30)]
socks = [socket.create_connection(("127.0.0.1", port)) for _ in parts]
for i in range(0, max(map(len, parts)), 1000):
    for s, p in zip(socks, parts):
        s.sendall(b"".join(p[i:i + 1000]))
for s in socks:
    s.shutdown(socket.SHUT_WR)
for s in socks:
    s.settimeout(600)
    while s.recv(4096):
        pass
PY
}

listen_once() { # CONFIG MIX: prints "CPU-seconds peak-KiB exit traces-line"
  local config=$1 mix=$2 tpid pid port
  /usr/bin/time -o "$tmp/time" -f '%M %U %S %x' "$bin" listen --tcp 127.0.0.1:0 \
    --config "$config" --sink otlp >/dev/null 2>"$tmp/listen.err" &
  tpid=$!
  until pid=$(pgrep -P "$tpid") && grep -q 'listening on tcp://' "$tmp/listen.err" 2>/dev/null; do sleep 0.05; done
  port=$(grep -o 'listening on tcp://127.0.0.1:[0-9]*' "$tmp/listen.err" | grep -o '[0-9]*$')
  send_mix "$port" "$mix"
  kill -TERM "$pid"
  wait "$tpid" || true
  read -r rss user sys code <"$tmp/time"
  echo "$(python3 -c "print(round($user + $sys, 2))") $rss $code $(grep -o 'traces: [^"]*' "$tmp/listen.err" | head -1)"
}

listen_mode() { # REQUESTS RUNS
  local requests=$1 runs=$2 run config
  mkdir -p target/bench
  local mix=$root/target/bench/traced-mix-$requests
  [ -s "$mix.uwsgi" ] || python3 bench/gen_traced_mix.py "$requests" "$mix"
  echo "machine: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "input: $requests requests ($((requests * 2)) messages over 2 TCP connections), $runs runs"
  start_receiver
  listen_config "$tmp/logs.toml" '"logs"'
  listen_config "$tmp/traces.toml" '"logs", "traces"'
  for run in $(seq "$runs"); do
    for config in logs traces; do
      listen_once "$tmp/$config.toml" "$mix" >"$tmp/once"
      cut -d' ' -f1-3 "$tmp/once" >>"$tmp/$config.runs"
      echo "run $run, $config: $(cat "$tmp/once") (CPU s, peak KiB, exit)"
    done
  done
  stop_receiver
  echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
  python3 - "$tmp" <<'PY'
import statistics, sys
tmp = sys.argv[1]
m = {}
for config in ["logs", "traces"]:
    runs = [tuple(float(x) for x in l.split()) for l in open(f"{tmp}/{config}.runs")]
    if any(r[2] != 0 for r in runs):
        print(f"warning: {config}: a run exited non-zero")
    cpu, hwm = statistics.median(r[0] for r in runs), statistics.median(r[1] for r in runs)
    m[config] = cpu
    print(f"| {config} | {cpu:.2f} s CPU | {hwm / 1024:.0f} MiB |")
print(f"span building under listen: CPU +{(m['traces'] / m['logs'] - 1) * 100:.1f}% (traces against logs)")
PY
}

# Two builds, interleaved: REQUESTS RUNS BIN_A BIN_B.
# The mix of REQUESTS requests (made once), the receiver started, and the
# run mode's "ids, logs" and "ids, logs + traces" configs in $tmp.
logs_and_traces_configs() { # REQUESTS
  mkdir -p target/bench
  local mix=$root/target/bench/traced-mix-$1
  [ -s "$mix.uwsgi" ] || python3 bench/gen_traced_mix.py "$1" "$mix"
  start_receiver
  run_config "$tmp/logs.toml" '"logs"' "$mix"
  run_config "$tmp/traces.toml" '"logs", "traces"' "$mix"
}

ab_mode() {
  local requests=$1 runs=$2 lines=$(($1 * 2)) a=$3 b=$4
  echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), load average $(cut -d' ' -f1-3 /proc/loadavg)"
  logs_and_traces_configs "$requests"
  local run which build config
  for run in $(seq "$runs"); do
    for which in a b; do
      build=$a
      [ "$which" = a ] || build=$b
      for config in logs traces; do
        head -c 16 /dev/zero >"$tmp/$config.toml.step"
        python3 bench/measure.py time 1 --poll -- "$build" run --config "$tmp/$config.toml" \
          | python3 -c 'import json, sys; r = json.load(sys.stdin)["runs"][0]; print(r["wall"], r["cpu"], r["hwm_kib"], r["exit"])' \
          >>"$tmp/$which.$config.runs"
        echo "run $run, $which, $config: $(tail -1 "$tmp/$which.$config.runs") (wall s, CPU s, peak KiB, exit)"
      done
    done
  done
  stop_receiver
  python3 - "$tmp" "$lines" "$a" "$b" <<'PY'
import statistics, sys
tmp, lines, names = sys.argv[1], int(sys.argv[2]), {"a": sys.argv[3], "b": sys.argv[4]}
for which, name in names.items():
    m = {}
    for config in ("logs", "traces"):
        runs = [tuple(float(x) for x in l.split()) for l in open(f"{tmp}/{which}.{config}.runs")]
        if any(r[3] != 0 for r in runs):
            print(f"warning: {name} {config}: a run exited non-zero")
        m[config] = tuple(statistics.median(r[i] for r in runs) for i in range(3))
    (lw, lc, _), (tw, tc, th) = m["logs"], m["traces"]
    print(f"{which} {name}: ids, logs {lines / lw:,.0f} lines/s, {lc:.2f} s CPU; "
          f"+ traces {lines / tw:,.0f} lines/s, {tc:.2f} s CPU, {th / 1024:.0f} MiB; "
          f"span building: throughput -{(1 - lw / tw) * 100:.1f}%, CPU +{(tc / lc - 1) * 100:.1f}%")
PY
}

count_mode() { # REQUESTS
  local requests=$1 config
  echo "input: $requests requests; $bin"
  # Threads are told apart by their functions' names. The release profile
  # strips them: the totals stay right, but the sinks and the span thread
  # would be filed under "other".
  local symtab
  symtab=$(readelf -S "$bin" 2>/dev/null | grep -c '\.symtab' || true)
  if [ "$symtab" = 0 ]; then
    echo "note: $bin has no symbols: only the readers and the totals are told apart" \
      "(build with CARGO_PROFILE_RELEASE_STRIP=false)" >&2
  fi
  logs_and_traces_configs "$requests"
  for config in logs traces; do
    head -c 16 /dev/zero >"$tmp/$config.toml.step"
    valgrind --tool=callgrind --separate-threads=yes --callgrind-out-file="$tmp/$config.cg" \
      "$bin" run --config "$tmp/$config.toml" >/dev/null 2>"$tmp/$config.err"
    for f in "$tmp/$config.cg"-*; do
      callgrind_annotate --inclusive=yes "$f" >"$f.txt" 2>/dev/null || true
    done
  done
  stop_receiver
  grep -o 'traces: [^"]*' "$tmp/traces.err" | head -1
  python3 - "$tmp" "$requests" <<'PY'
import glob, re, sys
tmp, requests = sys.argv[1], int(sys.argv[2])
# Deflate's entry, inclusive: flate2's own before zlib-rs 0.6, zlib-rs's since.
GZIP = re.compile(r"^\s*([\d,]+) \(.*?\)\s+\S*(?:zio\.rs:<flate2::mem::Compress as flate2::zio::Ops>::run_vec|deflate\.rs:zlib_rs::deflate::deflate) \[", re.M)

def threads(config):
    out, sinks = {}, 0
    for f in sorted(glob.glob(f"{tmp}/{config}.cg-*[0-9]")):
        text = open(f"{f}.txt").read()
        total = int(re.search(r"^summary: (\d+)", open(f).read(), re.M).group(1))
        gz = [int(m.group(1).replace(",", "")) for m in GZIP.finditer(text)]
        if f.endswith("-01"):
            name = "readers"
        elif "OtlpSink" in text:
            sinks += 1
            name = "log sink" if sinks == 1 else "traces sink"
        elif "src/trace/" in text:
            name = "span thread"
        else:
            name = "other"
        prev = out.get(name, (0, 0))
        out[name] = (prev[0] + total, prev[1] + (max(gz) if gz else 0))
    return out

logs, traces = threads("logs"), threads("traces")
m = lambda v: f"{round(v / 1e6):,}"  # millions, no "-0"
d = lambda v: f"{round(v / 1e6):+,}"
print("| thread | ids, logs | ids, logs + traces | added | of it gzip |")
print("|---|---:|---:|---:|---:|")
for name in ["readers", "log sink", "span thread", "traces sink", "other"]:
    (l, lg), (t, tg) = logs.get(name, (0, 0)), traces.get(name, (0, 0))
    print(f"| {name} | {m(l)} M | {m(t)} M | {d(t - l)} M | {m(tg - lg)} M |")
L, T = (sum(v[0] for v in d.values()) for d in (logs, traces))
LG, TG = (sum(v[1] for v in d.values()) for d in (logs, traces))
print(f"| all | {m(L)} M | {m(T)} M | {d(T - L)} M | {m(TG - LG)} M |")
print(f"span building: +{(T / L - 1) * 100:.1f}% instructions, {(T - L) / requests:,.0f} a request; "
      f"gzip of the spans {(TG - LG) / (T - L) * 100:.0f}% of it")
PY
}

if [ "${1:-}" = count ]; then
  count_mode "${2:-50000}"
elif [ "${1:-}" = ab ]; then
  ab_mode "$2" "$3" "$4" "$5"
elif [ "${1:-}" = run ]; then
  run_mode "${2:-200000}" "${3:-5}"
elif [ "${1:-}" = listen ]; then
  listen_mode "${2:-200000}" "${3:-5}"
else
  filter_mode "$1" "${2:-3}"
fi
