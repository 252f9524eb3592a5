#!/usr/bin/env python3
"""A child that raises ValueError("line one\\nline two") with the note
"note a" (Python 3.11's add_note()), for tests/exception_messages.rs.

usage: exceptions.py MODE
  hook        let the default excepthook print it (and exit 1)
  log-pause   logging.exception() it; once the reader has read all of it
              (the pipe is empty), wait 0.5 s, then print the plain line
              "app goes on" on stderr
  log-burst   logging.exception() it and logging.info("next"), both
              records in one write (as a busy program's two records
              arrive together)
"""
import fcntl
import io
import logging
import struct
import sys
import termios
import time

mode = sys.argv[1]


def fail():
    e = ValueError("line one\nline two")
    e.add_note("note a")
    raise e


def unread_bytes(fd):
    """Bytes written to the pipe `fd` that its reader has not read yet."""
    return struct.unpack("i", fcntl.ioctl(fd, termios.FIONREAD, b"\0" * 4))[0]


if mode == "hook":
    fail()
held = io.StringIO()
logging.basicConfig(level=logging.INFO, stream=held if mode == "log-burst" else sys.stderr)
try:
    fail()
except ValueError:
    logging.exception("failed")
if mode == "log-pause":
    deadline = time.monotonic() + 60
    while unread_bytes(2) > 0 and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(0.5)
    print("app goes on", file=sys.stderr, flush=True)
elif mode == "log-burst":
    logging.info("next")
    sys.stderr.write(held.getvalue())
    sys.stderr.flush()
else:
    sys.exit(f"unknown mode {mode}")
