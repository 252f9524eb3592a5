#!/usr/bin/env python3
"""An OTLP/HTTP logs and traces receiver for logmux's tests and benchmark.

It decodes every request with the official OpenTelemetry definitions
(PyPI's opentelemetry-proto; OTLP/JSON through protobuf's json_format, with
the hex trace and span ids OTLP/JSON uses) and writes one JSON line per log
record to --out, each value tagged with its OTLP type, for the Rust tests to
assert on. --answers scripts its first answers ("503:1" is 503 with
Retry-After: 1, "503" without it, "400", "partial:N" rejects N records,
"200"); after them it accepts. --discard accepts without decoding (the
benchmark) and prints the requests, bytes and its own CPU time at SIGTERM.
Spans (a POST to /v1/traces) are written one JSON line each, with
"signal": "traces". The port it listens on is written to --port-file once
it is ready.
--tls-cert/--tls-key serve https; --client-ca requires a client certificate.
SIGUSR1 makes it go away cleanly (an outage without a torn answer): from
then on a request gets its connection closed unanswered, the port is closed,
and the process exits a second later, every answer already due sent.
"""

import argparse
import base64
import gzip
import json
import os
import resource
import signal
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from google.protobuf import json_format
from opentelemetry.proto.collector.logs.v1 import logs_service_pb2 as svc
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2 as tsvc


def typed(v):
    kind = v.WhichOneof("value")
    if kind is None:
        return ["empty", None]
    if kind == "array_value":
        return [kind, [typed(x) for x in v.array_value.values]]
    if kind == "kvlist_value":
        return [kind, {kv.key: typed(kv.value) for kv in v.kvlist_value.values}]
    if kind == "bytes_value":
        return [kind, v.bytes_value.hex()]
    return [kind, getattr(v, kind)]


def attrs(kvs):
    return {kv.key: typed(kv.value) for kv in kvs}


def hex_ids_to_base64(obj):
    """OTLP/JSON writes trace and span ids in hex; json_format wants base64."""
    if isinstance(obj, dict):
        for k, v in obj.items():
            if k in ("traceId", "spanId", "parentSpanId") and isinstance(v, str):
                obj[k] = base64.b64encode(bytes.fromhex(v)).decode()
            else:
                hex_ids_to_base64(v)
    elif isinstance(obj, list):
        for v in obj:
            hex_ids_to_base64(v)


class State:
    def __init__(self, args):
        self.args = args
        self.answers = [a for a in args.answers.split(",") if a]
        self.lock = threading.Lock()
        self.requests = 0
        self.records = 0
        self.out = None if args.discard else open(args.out, "a", buffering=1)
        self.gone = False


def decode(state, headers, body, traces=False):
    if headers.get("Content-Encoding", "") == "gzip":
        body = gzip.decompress(body)
    request = tsvc.ExportTraceServiceRequest() if traces else svc.ExportLogsServiceRequest()
    ctype = headers.get("Content-Type", "")
    if ctype == "application/json":
        obj = json.loads(body)
        hex_ids_to_base64(obj)
        json_format.ParseDict(obj, request)
    elif ctype == "application/x-protobuf":
        request.ParseFromString(body)
    else:
        raise ValueError("unexpected Content-Type " + ctype)
    return request


def records_of(request, n, headers):
    for rl in request.resource_logs:
        res = attrs(rl.resource.attributes)
        for sl in rl.scope_logs:
            for r in sl.log_records:
                yield {
                    "request": n,
                    "content_type": headers.get("Content-Type"),
                    "gzip": headers.get("Content-Encoding") == "gzip",
                    "auth": headers.get("Authorization"),
                    "resource": res,
                    "resource_logs": len(request.resource_logs),
                    "scope": [sl.scope.name, sl.scope.version],
                    "time": r.time_unix_nano,
                    "observed": r.observed_time_unix_nano,
                    "severity_number": r.severity_number,
                    "severity_text": r.severity_text,
                    "body": typed(r.body),
                    "attrs": attrs(r.attributes),
                    "trace_id": r.trace_id.hex(),
                    "span_id": r.span_id.hex(),
                }


