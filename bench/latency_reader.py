#!/usr/bin/env python3
"""Reader for the latency benchmark: reads a supervisor's output, finds the
lines bench/latency_writer.py wrote (`lat SEQ WRITE_NS ...`), and records
receive time minus write time for each (both CLOCK_REALTIME, same machine).

    CMD | latency_reader.py EXPECTED          read stdin to its end
    latency_reader.py EXPECTED -- CMD...      run CMD (stderr to /dev/null),
                                              read its stdout until EXPECTED
                                              lines came (or 10 s of silence,
                                              or its end), then SIGTERM its
                                              process group: for supervisord,
                                              which never exits by itself

A JSON line (logmux) is parsed and the original line taken from its
`message`; any other line (supervisord's raw copy, honcho's `12:00:00
name.1 | ` prefix) is searched for `lat `. The receive time is taken once per
read() of the pipe, right after it returns. Python's cyclic garbage
collector is off (nothing here makes cycles), so that its pauses are not
counted as the supervisor's. Prints one JSON object: lines seen, lines lost,
and p50 / p90 / p99 / p99.9 / max / mean in microseconds.
"""
import gc
import json
import os
import select
import signal
import subprocess
import sys
import time


def main() -> None:
    gc.disable()
    expected = int(sys.argv[1])
    proc = None
    fd = 0
    if len(sys.argv) > 3 and sys.argv[2] == "--":
        proc = subprocess.Popen(sys.argv[3:], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                start_new_session=True)
        fd = proc.stdout.fileno()
    lat = []
    seen = set()
    rest = b""
    while len(seen) < expected:
        if not select.select([fd], [], [], 10.0)[0]:
            break
        chunk = os.read(fd, 1 << 20)
        now = time.time_ns()
        if not chunk:
            break
        lines = (rest + chunk).split(b"\n")
        rest = lines.pop()
        for line in lines:
            if line.startswith(b"{"):
                msg = json.loads(line).get("message", "")
            else:
                msg = line.decode("utf-8", "replace")
            at = msg.find("lat ")
            if at < 0:
                continue
            _, seq, sent = msg[at:].split(" ", 3)[:3]
            seen.add(int(seq))
            lat.append(now - int(sent))
    if proc is not None:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        proc.stdout.close()
        proc.wait()
    lat.sort()

    def pct(p: float) -> float:
        if not lat:
            return 0.0
        return lat[min(len(lat) - 1, int(p / 100 * len(lat)))] / 1000

    print(json.dumps({
        "count": len(lat),
        "lost": expected - len(seen),
        "p50_us": pct(50), "p90_us": pct(90), "p99_us": pct(99), "p999_us": pct(99.9),
        "max_us": lat[-1] / 1000 if lat else 0.0,
        "mean_us": sum(lat) / len(lat) / 1000 if lat else 0.0,
    }))


if __name__ == "__main__":
    main()
