#!/usr/bin/env bash
# End-to-end tests of the all-in-one image (docker/): the real image, the
# real Docker engine, real nginx, uWSGI, Django and certbot, and Debian's
# pebble as the ACME server. tests/run-all.sh (so .ci/run) calls this.
#
#   build             base image (docker/base-image.sh, reused when present),
#                     image build, its size; entrypoint, stop signal,
#                     healthcheck; no environment's settings in the image
#   http              HTTP mode: 200, 404, 500 and a static file over curl;
#                     docker logs holds exactly the matching nginx.access and
#                     uwsgi.request events, both on stdout, one merged
#                     python.traceback on stderr, only the services nginx,
#                     uwsgi and logmux, and nothing that is not JSON; time to
#                     the first 200; RSS; the HEALTHCHECK (logmux ctl
#                     health) unhealthy after `ctl stop uwsgi` (nginx's
#                     probe gets 502), healthy after `ctl start uwsgi`
#                     (host-http checks `logmux ctl health` the same way);
#                     a 7 KB cookie gets 200 (uWSGI's buffer-size)
#   missing-variable  without NGINX_SERVER_NAME, DJANGO_SETTINGS_MODULE, or
#                     EMAIL_ADDRESS with USE_SSL: exit 78, the last line
#                     names the variable
#   stop              docker stop: exit code 0 (no SIGKILL), the last request's
#                     access lines are in the logs; UWSGI_ENABLE_THREADS=true
#                     and UWSGI_HARAKIRI reach uWSGI; --cpus 1: one nginx
#                     worker (LOGMUX_CPUS; the http case: one per core);
#                     DJANGO_MIGRATE=1 migrates before uWSGI starts
#   oneoff            `docker run IMAGE python3 manage.py check`: exit 0,
#                     Django's "no issues" line as an event of python3,
#                     only the services python3 and logmux (no certbot,
#                     uWSGI or nginx), every line JSON; `manage.py
#                     nonexistent`: exit 1, Django's "Unknown command" on
#                     stderr, JSON; `sh -c 'id; pwd; env'`: www-data in
#                     /app with the container's environment and [env]
#                     defaults; `sh -c 'exit 7'`: exit 7; DJANGO_MIGRATE=1:
#                     migrate ends before the command starts; docker stop
#                     of a one-off `sleep`: exit 143
#   https             USE_SSL against pebble: the first start gets a
#                     certificate, HTTPS serves, HTTP redirects, a forced
#                     renewal (`logmux ctl start certbot-renew`) goes through
#                     nginx's webroot while nginx keeps serving, nginx reloads
#                     (new serial served), a restart reuses the certificate;
#                     certbot's output is tagged service.name certbot;
#                     HSTS (max-age one year; NGINX_HSTS_MAX_AGE=0 on restart)
#   backoff           USE_SSL with the ACME server's port closed, restart
#                     policy on-failure:2: certbot runs once and fails, the
#                     marker in /etc/letsencrypt records 1 attempt, the two
#                     restarts exit 75 without calling certbot and say until
#                     when; after deleting the marker a start calls it again
#   twoenv            two environments from the one image at once:
#                     docker/compose.yml as two compose projects (APP_ENV,
#                     settings folder, server name, port of their own): both
#                     run under distinct names and mounts, each answers 200
#                     with its own settings (its server name is in its own
#                     ALLOWED_HOSTS only), events carry each one's APP_ENV;
#                     compose.https.yml gives each its own letsencrypt folder
#   otlp              OTEL_EXPORTER_OTLP_ENDPOINT and APP_ENV set, no config
#                     edit: tests/otlp/receiver.py (in the container's
#                     network namespace) decodes one record per nginx.access
#                     and uwsgi.request event of the requests, each with
#                     deployment.environment.name = staging in its resource,
#                     while docker logs still holds them all
#   syslog            docker/compose.syslog.yml: the web container under
#                     Docker's syslog driver (tag={{.Name}}, TCP) and a
#                     `logmux listen` service; the listener's file for the
#                     container holds the same events as the http case, each
#                     with container.name, up to logmux's last line after
#                     docker stop; listen reports nothing lost
#   static            an image of nothing but the static logmux (from the
#                     image's logmux-bin stage, or LOGMUX_STATIC_BIN), a
#                     config, /etc/passwd and /etc/group, made by `docker
#                     import` from a tar: `logmux run` starts programs (logmux
#                     itself, `logmux filter` on /proc/self files) as
#                     www-data without NSS (uid, gid, supplementary groups,
#                     HOME) and prints their events; `logmux run -- CMD`
#                     exits with the program's code; the binary's size
#   up                `bash docker/up.sh` from a fresh clone (git clone of
#                     this tree), with the bootstrapped base: the image
#                     builds, the container answers 200 on localhost
#
# Without a Docker engine (`docker info` fails) it fails under CI (CI set,
# other than 0 or false) or LOGMUX_LIVE=1. Otherwise it names the skipped
# cases (also in $LOGMUX_SKIP_LIST when set, as tests/run-all.sh does) and
# runs the same stack on the host instead (case host-http: docker/logmux.toml
# in private mount, PID and network namespaces, with Debian's nginx, uWSGI
# and Django), with the HTTP checks, a 7 KB cookie and uWSGI's threads off
# by default. LOGMUX_E2E_HOST=1 forces that.
#
# All traffic stays on this machine's loopback: the containers publish their
# ports on 127.0.0.1 (ports Docker picks), and pebble runs in the web
# container's network namespace.
#
# Usage (root): bash tests/docker/e2e.sh [CASE...]      KEEP_TMP=1 keeps logs
# Prints PASS/FAIL per case, FIGURE lines, and exits non-zero on a failure.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
HERE=$ROOT/tests/docker
export LC_ALL=C.UTF-8
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:$PATH

IMAGE=${LOGMUX_E2E_IMAGE:-logmux/web:e2e}
BASE_IMAGE=logmux/debian:bookworm
SERVER_NAME=logmux.example           # in the dev environment's ALLOWED_HOSTS
SETTINGS=$ROOT/docker/app/project/settings/dev
SETTINGS_MODULE=project.settings.dev.settings
PY=/usr/bin/python3
LOGCHECK=$HERE/logcheck.py

say() { printf '%s\n' "$*"; }
figure() { printf 'FIGURE %s\n' "$*"; }
die() { printf '  not ok %s\n' "$*"; exit 1; }
ok() { printf '  ok %s\n' "$*"; }
now_ms() { echo $(( $(date +%s%N) / 1000000 )); }
secs() { awk -v ms="$1" 'BEGIN { printf "%.2f", ms / 1000 }'; }

# ------------------------------------------------------------------ helpers

# Every container and network of this run is named $PREFIX-*.
rm_containers() {
    local ids
    ids=$(docker ps -aq --filter "name=^${PREFIX}-" 2>/dev/null || true)
    [ -z "$ids" ] || docker rm -f $ids >/dev/null 2>&1 || true
}

# logs C DIR: the container's stdout and stderr, apart.
logs() { docker logs "$1" >"$2/out.jsonl" 2>"$2/err.jsonl"; }

# logcheck DIR CHECK ARGS...: tests/docker/logcheck.py on DIR's two files.
logcheck() { local d=$1; shift; "$PY" "$LOGCHECK" "$1" "$d/out.jsonl" "$d/err.jsonl" "${@:2}"; }

# quiet_until SECONDS CMD...: runs CMD every 0.2 s until it succeeds.
quiet_until() {
    local limit=$(( $(now_ms) + $1 * 1000 )); shift
    until "$@" >/dev/null 2>&1; do
        [ "$(now_ms)" -lt "$limit" ] || return 1
        sleep 0.2
    done
}

# code URL [CURL ARGS...]: the HTTP status curl gets (000: no answer).
code() { curl -s -o /dev/null -m 10 -w '%{http_code}' "$@" || true; }

# status_is WANT URL [CURL ARGS...]: curl gets status WANT (for quiet_until).
status_is() { [ "$(code "${@:2}")" = "$1" ]; }

# expect_code WANT URL [CURL ARGS...]
expect_code() {
    local want=$1 got; shift
    got=$(code "$@")
    [ "$got" = "$want" ] || die "GET $1: status $got, want $want"
    ok "GET $1: $got"
}

# The requests every serving case sends, and the status each gets.
REQUESTS=("200 /?e2e=200" "404 /missing/?e2e=404" "500 /boom/?e2e=500" "200 /static/demo/hello.txt")

# send_requests URL [CURL ARGS...]: REQUESTS against URL, each status checked.
send_requests() {
    local want
    for want in "${REQUESTS[@]}"; do expect_code "${want%% *}" "$1${want#* }" "${@:2}"; done
}

