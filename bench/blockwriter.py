#!/usr/bin/env python3
"""Child program for the `logmux run` throughput benchmark.

Writes lines to stdout in raw 4096-byte blocks (os.write), so block
boundaries fall in the middle of lines, like a program with a 4 KiB stdio
buffer at full speed. Everything is prepared before the first write, so the
loop is one os.write per block and the writer is not the bottleneck
(bench/run.sh times it alone).

    blockwriter.py LINES [WIDTH]     synthetic lines of WIDTH bytes (default
                                     200, newline included), numbered
    blockwriter.py --file PATH       the file's bytes, replayed as they are

The synthetic lines repeat with a period of 512 lines (512 x 200 bytes is
exactly 25 blocks), so a few blocks are built once and written over and over.
"""
import os
import sys

BLOCK = 4096


def write_all(view: memoryview) -> None:
    while view:
        n = os.write(1, view)
        view = view[n:]


def synthetic(lines: int, width: int) -> None:
    # The period after which block boundaries fall at the same place again.
    period = 512
    pad = "abcdefghijklmnopqrstuvwxyz0123456789" * (width // 36 + 2)
    body = []
    for i in range(period):
        head = f"worker 7 handled request {i:06d} in 12 ms: "
        body.append((head + pad)[: width - 1] + "\n")
    chunk = "".join(body).encode()
    assert len(chunk) == period * width
    reps, rest = divmod(lines, period)
    # Whole periods, then the leading lines of one more period.
    data = memoryview(chunk)
    if len(chunk) % BLOCK == 0:
        blocks = [data[i : i + BLOCK] for i in range(0, len(chunk), BLOCK)]
        for _ in range(reps):
            for b in blocks:
                os.write(1, b)
    else:
        for _ in range(reps):
            for i in range(0, len(chunk), BLOCK):
                write_all(data[i : i + BLOCK])
    tail = data[: rest * width]
    for i in range(0, len(tail), BLOCK):
        write_all(tail[i : i + BLOCK])


def replay(path: str) -> None:
    # Read 1 MiB at a time (a multiple of the block), write 4 KiB at a time.
    with open(path, "rb", buffering=0) as f:
        buf = bytearray(256 * BLOCK)
        view = memoryview(buf)
        while True:
            n = f.readinto(buf)
            if not n:
                break
            for i in range(0, n, BLOCK):
                write_all(view[i : min(i + BLOCK, n)])


def main() -> None:
    if len(sys.argv) == 3 and sys.argv[1] == "--file":
        replay(sys.argv[2])
    else:
        lines = int(sys.argv[1])
        width = int(sys.argv[2]) if len(sys.argv) > 2 else 200
        synthetic(lines, width)


if __name__ == "__main__":
    main()
