#!/usr/bin/env python3
"""Writes N requests as the seed's stack logs them: uWSGI's default request
line, then nginx's `combined` line of the same request three requests later
(as two programs' lines interleave). 20 paths in turn, 500 requests a second,
durations of 1-30 ms; each request from its own client address, so a join
can be checked. For bench/infer.sh.

Usage: python3 bench/gen_request_pairs.py N OUT
"""
import random
import sys
import time

n, out = int(sys.argv[1]), open(sys.argv[2], 'w')
random.seed(1)
paths = ['/', '/healthz', '/big/', '/file/', '/boom/'] + ['/n%02d/' % i for i in range(1, 16)]
status = {'/': 200, '/healthz': 200, '/big/': 200, '/file/': 200, '/boom/': 500}
base = 1796378400.0  # 2026-12-04 10:00:00 UTC
late = []
for i in range(n):
    path = paths[i % len(paths)]
    code = status.get(path, 404)
    start = base + i * 0.002
    took = random.randint(1, 30) / 1000.0
    ip = '10.%d.%d.%d' % (i >> 16 & 255, i >> 8 & 255, i & 255)
    ctime = time.strftime('%a %b %e %H:%M:%S %Y', time.gmtime(start))
    out.write('[pid: 8|app: 0|req: %d/%d] %s () {34 vars in 412 bytes} [%s] GET %s => '
              'generated 12 bytes in %d msecs (HTTP/1.1 %d) 2 headers in 79 bytes '
              '(1 switches on core 0)\n' % (i, i, ip, ctime, path, int(took * 1000), code))
    ended = time.strftime('%d/%b/%Y:%H:%M:%S +0000', time.gmtime(start + took + 0.0005))
    late.append('%s - - [%s] "GET %s HTTP/1.1" %d 12 "-" "bench/1"\n' % (ip, ended, path, code))
    if len(late) > 3:
        out.write(late.pop(0))
out.writelines(late)
