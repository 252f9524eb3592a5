#!/bin/sh
# Known lines for the syslog sink tests (tests/run_syslog_sink.rs): an
# nginx access line (a 500: ERROR), a line with leading spaces, a Python
# traceback (one event), a UTF-8 line, a JSON line whose values need SD
# escaping; and on stderr a line whose own level is INFO.
line() { printf '%s\n' "$1"; }
line '127.0.0.1 - - [25/Nov/2026:19:39:25 +0000] "GET /boom/ HTTP/1.1" 500 145 "-" "curl/7.88.1"'
line '    leading spaces kept'
line 'Traceback (most recent call last):'
line '  File "/app/x.py", line 3, in <module>'
line '    1/0'
line 'ZeroDivisionError: division by zero'
line 'héllo wörld ✓ 日本'
line '{"level":"warning","msg":"cache miss","key":"a]b\"c\\d"}'
line 'INFO: worker ready' >&2
