#!/usr/bin/python3
"""Checks what the web container (or the host stack) wrote, for tests/docker/e2e.sh.

Reads the container's stdout and stderr as two files (``docker logs C
>out 2>err``, or logmux's own stdout and stderr in the host stack) and
asserts, printing one ``ok``/``not ok`` line per check, exiting 1 if any
failed:

    logcheck.py json OUT ERR
        every line of both is one JSON object, and there is at least one
    logcheck.py count OUT ERR STREAM FORMAT SERVICE URL STATUS N
        exactly N events with that logmux.format and service.name, whose
        url.original is URL and, unless STATUS is "-", whose
        http.response.status_code is STATUS, on STREAM (out or err);
        none of them on the other stream
    logcheck.py traceback OUT ERR SERVICE TYPE N
        exactly N python.traceback events, all from SERVICE on stderr, with
        exception.type TYPE and the whole traceback in exception.stacktrace;
        and no other event holding a traceback's first or last line
    logcheck.py message OUT ERR STREAM SERVICE TEXT N
        exactly N events of SERVICE on STREAM whose message contains TEXT
    logcheck.py least OUT ERR STREAM SERVICE TEXT MIN
        at least MIN such events (for a third party's wording, such as
        certbot's, whose repetitions are not logmux's to decide)
    logcheck.py prefix OUT ERR STREAM FORMAT SERVICE PREFIX STATUS MIN
        at least MIN events as for count, whose url.original starts with PREFIX
    logcheck.py last OUT ERR TEXT
        the last line of ERR contains TEXT
    logcheck.py services OUT ERR NAME...
        every event's service.name is one of NAMES, and each of them has events
    logcheck.py split IN OUT ERR CONTAINER
        what `logmux listen` received (one JSON-lines file): every line is a
        JSON object whose container.name is CONTAINER, and there is at least
        one; writes its events to OUT and ERR by their log.iostream, so that
        the checks above read them as they read a container's two streams
"""
import json
import sys


def load(path):
    """Lines of a file, and the parsed objects of those that are JSON objects."""
    with open(path, encoding='utf-8', errors='replace') as fh:
        lines = fh.read().splitlines()
    events, bad = [], []
    for n, line in enumerate(lines, 1):
        try:
            ev = json.loads(line)
        except ValueError:
            bad.append((n, line))
            continue
        if isinstance(ev, dict):
            events.append(ev)
        else:
            bad.append((n, line))
    return lines, events, bad


def get(ev, dotted):
    for part in dotted.split('.'):
        if not isinstance(ev, dict) or part not in ev:
            return None
        ev = ev[part]
    return ev


failed = 0


def check(ok, what, detail=''):
    global failed
    print('  %s %s%s' % ('ok' if ok else 'not ok', what, '' if ok or not detail else ': ' + detail))
    if not ok:
        failed += 1


def split(in_path, out_path, err_path, container):
    lines, events, bad = load(in_path)
    check(not bad, 'all %d lines received are JSON objects' % len(lines),
          'line %d: %s' % bad[0] if bad else '')
    check(events, 'events were received')
    elsewhere = [e for e in events if get(e, 'container.name') != container]
    check(not elsewhere, 'every event has container.name %s' % container,
          '%d do not, the first: %s' % (len(elsewhere), json.dumps(elsewhere[:1])))
    by_stream = {'stdout': [], 'stderr': []}
    for e in events:
        by_stream.setdefault(str(get(e, 'log.iostream')), []).append(e)
    strays = {k: len(v) for k, v in by_stream.items() if k not in ('stdout', 'stderr')}
    check(not strays, 'every event has log.iostream stdout or stderr', repr(strays))
    for stream, path in (('stdout', out_path), ('stderr', err_path)):
        with open(path, 'w', encoding='utf-8') as fh:
            for e in by_stream[stream]:
                fh.write(json.dumps(e) + '\n')
    return 1 if failed else 0


