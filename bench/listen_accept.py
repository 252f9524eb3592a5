#!/usr/bin/env python3
"""How long a new connection waits to be accepted while others flood.

    python3 bench/listen_accept.py BIN [FLOODERS] [TRIALS]   (8, 10)

Starts `BIN listen --unix-stream SOCK --output json` (stdout to /dev/null),
connects FLOODERS unix stream senders that write 48-byte syslog lines as
fast as they can (a process each), lets them run 2 s, then TRIALS times
connects one more and times until logmux holds one more file descriptor
(the accept; polled every 0.5 ms). Prints the waits in ms, sorted.
A latency, not a throughput: run it beside the build it is compared with.
"""
import os
import socket
import subprocess
import sys
import tempfile
import time

binary = sys.argv[1]
flooders = int(sys.argv[2]) if len(sys.argv) > 2 else 8
trials = int(sys.argv[3]) if len(sys.argv) > 3 else 10
tmp = tempfile.mkdtemp()
path = os.path.join(tmp, "log.sock")
logmux = subprocess.Popen([binary, "listen", "--unix-stream", path, "--output", "json"],
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
while not os.path.exists(path):
    time.sleep(0.01)
fds = lambda: len(os.listdir(f"/proc/{logmux.pid}/fd"))

lines = b"<13>Nov 25 23:29:21 vm flood: message 0000000000\n" * 100
kids = []
for _ in range(flooders):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(path)
    kid = os.fork()
    if kid == 0:
        try:
            while True:
                s.sendall(lines)
        except OSError:
            os._exit(0)
    kids.append(kid)
    s.close()
time.sleep(2)

waits, kept = [], []
for _ in range(trials):
    before = fds()
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(path)
    start = time.monotonic()
    while fds() <= before and time.monotonic() - start < 10:
        time.sleep(0.0005)
    waits.append((time.monotonic() - start) * 1000)
    kept.append(s)
    time.sleep(0.2)
for kid in kids:
    os.kill(kid, 9)
    os.waitpid(kid, 0)
logmux.terminate()
logmux.wait()
print(f"{binary}: {flooders} flooders, accept waits (ms): "
      + ", ".join(f"{w:.1f}" for w in sorted(waits)))
