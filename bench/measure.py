#!/usr/bin/env python3
"""Process measurements for bench/run.sh: wall time, a process's own CPU
time, its memory. Each mode prints one JSON object on stdout.

    measure.py time RUNS [--poll] -- CMD...
        Runs CMD RUNS times, stdout and stderr to /dev/null, and waits for
        it to exit. Per run: wall seconds from start to exit; CMD's own CPU
        (user + system of all its threads, not of its children) read from
        /proc/PID/stat while it is a zombie (waitid WNOWAIT), so before it
        is reaped; its children's CPU (what it reaped); with --poll, its
        VmHWM read every 10 ms by a second thread while it runs (VmHWM only
        grows, so the last reading is the peak).

    measure.py drain RUNS BYTES -- CMD...
        For a supervisor that never exits by itself (supervisord): runs CMD
        with stdout to a pipe this script reads, and stops the clock when
        BYTES bytes have come out, that is when the child has written all
        its output and the supervisor has passed it all on; also notes when
        the first byte came. Then reads CMD's own CPU from /proc/PID/stat and
        its VmHWM, sends SIGTERM to its process group and counts any bytes
        that still come (there should be none).

    measure.py idle SECONDS -- CMD...
        Starts CMD (output to /dev/null), waits SECONDS, reads VmRSS and
        VmHWM from /proc/PID/status of CMD itself (not of its children),
        then stops it with SIGTERM.

CPU times come from the kernel in clock ticks (10 ms), so they are good to
about 1 % over a run of a second.
"""
import json
import os
import signal
import statistics
import subprocess
import sys
import threading
import time

TICK = os.sysconf("SC_CLK_TCK")


def stat_cpu(pid: int) -> tuple[float, float]:
    """(own user+system, reaped children's user+system) in seconds."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    # Fields after the command name start at field 3 (state).
    utime, stime, cutime, cstime = (int(x) for x in fields[11:15])
    return (utime + stime) / TICK, (cutime + cstime) / TICK


def status_kib(pid: int) -> dict:
    out = {}
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                key, _, value = line.partition(":")
                if key in ("VmRSS", "VmHWM"):
                    out[key] = int(value.split()[0])
    except OSError:
        pass
    return out


def median_of(runs: list[dict]) -> dict:
    keys = runs[0].keys()
    return {k: statistics.median(r[k] for r in runs) for k in keys if all(k in r for r in runs)}


def time_mode(runs: int, poll: bool, cmd: list[str]) -> dict:
    results = []
    for _ in range(runs):
        t0 = time.perf_counter()
        p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        hwm = [0]
        done = threading.Event()

        def watch() -> None:
            # VmHWM only grows; the last reading before the exit is the peak.
            while not done.wait(0.01):
                hwm[0] = max(hwm[0], status_kib(p.pid).get("VmHWM", 0))

        watcher = threading.Thread(target=watch)
        if poll:
            watcher.start()
        os.waitid(os.P_PID, p.pid, os.WEXITED | os.WNOWAIT)
        wall = time.perf_counter() - t0
        done.set()
        if poll:
            watcher.join()
        own, children = stat_cpu(p.pid)
        code = p.wait()
        run = {"wall": wall, "cpu": own, "children_cpu": children, "exit": code}
        if poll:
            run["hwm_kib"] = hwm[0]
        results.append(run)
    return {"runs": results, "median": median_of(results)}


def drain_mode(runs: int, expected: int, cmd: list[str]) -> dict:
    results = []
    for _ in range(runs):
        t0 = time.perf_counter()
        p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, start_new_session=True)
        fd = p.stdout.fileno()
        got = 0
        first = None
        while got < expected:
            chunk = os.read(fd, 1 << 20)
            if not chunk:
                break
            if first is None:
                first = time.perf_counter() - t0
            got += len(chunk)
        wall = time.perf_counter() - t0
        own, _ = stat_cpu(p.pid)
        hwm = status_kib(p.pid).get("VmHWM", 0)
        os.killpg(p.pid, signal.SIGTERM)
        # Whatever still comes after the expected bytes.
        extra = max(0, got - expected)
        while True:
            chunk = os.read(fd, 1 << 20)
            if not chunk:
                break
            extra += len(chunk)
        p.wait()
        results.append({"wall": wall, "first_byte": first or wall, "cpu": own, "hwm_kib": hwm,
                        "bytes": min(got, expected), "extra_bytes": extra})
    return {"runs": results, "median": median_of(results)}


def idle_mode(seconds: float, cmd: list[str]) -> dict:
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    time.sleep(seconds)
    mem = status_kib(p.pid)
    children = []
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                with open(f"/proc/{pid}/stat") as f:
                    if int(f.read().rsplit(")", 1)[1].split()[1]) == p.pid:
                        children.append(int(pid))
            except OSError:
                pass
    os.killpg(p.pid, signal.SIGTERM)
    try:
        p.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        p.wait()
    return {"rss_kib": mem.get("VmRSS", 0), "hwm_kib": mem.get("VmHWM", 0), "children": len(children)}


def main() -> None:
    args = sys.argv[1:]
    sep = args.index("--")
    head, cmd = args[:sep], args[sep + 1:]
    mode = head[0]
    if mode == "time":
        out = time_mode(int(head[1]), "--poll" in head, cmd)
    elif mode == "drain":
        out = drain_mode(int(head[1]), int(head[2]), cmd)
    elif mode == "idle":
        out = idle_mode(float(head[1]), cmd)
    else:
        sys.exit(f"unknown mode {mode}")
    print(json.dumps(out))


if __name__ == "__main__":
    main()
