#!/usr/bin/env python3
"""Writes N requests as the image logs them (docker/logmux.toml), for
bench/traces.sh's `run` mix: nginx's access lines in the image's
`log_format logmux` (request id, traceparent, timings, $msec) to OUT.nginx, and
uWSGI's request lines in the image's `log-format` (docker/uwsgi.ini: the
default line's fields, micros, the request id, tmicros) to OUT.uwsgi.
20 paths in turn, 500 requests a second, uWSGI taking 1-30 ms of nginx's
time; every 10th request carries a client traceparent (then nginx's id is
its trace id, as the image's `map` does), every 50th is a 500, every 100th
has two upstream tries (a 502 then a 200). With --no-ids every id is `-`
(nginx's `$trace_id` and uWSGI's var unset): the same bytes' worth of work
without a trace id, for the cost of stamping.

Usage: python3 bench/gen_traced_mix.py [--no-ids] N OUT
"""
import random
import sys
import time

args = sys.argv[1:]
no_ids = args[0] == '--no-ids'
if no_ids:
    args = args[1:]
n, out = int(args[0]), args[1]
random.seed(1)
paths = ['/', '/healthz', '/big/', '/file/', '/orders?id=7&tenant=acme'] + ['/n%02d/' % i for i in range(1, 16)]
base = 1796378400.0  # 2026-12-04 10:00:00 UTC
with open(out + '.nginx', 'w') as ng, open(out + '.uwsgi', 'w') as uw:
    for i in range(n):
        path = paths[i % len(paths)]
        code = 500 if i % 50 == 49 else 200
        start = base + i * 0.002
        took = random.randint(1, 30) / 1000.0
        ip = '10.%d.%d.%d' % (i >> 16 & 255, i >> 8 & 255, i & 255)
        rid = '%032x' % random.getrandbits(128)
        tp = '-'
        if i % 10 == 3:
            tp = '00-%s-%016x-01' % (rid, random.getrandbits(64) | 1)
        if no_ids:
            rid, tp = '-', '-'
        micros = int(took * 1e6)
        ctime = time.strftime('%a %b %e %H:%M:%S %Y', time.gmtime(start))
        uw.write('[pid: 8|wid: 1] %s (-) {34 vars in 412 bytes} [%s] GET %s => generated 12 bytes '
                 'in %d micros (HTTP/1.1 %d) 2 headers in 79 bytes (1 switches on core 0) '
                 'request_id=%s start=%d\n' % (ip, ctime, path, micros, code, rid, int(start * 1e6)))
        urt, us, rt = '%.3f' % took, '%d' % code, took + 0.001
        if i % 100 == 77:
            urt, us, rt = '0.004, %.3f' % took, '502, %d' % code, took + 0.005
        ended = time.strftime('%d/%b/%Y:%H:%M:%S +0000', time.gmtime(start + rt))
        # The image's format ends in t=$msec: without it a line does not
        # match the format and is read as `combined` (no id, no timings).
        ng.write('%s - - [%s] "GET %s HTTP/1.1" %d 12 "-" "bench/1" rt=%.3f urt="%s" us="%s" '
                 'id=%s tp="%s" t=%.3f\n' % (ip, ended, path, code, rt, urt, us, rid, tp, start + rt))
