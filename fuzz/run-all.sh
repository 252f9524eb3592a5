#!/usr/bin/env bash
# Build and run every cargo-fuzz target for N seconds each (default 60),
# one at a time on one worker, after seeding fuzz/corpus/<target>/ with real
# lines from fixtures/*.log.
#
#   bash fuzz/run-all.sh            # 60 s per target
#   bash fuzz/run-all.sh 300        # 300 s per target
#   TARGETS="json uwsgi" bash fuzz/run-all.sh 30
#   SEED_ONLY=1 bash fuzz/run-all.sh   # only (re)write the seed files
#
# Works on stable Rust: RUSTC_BOOTSTRAP=1 lets stable rustc accept the
# nightly-only flags (-Zsanitizer=address, -Cpasses=sancov-module, ...) that
# cargo fuzz passes. Installs cargo-fuzz from crates.io if it is missing.
# Exit status: 0 if no target crashed, 1 otherwise; crashing inputs are
# kept in fuzz/artifacts/<target>/ and the logs in fuzz/logs/.
set -euo pipefail

SECS="${1:-60}"
MAX_LEN="${MAX_LEN:-4096}"
PER_TARGET="${PER_TARGET:-40}"   # seed files per target
FUZZ_DIR="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$FUZZ_DIR/.." && pwd)"
FIX="$ROOT/fixtures"
export RUSTC_BOOTSTRAP=1
export LC_ALL=C   # the fixtures hold raw non-UTF-8 bytes: treat lines as bytes

ALL_TARGETS="nginx_access nginx_error nginx_log_format uwsgi uwsgi_log_format trace_context supervisord traceback docker json detect pipeline pipeline_formats run_config supervisord_ini template syslog syslog_frame syslog_encode otlp_encode trace_spans ijson_output spool_segment strftime json_keys prom_text accounts metrics_exposition"
TARGETS="${TARGETS:-$ALL_TARGETS}"

# --- seeding --------------------------------------------------------------

# seed_lines TARGET FILE...: PER_TARGET single lines, evenly spaced over the
# concatenation of FILEs, one per seed file (no trailing newline).
seed_lines() {
    local t="$1"; shift
    local dir="$FUZZ_DIR/corpus/$t"
    mkdir -p "$dir"
    cat "$@" | awk -v n="$PER_TARGET" -v dir="$dir" '
        { line[NR] = $0 }
        END {
            step = NR / n; if (step < 1) step = 1
            k = 0
            for (i = 1; i <= NR && k < n; i += step) {
                f = sprintf("%s/seed-%03d", dir, k++)
                printf "%s", line[int(i)] > f; close(f)
            }
        }'
}

