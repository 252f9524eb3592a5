#!/usr/bin/env python3
"""A child that writes numbered lines as fast as it can, for logmux run's tests.

usage: burst.py NAME COUNT MODE
  MODE block    lines packed into 4096-byte writes (lines cut across writes)
  MODE line     one line per write
  MODE partial  each line in three writes, the newline last, with tiny pauses

Line i is "NAME i PAYLOAD" where PAYLOAD is derived from i, so a reader can
tell a whole line from a cut, spliced or merged one. On SIGTERM the writer
finishes the block it has, writes "NAME done N" (N = lines written before
it) and exits 0: the reader then knows exactly how many lines to expect.
With REPORT_TIME=1 it then says on stderr how long the writing took.
"""
import os
import signal
import sys
import time

name, count, mode = sys.argv[1], int(sys.argv[2]), sys.argv[3]
stop = False


def on_term(signum, frame):
    global stop
    stop = True


signal.signal(signal.SIGTERM, on_term)


def line(i):
    # 60-100 bytes, varying with i; digits only after the name.
    return f"{name} {i} {str(i * 7919 % 1000003) * (1 + i % 5)}\n".encode()


def write_all(data):
    view = memoryview(data)
    while view:
        n = os.write(1, view)
        view = view[n:]


started = time.monotonic()
written = 0
if mode == "block":
    buf = bytearray()
    while written < count and not stop:
        buf += line(written)
        written += 1
        if len(buf) >= 4096:
            write_all(bytes(buf[:4096]))
            del buf[:4096]
    write_all(bytes(buf))
elif mode == "line":
    while written < count and not stop:
        write_all(line(written))
        written += 1
elif mode == "partial":
    while written < count and not stop:
        data = line(written)
        write_all(data[:5])
        time.sleep(0.002)
        write_all(data[5:-1])
        time.sleep(0.002)
        write_all(b"\n")
        written += 1
    # And a last line with no newline at all: logmux must flush it at EOF.
    write_all(f"{name} tail-without-newline".encode())
write_all(f"{name} done {written}\n".encode())
if os.environ.get("REPORT_TIME"):
    # On stderr, which a test keeps flowing while stdout is blocked.
    sys.stderr.write(f"{name} wrote {written} lines in {time.monotonic() - started:.2f}s\n")
