#!/usr/bin/env python3
"""Child program for bench/traces.sh's `run` mix: replays FILE to stdout in
chunks of 64 lines, at full speed but in step with the other writer of the
pair (nginx's lines and uWSGI's lines of the same requests): after its
chunk i it waits until the other has written chunk i - 16, so the two
programs' lines of a request reach logmux within about 1,000 requests of
each other, as a live stack's do, instead of one program running ahead
(every trace would then wait out `max_pending`). The pair shares a 16-byte
counter file SHM; SLOT is 0 or 1.

Usage: lockstep_writer.py FILE SHM SLOT
"""
import mmap
import os
import struct
import sys
import time

CHUNK, LAG = 64, 16
path, shm, slot = sys.argv[1], sys.argv[2], int(sys.argv[3])
lines = open(path, 'rb').read().splitlines(keepends=True)
chunks = [b''.join(lines[i:i + CHUNK]) for i in range(0, len(lines), CHUNK)]
fd = os.open(shm, os.O_RDWR)
counters = mmap.mmap(fd, 16)
other = (1 - slot) * 8
for i, chunk in enumerate(chunks):
    view = memoryview(chunk)
    while view:
        view = view[os.write(1, view):]
    counters[slot * 8:slot * 8 + 8] = struct.pack('<q', i + 1)
    while struct.unpack_from('<q', counters, other)[0] < i + 1 - LAG:
        time.sleep(0.0002)
# Done: the other may go on freely.
counters[slot * 8:slot * 8 + 8] = struct.pack('<q', 1 << 62)
