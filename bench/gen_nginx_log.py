#!/usr/bin/env python3
"""Writes a realistic nginx `combined` access log for the benchmark.

Usage: gen_nginx_log.py LINES OUT [WIDTH]

A fixed seed makes every run produce the same file. The mix: mostly 200s,
some 304/404/301, a few 500s; real browser user agents and referers; query
strings on a third of the requests; an IPv6 client now and then. Lines
average about 170 bytes, like a production access log.

With WIDTH, short lines get a `pad=xxx` query parameter so that the lines
average WIDTH bytes (newline included): each line is padded to bring the
running total to WIDTH times the line count, so a long line is made up for
by the next ones. The random choices are the same as without WIDTH.
"""
import random
import sys

AGENTS = [
    "Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/119.0 Safari/537.36",
    "curl/7.88.1",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148",
    "python-requests/2.31.0",
]
PATHS = ["/", "/static/app.js", "/static/style.css", "/api/items", "/api/items/42", "/login/", "/admin/", "/media/logo.png", "/blog/2024/03/hello-world/"]
REFERERS = ["-", "-", "https://example.com/", "https://www.google.com/"]
STATUSES = [200] * 80 + [304] * 8 + [404] * 6 + [301] * 3 + [500] * 2 + [502]
METHODS = ["GET"] * 9 + ["POST"]
MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]


def main() -> None:
    lines, out = int(sys.argv[1]), sys.argv[2]
    width = int(sys.argv[3]) if len(sys.argv) > 3 else 0
    written = 0
    rnd = random.Random(42)
    with open(out, "w", encoding="ascii") as f:
        for i in range(lines):
            sec = i // 2000
            ts = f"{5 + sec // 86400:02d}/{MONTHS[2]}/2024:{sec // 3600 % 24:02d}:{sec // 60 % 60:02d}:{sec % 60:02d} +0100"
            ip = f"2001:db8::{rnd.randrange(1, 0xffff):x}" if rnd.random() < 0.05 else \
                f"{rnd.randrange(1, 255)}.{rnd.randrange(256)}.{rnd.randrange(256)}.{rnd.randrange(1, 255)}"
            path = rnd.choice(PATHS)
            if rnd.random() < 0.33:
                path += f"?page={rnd.randrange(1, 50)}&sort=desc"
            status = rnd.choice(STATUSES)
            size = 0 if status == 304 else rnd.randrange(100, 60000)
            method, referer, agent = rnd.choice(METHODS), rnd.choice(REFERERS), rnd.choice(AGENTS)
            line = (f'{ip} - - [{ts}] "{method} {path} HTTP/1.1" {status} {size} '
                    f'"{referer}" "{agent}"\n')
            short = width * (i + 1) - written - len(line)
            if width and short >= 6:
                path += ("&" if "?" in path else "?") + "pad=" + "x" * (short - 5)
                line = (f'{ip} - - [{ts}] "{method} {path} HTTP/1.1" {status} {size} '
                        f'"{referer}" "{agent}"\n')
            written += len(line)
            f.write(line)


if __name__ == "__main__":
    main()
