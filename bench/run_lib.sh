# Pieces of bench/run.sh that bench/compare.sh shares: installing the peers
# (supervisord, honcho) and writing their configs. Sourced from the repo root,
# with $root set; the configs' files go where the caller's $out says.

apt_install() { # package: install it, reading the package lists first if need be
  apt-get install -y -qq --no-install-recommends "$1" >/dev/null 2>&1 ||
    { apt-get update -qq >/dev/null && apt-get install -y -qq --no-install-recommends "$1" >/dev/null 2>&1; }
}

# Installs supervisord, and honcho unless SKIP_HONCHO is set (Debian, else
# PyPI into target/bench/venv); sets $honcho (empty when left out).
find_supervisors() {
  command -v supervisord >/dev/null || apt_install supervisor
  honcho=$(command -v honcho || true)
  if [ -z "${SKIP_HONCHO:-}" ] && [ -z "$honcho" ]; then
    apt_install honcho || true # not in Debian 12: then from PyPI
    honcho=$(command -v honcho || true)
    if [ -z "$honcho" ]; then
      [ -x target/bench/venv/bin/honcho ] || {
        python3 -m venv target/bench/venv && target/bench/venv/bin/pip install -q honcho
      }
      honcho=$root/target/bench/venv/bin/honcho
    fi
  fi
}

# One `logmux run` config: NAME FORMAT then "program=command" pairs.
logmux_config() {
  local file=$1 fmt=$2; shift 2
  echo 'control_socket = ""' > "$file"
  for p in "$@"; do
    local name=${p%%=*} command=${p#*=}
    python3 - "$name" "$command" "$fmt" >> "$file" <<'EOF'
import json, shlex, sys
name, command, fmt = sys.argv[1:]
print(f"\n[program.{name}]")
print(f"command = {json.dumps(shlex.split(command))}")
print('autorestart = "never"')
print(f'stdout = {{ format = "{fmt}", sink = "stdout" }}')
EOF
  done
}

# One supervisord config: FILE then "program=command" pairs.
supervisord_config() {
  local file=$1; shift
  cat > "$file" <<EOF
[supervisord]
nodaemon=true
silent=true
user=root
logfile=/dev/null
logfile_maxbytes=0
pidfile=$out/supervisord.pid
EOF
  for p in "$@"; do
    cat >> "$file" <<EOF

[program:${p%%=*}]
command=${p#*=}
autorestart=false
startsecs=0
stdout_logfile=/dev/stdout
stdout_logfile_maxbytes=0
stderr_logfile=/dev/stderr
stderr_logfile_maxbytes=0
EOF
  done
}
