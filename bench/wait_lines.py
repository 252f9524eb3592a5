#!/usr/bin/env python3
"""Waits until FILE holds COUNT lines, or until it stops growing.

Usage: wait_lines.py FILE COUNT QUIET_SECS START_EPOCH

Counts newlines incrementally (reading only what was appended). Stops when
COUNT lines are there, or when the file has not grown for QUIET_SECS. Prints
`lines seconds` where seconds runs from START_EPOCH (time.time() of the
sender's start) to the moment the last counted byte was seen.
"""
import os
import sys
import time

path, want, quiet, start = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4])
lines, pos, last_growth = 0, 0, time.time()
last_seen = last_growth
while True:
    try:
        with open(path, "rb") as f:
            f.seek(pos)
            chunk = f.read()
    except FileNotFoundError:
        chunk = b""
    if chunk:
        pos += len(chunk)
        lines += chunk.count(b"\n")
        last_seen = last_growth = time.time()
        if lines >= want:
            break
    else:
        if time.time() - last_growth > quiet:
            break
        time.sleep(0.02)
print(lines, f"{last_seen - start:.3f}")
