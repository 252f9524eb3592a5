#!/usr/bin/env python3
"""`logmux filter --threads N` on a file, N = 1, 2, ...: runs interleaved
(1, 2, 1, 2, ...), JSON to /dev/null, and prints per N the medians of the
wall time and lines/s, of the CPU time (user + system) and its cost per
line, of the busiest thread's CPU time, and the peak RSS. Each thread's
CPU time is sampled from /proc every 10 ms (its last 10 ms may be missed).

On a machine busy with other work the wall time of a parallel run says
little: the busiest thread's CPU time is the wall time the run would take
on idle cores (the lower bound with enough of them), so `lines/s idle` is
lines over it. The load average is printed before and after.

With PIPE=1 logmux reads the file through a pipe (`cat INPUT | logmux
filter`, as `docker logs web 2>&1 | logmux filter` does); cat's CPU is not
counted, but it shares the machine.

Usage: [PIPE=1] bench/filter_threads.py BIN INPUT LINES RUNS THREADS...
"""
import os
import statistics
import sys
import time

TICK = os.sysconf("SC_CLK_TCK")


def thread_cpu(pid, seen):
    """Adds each thread's CPU seconds so far to `seen`."""
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return
    for tid in tids:
        try:
            with open(f"/proc/{pid}/task/{tid}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()
        # utime and stime: stat's fields 14 and 15.
        seen[tid] = (int(fields[11]) + int(fields[12])) / TICK


def peak_rss(pid):
    """VmHWM in KiB: the peak RSS since exec (ru_maxrss also counts the
    forked Python before it)."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def cat_into_pipe(path):
    """Starts `cat path` writing into a pipe; its pid and the read end."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.dup2(write_end, 1)
        os.close(read_end)
        os.execv("/bin/cat", ["cat", path])
    os.close(write_end)
    return pid, read_end


def run(cmd, pipe_from=None):
    """Wall s, CPU s, busiest thread's CPU s, peak RSS KiB of one run;
    with `pipe_from`, logmux reads that file through a pipe."""
    start = time.monotonic()
    devnull = os.open(os.devnull, os.O_WRONLY)
    cat, stdin = cat_into_pipe(pipe_from) if pipe_from else (None, None)
    pid = os.fork()
    if pid == 0:
        os.dup2(devnull, 1)
        if stdin is not None:
            os.dup2(stdin, 0)
        os.execv(cmd[0], cmd)
    if stdin is not None:
        os.close(stdin)
    seen = {}
    rss = 0
    while True:
        done, status, usage = os.wait4(pid, os.WNOHANG)
        if done:
            break
        thread_cpu(pid, seen)
        rss = max(rss, peak_rss(pid))
        time.sleep(0.01)
    wall = time.monotonic() - start
    os.close(devnull)
    if cat is not None:
        os.waitpid(cat, 0)
    if status != 0:
        sys.exit(f"{' '.join(cmd)}: exit status {status}")
    cpu = usage.ru_utime + usage.ru_stime
    return wall, cpu, max(seen.values(), default=cpu), rss


def main():
    binary, path, lines, runs = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    counts = sys.argv[5:] or ["1", "2"]
    print(f"load average before: {open('/proc/loadavg').read().split()[:3]}")
    results = {n: [] for n in counts}
    piped = os.environ.get("PIPE") == "1"
    print("input: " + ("a pipe from cat" if piped else "the file"))
    for _ in range(runs):
        for n in counts:
            cmd = [binary, "filter", "--output", "json", "--threads", n]
            results[n].append(run(cmd, path) if piped else run(cmd + [path]))
    print(f"load average after:  {open('/proc/loadavg').read().split()[:3]}")
    print(f"{'threads':>7} {'wall s':>7} {'lines/s':>11} {'CPU s':>6} {'µs/line':>7} "
          f"{'busiest s':>9} {'lines/s idle':>12} {'peak RSS':>9}   (medians of {runs}, interleaved)")
    for n in counts:
        wall, cpu, busiest, rss = (statistics.median(r[i] for r in results[n]) for i in range(4))
        rss = max(r[3] for r in results[n])
        print(f"{n:>7} {wall:7.2f} {lines / wall:11,.0f} {cpu:6.2f} {cpu / lines * 1e6:7.2f} "
              f"{busiest:9.2f} {lines / busiest:12,.0f} {rss / 1024:7.1f} MiB")


if __name__ == "__main__":
    main()
