#!/usr/bin/env python3
"""A child for the spool tests: writes RATE numbered lines a second for
SECONDS seconds to stdout, one os.write per line, and times each write in
itself (as bench/latency_writer.py does), then writes the write times to
STATS as JSON: {"lines": N, "p50_us": .., "p99_us": .., "max_us": ..}.

    spool_writer.py RATE SECONDS STATS [PAD]

Line i is "seq i PAD". Lines are written on a fixed schedule; a writer that
falls behind catches up without sleeping, so the average rate is RATE.
"""
import json
import os
import sys
import time

rate, seconds, stats = int(sys.argv[1]), float(sys.argv[2]), sys.argv[3]
pad = "x" * (int(sys.argv[4]) if len(sys.argv) > 4 else 80)
total = int(rate * seconds)
period = 1_000_000_000 // rate
waits = []
start = time.monotonic_ns()
for i in range(total):
    due = start + i * period
    ahead = due - time.monotonic_ns()
    if ahead > 0:
        time.sleep(ahead / 1e9)
    line = f"seq {i} {pad}\n".encode()
    t0 = time.monotonic_ns()
    os.write(1, line)
    waits.append(time.monotonic_ns() - t0)
waits.sort()
with open(stats + ".tmp", "w") as f:
    json.dump({
        "lines": total,
        "p50_us": waits[len(waits) // 2] / 1000,
        "p99_us": waits[len(waits) * 99 // 100] / 1000,
        "max_us": waits[-1] / 1000,
    }, f)
os.rename(stats + ".tmp", stats)
