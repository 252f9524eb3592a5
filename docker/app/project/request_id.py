"""The request's id on every log record of the request (issue 18).

nginx makes one id per request (the trace id of the client's ``traceparent``,
else its ``$request_id``) and passes it to uWSGI as ``HTTP_X_REQUEST_ID``.
``RequestIdMiddleware`` keeps it in a context variable while the request is
handled; ``RequestIdFilter``, on the logging handler, writes it into each
record as ``record.request_id`` (``-`` outside a request), so a formatter can
show it with ``%(request_id)s``. ``django.request`` records (``Not Found``,
``Internal Server Error`` with its traceback) carry the request itself, which
covers the responses Django logs after the middleware has returned.
Copy this file into your own project: see docs/django.md.
"""
import contextvars
import logging

_request_id = contextvars.ContextVar('request_id', default='-')

#: The WSGI environ key nginx's ``uwsgi_param HTTP_X_REQUEST_ID`` sets.
ENVIRON_KEY = 'HTTP_X_REQUEST_ID'


def _id_of(request):
    return request.META.get(ENVIRON_KEY) or '-'


class RequestIdMiddleware:
    """Put it first in MIDDLEWARE, so every record of the request has the id."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        token = _request_id.set(_id_of(request))
        try:
            return self.get_response(request)
        finally:
            _request_id.reset(token)


class RequestIdFilter(logging.Filter):
    """Sets ``record.request_id``; never drops a record."""

    def filter(self, record):
        request = getattr(record, 'request', None)
        meta = getattr(request, 'META', None)
        if isinstance(meta, dict) and meta.get(ENVIRON_KEY):
            record.request_id = meta[ENVIRON_KEY]
        elif not hasattr(record, 'request_id'):
            record.request_id = _request_id.get()
        return True
