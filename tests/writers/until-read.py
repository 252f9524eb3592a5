"""Waits (polling, at most 60 s) until the reader of this process's stdout
pipe has read everything in it (FIONREAD on fd 1 says 0): a writer's way to
know that logmux has taken what it wrote. Exits 1 on timeout."""
import fcntl
import struct
import sys
import termios
import time

deadline = time.time() + 60
while time.time() < deadline:
    left = struct.unpack("i", fcntl.ioctl(1, termios.FIONREAD, b"\0\0\0\0"))[0]
    if left == 0:
        sys.exit(0)
    time.sleep(0.01)
sys.exit("the pipe was never read")
