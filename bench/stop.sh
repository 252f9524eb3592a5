#!/usr/bin/env bash
# Benchmark: how long `docker stop` takes for the all-in-one image (nginx,
# uWSGI and Django under `logmux run` as PID 1). The tests assert what a stop
# does (exit 0, every program on its own stop signal, no SIGKILL); how long
# it takes is measured here.
#
# Usage: bash bench/stop.sh [RUNS]     (default 5; the median is kept)
#   IMAGE=logmux/web:e2e   the image to stop (tests/docker/e2e.sh builds it;
#                          built here the same way when it is missing)
#
# Each run: `docker run -d` the HTTP configuration, wait for a 200 through
# nginx, one more request, then time `docker stop` (Docker's default grace of
# 10 s, then SIGKILL) and read the exit code (137 would mean Docker had to
# kill). Prints each run and the median.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
runs=${1:-5}
image=${IMAGE:-logmux/web:e2e}
server=logmux.example
settings=$root/docker/app/project/settings/dev

if ! docker image inspect "$image" >/dev/null 2>&1; then
  bash docker/base-image.sh logmux/debian:bookworm
  docker build --network host -q -f docker/Dockerfile -t "$image" . >/dev/null
fi
now_ms() { date +%s%3N; }
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs); image $image"

times=()
for run in $(seq "$runs"); do
  name=logmux-bench-stop-$$-$run
  docker run -d --name "$name" -p 127.0.0.1::80 \
    -e DJANGO_SETTINGS_MODULE=project.settings.dev.settings \
    -e NGINX_SERVER_NAME=$server \
    -v "$settings:/app/project/settings/dev:ro" "$image" >/dev/null
  port=$(docker port "$name" 80/tcp | awk -F: 'NR == 1 { print $NF }')
  ready=0
  for _ in $(seq 600); do
    code=$(curl -s -o /dev/null -w '%{http_code}' -H "Host: $server" "http://127.0.0.1:$port/" || true)
    if [ "$code" = 200 ]; then ready=1; break; fi
    sleep 0.1
  done
  if [ $ready = 0 ]; then
    docker rm -f "$name" >/dev/null
    echo "run $run: no 200 within 60 s" >&2
    exit 1
  fi
  t0=$(now_ms)
  docker stop "$name" >/dev/null
  ms=$(( $(now_ms) - t0 ))
  rc=$(docker inspect -f '{{.State.ExitCode}}' "$name")
  docker rm -f "$name" >/dev/null
  printf 'run %d: docker stop %d ms, exit code %s\n' "$run" "$ms" "$rc"
  times+=("$ms")
done
median=$(printf '%s\n' "${times[@]}" | sort -n | sed -n "$(( (runs + 1) / 2 ))p")
printf 'docker stop, median of %d runs: %d.%03d s\n' "$runs" $((median / 1000)) $((median % 1000))
