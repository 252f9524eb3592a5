#!/usr/bin/env python3
"""Sends a prepared syslog workload, for bench/listen.sh.

Usage:
  syslog_send.py gen COUNT NGINX_LOG OUT_PREFIX
      Writes OUT_PREFIX.octet (RFC 6587 octet-counted stream) and
      OUT_PREFIX.lines (one message per line, for UDP) of COUNT messages in
      Docker's rfc5424micro format (tag = container name, as with
      `--log-opt tag={{.Name}}`), bodies taken from NGINX_LOG in turn. Each
      message is about 200 bytes with its header (bodies of up to 140 bytes
      are picked from the log).
  syslog_send.py tcp HOST PORT FILE [CONNECTIONS]
      sends FILE over one TCP connection (sendfile), or over CONNECTIONS at
      once, each a slice of FILE cut at message ends (every message ends in
      a newline, which bodies never hold), sent by a thread of its own
  syslog_send.py udp HOST PORT FILE     sends each line of FILE as one datagram

Prints the send time in seconds on stderr.
"""
import os
import socket
import sys
import threading
import time


def gen(count, nginx_log, prefix):
    with open(nginx_log, "rb") as f:
        # Lines of up to 140 bytes: with the ~70-byte header, ~200-byte messages.
        bodies = [l.rstrip(b"\n") for l in f if len(l) <= 141]
    names = [b"web-1", b"web-2", b"shop-web-1", b"api-1"]
    with open(prefix + ".octet", "wb") as octet, open(prefix + ".lines", "wb") as lines:
        for i in range(count):
            sec, micro = divmod(i, 1000)
            name = names[i % len(names)]
            body = bodies[i % len(bodies)]
            ts = b"2026-11-25T12:%02d:%02d.%06d+00:00" % ((sec // 60) % 60, sec % 60, micro * 1000 % 1000000)
            msg = b"<30>1 " + ts + b" dockerhost " + name + b" 4242 " + name + b" - " + body + b"\n"
            octet.write(b"%d " % len(msg) + msg)
            lines.write(msg)


def slices(path, n):
    """(offset, count) of n slices of path, each ending at a message's end."""
    size = os.path.getsize(path)
    cuts = [0]
    with open(path, "rb") as f:
        for i in range(1, n):
            f.seek(max(size * i // n, cuts[-1]))
            rest = f.read(1 << 16)
            nl = rest.find(b"\n")
            cuts.append(size if nl < 0 else f.tell() - len(rest) + nl + 1)
    cuts.append(size)
    return [(a, b - a) for a, b in zip(cuts, cuts[1:]) if b > a]


def send_slice(host, port, path, offset, count):
    with socket.create_connection((host, port)) as s, open(path, "rb") as f:
        s.sendfile(f, offset, count)
        s.shutdown(socket.SHUT_WR)
        # Wait for the receiver to close, so every byte has been read.
        s.settimeout(600)
        while s.recv(4096):
            pass


def tcp(host, port, path, connections=1):
    parts = slices(path, connections)
    start = time.monotonic()
    threads = [threading.Thread(target=send_slice, args=(host, port, path, o, c)) for o, c in parts]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    print(f"{time.monotonic() - start:.3f}", file=sys.stderr)


def udp(host, port, path):
    with open(path, "rb") as f:
        msgs = f.read().split(b"\n")
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    dest = (host, port)
    send = s.sendto
    start = time.monotonic()
    for m in msgs:
        if m:
            send(m + b"\n", dest)
    print(f"{time.monotonic() - start:.3f}", file=sys.stderr)


if __name__ == "__main__":
    mode = sys.argv[1]
    if mode == "gen":
        gen(int(sys.argv[2]), sys.argv[3], sys.argv[4])
    elif mode == "tcp":
        tcp(sys.argv[2], int(sys.argv[3]), sys.argv[4], int(sys.argv[5]) if len(sys.argv) > 5 else 1)
    elif mode == "udp":
        udp(sys.argv[2], int(sys.argv[3]), sys.argv[4])
    else:
        sys.exit(__doc__)
