#!/usr/bin/env bash
# Benchmark: `logmux listen` against rsyslog, as a syslog receiver.
#
# Usage: bash bench/listen.sh [RUNS]        (default 3 runs; the median is kept)
#   COUNT=1000000     messages per run
#   CONNECTIONS=1     TCP connections the messages are spread over (sent at once)
#   PROTOS="tcp udp"  transports measured
#   LOGMUX=PATH       the logmux binary measured (default: build the release one)
#   BASELINE=PATH     another logmux binary (say, main's), measured in the
#                     same runs as `logmux-base`, interleaved with this one
#   LOGMUX_ARGS="…"   more arguments for logmux (say, `--threads 1`)
#   BASELINE_ARGS="…" more arguments for the baseline
#   KINDS="…"         receivers measured (default: logmux [logmux-base]
#                     rsyslog-text rsyslog-json)
#
# Workload: COUNT messages in Docker's rfc5424micro format (what
# `--log-driver syslog --log-opt syslog-format=rfc5424micro --log-opt
# tag={{.Name}}` sends), about 200 bytes each with the header; the bodies are a
# realistic nginx `combined` access log (bench/gen_nginx_log.py; the lines of
# up to 140 bytes, so that the messages average ~200 B), spread over 4
# container names. Made once by
# bench/syslog_send.py; the same bytes go to every receiver.
#
# Receivers, each started fresh for each run, listening on 127.0.0.1:
#  - logmux listen, JSON (parsed nginx fields and all) written to a file:
#    `logmux listen --tcp ADDR > FILE` (or --udp).
#  - rsyslogd 8 (Debian), imtcp / imudp → omfile, twice: with its traditional
#    file template (RSYSLOG_FileFormat: time, host, tag, message; no parsing of
#    the body) and with a JSON template (`%jsonmesg%`: the syslog header as
#    JSON, the body as one string). rsyslog gets the same UDP receive buffer
#    logmux asks for (rcvbufSize, which rsyslog forces as root).
#
# TCP: one connection (or CONNECTIONS, each a slice of the stream cut at
# message ends, sent at once by threads of one process); bench/syslog_send.py
# sends the octet-counted stream with sendfile(2). UDP: one datagram per
# message, sent as fast as one Python process can (which is slower than
# either receiver can drain: check `send s`). The clock runs from the start
# of sending until the receiver's output file holds every message (TCP), or
# until it has stopped growing for 3 s (UDP; the last growth counts). CPU is
# the receiver's own (utime+stime of all its threads, /proc/PID/stat), and
# `cores busy` is CPU over wall time; RSS peak is VmHWM. The busiest thread
# (/proc/PID/task/*/stat, read when the last message is out) bounds the rate
# each receiver would reach with a core per thread: `msg/s on idle cores` is
# messages over its CPU time (on 2 cores shared with the sender, wall time
# cannot show what more cores would give).
#
# Results: a markdown table on stdout and in target/bench/listen-summary.md.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
runs=${1:-3}
count=${COUNT:-1000000}
out=$root/target/bench/listen
mkdir -p "$out"
rcvbuf=$((8 * 1024 * 1024))
connections=${CONNECTIONS:-1}
protos=${PROTOS:-tcp udp}
baseline=${BASELINE:-}
kinds=${KINDS:-logmux ${baseline:+logmux-base} rsyslog-text rsyslog-json}

command -v rsyslogd >/dev/null || {
  apt-get install -y -qq --no-install-recommends rsyslog >/dev/null 2>&1 ||
    { apt-get update -qq >/dev/null && apt-get install -y -qq --no-install-recommends rsyslog >/dev/null; }
}
logmux=${LOGMUX:-}
if [ -z "$logmux" ]; then
  cargo build --release -q
  logmux=${CARGO_TARGET_DIR:-$root/target}/release/logmux
fi

if [ ! -s "$out/wl-$count.octet" ] || [ bench/syslog_send.py -nt "$out/wl-$count.octet" ]; then
  python3 bench/gen_nginx_log.py 20000 "$out/nginx.log"
  python3 bench/syslog_send.py gen "$count" "$out/nginx.log" "$out/wl-$count"
fi
avg=$(awk '{s+=length($0)+1} END {printf "%d", s/NR}' "$out/wl-$count.lines")
echo "workload: $count messages, $avg bytes each on average; load average $(cut -d' ' -f1 /proc/loadavg)"

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# Waits until something listens on PORT (tcp or udp), for up to 10 s.
wait_port() {
  local proto=$1 port=$2 hex
  hex=$(printf '%04X' "$port")
  for _ in $(seq 200); do
    if [ "$proto" = tcp ]; then
      grep -q ":$hex 00000000:0000 0A" /proc/net/tcp && return 0
    else
      grep -q ":$hex 00000000:0000 07" /proc/net/udp && return 0
    fi
    sleep 0.05
  done
  echo "nothing listens on $proto port $port" >&2
  return 1
}

