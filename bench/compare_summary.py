#!/usr/bin/env python3
"""The one table of bench/compare.sh, from what it left in DIR.

Usage: compare_summary.py DIR

Rates are per line (a syslog message is one line); MB/s counts the input's
bytes; CPU is the receiver's or supervisor's own (all its threads), over
the lines it delivered; peak RSS is its VmHWM. Medians over the runs.
"""
import json
import os
import statistics
import sys

d = sys.argv[1]
env = dict(l.rstrip("\n").split("=", 1) for l in open(os.path.join(d, "machine.env")) if "=" in l)
count, lines = int(env["count"]), int(env["lines"])
rows = []


def row(door, program, workload, n, secs, cpu, rss_mib, nbytes, lost="-"):
    rate = n / secs if secs > 0 else 0
    rows.append((door, program, workload, f"{rate:,.0f}", f"{rate * nbytes / n / 1e6:.0f}" if n else "-",
                 f"{cpu / max(n, 1) * 1e6:.2f}", f"{rss_mib:.1f}", lost))


# listen: bench/listen.sh's results.tsv (run proto kind got secs rate cpu hwm)
avg = int(open(os.path.join(d, "listen.avg")).read())
tsv = [l.rstrip("\n").split("\t") for l in open(os.path.join(d, "listen.tsv")) if l.strip()]
names = {"logmux": "logmux listen (JSON, parsed)", "rsyslog-text": "rsyslog (text)",
         "rsyslog-json": "rsyslog (JSON template)"}
for proto in ("tcp", "udp"):
    for kind in ("logmux", "rsyslog-text", "rsyslog-json"):
        sel = [r for r in tsv if r[1] == proto and r[2] == kind]
        if not sel:
            continue
        med = lambda i: statistics.median(float(r[i]) for r in sel)
        got = int(med(3))
        row("listen", names[kind], f"syslog {proto.upper()}, {count:,} msgs", got, med(4), med(6), med(7),
            got * avg, f"{count - got:,}")

# run and filter: bench/measure.py's JSON (wall, cpu, hwm_kib)
nginx_bytes = int(open(os.path.join(d, "nginx.bytes")).read())
for door, program, name, workload in (
    ("run", "logmux run (JSON, parsed)", "run-logmux", "child writes nginx lines"),
    ("run", "supervisord (text)", "run-supervisord", "child writes nginx lines"),
    ("run", "honcho (text, prefixed)", "run-honcho", "child writes nginx lines"),
    ("filter", "logmux filter --format nginx.access", "filter-forced", "nginx file, 1 core"),
    ("filter", "logmux filter (auto-detect)", "filter-auto", "nginx file, 1 core"),
):
    path = os.path.join(d, name + ".json")
    if not os.path.exists(path):
        continue
    m = json.load(open(path))["median"]
    row(door, program, f"{workload}, {lines:,}", lines, m["wall"], m["cpu"], m.get("hwm_kib", 0) / 1024,
        nginx_bytes)

print(f"Machine: {env['cpu']}, {env['cores']} cores, load average {env['load']} at the start; "
      f"median of {env['runs']} runs; logmux {env['logmux']}, rsyslog {env['rsyslog']}, "
      f"supervisord {env['supervisord']}, honcho {env['honcho'] or 'left out'}.\n")
print("| door | program | workload | lines/s | MB/s | CPU µs/line | peak RSS MiB | lost |")
print("|---|---|---|---:|---:|---:|---:|---:|")
for r in rows:
    print("| " + " | ".join(r) + " |")
vector = env.get("vector") or ""
print()
if vector:
    print(f"Vector {vector} was found on PATH but is not run by this script yet.")
else:
    print("Vector: not measured. It is not in Debian's archive and has no binary on crates.io, "
          "and building it from source is too big for this machine (2 cores).")
print("CPU is the program's own (all threads; for run, not the child's); MB/s counts input bytes. "
      "rsyslog and supervisord/honcho pass the text on without parsing it; logmux parses every line into JSON.")
