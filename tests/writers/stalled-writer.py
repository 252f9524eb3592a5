"""Writes 1,502 lines to stdout in three chunks, each of the first two only
once logmux has read everything before it (the pipe is empty: FIONREAD),
so that logmux's reader stops where the test wants it: after `first` (which
the stalled sink holds), then 1,000 lines that fill the sink's queue, then
500 more left in the pipe. Then `written` on stderr, and it waits.

`split`: the second chunk ends in the middle of a line (`partial-`), which
the third chunk finishes (`line`). `unfinished`: the third chunk ends
without a newline (`unfinished`)."""
import fcntl
import os
import struct
import sys
import termios
import time

mode = sys.argv[1]


def write(data):
    while data:
        data = data[os.write(1, data):]


def until_read():
    """Polls until logmux has read all there is in the pipe."""
    deadline = time.time() + 30
    while time.time() < deadline:
        left = struct.unpack("i", fcntl.ioctl(1, termios.FIONREAD, b"\0\0\0\0"))[0]
        if left == 0:
            return
        time.sleep(0.01)
    sys.exit("logmux never read the pipe")


lines = b"".join(b"line %d\n" % i for i in range(1000))
more = b"".join(b"more %d\n" % i for i in range(500))
write(b"first\n")
until_read()
if mode == "split":
    write(lines + b"partial-")
    until_read()
    write(b"line\n" + more)
else:
    write(lines + b"one more\n")
    until_read()
    write(more[:-1] + b"\nunfinished")
os.write(2, b"written\n")
time.sleep(60)