cpu_secs() { # pid: utime+stime of the whole process, in seconds
  awk -v hz="$(getconf CLK_TCK)" '{printf "%.2f", ($14+$15)/hz}' "/proc/$1/stat"
}
busiest_thread() { # pid: the CPU seconds and name of its busiest thread now
  local hz best=0 name=- t secs
  hz=$(getconf CLK_TCK)
  for t in /proc/"$1"/task/*; do
    secs=$(awk '{sub(/^.*\) /, ""); print $12 + $13}' "$t/stat" 2>/dev/null) || continue
    if [ "${secs:-0}" -gt "$best" ]; then best=$secs name=$(cat "$t/comm" 2>/dev/null || echo -); fi
  done
  awk -v t="$best" -v hz="$hz" -v n="$name" 'BEGIN {printf "%.2f\t%s", t/hz, n}'
}
hwm_mib() { awk '/VmHWM/ {printf "%.1f", $2/1024}' "/proc/$1/status"; }

start_receiver() { # kind proto port file: starts it, sets $pid
  local kind=$1 proto=$2 port=$3 file=$4
  rm -f "$file"
  case $kind in
    logmux|logmux-base)
      local exe=$logmux extra=${LOGMUX_ARGS:-}
      [ "$kind" = logmux-base ] && exe=$baseline extra=${BASELINE_ARGS:-}
      # shellcheck disable=SC2086 # extra arguments split on purpose
      "$exe" listen "--$proto" "127.0.0.1:$port" $extra >"$file" 2>"$out/$kind.err" &
      pid=$!
      ;;
    rsyslog-text|rsyslog-json)
      local tpl=RSYSLOG_FileFormat dir=$out/rsyslog
      rm -rf "$dir"; mkdir -p "$dir"
      {
        echo "global(workDirectory=\"$dir\")"
        echo 'template(name="json" type="string" string="%jsonmesg%\n")'
        if [ "$proto" = tcp ]; then
          echo 'module(load="imtcp")'
          echo "input(type=\"imtcp\" port=\"$port\" address=\"127.0.0.1\")"
        else
          echo 'module(load="imudp")'
          echo "input(type=\"imudp\" port=\"$port\" address=\"127.0.0.1\" rcvbufSize=\"$rcvbuf\")"
        fi
        [ "$kind" = rsyslog-json ] && tpl=json
        echo "action(type=\"omfile\" file=\"$file\" template=\"$tpl\")"
      } >"$dir/rsyslog.conf"
      rsyslogd -n -f "$dir/rsyslog.conf" -i "$dir/pid" 2>"$out/rsyslog.err" &
      pid=$!
      ;;
  esac
  wait_port "$proto" "$port"
}

results=$out/results.tsv
: >"$results"
for run in $(seq "$runs"); do
  for proto in $protos; do
    for kind in $kinds; do
      port=$(free_port)
      file=$out/out-$kind-$proto.log
      start_receiver "$kind" "$proto" "$port" "$file"
      start=$(python3 -c 'import time; print(time.time())')
      if [ "$proto" = tcp ]; then
        python3 bench/syslog_send.py tcp 127.0.0.1 "$port" "$out/wl-$count.octet" "$connections" 2>"$out/send.time" &
        quiet=30
      else
        python3 bench/syslog_send.py udp 127.0.0.1 "$port" "$out/wl-$count.lines" 2>"$out/send.time" &
        quiet=3
      fi
      sender=$!
      read -r got secs < <(python3 bench/wait_lines.py "$file" "$count" "$quiet" "$start")
      cpu=$(cpu_secs "$pid"); hwm=$(hwm_mib "$pid"); busiest=$(busiest_thread "$pid")
      wait "$sender" || true
      kill "$pid" 2>/dev/null || true
      wait "$pid" 2>/dev/null || true
      send=$(cat "$out/send.time")
      rate=$(awk -v n="$got" -v s="$secs" 'BEGIN {printf "%d", n/s}')
      printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$run" "$proto" "$kind" "$got" "$secs" "$rate" "$cpu" "$hwm" "$busiest" >>"$results"
      printf 'run %s %-4s %-13s %8s msgs in %7ss = %8s msg/s, cpu %6ss (%s cores), rss %6s MiB, send %ss, busiest thread %ss (%s)\n' \
        "$run" "$proto" "$kind" "$got" "$secs" "$rate" "$cpu" "$(awk -v c="$cpu" -v s="$secs" 'BEGIN {printf "%.2f", c/s}')" "$hwm" "$send" "${busiest%%$'\t'*}" "${busiest#*$'\t'}"
    done
  done
done

python3 - "$results" "$count" "$avg" "$connections" <<'PY' | tee "$root/target/bench/listen-summary.md"
import statistics, sys
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1]) if l.strip()]
count, avg, conns = int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
print(f"{count:,} messages of ~{avg} B (Docker rfc5424micro, nginx bodies), TCP over {conns} connection(s); median of {len(set(r[0] for r in rows))} runs\n")
print("| transport | receiver | received | lost | msg/s | CPU s | CPU µs/msg | cores busy | busiest thread, CPU s | msg/s on idle cores | peak RSS MiB |")
print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
for proto in ("tcp", "udp"):
    for kind in ("logmux", "logmux-base", "rsyslog-text", "rsyslog-json"):
        sel = [r for r in rows if r[1] == proto and r[2] == kind]
        if not sel:
            continue
        med = lambda i, f=float: statistics.median(f(r[i]) for r in sel)
        got = int(med(3))
        cpu = med(6)
        busy = statistics.median(float(r[6]) / max(float(r[4]), 1e-9) for r in sel)
        top = med(8)
        names = "/".join(sorted(set(r[9] for r in sel)))
        print(f"| {proto.upper()} | {kind} | {got:,} | {count - got:,} | {int(med(5)):,} | {cpu:.2f} | {cpu / max(got, 1) * 1e6:.2f} | {busy:.2f} | {top:.2f} ({names}) | {int(got / max(top, 1e-9)):,} | {med(7):.1f} |")
PY
