#!/usr/bin/env python3
"""A child that writes what a uWSGI worker writes, all on stderr: request
lines interleaved with the app's own lines, Django's `Not Found` lines and
Django tracebacks, packed into 4096-byte writes (lines cut across writes),
for logmux run's per-format routing tests (tests/run_routes.rs).

usage: uwsgi-mix.py COUNT

For i in 0..COUNT: the app line "app line i", every 7th i Django's
"Not Found: /missing/i", then the request line of GET /item/i (status 500
when i % 500 == 499, 200 otherwise); after a 500, Django's traceback
"Internal Server Error: /item/i" … "ZeroDivisionError: item i". Last,
after a pause: "app done COUNT".
"""
import os
import sys
import time

count = int(sys.argv[1])


def request(i):
    status = 500 if i % 500 == 499 else 200
    return (
        f"[pid: 4242|app: 0|req: {i + 1}/{i + 1}] 127.0.0.1 () {{32 vars in 351 bytes}} "
        f"[Wed Nov 25 19:39:04 2026] GET /item/{i} => generated 24 bytes in 3 msecs "
        f"(HTTP/1.1 {status}) 4 headers in 128 bytes (1 switches on core 0)\n"
    )


def traceback(i):
    return (
        f"Internal Server Error: /item/{i}\n"
        "Traceback (most recent call last):\n"
        '  File "/app/demo/views.py", line 9, in item\n'
        "    1 / 0\n"
        f"ZeroDivisionError: item {i}\n"
    )


def write_all(data):
    view = memoryview(data)
    while view:
        n = os.write(2, view)
        view = view[n:]


pending = bytearray()
for i in range(count):
    pending += f"app line {i}\n".encode()
    if i % 7 == 0:
        pending += f"Not Found: /missing/{i}\n".encode()
    pending += request(i).encode()
    if i % 500 == 499:
        pending += traceback(i).encode()
    while len(pending) >= 4096:
        write_all(bytes(pending[:4096]))
        del pending[:4096]
write_all(bytes(pending))
# The last request may end in a traceback: a plain line in the same burst
# right after it, with nothing after it, would continue the exception's
# message (docs/schema.md, python.traceback). A program that pauses first
# (here 0.1 s, far above logmux's 20 ms burst gap) keeps it its own, as long
# as logmux reads before the pause ends: a logmux starved of CPU reads both
# at once (CI under load, 1 event short). The tests therefore pick a COUNT
# that is not a multiple of 500, whose last item ends in a request line.
time.sleep(0.1)
write_all(f"app done {count}\n".encode())