# request_checks DIR UWSGI_STREAM: the events REQUESTS leave in DIR's two
# files: exactly one nginx.access per request on stdout; one uwsgi.request
# per request that reached Django, on UWSGI_STREAM (out or err); exactly one
# merged traceback for the 500. Returns 1 if any check failed.
request_checks() {
    local d=$1 us=$2 f=0 want
    for want in "${REQUESTS[@]}"; do
        logcheck "$d" count out nginx.access nginx "${want#* }" "${want%% *}" 1 || f=1
        case $want in
            */static/*) logcheck "$d" count "$us" uwsgi.request uwsgi "${want#* }" - 0 || f=1 ;;
            *) logcheck "$d" count "$us" uwsgi.request uwsgi "${want#* }" "${want%% *}" 1 || f=1 ;;
        esac
    done
    logcheck "$d" traceback uwsgi ZeroDivisionError 1 || f=1
    return $f
}

run_web() { # run_web NAME [DOCKER RUN ARGS...]: a web container, detached
    local name=$1; shift
    docker run -d --name "$name" \
        -e DJANGO_SETTINGS_MODULE="$SETTINGS_MODULE" \
        -v "$SETTINGS:/app/project/settings/dev:ro" \
        "$@" "$IMAGE" >/dev/null
}

# nginx_workers C: how many nginx worker processes run in container C.
nginx_workers() { docker exec "$1" sh -c 'grep -l "^nginx: worker process" /proc/[0-9]*/cmdline 2>/dev/null | wc -l'; }

host_port() { docker port "$1" "$2/tcp" | awk -F: 'NR == 1 { print $NF }'; }

# ------------------------------------------------------------------ cases

case_build() {
    bash "$ROOT/docker/base-image.sh" "$BASE_IMAGE"
    # cargo in the build stage must trust what the host trusts (a
    # TLS-inspecting proxy's CA, when there is one) to reach crates.io.
    local extra=() cas
    cas=$(cat /usr/local/share/ca-certificates/*.crt 2>/dev/null || true)
    [ -z "$cas" ] || extra=(--build-arg "EXTRA_CA_CERTS=$cas")
    local t0; t0=$(now_ms)
    if ! docker build --network host --build-arg "BASE_IMAGE=$BASE_IMAGE" "${extra[@]}" -f "$ROOT/docker/Dockerfile" -t "$IMAGE" "$ROOT" \
        >"$TMP/build.log" 2>&1; then
        tail -n 40 "$TMP/build.log"
        die "docker build failed (log above)"
    fi
    ok "docker build -t $IMAGE"
    figure "image build: $(secs $(( $(now_ms) - t0 ))) s (layer cache as it was)"
    local size; size=$(docker image inspect -f '{{.Size}}' "$IMAGE")
    figure "image size: $(( size / 1000000 )) MB ($size bytes, docker image inspect)"

    local got
    got=$(docker image inspect -f '{{json .Config.Entrypoint}} {{json .Config.Cmd}} {{.Config.StopSignal}} {{json .Config.Healthcheck.Test}} user={{.Config.User}}' "$IMAGE")
    [ "$got" = '["/usr/local/bin/logmux","run","--config","/app/docker/logmux.toml"] [] SIGTERM ["CMD","logmux","ctl","health"] user=' ] ||
        die "image config: $got"
    ok "entrypoint logmux run (exec form), STOPSIGNAL SIGTERM, HEALTHCHECK logmux ctl health"

    docker run --rm --entrypoint sh "$IMAGE" -c \
        'test ! -e /app/project/settings/dev && test -f /app/project/settings/base.py && test -f /app/static/demo/hello.txt && test ! -e /app/target' ||
        die "the image holds an environment's settings, or lacks base.py or the collected static files"
    ok "no environment's settings in the image; collected static files are"

    # The host's bookworm-security entry, when it has one, is the image's too.
    if grep -Eqs '^[^#]*bookworm-security' /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; then
        docker run --rm --entrypoint grep "$IMAGE" -q ' bookworm-security main$' /etc/apt/sources.list ||
            die "the image's apt sources lack bookworm-security, which the host's list"
        ok "the image's apt sources list bookworm-security, as the host's do"
    fi

    docker run --rm -e DJANGO_SETTINGS_MODULE=x -e NGINX_SERVER_NAME=x -e USE_SSL=1 -e EMAIL_ADDRESS=x \
        --entrypoint logmux "$IMAGE" check --config /app/docker/logmux.toml >/dev/null ||
        die "logmux check --config /app/docker/logmux.toml"
    ok "logmux check accepts docker/logmux.toml in the image"

    if have_compose; then
        local f
        for f in compose.yml compose.https.yml compose.syslog.yml; do
            NGINX_SERVER_NAME=$SERVER_NAME EMAIL_ADDRESS=e2e@$SERVER_NAME \
                compose -f "$ROOT/docker/$f" config -q || die "compose config: docker/$f"
        done
        ok "compose config accepts docker/compose.yml, compose.https.yml and compose.syslog.yml"
        # Two environments side by side: no fixed container name, and each
        # its own letsencrypt folder.
        local cfg
        cfg=$(APP_ENV=staging NGINX_SERVER_NAME=x EMAIL_ADDRESS=x compose -p e2e-staging -f "$ROOT/docker/compose.https.yml" config)
        ! grep -q container_name <<<"$cfg" || die "compose.https.yml names its container: two environments would replace each other"
        grep -q '/docker/letsencrypt/staging\b' <<<"$cfg" || die "compose.https.yml: APP_ENV=staging does not get letsencrypt/staging"
        ! grep -q container_name "$ROOT/docker/compose.yml" || die "compose.yml names its container"
        ok "compose.yml and compose.https.yml: no container_name; APP_ENV=staging keeps letsencrypt/staging"
    fi
    if git -C "$ROOT" rev-parse --git-dir >/dev/null 2>&1; then
        git -C "$ROOT" check-ignore -q docker/app/project/settings/staging/secrets.json ||
            die "an environment's secrets.json (staging) is not git-ignored"
        ! git -C "$ROOT" check-ignore -q docker/app/project/settings/dev/secrets.json ||
            die "the example dev secrets.json is ignored (a fresh clone could not run it)"
        ok "every environment's secrets.json is git-ignored, the example dev one is not"
    fi
}

case_http() {
    local c=$PREFIX-http d=$TMP/http; mkdir -p "$d"
    local t0; t0=$(now_ms)
    # The image's HEALTHCHECK, run every second here instead of every 30.
    run_web "$c" -p 127.0.0.1::80 -e NGINX_SERVER_NAME=$SERVER_NAME --health-interval 1s --health-start-period 2s
    local port; port=$(host_port "$c" 80)
    local url=http://127.0.0.1:$port H=(-H "Host: $SERVER_NAME")
    quiet_until 60 status_is 200 "$url/?e2e=probe" "${H[@]}" || { docker logs "$c" 2>&1 | tail -n 20; die "no 200 within 60 s"; }
    figure "docker run to the first 200 (HTTP): $(secs $(( $(now_ms) - t0 ))) s"

    send_requests "$url" "${H[@]}"
    # No CPU limit: one nginx worker per core the container may use.
    local workers want; workers=$(nginx_workers "$c"); want=$(docker exec "$c" nproc)
    [ "$workers" = "$want" ] || die "$workers nginx workers, want $want (nproc in the container)"
    ok "$workers nginx workers, one per core (no CPU limit)"
    # A 7 KB cookie: over uWSGI's default 4 KB request block (a 502), under
    # nginx's 8 KB header line; buffer-size = 32768 lets it through.
    expect_code 200 "$url/?e2e=cookie" "${H[@]}" -H "Cookie: big=$(printf '%07000d' 0)"

    # Programs count as running once up for startsecs (1 s), which the
    # first 200 can beat; the HEALTHCHECK's start period covers that.
    quiet_until 10 docker exec "$c" logmux ctl status ||
        die "logmux ctl status: $(docker exec "$c" logmux ctl status)"
    docker exec "$c" logmux ctl status >"$d/status.txt"
    grep -Eq '^uwsgi +running' "$d/status.txt" && grep -Eq '^nginx +running' "$d/status.txt" ||
        die "ctl status: $(cat "$d/status.txt")"
    ok "logmux ctl status (the HEALTHCHECK) exits 0: uwsgi and nginx running"

    local pid; pid=$(docker inspect -f '{{.State.Pid}}' "$c")
    figure "logmux RSS in the running container: $(awk '/^VmRSS/ { print $2, $3 }' "/proc/$pid/status") (VmRSS of PID 1, UWSGI_PROCESSES=2, after the requests above)"

    # uWSGI logs a request after answering it: wait for the last one.
    quiet_until 10 eval 'logs "$c" "$d" && logcheck "$d" count out uwsgi.request uwsgi "/boom/?e2e=500" 500 1'
    logs "$c" "$d"
    local f=0
    logcheck "$d" json || f=1
    # uWSGI's request lines share its stderr with its other messages
    # (docker/uwsgi.ini says why); logmux parses them apart and routes the
    # request lines to stdout.
    request_checks "$d" out || f=1
    logcheck "$d" message err uwsgi "Not Found: /missing/" 1 || f=1
    logcheck "$d" message err logmux "uwsgi is ready" 1 || f=1
    logcheck "$d" count out nginx.access nginx "/?e2e=cookie" 200 1 || f=1
    # UWSGI_ENABLE_THREADS unset: false (the stop case sets it).
    logcheck "$d" message err uwsgi "Python threads support is disabled" 1 || f=1
    logcheck "$d" services nginx uwsgi logmux || f=1

    health() { [ "$(docker inspect -f '{{.State.Health.Status}}' "$c")" = "$1" ]; }
    quiet_until 15 health healthy && ok "docker says healthy" || { say "  not ok health: $(docker inspect -f '{{json .State.Health}}' "$c")"; f=1; }
    # uWSGI down: nginx answers 502, logmux's probe (every 5 s, 2 failures)
    # makes nginx unhealthy, and the HEALTHCHECK (logmux ctl health) fails.
    docker exec "$c" logmux ctl stop uwsgi >/dev/null
    quiet_until 60 health unhealthy && ok "docker says unhealthy once uwsgi is stopped (logmux ctl stop uwsgi)" ||
        { say "  not ok health: $(docker inspect -f '{{json .State.Health}}' "$c")"; f=1; }
    # Docker may call it unhealthy (uwsgi is down) before nginx's probe has
    # failed twice: wait for both reasons, up to 6 probe intervals.
    local said rc=0
    nginx_502() { docker exec "$c" logmux ctl health | grep -q "program nginx is unhealthy: .* answered 502"; }
    quiet_until 30 nginx_502 || true
    said=$(docker exec "$c" logmux ctl health) || rc=$?
    case $said in
        *"program uwsgi is down"*"program nginx is unhealthy: http://127.0.0.1/healthz answered 502 ("*" failures in a row)"*)
            [ $rc = 1 ] && ok "logmux ctl health exits 1: uwsgi down, nginx answers 502" ||
                { say "  not ok ctl health exit $rc: $said"; f=1; } ;;
        *) say "  not ok ctl health (exit $rc): $said"; f=1 ;;
    esac
    docker exec "$c" logmux ctl start uwsgi >/dev/null
    quiet_until 60 health healthy && ok "docker says healthy again after logmux ctl start uwsgi" ||
        { say "  not ok health: $(docker inspect -f '{{json .State.Health}}' "$c")"; f=1; }
    docker exec "$c" logmux ctl stop nginx >/dev/null
    quiet_until 15 health unhealthy && ok "docker says unhealthy once nginx is stopped (logmux ctl stop nginx)" ||
        { say "  not ok health: $(docker inspect -f '{{json .State.Health}}' "$c")"; f=1; }
    docker rm -f "$c" >/dev/null
    [ $f = 0 ] || die "the logs above"
}

case_missing_variable() {
    local d=$TMP/missing; mkdir -p "$d"
    local f=0 var args
    for var in NGINX_SERVER_NAME DJANGO_SETTINGS_MODULE EMAIL_ADDRESS; do
        local c=$PREFIX-missing-$var
        case $var in
            NGINX_SERVER_NAME) args=(-e "DJANGO_SETTINGS_MODULE=$SETTINGS_MODULE") ;;
            DJANGO_SETTINGS_MODULE) args=(-e "NGINX_SERVER_NAME=$SERVER_NAME") ;;
            EMAIL_ADDRESS) args=(-e "DJANGO_SETTINGS_MODULE=$SETTINGS_MODULE" -e "NGINX_SERVER_NAME=$SERVER_NAME" -e USE_SSL=1) ;;
        esac
        local rc=0
        docker run --name "$c" "${args[@]}" "$IMAGE" >/dev/null 2>&1 || rc=$?
        logs "$c" "$d"
        docker rm -f "$c" >/dev/null
        if [ $rc = 78 ]; then ok "without $var: exit 78"; else say "  not ok without $var: exit $rc, want 78"; f=1; fi
        logcheck "$d" last "$var" || f=1
        logcheck "$d" json || f=1
        tail -n 1 "$d/err.jsonl" | sed 's/^/    last line: /'
    done
    [ $f = 0 ] || die "see above"
}

case_stop() {
    local c=$PREFIX-stop d=$TMP/stop; mkdir -p "$d"
    run_web "$c" -p 127.0.0.1::80 -e NGINX_SERVER_NAME=$SERVER_NAME -e UWSGI_ENABLE_THREADS=true -e UWSGI_HARAKIRI=30 --cpus 1 -e DJANGO_MIGRATE=1
    local url; url=http://127.0.0.1:$(host_port "$c" 80)
    quiet_until 60 status_is 200 "$url/?e2e=probe" -H "Host: $SERVER_NAME" || die "no 200 within 60 s"
    # --cpus 1: one nginx worker (LOGMUX_CPUS from the cgroup), not one per host core.
    local workers; workers=$(nginx_workers "$c")
    [ "$workers" = 1 ] || die "--cpus 1: $workers nginx workers, want 1"
    ok "--cpus 1: 1 nginx worker"
    expect_code 200 "$url/?e2e=last" -H "Host: $SERVER_NAME"
    local t0 ms; t0=$(now_ms)
    docker stop "$c" >/dev/null
    ms=$(( $(now_ms) - t0 ))
    figure "docker stop: $(secs "$ms") s"
    local rc; rc=$(docker inspect -f '{{.State.ExitCode}}' "$c")
    logs "$c" "$d"
    docker rm -f "$c" >/dev/null
    local f=0
    # Exit 0: docker did not need its SIGKILL (137), and no program needed
    # logmux's; how long the stop took is the FIGURE above, not a check.
    if [ "$rc" = 0 ]; then ok "exit code 0"; else say "  not ok exit code $rc"; f=1; fi
    logcheck "$d" message err logmux "did not stop within" 0 || f=1
    logcheck "$d" count out nginx.access nginx "/?e2e=last" 200 1 || f=1
    logcheck "$d" count out uwsgi.request uwsgi "/?e2e=last" 200 1 || f=1
    logcheck "$d" message err logmux "logmux exits with 0" 1 || f=1
    # UWSGI_ENABLE_THREADS=true reaches uWSGI (UWSGI_HARAKIRI=30 is accepted:
    # strict = true would refuse a bad value).
    logcheck "$d" message err uwsgi "python threads support enabled" 1 || f=1
    # DJANGO_MIGRATE=1: migrate ran as a once program, ended 0, before uWSGI.
    logcheck "$d" message out migrate "Applying contenttypes.0001_initial... OK" 1 || f=1
    logcheck "$d" message err logmux "migrate exited: exit code 0" 1 || f=1
    local m u
    m=$(grep -n 'migrate exited: exit code 0' "$d/err.jsonl" | head -n 1 | cut -d: -f1)
    u=$(grep -n '"spawned uwsgi' "$d/err.jsonl" | head -n 1 | cut -d: -f1)
    if [ -n "$m" ] && [ -n "$u" ] && [ "$m" -lt "$u" ]; then ok "migrate ended before uwsgi was spawned"
    else say "  not ok migrate's end (line ${m:-none}) before uwsgi's spawn (line ${u:-none})"; f=1; fi
    logcheck "$d" json || f=1
    [ $f = 0 ] || die "see above"
}

# oneoff_run NAME DIR [DOCKER RUN ARGS... --] CMD...: a one-off container,
# to its end; its logs in DIR, its exit code in $rc.
oneoff_run() {
    local c=$PREFIX-oneoff-$1 d=$2; shift 2
    local extra=()
    if [[ " $* " == *" -- "* ]]; then
        while [ "$1" != -- ]; do extra+=("$1"); shift; done
        shift
    fi
    mkdir -p "$d"
    rc=0
    docker run --name "$c" -e DJANGO_SETTINGS_MODULE="$SETTINGS_MODULE" \
        -v "$SETTINGS:/app/project/settings/dev:ro" -e NGINX_SERVER_NAME=$SERVER_NAME \
        "${extra[@]}" "$IMAGE" "$@" >/dev/null 2>&1 </dev/null || rc=$?
    logs "$c" "$d"
    docker rm -f "$c" >/dev/null
}

# before DIR FIRST SECOND: logmux's event FIRST comes before SECOND on stderr.
before() {
    local a b
    a=$(grep -n "$2" "$1/err.jsonl" | head -n 1 | cut -d: -f1)
    b=$(grep -n "$3" "$1/err.jsonl" | head -n 1 | cut -d: -f1)
    if [ -n "$a" ] && [ -n "$b" ] && [ "$a" -lt "$b" ]; then ok "'$2' before '$3'"
    else say "  not ok '$2' (line ${a:-none}) before '$3' (line ${b:-none})"; return 1; fi
}

case_oneoff() {
    local f=0 rc d=$TMP/oneoff
    oneoff_run check "$d/check" python3 manage.py check
    if [ "$rc" = 0 ]; then ok "manage.py check: exit 0"; else say "  not ok manage.py check: exit $rc, want 0"; f=1; fi
    logcheck "$d/check" message out python3 "System check identified no issues" 1 || f=1
    logcheck "$d/check" message err logmux "python3 exited: exit code 0" 1 || f=1
    logcheck "$d/check" services python3 logmux || f=1
    logcheck "$d/check" json || f=1

    oneoff_run nonexistent "$d/nonexistent" python3 manage.py nonexistent
    if [ "$rc" = 1 ]; then ok "manage.py nonexistent: exit 1"; else say "  not ok manage.py nonexistent: exit $rc, want 1"; f=1; fi
    logcheck "$d/nonexistent" message err python3 "Unknown command: 'nonexistent'" 1 || f=1
    logcheck "$d/nonexistent" services python3 logmux || f=1
    logcheck "$d/nonexistent" json || f=1

    # As the app runs: www-data, in /app, the container's variables and
    # [env] defaults; the exit code passed through.
    oneoff_run whoami "$d/whoami" sh -c 'echo "as $(id -un) in $(pwd): $NGINX_SERVER_NAME $UWSGI_PROCESSES"; exit 7'
    if [ "$rc" = 7 ]; then ok "sh -c 'exit 7': exit 7"; else say "  not ok sh -c 'exit 7': exit $rc, want 7"; f=1; fi
    logcheck "$d/whoami" message out sh "as www-data in /app: $SERVER_NAME 2" 1 || f=1
    logcheck "$d/whoami" services sh logmux || f=1
    logcheck "$d/whoami" json || f=1

    # DJANGO_MIGRATE=1: migrate (prepare = true) runs first, as before uWSGI.
    oneoff_run migrate "$d/migrate" -e DJANGO_MIGRATE=1 -- python3 manage.py check
    if [ "$rc" = 0 ]; then ok "DJANGO_MIGRATE=1 manage.py check: exit 0"; else say "  not ok DJANGO_MIGRATE=1 manage.py check: exit $rc"; f=1; fi
    logcheck "$d/migrate" message out migrate "Applying contenttypes.0001_initial... OK" 1 || f=1
    logcheck "$d/migrate" message out python3 "System check identified no issues" 1 || f=1
    before "$d/migrate" "migrate exited: exit code 0" '"spawned python3' || f=1
    logcheck "$d/migrate" services migrate python3 logmux || f=1

    # docker stop: TERM reaches the command; it ended by TERM, so 143.
    local c=$PREFIX-oneoff-stop
    mkdir -p "$d/stop"
    docker run -d --name "$c" -e DJANGO_SETTINGS_MODULE="$SETTINGS_MODULE" -e NGINX_SERVER_NAME=$SERVER_NAME \
        "$IMAGE" sleep 60 >/dev/null
    quiet_until 30 sh -c "docker logs '$c' 2>&1 | grep -q '\"spawned sleep'" || die "the one-off sleep did not start"
    docker stop "$c" >/dev/null
    rc=$(docker inspect -f '{{.State.ExitCode}}' "$c")
    logs "$c" "$d/stop"
    docker rm -f "$c" >/dev/null
    if [ "$rc" = 143 ]; then ok "docker stop of a one-off: exit 143"; else say "  not ok docker stop of a one-off: exit $rc, want 143"; f=1; fi
    logcheck "$d/stop" message err logmux "logmux exits with 143" 1 || f=1
    [ $f = 0 ] || die "see above"
}

# The served certificate's serial, over the published port.
serial() {
    timeout 10 openssl s_client -connect "127.0.0.1:$1" -servername $SERVER_NAME </dev/null 2>/dev/null |
        openssl x509 -noout -serial 2>/dev/null | sed 's/^serial=//'
}

case_https() {
    local d=$TMP/https; mkdir -p "$d/le"
    local net=$PREFIX-net web=$PREFIX-https

    # TLS of pebble's own API: a throwaway CA and a certificate for localhost.
    openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=logmux e2e test CA" \
        -addext "keyUsage=critical,keyCertSign,cRLSign" -keyout "$d/ca.key" -out "$d/ca.pem" 2>/dev/null
    openssl req -newkey rsa:2048 -nodes -subj "/CN=localhost" -keyout "$d/api.key" -out "$d/api.csr" 2>/dev/null
    printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\nauthorityKeyIdentifier=keyid\n' >"$d/api.ext"
    openssl x509 -req -in "$d/api.csr" -CA "$d/ca.pem" -CAkey "$d/ca.key" -CAcreateserial -days 2 \
        -extfile "$d/api.ext" -out "$d/api.pem" 2>/dev/null

    # One network namespace for pebble and the web container, held by a
    # container that only sleeps and publishes 80 and 443 on loopback.
    # Pebble answers on localhost:14000 there and validates http-01 on
    # port 80 of logmux.example, which its own /etc/hosts points at
    # 127.0.0.1 (a private mount namespace binds that file). Orders are
    # validated anew (PEBBLE_AUTHZREUSE=0), so the renewal passes the webroot;
    # but see the renewal below for pebble's one time in a hundred.
    docker run -d --name "$net" -p 127.0.0.1::80 -p 127.0.0.1::443 --entrypoint sleep "$BASE_IMAGE" infinity >/dev/null
    local netpid; netpid=$(docker inspect -f '{{.State.Pid}}' "$net")
    printf '127.0.0.1 localhost %s\n' "$SERVER_NAME" >"$d/hosts"
    cat >"$d/pebble.json" <<EOF
{"pebble": {"listenAddress": "127.0.0.1:14000", "managementListenAddress": "127.0.0.1:15000",
 "certificate": "$d/api.pem", "privateKey": "$d/api.key",
 "httpPort": 80, "tlsPort": 443, "ocspResponderURL": "", "externalAccountBindingRequired": false}}
EOF
    PEBBLE_VA_NOSLEEP=1 PEBBLE_WFE_NONCEREJECT=0 PEBBLE_AUTHZREUSE=0 \
        nsenter --net="/proc/$netpid/ns/net" unshare --mount --propagation private \
        sh -c 'mount --bind "$1" /etc/hosts && exec pebble -config "$2"' sh "$d/hosts" "$d/pebble.json" \
        >"$d/pebble.log" 2>&1 &
    echo $! >"$TMP/pebble.pid"
    in_net() { nsenter --net="/proc/$netpid/ns/net" "$@"; }
    quiet_until 20 in_net curl -sf --cacert "$d/ca.pem" https://localhost:14000/dir ||
        { cat "$d/pebble.log"; die "pebble did not answer"; }
    in_net curl -sf --cacert "$d/ca.pem" https://localhost:15000/roots/0 >"$d/pebble-root.pem" ||
        die "pebble's root certificate"
    ok "pebble serves its ACME directory in the web container's network namespace"

    local p80 p443; p80=$(host_port "$net" 80); p443=$(host_port "$net" 443)
    local https=https://$SERVER_NAME:$p443 R=(--cacert "$d/pebble-root.pem" --resolve "$SERVER_NAME:$p443:127.0.0.1")
    start_https() { # start_https [DOCKER RUN ARGS...]
        run_web "$web" --network "container:$net" "$@" \
            -e NGINX_SERVER_NAME=$SERVER_NAME -e USE_SSL=1 -e EMAIL_ADDRESS=e2e@$SERVER_NAME \
            -e CERTBOT_SERVER=https://localhost:14000/dir -e REQUESTS_CA_BUNDLE=/e2e/ca.pem \
            -v "$d/ca.pem:/e2e/ca.pem:ro" -v "$d/le:/etc/letsencrypt"
    }
    local t0; t0=$(now_ms)
    start_https
    quiet_until 120 status_is 200 "$https/?e2e=probe" "${R[@]}" ||
        { docker logs "$web" 2>&1 | tail -n 30; tail -n 20 "$d/pebble.log"; die "no HTTPS 200 within 120 s"; }
    figure "docker run to the first 200 (HTTPS, first certificate included): $(secs $(( $(now_ms) - t0 ))) s"
    local f=0
    [ -f "$d/le/renewal/$SERVER_NAME.conf" ] && grep -q '^authenticator = standalone' "$d/le/renewal/$SERVER_NAME.conf" ||
        die "no standalone renewal config in the letsencrypt volume"
    ok "the first start got a certificate (certbot --standalone), kept in the letsencrypt volume"
    expect_code 200 "$https/?e2e=https" "${R[@]}"
    local redirect
    redirect=$(curl -s -o /dev/null -m 10 -w '%{http_code} %{redirect_url}' -H "Host: $SERVER_NAME" "http://127.0.0.1:$p80/x/?y=1")
    [ "$redirect" = "301 https://$SERVER_NAME/x/?y=1" ] || die "HTTP answered: $redirect"
    ok "HTTP redirects to HTTPS: $redirect"
    # hsts URL: the Strict-Transport-Security header HTTPS answers with.
    hsts() { curl -s -D - -o /dev/null -m 10 "$1" "${R[@]}" | tr -d '\r' | sed -n 's/^[Ss]trict-[Tt]ransport-[Ss]ecurity: //p'; }
    local sts; sts=$(hsts "$https/?e2e=hsts")
    [ "$sts" = "max-age=31536000" ] || die "HTTPS Strict-Transport-Security: '$sts', want max-age=31536000"
    ok "HTTPS sends Strict-Transport-Security: $sts"

    # Forced renewal through the running nginx: certbot reads cli.ini in the
    # mounted /etc/letsencrypt, so the image's command stays as it is. Off a
    # terminal, certbot renew first sleeps up to 8 minutes (to spread the load
    # on Let's Encrypt); not against pebble.
    local before after; before=$(serial "$p443")
    [ -n "$before" ] || die "no certificate served on 443"
    printf '%s\n' 'force-renewal = True' 'no-random-sleep-on-renew = True' >"$d/le/cli.ini"
    : >"$d/codes"
    ( for _ in $(seq 1 1200); do
          [ -e "$d/stop-probe" ] && break
          code "$https/?e2e=during-renewal" "${R[@]}" >>"$d/codes"; echo >>"$d/codes"
          sleep 0.05
      done ) &
    local prober=$!
    # Pebble reuses a valid authorization when rand.Intn(100) is not above
    # PEBBLE_AUTHZREUSE (wfe.go), so at 0 still once in a hundred orders,
    # and such a renewal asks nothing of the webroot. Then renew again: the
    # case is about the webroot, and twice in a row is one in 10,000.
    local attempt
    for attempt in 1 2 3; do
        docker exec "$web" logmux ctl start certbot-renew >/dev/null || die "logmux ctl start certbot-renew"
        ok "logmux ctl start certbot-renew (certbot renew --webroot, forced)"
        quiet_until 90 eval '[ "$(docker logs "$web" 2>&1 | grep -c "certbot-renew exited")" -ge $attempt ]' ||
            die "certbot-renew did not end within 90 s"
        # The first start's challenges went to certbot --standalone, not
        # nginx: a challenge in nginx's access log is a renewal's.
        docker logs "$web" 2>/dev/null | grep -F '"nginx.access"' | grep -F '/.well-known/acme-challenge/' >/dev/null && break
        say "  note: renewal $attempt passed no challenge: pebble reused the authorization; renewing again"
    done
    quiet_until 15 eval 'after=$(serial "$p443"); [ -n "$after" ] && [ "$after" != "$before" ]' || true
    after=$(serial "$p443")
    touch "$d/stop-probe"; wait "$prober" || true
    rm -f "$d/le/cli.ini"
    if [ -n "$after" ] && [ "$after" != "$before" ]; then ok "nginx serves the renewed certificate: serial $before -> $after"
    else say "  not ok served serial $before -> $after"; f=1; fi
    local total bad; total=$(grep -c . "$d/codes" || true); bad=$(grep -vc '^200$' "$d/codes" || true)
    if [ "$total" -ge 5 ] && [ "$bad" = 0 ]; then ok "nginx kept serving during the renewal: $total HTTPS requests, all 200"
    else say "  not ok during the renewal: $bad of $total HTTPS requests were not 200"; f=1; fi
    grep -q '^authenticator = webroot' "$d/le/renewal/$SERVER_NAME.conf" && ok "the renewal config now says webroot" ||
        { say "  not ok renewal config: $(grep authenticator "$d/le/renewal/$SERVER_NAME.conf")"; f=1; }
    logs "$web" "$d"
    logcheck "$d" prefix out nginx.access nginx "/.well-known/acme-challenge/" 200 1 || f=1
    logcheck "$d" message err logmux "certbot-renew exited: exit code 0" "$attempt" || f=1
    logcheck "$d" least err nginx "reconfiguring" 1 || f=1
    logcheck "$d" least out certbot "Successfully received certificate" 1 || f=1
    logcheck "$d" least out certbot "Congratulations, all renewals succeeded" 1 || f=1
    logcheck "$d" services nginx uwsgi logmux certbot || f=1
    logcheck "$d" json || f=1

    # A new container on the same volume keeps the certificate.
    # NGINX_HSTS_MAX_AGE=0 turns HSTS off (browsers forget the host).
    docker rm -f "$web" >/dev/null
    start_https -e NGINX_HSTS_MAX_AGE=0
    quiet_until 60 status_is 200 "$https/?e2e=probe" "${R[@]}" || die "no HTTPS 200 after the restart"
    sts=$(hsts "$https/?e2e=hsts-off")
    [ "$sts" = "max-age=0" ] && ok "NGINX_HSTS_MAX_AGE=0: Strict-Transport-Security: $sts" ||
        { say "  not ok with NGINX_HSTS_MAX_AGE=0: Strict-Transport-Security '$sts'"; f=1; }
    local again; again=$(serial "$p443")
    [ "$again" = "$after" ] && ok "a new container serves the same certificate" ||
        { say "  not ok after the restart the serial is $again, want $after"; f=1; }
    docker exec "$web" logmux ctl status >"$d/status.txt" || true
    grep -Eq '^certbot-first +disabled' "$d/status.txt" && ok "certbot-first sits the restart out (unless_exists)" ||
        { say "  not ok status: $(cat "$d/status.txt")"; f=1; }
    mkdir -p "$d/again"; logs "$web" "$d/again"
    logcheck "$d/again" json || f=1
    [ $f = 0 ] || die "see above"
}

# A free TCP port on 127.0.0.1 (the kernel's pick; free until someone binds it).
case_otlp() {
    local c=$PREFIX-otlp d=$TMP/otlp; mkdir -p "$d"
    local py=$ROOT/target/otlp-venv/bin/python
    "$py" -c 'import opentelemetry.proto.collector.logs.v1' ||
        die "no python with opentelemetry-proto at $py (tests/run-all.sh makes it)"
    run_web "$c" -p 127.0.0.1::80 -e NGINX_SERVER_NAME=$SERVER_NAME -e APP_ENV=staging \
        -e OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:4318
    # The receiver listens on the container's loopback: logmux in the
    # container reaches it as it would a Collector beside it.
    local netpid; netpid=$(docker inspect -f '{{.State.Pid}}' "$c")
    nsenter --net="/proc/$netpid/ns/net" "$py" "$ROOT/tests/otlp/receiver.py" --port 4318 \
        --port-file "$d/port" --out "$d/records.jsonl" >"$d/receiver.log" 2>&1 &
    echo $! >"$TMP/receiver.pid"
    quiet_until 20 test -s "$d/port" || die "receiver.py did not start: $(cat "$d/receiver.log")"
    local port; port=$(host_port "$c" 80)
    local url=http://127.0.0.1:$port H=(-H "Host: $SERVER_NAME")
    quiet_until 60 status_is 200 "$url/?e2e=probe" "${H[@]}" || { docker logs "$c" 2>&1 | tail -n 20; die "no 200 within 60 s"; }
    send_requests "$url" "${H[@]}"
    quiet_until 20 eval 'logs "$c" "$d" && logcheck "$d" count out uwsgi.request uwsgi "/boom/?e2e=500" 500 1'
    request_checks "$d" out || die "docker logs lacks the events of the requests"
    ok "docker logs holds every event, as without OTLP"
    # One record per event of the requests, with the environment's name.
    cat >"$d/check.py" <<'PY'
import json, sys
path, target, n_nginx, n_uwsgi = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
recs = [json.loads(l) for l in open(path)]
def count(fmt, service):
    return sum(1 for r in recs
               if r["attrs"].get("logmux.format") == ["string_value", fmt]
               and r["resource"].get("service.name") == ["string_value", service]
               and r["attrs"].get("url.original") == ["string_value", target])
assert all(r["resource"].get("deployment.environment.name") == ["string_value", "staging"] for r in recs), "environment"
assert count("nginx.access", "nginx") == n_nginx and count("uwsgi.request", "uwsgi") == n_uwsgi
PY
    local want
    for want in "${REQUESTS[@]}"; do
        local n_uwsgi=1
        case $want in */static/*) n_uwsgi=0 ;; esac
        quiet_until 20 "$PY" "$d/check.py" "$d/records.jsonl" "${want#* }" 1 "$n_uwsgi" ||
            die "OTLP records for ${want#* }: want 1 nginx.access and $n_uwsgi uwsgi.request with deployment.environment.name=staging ($(wc -l <"$d/records.jsonl") records in $d/records.jsonl)"
        ok "OTLP: ${want#* }: 1 nginx.access, $n_uwsgi uwsgi.request, deployment.environment.name=staging"
    done
    kill "$(cat "$TMP/receiver.pid")" 2>/dev/null; rm -f "$TMP/receiver.pid"
}

free_port() { "$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# compose on docker/compose.syslog.yml, as project $PREFIX-syslog, with the
# variables case_syslog sets.
syslog_compose() { compose -p "$PREFIX-syslog" -f "$ROOT/docker/compose.syslog.yml" "$@"; }

case_syslog() {
    have_compose || die "neither docker compose nor docker-compose is installed"
    local d=$TMP/syslog; mkdir -p "$d"
    export LOGMUX_IMAGE=$IMAGE WEB_NAME=$PREFIX-syslog NGINX_SERVER_NAME=$SERVER_NAME
    export SYSLOG_PORT HTTP_PORT
    local web=$WEB_NAME logs=$WEB_NAME-logs file=/var/log/containers/$WEB_NAME.jsonl
    touch "$TMP/compose-syslog"                  # end_case takes the project down
    local t0; t0=$(now_ms)
    # The web container's log driver needs the listener's port before it
    # starts, so both ports are picked before Docker binds them: when
    # another program took one meanwhile, `up` says so and is made again
    # on new ones (at most 3 times).
    local attempt
    for attempt in 1 2 3; do
        SYSLOG_PORT=$(free_port); HTTP_PORT=127.0.0.1:$(free_port)
        syslog_compose up -d --no-build >"$d/up.log" 2>&1 && break
        grep -qiE 'address already in use|port is already allocated' "$d/up.log" && [ "$attempt" -lt 3 ] ||
            { cat "$d/up.log"; die "compose up"; }
        say "  a port was taken before Docker bound it: again on others"
        syslog_compose down -v >/dev/null 2>&1 || true
    done
    ok "compose -f docker/compose.syslog.yml up -d: the listener, then the web container"
    local url=http://$HTTP_PORT H=(-H "Host: $SERVER_NAME")
    quiet_until 60 status_is 200 "$url/?e2e=probe" "${H[@]}" || { docker logs "$logs" 2>&1 | tail -n 20; die "no 200 within 60 s"; }
    figure "compose up to the first 200 (syslog driver): $(secs $(( $(now_ms) - t0 ))) s"
    local driver; driver=$(docker inspect -f '{{.HostConfig.LogConfig.Type}} {{index .HostConfig.LogConfig.Config "tag"}} {{index .HostConfig.LogConfig.Config "syslog-address"}}' "$web")
    [ "$driver" = "syslog {{.Name}} tcp://127.0.0.1:$SYSLOG_PORT" ] || die "the web container's log driver: $driver"
    ok "the web container logs through Docker's syslog driver: $driver"

    send_requests "$url" "${H[@]}"
    receive() { docker exec "$logs" cat "$file" >"$d/received.jsonl" 2>/dev/null; }
    quiet_until 15 eval 'receive && grep -F "/boom/?e2e=500" "$d/received.jsonl" | grep -F "\"uwsgi.request\"" >/dev/null' ||
        die "logmux listen did not receive uWSGI's request line for /boom/ within 15 s"

    # Docker 20.10+ keeps a local copy beside a remote driver ("dual logging").
    docker logs "$web" >"$d/docker-logs.out" 2>&1
    grep -F '"/boom/?e2e=500"' "$d/docker-logs.out" | grep -F '"nginx.access"' >/dev/null &&
        ok "docker logs still shows the events beside the syslog driver" || die "docker logs $web: no nginx.access for /boom/"

    # Stopping the container: its last lines, logmux's farewell among them,
    # still reach the listener.
    local t1; t1=$(now_ms)
    docker stop "$web" >/dev/null
    figure "docker stop (syslog driver): $(secs $(( $(now_ms) - t1 ))) s"
    local rc; rc=$(docker inspect -f '{{.State.ExitCode}}' "$web")
    [ "$rc" = 0 ] || die "the web container exited with $rc"
    quiet_until 10 eval 'receive && grep -F "logmux exits with 0" "$d/received.jsonl" >/dev/null' || true
    receive || die "no $file in the listener"
    docker exec "$logs" ls /var/log/containers >"$d/files.txt"
    [ "$(cat "$d/files.txt")" = "$WEB_NAME.jsonl" ] || die "files in the listener's directory: $(tr '\n' ' ' <"$d/files.txt")"
    ok "the listener wrote one file, $WEB_NAME.jsonl: $(wc -l <"$d/received.jsonl") events"

    local f=0
    "$PY" "$LOGCHECK" split "$d/received.jsonl" "$d/out.jsonl" "$d/err.jsonl" "$WEB_NAME" || f=1
    # log.iostream is the stream the program wrote to: uWSGI writes its
    # request lines to stderr (the route to stdout is the container's).
    request_checks "$d" err || f=1
    logcheck "$d" message err uwsgi "Not Found: /missing/" 1 || f=1
    logcheck "$d" message err logmux "uwsgi is ready" 1 || f=1
    logcheck "$d" message err logmux "logmux exits with 0" 1 || f=1
    logcheck "$d" services nginx uwsgi logmux || f=1

    # The listener's own account, once stopped: nothing cut, refused or lost.
    syslog_compose stop logs >/dev/null 2>&1
    docker logs "$logs" >"$d/listen.out" 2>"$d/listen.err"
    grep -F '"listening on tcp://0.0.0.0:5514"' "$d/listen.err" >/dev/null && ok "logmux listen said: listening on tcp://0.0.0.0:5514" ||
        { say "  not ok listen's stderr: $(head -c 500 "$d/listen.err")"; f=1; }
    local stopped; stopped=$(grep -F 'listen stopped' "$d/listen.err" || true)
    if "$PY" - "$stopped" "$(wc -l <"$d/received.jsonl")" <<'PY'
import json, sys
line, lines = sys.argv[1], int(sys.argv[2])
lm = json.loads(line)['logmux']
ok = lm['events'] == lines and all(lm[k] == 0 for k in ('malformed', 'truncated', 'refused_connections', 'discarded_bytes', 'lost_bytes'))
print('  %s listen stopped: %d events (the file has %d), nothing malformed, cut, refused or lost' % ('ok' if ok else 'not ok', lm['events'], lines))
sys.exit(0 if ok else 1)
PY
    then :; else say "    $stopped"; f=1; fi
    [ $f = 0 ] || die "see above"
}

# ------------------------------------------------------------------ static

# static_rootfs DIR: the files of the static image: /logmux, its config, the
# accounts (www-data in two supplementary groups), www-data's home.
static_rootfs() {
    local r=$1
    mkdir -p "$r/etc" "$r/var/www" "$r/tmp"
    chmod 1777 "$r/tmp"
    if [ -n "${LOGMUX_STATIC_BIN:-}" ]; then
        cp "$LOGMUX_STATIC_BIN" "$r/logmux"
    else
        local cid; cid=$(docker create "$IMAGE")
        docker cp "$cid:/usr/local/bin/logmux" "$r/logmux" >/dev/null
        docker rm "$cid" >/dev/null
    fi
    printf '%s\n' 'root:x:0:0:root:/root:/logmux' 'www-data:x:33:33:www-data:/var/www:/logmux' >"$r/etc/passwd"
    printf '%s\n' 'root:x:0:' 'adm:x:4:www-data' 'www-data:x:33:' 'ssl-cert:x:110:other,www-data' >"$r/etc/group"
    cat >"$r/etc/logmux.toml" <<'TOML'
control_socket = ""
[program.status]
command = ["/logmux", "filter", "/proc/self/status"]
user = "www-data"
autorestart = "never"
[program.environ]
command = ["/logmux", "filter", "/proc/self/environ"]
user = "www-data"
autorestart = "never"
TOML
}

case_static() {
    local d=$TMP/static r=$TMP/static/rootfs img=$PREFIX-static:e2e
    mkdir -p "$d" "$r"
    static_rootfs "$r"
    figure "static logmux: $(stat -c %s "$r/logmux") bytes (stripped, crt-static)"
    if command -v readelf >/dev/null; then
        ! readelf -lW "$r/logmux" | grep -q 'program interpreter' || die "logmux asks for a dynamic loader: not static"
        ok "no program interpreter (readelf -l): static"
    fi
    tar --numeric-owner --owner=0 --group=0 -C "$r" -c . | docker import - "$img" >/dev/null
    local got; got=$(docker run --rm --entrypoint /logmux "$img" --version 2>&1) || { docker image rm "$img" >/dev/null; die "logmux --version: $got"; }
    ok "$got runs in an image of $(tar -tf <(tar -C "$r" -c .) | grep -vc '/$') files"
    local f=0 rc=0
    docker run --name "$PREFIX-static-run" "$img" /logmux run --config /etc/logmux.toml >"$d/out.jsonl" 2>"$d/err.jsonl" || rc=$?
    if [ $rc = 0 ]; then ok "logmux run --config: exit 0"; else say "  not ok logmux run --config: exit $rc"; f=1; fi
    logcheck "$d" json || f=1
    logcheck "$d" message out status "Uid:	33	33	33	33" 1 || f=1
    logcheck "$d" message out status "Gid:	33	33	33	33" 1 || f=1
    # The kernel lists groups sorted: www-data's own 33, adm 4, ssl-cert 110.
    logcheck "$d" message out status "Groups:	4 33 110 " 1 || f=1
    logcheck "$d" message out environ "HOME=/var/www" 1 || f=1
    logcheck "$d" message out environ "USER=www-data" 1 || f=1
    logcheck "$d" services status environ logmux || f=1
    rc=0
    docker run --name "$PREFIX-static-one" "$img" /logmux run -- /logmux filter /nonexistent >"$d/out.jsonl" 2>"$d/err.jsonl" || rc=$?
    if [ $rc = 66 ]; then ok "logmux run -- /logmux filter /nonexistent: exit 66, the program's"; else say "  not ok logmux run -- CMD: exit $rc, want 66"; f=1; fi
    logcheck "$d" json || f=1
    logcheck "$d" message err logmux "cannot open input /nonexistent" 1 || f=1
    docker rm -f "$PREFIX-static-run" "$PREFIX-static-one" >/dev/null 2>&1 || true
    docker image rm "$img" >/dev/null
    [ $f = 0 ] || die "see above"
}

# ------------------------------------------------------------------ up

case_up() {
    local d=$TMP/up; mkdir -p "$d"
    # A fresh clone: only what is committed, no target/, no local settings.
    git clone -q "$ROOT" "$d/clone" || die "git clone $ROOT"
    local cas port
    cas=$(cat /usr/local/share/ca-certificates/*.crt 2>/dev/null || true)
    port=$(free_port)
    local t0; t0=$(now_ms)
    if ! BASE_IMAGE=$BASE_IMAGE IMAGE=$IMAGE NAME=$PREFIX-up PORT=$port UP_FOLLOW=0 EXTRA_CA_CERTS=$cas \
        bash "$d/clone/docker/up.sh" >"$d/up.log" 2>&1; then
        tail -n 30 "$d/up.log"
        die "bash docker/up.sh failed (its last lines above)"
    fi
    figure "bash docker/up.sh to its first 200: $(secs $(( $(now_ms) - t0 ))) s (image layers cached by the build case)"
    expect_code 200 "http://localhost:$port/?e2e=up"
    # nginx logs a request after answering it: wait for its line.
    quiet_until 10 eval 'logs "$PREFIX-up" "$d" && logcheck "$d" count out nginx.access nginx "/?e2e=up" 200 1'
    logs "$PREFIX-up" "$d"
    local f=0
    logcheck "$d" json || f=1
    logcheck "$d" count out nginx.access nginx "/?e2e=up" 200 1 || f=1
    [ $f = 0 ] || die "see above"
}

# ------------------------------------------------------------------ twoenv

# compose ARGS...: Compose v2 (`docker compose`) when the engine has it,
# else v1's docker-compose; the files work with both.
compose() {
    if docker compose version >/dev/null 2>&1; then docker compose "$@"; else docker-compose "$@"; fi
}
have_compose() { docker compose version >/dev/null 2>&1 || command -v docker-compose >/dev/null; }

# twoenv_compose ENV ARGS...: compose on the copy of docker/compose.yml in
# $TMP/twoenv, as the project $PREFIX-ENV (APP_ENV=ENV).
twoenv_compose() {
    local env=$1; shift
    APP_ENV=$env LOGMUX_IMAGE=$IMAGE compose -p "$PREFIX-$env" -f "$TMP/twoenv/docker/compose.yml" "$@"
}

# twoenv_tree: docker/compose.yml, verbatim, beside two settings folders:
# the example dev one and a staging one that allows only its own name.
twoenv_tree() {
    local t=$TMP/twoenv/docker s
    mkdir -p "$t/app/project/settings"
    cp "$ROOT/docker/compose.yml" "$ROOT/docker/compose.https.yml" "$t/"
    cp -r "$SETTINGS" "$t/app/project/settings/dev"
    s=$t/app/project/settings/staging
    mkdir -p "$s"
    touch "$s/__init__.py"
    printf 'from project.settings.base import *  # noqa: F401,F403\n' >"$s/settings.py"
    printf '{"SECRET_KEY": "e2e-staging-%s", "ALLOWED_HOSTS": ["staging.%s"]}\n' "$PREFIX" "$SERVER_NAME" >"$s/secrets.json"
    chmod -R a+rX "$t/app"
}

# twoenv_up ENV NAME: `up -d` of environment ENV (server name NAME) on a
# free loopback port (again on another when one was taken meanwhile); the
# port is written to $TMP/twoenv/ENV.port.
twoenv_up() {
    local env=$1 name=$2 attempt port
    for attempt in 1 2 3; do
        port=$(free_port)
        HTTP_PORT=127.0.0.1:$port NGINX_SERVER_NAME=$name twoenv_compose "$env" up -d --no-build \
            >"$TMP/twoenv/$env.up.log" 2>&1 && { echo "$port" >"$TMP/twoenv/$env.port"; return 0; }
        grep -qiE 'address already in use|port is already allocated' "$TMP/twoenv/$env.up.log" && [ "$attempt" -lt 3 ] ||
            { cat "$TMP/twoenv/$env.up.log"; die "compose up ($env)"; }
        twoenv_compose "$env" down -v >/dev/null 2>&1 || true
    done
}

# twoenv_down: both projects down (end_case calls it).
twoenv_down() {
    local env
    for env in dev staging; do twoenv_compose "$env" down -v >/dev/null 2>&1 || true; done
}

case_twoenv() {
    have_compose || die "neither docker compose nor docker-compose is installed"
    local d=$TMP/twoenv
    mkdir -p "$d"
    twoenv_tree
    touch "$TMP/compose-twoenv"                  # end_case takes both projects down
    local dev_name=$SERVER_NAME stg_name=staging.$SERVER_NAME
    twoenv_up dev "$dev_name"
    local dev; dev=$(twoenv_compose dev ps -q web)
    [ -n "$dev" ] || die "compose -p $PREFIX-dev: no web container"
    local dev_started; dev_started=$(docker inspect -f '{{.State.StartedAt}}' "$dev")
    twoenv_up staging "$stg_name"
    local stg; stg=$(twoenv_compose staging ps -q web)
    [ -n "$stg" ] || die "compose -p $PREFIX-staging: no web container"
    ok "compose up -d of docker/compose.yml as two projects: $PREFIX-dev, then $PREFIX-staging"

    local dev_url=http://127.0.0.1:$(cat "$d/dev.port") stg_url=http://127.0.0.1:$(cat "$d/staging.port")
    quiet_until 60 status_is 200 "$dev_url/?e2e=probe" -H "Host: $dev_name" || { docker logs "$dev" 2>&1 | tail -n 20; die "dev: no 200 within 60 s"; }
    quiet_until 60 status_is 200 "$stg_url/?e2e=probe" -H "Host: $stg_name" || { docker logs "$stg" 2>&1 | tail -n 20; die "staging: no 200 within 60 s"; }

    # Neither replaced the other: the dev container is the one started
    # first, still running, beside staging's, under other names and mounts.
    local f=0 got
    got=$(docker inspect -f '{{.Name}} {{.State.Running}} {{.State.StartedAt}}' "$dev" 2>&1 || true)
    [ "$got" = "$(docker inspect -f '{{.Name}}' "$dev" 2>/dev/null) true $dev_started" ] && ok "dev's container ${got%% *} still runs, started once" ||
        { say "  not ok dev's container: $got (started $dev_started)"; f=1; }
    [ "$(docker inspect -f '{{.State.Running}}' "$stg" 2>&1 || true)" = true ] && [ "$dev" != "$stg" ] &&
        [ "$(docker inspect -f '{{.Name}}' "$dev")" != "$(docker inspect -f '{{.Name}}' "$stg")" ] &&
        ok "staging's container $(docker inspect -f '{{.Name}}' "$stg") runs beside it" ||
        { say "  not ok staging's container $stg beside dev's $dev"; f=1; }
    mounts() { docker inspect -f '{{range .Mounts}}{{.Source}}:{{.Destination}} {{end}}' "$1"; }
    [ "$(mounts "$dev")" = "$d/docker/app/project/settings/dev:/app/project/settings/dev " ] &&
        [ "$(mounts "$stg")" = "$d/docker/app/project/settings/staging:/app/project/settings/staging " ] &&
        ok "each mounts its own settings folder" || { say "  not ok mounts: dev $(mounts "$dev"); staging $(mounts "$stg")"; f=1; }

    # Each serves with its own settings: nginx passes its server_name to
    # Django as the host, and each name is in its own folder's
    # ALLOWED_HOSTS only (the other's settings would answer 400).
    local want
    for want in "dev $dev_url $dev_name" "staging $stg_url $stg_name"; do
        set -- $want
        got=$(code "$2/?e2e=twoenv-$1" -H "Host: $3")
        [ "$got" = 200 ] && ok "$1 answers 200 as $3" || { say "  not ok $1 answered $got as $3, want 200"; f=1; }
    done
    # The settings module and the environment's name reach each one's
    # processes and events.
    for want in "dev $dev" "staging $stg"; do
        set -- $want
        got=$(docker exec "$2" sh -c 'tr "\0" "\n" </proc/1/environ | grep -E "^(DJANGO_SETTINGS_MODULE|APP_ENV)=" | sort | tr "\n" " "')
        [ "$got" = "APP_ENV=$1 DJANGO_SETTINGS_MODULE=project.settings.$1.settings " ] && ok "$1: $got" || { say "  not ok $1's environment: $got"; f=1; }
        mkdir -p "$d/$1"
        quiet_until 10 eval 'logs "$2" "$d/$1" && logcheck "$d/$1" count out uwsgi.request uwsgi "/?e2e=twoenv-$1" 200 1' || true
        logs "$2" "$d/$1"
        logcheck "$d/$1" count out nginx.access nginx "/?e2e=twoenv-$1" 200 1 || f=1
        logcheck "$d/$1" count out uwsgi.request uwsgi "/?e2e=twoenv-$1" 200 1 || f=1
        logcheck "$d/$1" json || f=1
        "$PY" - "$d/$1/out.jsonl" "$1" <<'PY' || f=1
import json, sys
evs = [json.loads(l) for l in open(sys.argv[1])]
names = {((e.get('deployment') or {}).get('environment') or {}).get('name') for e in evs}
ok = evs and names == {sys.argv[2]}
print('  %s %s: %d events on stdout, deployment.environment.name %s' % ('ok' if ok else 'not ok', sys.argv[2], len(evs), sorted(map(str, names))))
sys.exit(0 if ok else 1)
PY
    done

    # Over HTTPS each environment keeps its certificates in its own folder.
    local le_dev le_stg
    # (v1 prints volumes as SOURCE:TARGET, v2 as source: and target:.)
    le() {
        APP_ENV=$1 NGINX_SERVER_NAME=x EMAIL_ADDRESS=x LOGMUX_IMAGE=$IMAGE compose -p "$PREFIX-$1" -f "$d/docker/compose.https.yml" config |
            grep -o "$d/docker/letsencrypt/[a-z]*" | tr '\n' ' ' || true
    }
    le_dev=$(le dev); le_stg=$(le staging)
    [ "$le_dev" = "$d/docker/letsencrypt/dev " ] && [ "$le_stg" = "$d/docker/letsencrypt/staging " ] &&
        ok "compose.https.yml: each environment its own letsencrypt folder (letsencrypt/dev, letsencrypt/staging)" ||
        { say "  not ok letsencrypt mounts: dev '$le_dev', staging '$le_stg'"; f=1; }

    twoenv_compose staging down -v >/dev/null 2>&1 || die "compose down ($PREFIX-staging)"
    [ "$(docker inspect -f '{{.State.Running}}' "$dev")" = true ] && ok "dev still runs after staging's compose down" ||
        { say "  not ok dev stopped with staging"; f=1; }
    twoenv_down
    rm -f "$TMP/compose-twoenv"
    [ $f = 0 ] || die "see above"
}

# ------------------------------------------------------------------ backoff

# backoff_marker DIR: the marker certbot-first.py keeps in the letsencrypt
# folder DIR, as "ATTEMPTS NEXT_ATTEMPT", empty without one.
backoff_marker() {
    local m=$1/backoff-$SERVER_NAME.json
    [ -f "$m" ] || return 0
    "$PY" -c 'import json, sys; m = json.load(open(sys.argv[1])); print(m["attempts"], m["next_attempt"])' "$m"
}

case_backoff() {
    local d=$TMP/backoff c=$PREFIX-backoff; mkdir -p "$d/le"
    # A first certificate that cannot succeed: the ACME server's port is
    # closed. Docker's restart policy starts the container 3 times in all.
    run_web "$c" --restart on-failure:2 -v "$d/le:/etc/letsencrypt" \
        -e NGINX_SERVER_NAME=$SERVER_NAME -e USE_SSL=1 -e EMAIL_ADDRESS=e2e@$SERVER_NAME \
        -e CERTBOT_SERVER=https://127.0.0.1:9/directory
    state() { [ "$(docker inspect -f '{{.State.Status}} {{.RestartCount}}' "$c")" = "$1" ]; }
    quiet_until 120 state "exited 2" || die "not exited after 2 restarts: $(docker inspect -f '{{.State.Status}} {{.RestartCount}}' "$c")"
    ok "three starts (on-failure:2), then exited with $(docker inspect -f '{{.State.ExitCode}}' "$c")"
    logs "$c" "$d"
    local f=0 marker; marker=$(backoff_marker "$d/le")
    [ "${marker%% *}" = 1 ] && ok "the marker records 1 attempt, the next allowed at ${marker#* }" ||
        { say "  not ok marker: '$marker'"; f=1; }
    [ "$(docker inspect -f '{{.State.ExitCode}}' "$c")" = 75 ] && ok "the last start exited 75 (EX_TEMPFAIL)" ||
        { say "  not ok exit code $(docker inspect -f '{{.State.ExitCode}}' "$c"), want 75"; f=1; }
    # certbot ran once (one debug log line per run, one failure), the two
    # restarts said when it will run instead.
    logcheck "$d" message err certbot "Saving debug log to /var/log/letsencrypt/letsencrypt.log" 1 || f=1
    logcheck "$d" message out certbot "first certificate: certbot failed (exit code 1), attempt 1;" 1 || f=1
    logcheck "$d" message out certbot "first certificate: not calling certbot, 1 failed attempt" 2 || f=1
    logcheck "$d" message err logmux "certbot-first exited: exit code 75" 2 || f=1
    logcheck "$d" json || f=1
    "$PY" - "$d/out.jsonl" "$SERVER_NAME" "${marker#* }" <<'PY' || f=1
import json, sys
path, name, due = sys.argv[1:]
evs = [e for e in map(json.loads, open(path)) if 'not calling certbot' in e.get('message', '')]
want = {'marker': '/etc/letsencrypt/backoff-%s.json' % name, 'attempts': 1, 'next_attempt': due}
ok = len(evs) == 2 and all({k: e['backoff'].get(k) for k in want} == want and e['severity_text'] == 'error' for e in evs)
print('  %s the restarts said: %s' % ('ok' if ok else 'not ok', [e.get('backoff') for e in evs]))
sys.exit(0 if ok else 1)
PY

    # Deleting the marker allows the next start to try at once.
    rm "$d/le/backoff-$SERVER_NAME.json"
    docker update --restart no "$c" >/dev/null
    local rc=0
    timeout 120 docker start -a "$c" >/dev/null 2>&1 || rc=$?
    logs "$c" "$d"
    [ $rc = 1 ] && ok "after deleting the marker, a start calls certbot again (exit 1)" || { say "  not ok docker start -a: exit $rc, want 1"; f=1; }
    logcheck "$d" message err certbot "Saving debug log to /var/log/letsencrypt/letsencrypt.log" 2 || f=1
    marker=$(backoff_marker "$d/le")
    [ "${marker%% *}" = 1 ] && ok "a new marker: 1 attempt" || { say "  not ok marker after the retry: '$marker'"; f=1; }
    docker rm -f "$c" >/dev/null
    [ $f = 0 ] || die "see above"
}

# ------------------------------------------------------------------ host

# The namespace's set-up, run by sh as PID 1 of a new PID namespace with its
# own mount and network namespaces: a new root in a tmpfs that only it sees,
# the host's /usr, /etc (read-only but /etc/nginx, which the template
# rewrites) and /dev, an /app laid out as in the image, an empty /run and
# /var, the repository and logmux's directory read-only at their paths;
# then logmux as PID 1 with the image's own config.
HOST_SETUP='
set -eu
root=$1 app=$2 repo=$3 logmux=$4 etc_nginx=$5
ip link set lo up
mount -t tmpfs -o mode=755 logmux-e2e-root "$root"
for d in bin sbin lib lib32 lib64 libx32; do
    if [ -L "/$d" ]; then ln -s "$(readlink "/$d")" "$root/$d"
    elif [ -d "/$d" ]; then mkdir "$root/$d"; mount --rbind "/$d" "$root/$d"
    fi
done
for d in usr etc dev; do mkdir "$root/$d"; mount --rbind "/$d" "$root/$d"; done
mount -o remount,bind,ro "$root/usr"
mount -o remount,bind,ro "$root/etc"
mount --bind "$etc_nginx" "$root/etc/nginx"
mkdir -p "$root/proc" "$root/run/uwsgi" "$root/tmp" "$root/var/log/nginx" "$root/var/lib/nginx" "$root/var/www/acme" "$root/app"
chmod 1777 "$root/tmp"
chown www-data:www-data "$root/run/uwsgi"
mount -t proc proc "$root/proc"
for d in "$repo" "${logmux%/*}"; do
    mkdir -p "$root$d"; mount --bind "$d" "$root$d"; mount -o remount,bind,ro "$root$d"
done
mount --bind "$app" "$root/app"
exec chroot "$root" "$logmux" run --config /app/docker/logmux.toml
'

# host_health PID LOGMUX: the image's HEALTHCHECK (logmux ctl health) in
# the host stack's namespaces: 0, then 1 naming nginx's 502 once uWSGI is
# stopped, then 0 again once it is started.
host_health() {
    local inner=$1 logmux=$2
    in_ns_ctl() { nsenter -t "$inner" -m -n -p -r -w "$logmux" ctl "$@"; }
    quiet_until 30 in_ns_ctl health || die "logmux ctl health: $(in_ns_ctl health)"
    ok "logmux ctl health exits 0: nginx's probe through to Django passes"
    in_ns_ctl stop uwsgi >/dev/null
    quiet_until 30 eval '! in_ns_ctl health' || die "ctl health still 0 with uwsgi stopped"
    # (pipefail: the pipeline's status would be ctl's 1.)
    quiet_until 30 eval '{ in_ns_ctl health || true; } | grep -q "program nginx is unhealthy: http://127.0.0.1/healthz answered 502 ("' ||
        die "ctl health: $(in_ns_ctl health)"
    ok "logmux ctl health exits 1 once uwsgi is stopped: $({ in_ns_ctl health || true; } | tr '\n' ' ')"
    in_ns_ctl start uwsgi >/dev/null
    quiet_until 60 in_ns_ctl health || die "ctl health after start uwsgi: $(in_ns_ctl health)"
    ok "logmux ctl health exits 0 again after logmux ctl start uwsgi"
}

case_host_http() {
    local d=$TMP/host; mkdir -p "$d/root" "$d/app"
    local logmux=${LOGMUX_BIN:-${CARGO_TARGET_DIR:-$ROOT/target}/debug/logmux}
    [ -x "$logmux" ] || (cd "$ROOT" && cargo build --quiet --bin logmux)
    [ -x "$logmux" ] || die "no logmux binary at $logmux"
    local p
    for p in nginx uwsgi python3; do command -v $p >/dev/null || die "$p is not installed"; done
    # /app as in the image: the project (links into docker/app), its
    # collected static files, and docker/ itself.
    local e
    for e in "$ROOT"/docker/app/*; do
        case ${e##*/} in __pycache__|static|media) ;; *) ln -s "$e" "$d/app/${e##*/}" ;; esac
    done
    ln -s "$ROOT/docker" "$d/app/docker"
    # What collectstatic gathers in the image: the demo app's static files
    # (copied, so that nothing is written into the repository).
    mkdir -p "$d/app/media" "$d/app/static"
    cp -r "$ROOT/docker/app/demo/static/." "$d/app/static/"
    cp -a /etc/nginx "$d/etc-nginx"

    env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 \
        DJANGO_SETTINGS_MODULE=$SETTINGS_MODULE NGINX_SERVER_NAME=$SERVER_NAME PYTHONDONTWRITEBYTECODE=1 \
        unshare --mount --pid --net --fork --kill-child --propagation private \
        sh -c "$HOST_SETUP" sh "$d/root" "$d/app" "$ROOT" "$logmux" "$d/etc-nginx" \
        >"$d/out.jsonl" 2>"$d/err.jsonl" &
    local ns=$!
    echo $ns >"$TMP/host.pid"
    local inner=''
    quiet_until 10 eval 'inner=$(cat /proc/$ns/task/$ns/children 2>/dev/null); [ -n "$inner" ]' || die "unshare started nothing"
    inner=${inner%% *}
    in_ns() { nsenter --net="/proc/$inner/ns/net" "$@"; }
    in_ns_status_is() { [ "$(in_ns curl -s -o /dev/null -m 10 -w '%{http_code}' "${H[@]}" "$2")" = "$1" ]; }
    local url=http://127.0.0.1 H=(-H "Host: $SERVER_NAME")
    local t0; t0=$(now_ms)
    quiet_until 60 in_ns_status_is 200 "$url/?e2e=probe" ||
        { tail -n 20 "$d/err.jsonl"; die "no 200 within 60 s"; }
    figure "host stack: first 200 after $(secs $(( $(now_ms) - t0 ))) s"
    local want path
    for want in "${REQUESTS[@]}"; do
        path=${want#* }
        [ "$(in_ns curl -s -o /dev/null -m 10 -w '%{http_code}' "${H[@]}" "$url$path")" = "${want%% *}" ] ||
            die "GET $path: not ${want%% *}"
        ok "GET $path: ${want%% *}"
    done
    [ "$(in_ns curl -s -o /dev/null -m 10 -w '%{http_code}' "${H[@]}" -H "Cookie: big=$(printf '%07000d' 0)" "$url/?e2e=cookie")" = 200 ] ||
        die "a 7 KB cookie: not 200 (uWSGI's buffer-size)"
    ok "a 7 KB cookie: 200 (uWSGI's buffer-size)"
    quiet_until 10 logcheck "$d" count out uwsgi.request uwsgi "/boom/?e2e=500" 500 1 || true
    host_health "$inner" "$logmux"
    local t1; t1=$(now_ms)
    kill -TERM "$inner"
    wait "$ns" && ok "logmux exits 0 on SIGTERM" || die "logmux exited with $?"
    figure "host stack: stop $(secs $(( $(now_ms) - t1 ))) s"
    rm -f "$TMP/host.pid"
    local f=0
    logcheck "$d" json || f=1
    request_checks "$d" out || f=1
    logcheck "$d" message err logmux "logmux exits with 0" 1 || f=1
    # uWSGI says it at each start: the first, and host_health's ctl start.
    logcheck "$d" message err uwsgi "Python threads support is disabled" 2 || f=1
    logcheck "$d" services nginx uwsgi logmux || f=1
    [ $f = 0 ] || die "see above"
}

