#!/usr/bin/env python3
"""Child program for the `logmux run` latency benchmark.

Writes RATE lines a second for SECONDS seconds to stdout, one os.write per
line, each line carrying the CLOCK_REALTIME nanoseconds taken just before
its write: `lat SEQ WRITE_NS padding`. bench/latency_reader.py reads the
supervisor's output and subtracts that time from the time it received the
line.

    latency_writer.py RATE SECONDS [DELAY]

It sleeps DELAY seconds (default 1) before the first line, so that the
reader, which starts at the same time, is up and waiting: otherwise the first
lines would measure the reader's start-up (Python's, tens of milliseconds).
Lines are written on a fixed schedule (line i at start + i / RATE); the
writer sleeps between lines and, if it falls behind, catches up without
sleeping, so the average rate is RATE.
"""
import os
import sys
import time

rate = int(sys.argv[1])
seconds = float(sys.argv[2])
total = int(rate * seconds)
period = 1_000_000_000 // rate
delay = float(sys.argv[3]) if len(sys.argv) > 3 else 1.0
pad = "x" * 60
time.sleep(delay)
start = time.monotonic_ns()
for i in range(total):
    due = start + i * period
    wait = due - time.monotonic_ns()
    if wait > 0:
        time.sleep(wait / 1e9)
    os.write(1, f"lat {i} {time.time_ns()} {pad}\n".encode())