def main(argv):
    if argv[0] == 'split':
        return split(*argv[1:])
    cmd, out_path, err_path, *rest = argv
    streams = {'out': load(out_path), 'err': load(err_path)}

    if cmd == 'json':
        for name, (lines, events, bad) in streams.items():
            check(not bad, 'std%s: all %d lines are JSON objects' % (name, len(lines)),
                  'line %d: %s' % bad[0] if bad else '')
        check(any(s[0] for s in streams.values()), 'something was written')

    elif cmd == 'count':
        stream, fmt, service, url, status, n = rest
        n = int(n)

        def matching(events):
            return [e for e in events
                    if get(e, 'logmux.format') == fmt and get(e, 'service.name') == service
                    and get(e, 'url.original') == url
                    and (status == '-' or get(e, 'http.response.status_code') == int(status))]

        here = matching(streams[stream][1])
        other = matching(streams['err' if stream == 'out' else 'out'][1])
        check(len(here) == n and not other,
              '%d %s event(s) of %s for %s (status %s) on std%s' % (n, fmt, service, url, status, stream),
              'found %d there and %d on the other stream' % (len(here), len(other)))

    elif cmd == 'prefix':
        stream, fmt, service, prefix, status, least = rest
        hits = [e for e in streams[stream][1]
                if get(e, 'logmux.format') == fmt and get(e, 'service.name') == service
                and str(get(e, 'url.original') or '').startswith(prefix)
                and get(e, 'http.response.status_code') == int(status)]
        check(len(hits) >= int(least),
              '%s events of %s for %s* (status %s) on std%s: %d' % (fmt, service, prefix, status, stream, len(hits)),
              'want at least %s' % least)

    elif cmd == 'traceback':
        service, typ, n = rest
        n = int(n)
        tbs = [e for e in streams['err'][1] if get(e, 'logmux.format') == 'python.traceback']
        wrong = [e for e in streams['out'][1] if get(e, 'logmux.format') == 'python.traceback']
        good = [e for e in tbs if get(e, 'service.name') == service
                and get(e, 'exception.type') == typ
                and str(get(e, 'exception.stacktrace') or '').startswith('Traceback (most recent call last):')
                and str(get(e, 'exception.stacktrace') or '').rstrip().endswith(typ + ': division by zero')]
        check(len(tbs) == n and len(good) == n and not wrong,
              '%d merged python.traceback event(s) of %s (%s) on stderr' % (n, service, typ),
              '%d on stderr (%d whole, from %s), %d on stdout' % (len(tbs), len(good), service, len(wrong)))
        # Nothing of a traceback left outside its event.
        stray = [e for name in ('out', 'err') for e in streams[name][1]
                 if get(e, 'logmux.format') != 'python.traceback'
                 and ('Traceback (most recent call last)' in str(e.get('message', ''))
                      or str(e.get('message', '')).startswith(typ + ':'))]
        check(not stray, 'no traceback line outside its event',
              json.dumps(stray[:1]))

    elif cmd in ('message', 'least'):
        stream, service, text, n = rest
        hits = [e for e in streams[stream][1]
                if get(e, 'service.name') == service and text in str(e.get('message', ''))]
        exact = cmd == 'message'
        check(len(hits) == int(n) if exact else len(hits) >= int(n),
              '%s on std%s says %r (%d time(s))' % (service, stream, text, len(hits)),
              'found %d, want %s%s' % (len(hits), '' if exact else 'at least ', n))

    elif cmd == 'last':
        (text,) = rest
        lines = streams['err'][0]
        last = lines[-1] if lines else ''
        check(text in last, 'the last line of stderr names %s' % text, repr(last))

    elif cmd == 'services':
        seen = {}
        for name in ('out', 'err'):
            for e in streams[name][1]:
                s = get(e, 'service.name')
                seen[s] = seen.get(s, 0) + 1
        want = set(rest)
        check(set(seen) == want, 'the services are exactly %s' % ', '.join(sorted(want)),
              'found %s' % ', '.join('%s (%d)' % (s, n) for s, n in sorted(seen.items(), key=str)))

    else:
        sys.exit('logcheck.py: unknown check %r' % cmd)

    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
