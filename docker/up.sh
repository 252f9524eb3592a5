#!/usr/bin/env bash
# The all-in-one image in one step, from a fresh clone: build it, start it on
# localhost, show its logs (one JSON event per line).
#
#   bash docker/up.sh                 # then open http://localhost:8080/
#
# Needs only a running Docker engine (and bash). The base image:
#   BASE_IMAGE=...      used as it is when set (any Debian 12 image);
#   otherwise debian:bookworm-slim when the engine has it or can pull it,
#   else one bootstrapped from the host's Debian mirror by
#   docker/base-image.sh (logmux/debian:bookworm; needs a Debian host and root).
# Other settings, by environment:
#   IMAGE=logmux/web  NAME=logmux-web  PORT=8080  APP_ENV=dev
#   EXTRA_CA_CERTS="$(cat proxy-ca.crt)"   only behind a TLS-inspecting proxy
#                                         (cargo in the build must trust it)
#   UP_FOLLOW=0         start and wait for the first 200, then return instead
#                       of following the logs (scripts, tests)
# The container is left running when you stop following its logs (Ctrl-C);
# `docker rm -f logmux-web` removes it. An existing container of that name
# is replaced.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
IMAGE=${IMAGE:-logmux/web}
NAME=${NAME:-logmux-web}
PORT=${PORT:-8080}
APP_ENV=${APP_ENV:-dev}
SETTINGS=$ROOT/docker/app/project/settings/$APP_ENV

say() { printf '== %s\n' "$*" >&2; }
die() { printf 'up.sh: %s\n' "$*" >&2; exit 1; }

command -v docker >/dev/null || die "docker is not installed"
docker info >/dev/null 2>&1 || die "no Docker engine answers (docker info failed): start it, or run as a user allowed to use it"
[ -d "$SETTINGS" ] || die "no settings folder for APP_ENV=$APP_ENV: $SETTINGS"

# The base image, as the comment above says.
if [ -z "${BASE_IMAGE:-}" ]; then
    if docker image inspect debian:bookworm-slim >/dev/null 2>&1 ||
        docker pull -q debian:bookworm-slim >/dev/null 2>&1; then
        BASE_IMAGE=debian:bookworm-slim
    else
        say "debian:bookworm-slim cannot be pulled: bootstrapping a base image from the host's Debian mirror"
        BASE_IMAGE=logmux/debian:bookworm
        bash "$ROOT/docker/base-image.sh" "$BASE_IMAGE" ||
            die "docker/base-image.sh failed: set BASE_IMAGE to a Debian 12 image this engine has"
    fi
fi
say "base image: $BASE_IMAGE"

say "building $IMAGE (the first build compiles logmux: minutes)"
docker build --network host --build-arg "BASE_IMAGE=$BASE_IMAGE" \
    --build-arg "EXTRA_CA_CERTS=${EXTRA_CA_CERTS:-}" \
    -f "$ROOT/docker/Dockerfile" -t "$IMAGE" "$ROOT"

docker rm -f "$NAME" >/dev/null 2>&1 || true
docker run -d --name "$NAME" -p "127.0.0.1:$PORT:80" \
    -e NGINX_SERVER_NAME=localhost \
    -e "APP_ENV=$APP_ENV" \
    -e "DJANGO_SETTINGS_MODULE=project.settings.$APP_ENV.settings" \
    -v "$SETTINGS:/app/project/settings/$APP_ENV:ro" \
    "$IMAGE" >/dev/null

# The first 200 (curl when the host has it; bash's /dev/tcp otherwise).
status() {
    if command -v curl >/dev/null; then
        curl -s -o /dev/null -m 5 -w '%{http_code}' "http://localhost:$PORT/" || true
    else
        (exec 3<>"/dev/tcp/127.0.0.1/$PORT" &&
            printf 'GET / HTTP/1.0\r\nHost: localhost\r\n\r\n' >&3 &&
            head -n 1 <&3 | cut -d' ' -f2) 2>/dev/null || true
    fi
}
deadline=$(( $(date +%s) + 120 ))
until [ "$(status)" = 200 ]; do
    if [ "$(docker inspect -f '{{.State.Running}}' "$NAME" 2>/dev/null)" != true ]; then
        docker logs "$NAME" 2>&1 | tail -n 20 >&2
        die "the container $NAME stopped (its last lines above)"
    fi
    [ "$(date +%s)" -lt "$deadline" ] || die "no HTTP 200 from http://localhost:$PORT/ within 120 s (docker logs $NAME)"
    sleep 0.5
done
say "serving http://localhost:$PORT/ (container $NAME; docker rm -f $NAME to remove it)"

[ "${UP_FOLLOW:-1}" = 0 ] && exit 0
say "its logs, one JSON event per line (Ctrl-C stops following; the container keeps running):"
exec docker logs -f "$NAME"
