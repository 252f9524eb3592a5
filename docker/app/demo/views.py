"""Views that make the app write the kinds of log lines logmux must parse."""
import json
import logging
import sys
import time

from django.http import FileResponse, HttpResponse
from django.views.decorators.csrf import csrf_exempt

log = logging.getLogger('demo')


def index(request):
    return HttpResponse('hello from the demo app\n', content_type='text/plain')


def healthz(request):
    # For health probes through nginx: a 200 proves nginx reaches uWSGI
    # and Django answers; no database, no log line of its own.
    return HttpResponse('ok\n', content_type='text/plain')


def _divide(a, b):
    return a / b


def boom(request):
    # ZeroDivisionError -> 500, logged by django.request with a traceback.
    return HttpResponse('%s\n' % _divide(1, 0), content_type='text/plain')


def chain(request):
    # Implicit chaining: "During handling of the above exception, ..."
    settings = {}
    try:
        port = settings['port']
    except KeyError:
        port = int('not-a-port')
    return HttpResponse('%s\n' % port, content_type='text/plain')


class ConfigError(Exception):
    pass


def cause(request):
    # Explicit chaining: "The above exception was the direct cause of ..."
    try:
        json.loads('{broken')
    except ValueError as exc:
        raise ConfigError('cannot read the demo config') from exc
    return HttpResponse('unreachable\n', content_type='text/plain')


def warn(request):
    log.warning('demo warning: disk almost full (%d%% used)', 97)
    print('print to stdout from /warn/', flush=True)
    print('print to stderr from /warn/', file=sys.stderr, flush=True)
    return HttpResponse('warned\n', content_type='text/plain')


def stock(request):
    # A warning through the app's own logger and nothing else: logmux reads
    # it as WARN with log.logger "demo.stock" and the request's trace id.
    logging.getLogger('demo.stock').warning('stock low: %d items left', 3)
    return HttpResponse('3 left\n', content_type='text/plain')


def slow(request):
    time.sleep(1.2)
    return HttpResponse('slow\n' * 20000, content_type='text/plain')


def big(request):
    line = 'x' * 99 + '\n'
    return HttpResponse(line * 1024, content_type='text/plain')


def json_line(request):
    sys.stderr.write(json.dumps({'level': 'warning', 'msg': 'from app', 'user_id': 42},
                                separators=(',', ':')) + '\n')
    sys.stderr.flush()
    return HttpResponse('{"ok":true}\n', content_type='application/json')


@csrf_exempt
def echo(request):
    body = request.body
    return HttpResponse('%s %d bytes\n' % (request.method, len(body)), content_type='text/plain')


def file_view(request):
    # FileResponse uses wsgi.file_wrapper: uWSGI logs "via sendfile()"
    # (or "via offload()" when --offload-threads is set).
    return FileResponse(open(__file__, 'rb'), content_type='text/plain')