def spans_of(request, n, headers):
    for rs in request.resource_spans:
        res = attrs(rs.resource.attributes)
        for ss in rs.scope_spans:
            for s in ss.spans:
                yield {
                    "signal": "traces",
                    "request": n,
                    "content_type": headers.get("Content-Type"),
                    "resource": res,
                    "scope": [ss.scope.name, ss.scope.version],
                    "trace_id": s.trace_id.hex(),
                    "span_id": s.span_id.hex(),
                    "parent_span_id": s.parent_span_id.hex(),
                    "name": s.name,
                    "kind": s.kind,
                    "start": s.start_time_unix_nano,
                    "end": s.end_time_unix_nano,
                    "attrs": attrs(s.attributes),
                    "events": [{"time": e.time_unix_nano, "name": e.name,
                                "attrs": attrs(e.attributes)} for e in s.events],
                    "status": [s.status.code, s.status.message],
                }


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def answer(self, code, body=b"", headers=()):
        self.send_response(code)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self):
        state = self.server.state
        length = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(length)
        with state.lock:
            if state.gone:
                self.close_connection = True
                return
            state.requests += 1
            n = state.requests
            script = state.answers.pop(0) if state.answers else "200"
        code, _, arg = script.partition(":")
        if code != "200" and code != "partial":
            headers = [("Retry-After", arg)] if arg else []
            return self.answer(int(code), b"not now", headers)
        if state.args.discard:
            # The benchmark: accept without decoding (logmux's exit status
            # says whether every event was delivered).
            with state.lock:
                state.records += len(body)
            return self.answer(200, b"", [("Content-Type", self.headers.get("Content-Type"))])
        traces = self.path.rstrip("/").endswith("/v1/traces")
        try:
            request = decode(state, self.headers, body, traces)
        except Exception as e:  # a bad request is the test's finding
            sys.stderr.write(f"receiver: request {n}: {e}\n")
            return self.answer(400, str(e).encode())
        rejected = int(arg) if code == "partial" else 0
        with state.lock:
            if state.gone:
                self.close_connection = True
                return
            items = spans_of if traces else records_of
            for rec in items(request, n, self.headers):
                state.records += 1
                if state.out:
                    state.out.write(json.dumps(rec) + "\n")
        response = tsvc.ExportTraceServiceResponse() if traces else svc.ExportLogsServiceResponse()
        if rejected and traces:
            response.partial_success.rejected_spans = rejected
            response.partial_success.error_message = "rejected by the test"
        elif rejected:
            response.partial_success.rejected_log_records = rejected
            response.partial_success.error_message = "rejected by the test"
        if self.headers.get("Content-Type") == "application/json":
            payload = json_format.MessageToJson(response).encode()
        else:
            payload = response.SerializeToString()
        self.answer(200, payload, [("Content-Type", self.headers.get("Content-Type"))])


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--port-file", required=True)
    p.add_argument("--out", default=os.devnull)
    p.add_argument("--answers", default="")
    p.add_argument("--discard", action="store_true")
    p.add_argument("--tls-cert", help="serve https with this PEM certificate")
    p.add_argument("--tls-key")
    p.add_argument("--client-ca", help="require client certificates from this CA")
    args = p.parse_args()
    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    if args.tls_cert:
        import ssl
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(args.tls_cert, args.tls_key)
        if args.client_ca:
            ctx.verify_mode = ssl.CERT_REQUIRED
            ctx.load_verify_locations(args.client_ca)
        server.socket = ctx.wrap_socket(server.socket, server_side=True)
    server.daemon_threads = True
    server.state = State(args)

    def stop(*_):
        usage = resource.getrusage(resource.RUSAGE_SELF)
        key = "bytes" if args.discard else "records"
        print(json.dumps({"requests": server.state.requests, key: server.state.records,
                          "cpu_s": usage.ru_utime + usage.ru_stime}), flush=True)
        os._exit(0)

    signal.signal(signal.SIGTERM, stop)

    def go_away(*_):
        with server.state.lock:
            server.state.gone = True

        def close():
            server.shutdown()
            server.server_close()
            threading.Event().wait(1)
            os._exit(0)

        threading.Thread(target=close, daemon=True).start()

    signal.signal(signal.SIGUSR1, go_away)
    tmp = args.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write(str(server.server_address[1]))
    os.rename(tmp, args.port_file)
    server.serve_forever()


if __name__ == "__main__":
    main()
