#!/usr/bin/python3
"""The first certificate, with a back-off across container restarts.

    certbot-first.py MARKER -- certbot certonly ...

A restart policy restarts a container whose first certificate failed at
once, and again, which would hammer Let's Encrypt (its failed-validation
limit is 5 per account and hostname per hour). So a failure is recorded in
MARKER (in the mounted /etc/letsencrypt, so it outlives the container):
the attempts so far and the time of the last one. While the back-off since
that failure runs (5 min after the first, then 10, 20, 40, at most 60), a
start does not call certbot: it says until when, as one JSON event, and
exits 75 (EX_TEMPFAIL). Deleting MARKER allows the next start to try at
once; a success deletes it. tests/docker/certbot_first_test.sh tests this
script with a stand-in certbot, tests/docker/e2e.sh (case backoff) in the
image.
"""

import datetime
import json
import os
import subprocess
import sys
import time

FIRST_WAIT_S = 300
MAX_WAIT_S = 3600
EX_TEMPFAIL = 75


def wait_s(attempts):
    """The back-off after ATTEMPTS failures in a row: 5 min, doubled, capped."""
    return min(FIRST_WAIT_S * 2 ** max(attempts - 1, 0), MAX_WAIT_S)


def iso(t):
    return datetime.datetime.fromtimestamp(t, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def say(level, message, **backoff):
    """One JSON line, which logmux turns into an event (its json format)."""
    print(json.dumps({"level": level, "message": message, "backoff": backoff}), flush=True)


def read_marker(path):
    """(attempts, last failure's Unix time), or None without a marker. A
    marker that cannot be read counts as one failure at its mtime."""
    try:
        with open(path) as f:
            text = f.read()
    except FileNotFoundError:
        return None
    try:
        data = json.loads(text)
        return int(data["attempts"]), float(data["last_failure_unix"])
    except (ValueError, KeyError, TypeError):
        return 1, os.stat(path).st_mtime


def write_marker(path, attempts, at, exit_code):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump({"attempts": attempts, "last_failure": iso(at), "last_failure_unix": at,
                   "exit_code": exit_code, "next_attempt": iso(at + wait_s(attempts))}, f, indent=1)
        f.write("\n")
    os.replace(tmp, path)


def main(argv):
    if len(argv) < 4 or argv[2] != "--":
        print("usage: certbot-first.py MARKER -- CMD...", file=sys.stderr)
        return 64
    marker, cmd = argv[1], argv[3:]
    now = time.time()
    seen = read_marker(marker)
    if seen is not None:
        attempts, last = seen
        due = last + wait_s(attempts)
        if now < due:
            say("error", "first certificate: not calling certbot, %d failed attempt%s, the last at %s; "
                "the next is allowed at %s (in %d s); delete %s to try now"
                % (attempts, "" if attempts == 1 else "s", iso(last), iso(due), int(due - now) + 1, marker),
                marker=marker, attempts=attempts, last_failure=iso(last), next_attempt=iso(due),
                wait_s=int(due - now) + 1)
            return EX_TEMPFAIL
    try:
        rc = subprocess.call(cmd)
    except OSError as e:
        print("certbot-first.py: cannot run %s: %s" % (cmd[0], e), file=sys.stderr)
        rc = 127
    if rc == 0:
        if seen is not None:
            os.remove(marker)
        return 0
    if rc < 0:  # stopped by a signal (docker stop): not a failed attempt
        return 128 - rc
    attempts = (seen[0] if seen else 0) + 1
    at = time.time()
    try:
        write_marker(marker, attempts, at, rc)
    except OSError as e:
        say("error", "first certificate: certbot failed (exit code %d) and %s cannot be written: %s"
            % (rc, marker, e), marker=marker, attempts=attempts)
        return rc
    say("error", "first certificate: certbot failed (exit code %d), attempt %d; a restart waits until %s "
        "(%d s) before trying again; delete %s to try sooner"
        % (rc, attempts, iso(at + wait_s(attempts)), wait_s(attempts), marker),
        marker=marker, attempts=attempts, last_failure=iso(at), next_attempt=iso(at + wait_s(attempts)),
        wait_s=wait_s(attempts))
    return rc


if __name__ == "__main__":
    sys.exit(main(sys.argv))