# seed_chunks TARGET LINES FILE...: windows of LINES consecutive lines from
# each FILE, spread evenly, PER_TARGET seed files in all.
seed_chunks() {
    local t="$1" len="$2"; shift 2
    local dir="$FUZZ_DIR/corpus/$t"
    mkdir -p "$dir"
    local per=$(( (PER_TARGET + $# - 1) / $# ))
    local idx=0 f
    for f in "$@"; do
        awk -v n="$per" -v len="$len" -v dir="$dir" -v base="$idx" '
            { line[NR] = $0 }
            END {
                step = (NR - len) / n; if (step < 1) step = 1
                k = 0
                for (s = 1; s <= NR && k < n; s += step) {
                    out = sprintf("%s/seed-%03d", dir, base + k++)
                    for (j = int(s); j < int(s) + len && j <= NR; j++) print line[j] > out
                    close(out)
                }
            }' "$f"
        idx=$(( idx + per ))
    done
}

# seed_tracebacks TARGET FILE...: every "Traceback" with 3 lines before and
# 20 after, then chunks of the same files to fill up.
seed_tracebacks() {
    local t="$1"; shift
    local dir="$FUZZ_DIR/corpus/$t"
    mkdir -p "$dir"
    local f k=0 n
    for f in "$@"; do
        for n in $(grep -an 'Traceback' "$f" | cut -d: -f1); do
            local from=$(( n > 3 ? n - 3 : 1 ))
            sed -n "${from},$(( n + 20 ))p" "$f" > "$(printf '%s/seed-tb-%03d' "$dir" "$k")"
            k=$(( k + 1 ))
        done
    done
    seed_chunks "$t" 12 "$@"
}

# seed_files TARGET FILE...: whole files as seeds (configs, templates).
seed_files() {
    local t="$1"; shift
    local dir="$FUZZ_DIR/corpus/$t"
    mkdir -p "$dir"
    local k=0 f
    for f in "$@"; do
        [ -f "$f" ] || continue
        cp "$f" "$(printf '%s/seed-file-%03d' "$dir" "$k")"
        k=$((k + 1))
    done
}

# seed_log_format: first line a log_format string, second a line it wrote.
seed_log_format() {
    local dir="$FUZZ_DIR/corpus/nginx_log_format"
    mkdir -p "$dir"
    local fmt combined k=0 line
    fmt="$(head -n 1 "$FIX/nginx-access-custom.format")"
    combined='$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent"'
    local half=$(( PER_TARGET / 2 ))
    while IFS= read -r line; do
        printf '%s\n%s' "$fmt" "$line" > "$(printf '%s/seed-%03d' "$dir" "$k")"
        k=$(( k + 1 )); [ "$k" -lt "$half" ] || break
    done < "$FIX/nginx-access-custom.log"
    while IFS= read -r line; do
        printf '%s\n%s' "$combined" "$line" > "$(printf '%s/seed-%03d' "$dir" "$k")"
        k=$(( k + 1 )); [ "$k" -lt "$PER_TARGET" ] || break
    done < "$FIX/nginx-access.log"
}

# seed_uwsgi_log_format: first line a uWSGI log-format, second a line it
# wrote (the real samples of fixtures/generate/uwsgi-log-format.sh).
seed_uwsgi_log_format() {
    local dir="$FUZZ_DIR/corpus/uwsgi_log_format"
    mkdir -p "$dir"
    local k=0 name fmt line
    for name in uwsgi-log-format uwsgi-log-format-combined uwsgi-log-format-json; do
        fmt="$(head -n 1 "$FIX/$name.uwsgi-format")"
        while IFS= read -r line; do
            printf '%s\n%s' "$fmt" "$line" > "$(printf '%s/seed-%03d' "$dir" "$k")"
            k=$(( k + 1 ))
        done < <(grep -v '^[A-Za-z*]' "$FIX/$name.log" | head -n $(( PER_TARGET / 3 )))
    done
}

# seed_trace_context: traceparent headers and ids, valid and not.
seed_trace_context() {
    local dir="$FUZZ_DIR/corpus/trace_context"
    mkdir -p "$dir"
    local k=0 v
    for v in '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01' \
        '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00' \
        '01-4BF92F3577B34DA6A3CE929D0E0E4736-00F067AA0BA902B7-03-extra' \
        'ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01' \
        '00-00000000000000000000000000000000-00f067aa0ba902b7-01' \
        '4bf92f3577b34da6a3ce929d0e0e4736' '00f067aa0ba902b7' 'req-7f3a'; do
        printf '%s' "$v" > "$(printf '%s/seed-%03d' "$dir" "$k")"
        k=$(( k + 1 ))
    done
}

# Syslog messages as real senders put them on the wire: Docker's four
# formats, util-linux logger (recorded from 2.38.1) and rsyslog's forwarding.
SYSLOG_SAMPLES=(
    '<30>May  1 12:34:56 3f4e5d6c7b8a[1234]: hello world'
    '<27>May  1 12:34:56 nginx:1.25/web-1[1234]:   File "/app/views.py", line 12, in boom'
    '<30>May  1 12:34:56 dockerhost web-1[1234]: GET / 200'
    '<30>1 2024-05-01T12:34:56+00:00 dockerhost web-1 1234 web-1 - hello'
    '<27>1 2024-05-01T12:34:56.123456Z dockerhost nginx:1.25/web-1 1234 nginx:1.25/web-1 - Traceback (most recent call last):'
    '<13>Nov 25 23:30:13 vm nginx:1.25/web-1:   indented line'
    '<27>Nov 25 23:30:13 vm web-1[15607]: with pid'
    '<13>1 2026-11-25T23:30:13.845420+00:00 vm nginx:1.25/web-1 - - [timeQuality tzKnown="1" isSynced="0"]   indented line'
    '<13>1 2026-11-25T23:30:19.446686+00:00 vm app 16538 REQ [timeQuality tzKnown="1" isSynced="0"][meta@32473 k="v\\\"q\]" n="2"] sd msg'
    '<13>1 - vm web-1 - - - hello'
    '<30>Nov 25 23:49:37 logmux/debian:bookworm/p-sys-default[1431]:     indented out'
    '<27>1 2026-11-25T23:49:38Z vm p-sys-5424 1431 p-sys-5424 - err line'
    '<13>Nov 25 23:46:41 vm web-1[27246] from 5424'
    '<13>2026-11-25T23:46:41.668084+00:00 vm web-1[27246] from 5424'
)

# seed_syslog: one message per seed file, with and without its final \n.
seed_syslog() {
    local dir="$FUZZ_DIR/corpus/syslog" k=0 m
    mkdir -p "$dir"
    for m in "${SYSLOG_SAMPLES[@]}"; do
        printf '%s' "$m" > "$(printf '%s/seed-%03d' "$dir" "$k")"; k=$((k + 1))
        printf '%s\n' "$m" > "$(printf '%s/seed-%03d' "$dir" "$k")"; k=$((k + 1))
    done
}

# seed_syslog_frame: [max byte][read-size seed] then a stream mixing octet
# counting, LF and CRLF framing, with one junk line.
seed_syslog_frame() {
    local dir="$FUZZ_DIR/corpus/syslog_frame" k=0 m max
    mkdir -p "$dir"
    for max in '\377' '\100' '\020'; do
        local f; f="$(printf '%s/seed-%03d' "$dir" "$k")"; k=$((k + 1))
        printf "${max}\\007" > "$f"
        for m in "${SYSLOG_SAMPLES[@]}"; do
            printf '%d %s\n' "$(( ${#m} + 1 ))" "$m" >> "$f"
            printf '%s\r\n' "$m" >> "$f"
        done
        printf 'not syslog\n\n  ' >> "$f"
    done
}

# Spool segments as logmux writes them (src/sink/buffer/disk/segment.rs):
# each record "LMS1", length, CRC-32 of length and payload, then events, key
# length, key and lines from the fixtures; some cut short, some with a byte
# flipped, as a crash or a bad disk leaves them. Two leading bytes: the
# target's start and in-flight offsets.
seed_spool() {
    local dir="$FUZZ_DIR/corpus/spool_segment"
    mkdir -p "$dir"
    python3 - "$dir" "$PER_TARGET" "$FIX"/*.log <<'PY'
import random, struct, sys, zlib
out, per, logs = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
lines = [l for f in logs for l in open(f, "rb").read().splitlines(True)][:400]
rng = random.Random(7)
for k in range(per):
    seg = bytearray()
    for _ in range(rng.randint(1, 6)):
        key = rng.choice([b"", b"web", b"django-1"])
        body = b"".join(rng.sample(lines, min(len(lines), rng.randint(1, 5))))
        payload = struct.pack("<IH", rng.randint(1, 5), len(key)) + key + body
        length = struct.pack("<I", len(payload))
        seg += b"LMS1" + length + struct.pack("<I", zlib.crc32(length + payload)) + payload
    if k % 3 == 1 and seg:
        seg[rng.randrange(len(seg))] ^= 0x20
    if k % 3 == 2:
        del seg[rng.randrange(len(seg) + 1):]
    with open(f"{out}/seed-{k:03d}", "wb") as f:
        f.write(bytes([0, rng.randrange(256)]) + bytes(seg[:4000]))
PY
}

seed() {
    case "$1" in
        nginx_access)     seed_lines "$1" "$FIX/nginx-access.log" "$FIX/nginx-access-custom.log" ;;
        nginx_error)      seed_lines "$1" "$FIX/nginx-error.log" ;;
        nginx_log_format) seed_log_format ;;
        uwsgi_log_format) seed_uwsgi_log_format ;;
        trace_context)    seed_trace_context ;;
        uwsgi)            seed_lines "$1" "$FIX/uwsgi.log" "$FIX/uwsgi-logdate.log" ;;
        supervisord)      seed_lines "$1" "$FIX/supervisord.log" "$FIX/supervisord-devnull.log" ;;
        traceback)        seed_tracebacks "$1" "$FIX/uwsgi.log" "$FIX/uwsgi-logdate.log" "$FIX/mixed.log" ;;
        docker)           seed_lines "$1" "$FIX"/docker-*.log ;;
        json)             seed_lines "$1" "$FIX/docker-json-file.log" "$FIX/uwsgi-logdate.log" "$FIX/mixed.log" ;;
        detect)           seed_lines "$1" "$FIX"/*.log ;;
        pipeline)         seed_chunks "$1" 10 "$FIX"/*.log ;;
        pipeline_formats) seed_chunks "$1" 10 "$FIX"/*.log ;;
        syslog_encode)    seed_chunks "$1" 10 "$FIX"/*.log ;;
        otlp_encode)      seed_chunks "$1" 10 "$FIX"/*.log ;;
        trace_spans)      seed_chunks "$1" 10 "$FIX"/*.log ;;
        ijson_output)     seed_chunks "$1" 10 "$FIX"/*.log ;;
        run_config)       seed_files "$1" "$ROOT"/docs/run.md "$ROOT"/tests/stack/*.toml* ;;
        supervisord_ini)  seed_files "$1" "$FIX"/supervisord/*.conf "$FIX"/generate/supervisord.conf.in ;;
        template)         seed_files "$1" "$FIX"/generate/nginx.conf.in "$ROOT"/tests/stack/*.in ;;
        syslog)           seed_syslog ;;
        syslog_frame)     seed_syslog_frame ;;
        spool_segment)    seed_spool ;;
        strftime)         seed_lines "$1" "$FIX"/uwsgi*.log ;;
        json_keys)        seed_lines "$1" "$FIX"/app-json.log "$FIX"/uwsgi.log ;;
        prom_text)        seed_files "$1" "$ROOT"/tests/top/*.prom ;;
        accounts)         seed_files "$1" /etc/passwd /etc/group ;;
        metrics_exposition) seed_lines "$1" "$FIX"/mixed.log "$FIX"/nginx-access.log ;;
        *) echo "unknown target $1" >&2; return 1 ;;
    esac
}

for t in $TARGETS; do seed "$t"; done
if [ -n "${SEED_ONLY:-}" ]; then
    for t in $TARGETS; do echo "$t: $(ls "$FUZZ_DIR/corpus/$t" | wc -l) files"; done
    exit 0
fi

# --- build and run ----------------------------------------------------------

if ! cargo fuzz --version >/dev/null 2>&1; then
    cargo install cargo-fuzz --locked
fi

cd "$FUZZ_DIR"
cargo fuzz build
mkdir -p "$FUZZ_DIR/logs"
failed=""
for t in $TARGETS; do
    log="$FUZZ_DIR/logs/$t.log"
    echo "=== $t (${SECS}s)"
    if cargo fuzz run "$t" -- -max_total_time="$SECS" -max_len="$MAX_LEN" \
            -workers=1 -jobs=1 -print_final_stats=1 >"$log" 2>&1; then
        res=ok
    else
        res=CRASH; failed="$failed $t"
    fi
    runs=$(grep -ao 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -n 1 || true)
    eps=$(grep -ao 'stat::average_exec_per_sec: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -n 1 || true)
    echo "$t: $res runs=${runs:-?} exec/s=${eps:-?} (log: $log)"
done
if [ -n "$failed" ]; then
    echo "crashed:$failed (inputs in fuzz/artifacts/)" >&2
    exit 1
fi
