#!/usr/bin/env python3
"""A child for the traces spool tests: writes RATE requests a second for
SECONDS seconds to stdout as logmux events (the program has merge = true),
each a uWSGI request line then nginx's access line with one upstream, so
that every request's trace is complete, in order, when nginx's line comes.
Request i's trace id is i + 1 in 32 hex digits.

    traced_requests.py RATE SECONDS

Requests are written on a fixed schedule, ten per write; a writer that
falls behind catches up without sleeping.
"""
import datetime
import json
import os
import sys
import time

rate, seconds = int(sys.argv[1]), float(sys.argv[2])
total = int(rate * seconds)
period = 10 / rate
start = time.monotonic()


def event(fmt, trace, duration, extra):
    now = datetime.datetime.now(datetime.timezone.utc).isoformat()
    e = {"timestamp": now, "severity_text": "INFO", "message": "GET /x", "logmux": {"format": fmt},
         "trace_id": trace, "url": {"path": "/x"},
         "http": {"request": {"method": "GET"}, "response": {"status_code": 200},
                  "server": {"request": {"duration": duration}}}}
    e.update(extra)
    return json.dumps(e, separators=(",", ":"))


for first in range(0, total, 10):
    ahead = start + (first // 10) * period - time.monotonic()
    if ahead > 0:
        time.sleep(ahead)
    lines = []
    for i in range(first, min(first + 10, total)):
        trace = "%032x" % (i + 1)
        lines.append(event("uwsgi.request", trace, 0.001, {}))
        upstream = {"upstream_response_time": [0.001], "upstream_status": "200"}
        lines.append(event("nginx.access", trace, 0.002, {"nginx": upstream}))
    os.write(1, ("\n".join(lines) + "\n").encode())