# ------------------------------------------------------------------ driver

cleanup() {
    local rc=$?
    set +e
    local p
    for p in "$TMP/pebble.pid" "$TMP/host.pid" "$TMP/receiver.pid"; do
        [ -f "$p" ] && kill "$(cat "$p")" 2>/dev/null
    done
    command -v docker >/dev/null && rm_containers
    if [ "${KEEP_TMP:-0}" = 1 ]; then say "e2e: kept $TMP"; else rm -rf "$TMP"; fi
    exit $rc
}

# The end of a case, passed or not: pebble stopped, the containers' logs
# kept in $TMP/containers/ (KEEP_TMP=1 keeps them), the containers removed.
end_case() {
    if [ -f "$TMP/pebble.pid" ]; then kill "$(cat "$TMP/pebble.pid")" 2>/dev/null; rm -f "$TMP/pebble.pid"; fi
    if [ -f "$TMP/receiver.pid" ]; then kill "$(cat "$TMP/receiver.pid")" 2>/dev/null; rm -f "$TMP/receiver.pid"; fi
    command -v docker >/dev/null || return 0
    local n
    for n in $(docker ps -a --filter "name=^${PREFIX}-" --format '{{.Names}}' 2>/dev/null); do
        mkdir -p "$TMP/containers/$n"
        docker logs "$n" >"$TMP/containers/$n/out.jsonl" 2>"$TMP/containers/$n/err.jsonl" || true
    done
    rm_containers
    # The syslog case's compose project: its network and volume.
    if [ -f "$TMP/compose-syslog" ]; then
        syslog_compose down -v >/dev/null 2>&1 || true
        rm -f "$TMP/compose-syslog"
    fi
    if [ -f "$TMP/compose-twoenv" ]; then twoenv_down; rm -f "$TMP/compose-twoenv"; fi
}

