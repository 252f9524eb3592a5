#!/usr/bin/env python3
"""One run of the disk spool benchmark (bench/spool.sh runs it 3 times).

    spool_bench.py BIN INPUT LINES WORKDIR

Three phases, each `logmux filter --config C --sink s INPUT`, the sink a
syslog TCP sink (LF framing, the original line as the message) with
`buffer = { type = "disk", sync = "batch" }` in WORKDIR/spool:

  write   no receiver: every event goes to the spool. The clock stops at
          the spool's last growth; rate = spool bytes / time. logmux is
          then killed (SIGKILL): the spool stays for the next phase.
  replay  a receiver (in this script: reads and counts newlines) comes up
          and logmux starts on the same spool with empty input: the clock
          runs until the receiver has every line; rate = spool bytes / time.
  live    a fresh spool, the receiver up from the start: INPUT passes
          through the spool to the receiver; rate = spool bytes written
          (the write phase's figure) / time until the last line came.
  memory  the same as live with the memory queue alone (no `buffer`), for
          comparison: what the spool costs when the receiver is up.

For each: the rate in MB/s (10^6 bytes), and logmux's peak RSS (VmHWM,
polled every 10 ms). Prints one JSON object.
"""
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time

bin_, input_, lines, work = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]


def spool_bytes(spool):
    try:
        return sum(e.stat().st_size for e in os.scandir(spool) if e.name.endswith(".seg"))
    except FileNotFoundError:
        return 0


def vmhwm(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except (FileNotFoundError, ProcessLookupError):
        pass
    return 0


class Receiver:
    """Counts the newlines of every connection on PORT."""

    def __init__(self, port):
        self.count = 0
        self.lock = threading.Lock()
        self.srv = socket.socket()
        self.srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.srv.bind(("127.0.0.1", port))
        self.srv.listen(16)
        threading.Thread(target=self.accept, daemon=True).start()

    def accept(self):
        while True:
            try:
                conn, _ = self.srv.accept()
            except OSError:
                return
            threading.Thread(target=self.read, args=(conn,), daemon=True).start()

    def read(self, conn):
        while True:
            data = conn.recv(1 << 20)
            if not data:
                return
            n = data.count(b"\n")
            with self.lock:
                self.count += n


def config(port, spool):
    """The sink, spooled to `spool`; None: the memory queue alone."""
    path = os.path.join(work, "spool.toml")
    buffer = f'buffer = {{ type = "disk", path = "{spool}", sync = "batch" }}' if spool else ""
    with open(path, "w") as f:
        f.write(f"""[sink.s]
type = "syslog"
address = "tcp://127.0.0.1:{port}"
framing = "lf"
{buffer}
""")
    return path


def start(cfg, stdin_path):
    stdin = open(stdin_path, "rb")
    return subprocess.Popen(
        [bin_, "filter", "--config", cfg, "--sink", "s", "--format", "nginx.access"],
        stdin=stdin, stdout=subprocess.DEVNULL, stderr=open(os.path.join(work, "stderr.log"), "ab"))


def watch(proc, done, timeout=120):
    """Polls until done() or the timeout; returns (seconds, peak RSS KiB)."""
    t0 = time.monotonic()
    peak = 0
    while not done() and time.monotonic() - t0 < timeout:
        peak = max(peak, vmhwm(proc.pid))
        time.sleep(0.01)
    return time.monotonic() - t0, max(peak, vmhwm(proc.pid))


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def phase_write(port, spool):
    cfg = config(port, spool)
    proc = start(cfg, input_)
    t0 = time.monotonic()
    last = [0, t0]
    peak = 0
    while time.monotonic() - t0 < 120:
        peak = max(peak, vmhwm(proc.pid))
        size = spool_bytes(spool)
        now = time.monotonic()
        if size != last[0]:
            last = [size, now]
        elif size > 0 and now - last[1] > 1.0:
            break
        time.sleep(0.005)
    peak = max(peak, vmhwm(proc.pid))
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    return {"bytes": last[0], "seconds": last[1] - t0, "rss_kib": peak}


def main():
    spool = os.path.join(work, "spool")
    shutil.rmtree(spool, ignore_errors=True)
    port = free_port()
    w = phase_write(port, spool)
    rx = Receiver(port)
    proc = start(config(port, spool), "/dev/null")
    secs, rss = watch(proc, lambda: rx.count >= lines)
    proc.wait()
    r = {"seconds": secs, "rss_kib": rss, "received": rx.count}
    shutil.rmtree(spool, ignore_errors=True)
    rx.count = 0
    proc = start(config(port, spool), input_)
    secs, rss2 = watch(proc, lambda: rx.count >= lines)
    proc.wait()
    live = {"seconds": secs, "rss_kib": rss2, "received": rx.count}
    rx.count = 0
    proc = start(config(port, None), input_)
    secs, _ = watch(proc, lambda: rx.count >= lines)
    proc.wait()
    memory = {"seconds": secs, "received": rx.count}
    mb = w["bytes"] / 1e6
    print(json.dumps({
        "spool_mb": round(mb, 1),
        "write_mb_s": round(mb / w["seconds"], 1),
        "replay_mb_s": round(mb / r["seconds"], 1),
        "live_mb_s": round(mb / live["seconds"], 1),
        "memory_live_mb_s": round(mb / memory["seconds"], 1),
        "memory_received": memory["received"],
        "replayed": r["received"],
        "live_received": live["received"],
        "rss_max_kib": max(w["rss_kib"], r["rss_kib"], live["rss_kib"]),
        "rss_kib": {"write": w["rss_kib"], "replay": r["rss_kib"], "live": live["rss_kib"]},
    }))


main()
