#!/usr/bin/env python3
"""Turns bench/run.sh's raw results (target/bench/run/*.json) into the
markdown summary it prints and writes to target/bench/run-summary.md.

    run_summary.py DIR
"""
import json
import os
import sys

d = sys.argv[1]
env = dict(line.rstrip("\n").split("=", 1) for line in open(os.path.join(d, "machine.env")))
lines = int(env["lines"])


def load(name: str):
    path = os.path.join(d, name + ".json")
    if not os.path.exists(path):
        return None
    data = json.load(open(path))
    return data.get("median", data)


def mib(kib) -> str:
    return f"{kib / 1024:.1f} MiB" if kib else "–"


def rate(n: float, seconds: float) -> str:
    return f"{n / seconds:,.0f}"


out = []
w = out.append
w(f"Machine: {env['nproc']} cores ({env['cpu']}), {env['mem_gib']} GiB RAM, Linux {env['kernel']}; "
  f"1-minute load average at the start: {env['load']}. logmux {env['logmux']} (release build), "
  f"supervisord {env['supervisord']}, honcho {env['honcho'] or '–'}, Python {env['python']}. "
  f"Throughput and the burst: median of {env['runs']} runs; latency and idle memory: one run each.")
w("")
w(f"Throughput: one child writes {lines:,} lines of 200 bytes in raw 4 KiB blocks; "
  "output to `/dev/null` (logmux: JSON).")
w("")
w("| workload | supervisor | wall | lines/s | supervisor CPU per line | supervisor peak RSS |")
w("|---|---|---|---|---|---|")
names = {
    "text": "text lines, `format = \"text\"`",
    "nginx": "nginx `combined`, `format = \"nginx.access\"`",
}
for wl in ("text", "nginx"):
    lm = load(f"logmux-{wl}")
    if lm:
        w(f"| {names[wl]} | `logmux run` | {lm['wall']:.3f} s | **{rate(lines, lm['wall'])}** | "
          f"**{lm['cpu'] / lines * 1e6:.2f} µs** | {mib(lm.get('hwm_kib'))} |")
    sv = load(f"supervisord-{wl}")
    if sv:
        steady = sv["wall"] - sv["first_byte"]
        w(f"| | supervisord (raw copy, no parsing) | {sv['wall']:.3f} s ({sv['first_byte']:.2f} s to the first byte) | "
          f"{rate(lines, sv['wall'])} ({rate(lines, steady)} after the first byte) | "
          f"{sv['cpu'] / lines * 1e6:.2f} µs | {mib(sv.get('hwm_kib'))} |")
    hn = load(f"honcho-{wl}")
    if hn:
        # honcho reads each program's pipe in a process of its own: count
        # all its processes (the writer too, about 0.1 µs a line).
        both = hn["cpu"] + hn["children_cpu"]
        w(f"| | honcho (`time name.1 \\| ` prefix) | {hn['wall']:.3f} s | {rate(lines, hn['wall'])} | "
          f"{both / lines * 1e6:.1f} µs (2 processes + the writer) | – |")
parts = []
for wl in ("text", "nginx"):
    dn, pp = load(f"writer-{wl}-devnull"), load(f"writer-{wl}-pipe")
    if dn and pp:
        parts.append(f"{wl}: {dn['wall']:.3f} s to `/dev/null`, {pp['wall']:.3f} s through a pipe to `cat` "
                     f"({rate(lines, pp['wall'])} lines/s)")
if parts:
    w("")
    w("The writer alone (Python, one `os.write` per 4 KiB block): " + "; ".join(parts) + ".")

w("")
w(f"Latency: {int(env['lat_rate']):,} lines/s for {env['lat_seconds']} s, one `write()` per line, "
  "write time in the line; receive time taken by the reader after each `read()` of the supervisor's stdout.")
w("")
w("| path | lines | p50 | p90 | p99 | p99.9 | max |")
w("|---|---|---|---|---|---|---|")
labels = [("pipe", "direct pipe, no supervisor (the floor)"), ("logmux", "`logmux run`, `text`, JSON"),
          ("supervisord", "supervisord"), ("honcho", "honcho")]
for key, label in labels:
    r = load(f"latency-{key}")
    if not r:
        continue
    lost = f" ({r['lost']} lost)" if r["lost"] else ""

    def us(v: float) -> str:
        return f"{v / 1000:.2f} ms" if v >= 1000 else f"{v:.0f} µs"

    bold = "**" if key == "logmux" else ""
    w(f"| {label} | {r['count']:,}{lost} | {us(r['p50_us'])} | {us(r['p90_us'])} | "
      f"{bold}{us(r['p99_us'])}{bold} | {us(r['p999_us'])} | {us(r['max_us'])} |")

w("")
w("Memory (the supervisor's own process; children not counted):")
w("")
w("| | `logmux run` | supervisord | honcho |")
w("|---|---|---|---|")
il, isv, ih = load("idle-logmux"), load("idle-supervisord"), load("idle-honcho")


def cell(r, key):
    return mib(r[key]) if r else "–"


w(f"| idle with 2 × `sleep 3600`, VmRSS after 2 s | **{cell(il, 'rss_kib')}** | {cell(isv, 'rss_kib')} | {cell(ih, 'rss_kib')} |")
w(f"| same, VmHWM | {cell(il, 'hwm_kib')} | {cell(isv, 'hwm_kib')} | {cell(ih, 'hwm_kib')} |")
lt, st = load("logmux-text"), load("supervisord-text")
w(f"| peak (VmHWM), {lines:,}-line text run above | {mib(lt and lt.get('hwm_kib'))} | {mib(st and st.get('hwm_kib'))} | – |")
b = load("burst-logmux")
if b:
    w(f"| peak (VmHWM), 4 programs × {lines // 2:,} lines at full speed | **{mib(b.get('hwm_kib'))}** "
      f"({rate(lines * 2, b['wall'])} lines/s together, {b['cpu'] / (lines * 2) * 1e6:.2f} µs CPU a line) | – | – |")
print("\n".join(out))