if [ "${1:-}" = --case ]; then
    # One case, in a process of its own (so that set -e holds in it).
    shift
    trap 'rc=$?; end_case; exit $rc' EXIT
    "case_${1//-/_}"
    exit 0
fi

export TMP PREFIX
TMP=$(mktemp -d /tmp/logmux-e2e.XXXXXX)
PREFIX=logmux-e2e-$$
trap cleanup EXIT
trap 'exit 130' INT TERM

DOCKER_CASES=(build http missing-variable oneoff stop https backoff twoenv otlp syslog static up)
if [ $# -gt 0 ]; then
    cases=("$@")
elif [ "${LOGMUX_E2E_HOST:-0}" = 1 ]; then
    say "e2e: LOGMUX_E2E_HOST=1: running the stack on the host under docker/logmux.toml instead of Docker"
    cases=(host-http)
elif ! docker info >/dev/null 2>&1; then
    case "${CI:-}" in '' | 0 | false) strict=${LOGMUX_LIVE:-} ;; *) strict=1 ;; esac
    if [ "$strict" = 1 ]; then
        say "e2e: FAIL: no Docker engine here (docker info failed), and CI or LOGMUX_LIVE=1 needs the Docker cases"
        exit 1
    fi
    for c in "${DOCKER_CASES[@]}"; do
        say "SKIPPED e2e $c: no Docker engine (docker info failed)"
        [ -z "${LOGMUX_SKIP_LIST:-}" ] || echo "e2e $c: no Docker engine (docker info failed)" >>"$LOGMUX_SKIP_LIST"
    done
    say "e2e: running the same stack on the host under docker/logmux.toml instead"
    cases=(host-http)
else
    cases=("${DOCKER_CASES[@]}")
fi

passed=0 failed=0
for c in "${cases[@]}"; do
    say "== e2e $c"
    t0=$(now_ms)
    if bash "${BASH_SOURCE[0]}" --case "$c"; then
        passed=$((passed + 1)); say "PASS $c ($(secs $(( $(now_ms) - t0 ))) s)"
    else
        failed=$((failed + 1)); say "FAIL $c"
        [ "$c" = build ] && { say "e2e: no image, the other cases cannot run"; break; }
    fi
done
say "e2e: $passed passed, $failed failed"
[ "$failed" = 0 ]
