#!/usr/bin/env python3
"""The AWS Lambda Runtime API (2018-06-01) on loopback, for the rotation function's tests.

The function under test runs as a plain process with AWS_LAMBDA_RUNTIME_API=127.0.0.1:PORT and talks to
this server exactly as it would to Lambda:

  GET  /2018-06-01/runtime/invocation/next            long-poll; 200 with the next event as the body and
                                                      the Lambda-Runtime-* headers
  POST /2018-06-01/runtime/invocation/{id}/response   202; the invocation's result
  POST /2018-06-01/runtime/invocation/{id}/error      202; body {"errorMessage", "errorType"}
  POST /2018-06-01/runtime/init/error                 202; recorded, and fails the invocations waiting
                                                      to be delivered (the process is gone)

Control API (on the same port), for the test:

  POST /__test/invoke?timeout_ms=N   body: the event (JSON). Queues it and answers, once the function has
                                     posted its response or error (or N ms, default 120000, have passed),
                                     200 with {"status": "ok", "response": <JSON, or the raw text>},
                                     {"status": "error", "error": <the posted error JSON>} or
                                     {"status": "timeout"}. Invocations are handed to the function one at
                                     a time, in the order they arrive; an invocation's N ms start when it
                                     reaches the head of that queue, and its Lambda-Runtime-Deadline-Ms is
                                     that moment + N.
  GET  /__test/stats                 {"started_at_ms", "first_poll_at_ms" (null before the first
                                     GET .../next), "polls" (GET .../next requests received), "init_error"
                                     (the posted JSON, or null), "invocations" (events handed to the
                                     function)}

A response or error posted for an invocation that already timed out is accepted (202) and ignored; one
for a request id this server never issued is answered 400, as Lambda does.

Usage: lambda_runtime.py [--upstream URL] [--port P]  (prints its port on stdout; exits when stdin
closes). --upstream is accepted for the test launcher's sake and ignored.
"""
import argparse
import json
import os
import select
import signal
import socket
import sys
import threading
import time
import urllib.parse
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

FUNCTION_ARN = "arn:aws:lambda:us-east-1:123456789012:function:sesctl-rotation"
DEFAULT_TIMEOUT_MS = 120_000
PREFIX = "/2018-06-01/runtime"


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def trace_id() -> str:
    return f"Root=1-{int(time.time()):08x}-{uuid.uuid4().hex[:24]};Parent={uuid.uuid4().hex[:16]};Sampled=0"


def parse_json(body: bytes):
    """The body as JSON, or as text when it is not JSON."""
    text = body.decode("utf-8", "replace")
    try:
        return json.loads(text)
    except ValueError:
        return text


class Invocation:
    def __init__(self, event: bytes, timeout_ms: int):
        self.event = event
        self.timeout_ms = timeout_ms
        self.request_id = str(uuid.uuid4())
        self.deadline_ms = None  # set when it reaches the head of the queue
        self.delivered = False
        self.outcome = None  # the control answer, once known


class State:
    def __init__(self):
        self.cond = threading.Condition()
        self.queue = []  # unfinished invocations, oldest first; the head is the one being served
        self.issued = set()  # every request id handed out
        self.started_at_ms = now_ms()
        self.first_poll_at_ms = None
        self.polls = 0
        self.init_error = None
        self.invocations = 0

    # All methods below are called with self.cond held.

    def start_head(self):
        if self.queue and self.queue[0].deadline_ms is None:
            self.queue[0].deadline_ms = now_ms() + self.queue[0].timeout_ms
        self.cond.notify_all()

    def finish(self, inv: Invocation, outcome: dict):
        if inv.outcome is None:
            inv.outcome = outcome
        if inv in self.queue:
            self.queue.remove(inv)
        self.start_head()

    def deliverable(self):
        head = self.queue[0] if self.queue else None
        if head and head.deadline_ms is not None and not head.delivered and head.outcome is None:
            return head
        return None

    def find(self, request_id: str):
        for inv in self.queue:
            if inv.request_id == request_id and inv.delivered:
                return inv
        return None


STATE = State()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    wbufsize = 1 << 16
    disable_nagle_algorithm = True

    def log_message(self, *args):
        pass

    def _reply(self, status: int, body=None, headers=None):
        data = b"" if body is None else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)
        self.wfile.flush()

    def _reply_raw(self, status: int, data: bytes, headers: dict):
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for k, v in headers.items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)
        self.wfile.flush()

    def _body(self) -> bytes:
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    # Trailers (the streaming runtime sends some), up to the empty line.
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _peer_closed(self) -> bool:
        """Whether the client has gone away (EOF or an error on its socket), without consuming data."""
        try:
            readable, _, _ = select.select([self.connection], [], [], 0)
            if not readable:
                return False
            return self.connection.recv(1, socket.MSG_PEEK) == b""
        except (OSError, ValueError):
            return True

    def _handle(self):
        try:
            self._route()
        except (BrokenPipeError, ConnectionResetError, ConnectionAbortedError):
            self.close_connection = True

    do_GET = _handle
    do_POST = _handle

    def _route(self):
        url = urllib.parse.urlsplit(self.path)
        path = url.path
        body = self._body()
        parts = path.strip("/").split("/")
        if self.command == "GET" and path == PREFIX + "/invocation/next":
            return self._next()
        if self.command == "POST" and path == PREFIX + "/init/error":
            return self._init_error(body)
        if (self.command == "POST" and path.startswith(PREFIX + "/invocation/") and len(parts) == 5
                and parts[4] in ("response", "error")):
            return self._result(parts[3], parts[4], body)
        if self.command == "POST" and path == "/__test/invoke":
            return self._invoke(url.query, body)
        if self.command == "GET" and path == "/__test/stats":
            return self._stats()
        self._reply(404, {"errorMessage": f"no such endpoint: {self.command} {path}",
                          "errorType": "NotFound"})

    def _next(self):
        with STATE.cond:
            STATE.polls += 1
            if STATE.first_poll_at_ms is None:
                STATE.first_poll_at_ms = now_ms()
            while True:
                inv = STATE.deliverable()
                if inv is not None:
                    break
                STATE.cond.wait(0.2)
                if self._peer_closed():
                    self.close_connection = True
                    return
            inv.delivered = True
            STATE.invocations += 1
            STATE.issued.add(inv.request_id)
            headers = {
                "Lambda-Runtime-Aws-Request-Id": inv.request_id,
                "Lambda-Runtime-Deadline-Ms": str(inv.deadline_ms),
                "Lambda-Runtime-Invoked-Function-Arn": FUNCTION_ARN,
                "Lambda-Runtime-Trace-Id": trace_id(),
            }
        try:
            self._reply_raw(200, inv.event, headers)
        except OSError:
            # The poller went away between the check and the write: hand the event to the next poll.
            with STATE.cond:
                if inv.outcome is None and inv in STATE.queue:
                    inv.delivered = False
                    STATE.invocations -= 1
                    STATE.cond.notify_all()
            raise

    def _result(self, request_id: str, kind: str, body: bytes):
        with STATE.cond:
            inv = STATE.find(request_id)
            if inv is None and request_id not in STATE.issued:
                known = False
            else:
                known = True
                if inv is not None:
                    if kind == "response":
                        outcome = {"status": "ok", "response": parse_json(body)}
                    else:
                        outcome = {"status": "error", "error": parse_json(body)}
                    STATE.finish(inv, outcome)
        if not known:
            return self._reply(400, {"errorMessage": f"unknown request id {request_id}",
                                     "errorType": "InvalidRequestID"})
        self._reply(202, {"status": "OK"})

    def _init_error(self, body: bytes):
        error = parse_json(body)
        with STATE.cond:
            STATE.init_error = error
            for inv in list(STATE.queue):
                if not inv.delivered:
                    STATE.finish(inv, {"status": "error", "error": error})
        self._reply(202, {"status": "OK"})

    def _invoke(self, query: str, body: bytes):
        fields = urllib.parse.parse_qs(query)
        try:
            timeout_ms = int(fields.get("timeout_ms", [DEFAULT_TIMEOUT_MS])[0])
            if timeout_ms <= 0:
                raise ValueError
        except ValueError:
            return self._reply(400, {"errorMessage": "timeout_ms must be a positive integer",
                                     "errorType": "InvalidParameter"})
        try:
            json.loads(body.decode("utf-8"))
        except ValueError:
            return self._reply(400, {"errorMessage": "the event must be JSON",
                                     "errorType": "InvalidRequestContent"})
        inv = Invocation(body, timeout_ms)
        with STATE.cond:
            STATE.queue.append(inv)
            STATE.start_head()
            while inv.outcome is None:
                if inv.deadline_ms is not None and now_ms() >= inv.deadline_ms:
                    STATE.finish(inv, {"status": "timeout"})
                    break
                wait = 0.2
                if inv.deadline_ms is not None:
                    wait = min(wait, max(0.0, (inv.deadline_ms - now_ms()) / 1000))
                STATE.cond.wait(wait)
                if not inv.delivered and inv.outcome is None and self._peer_closed():
                    # The test gave up before the function saw the event: withdraw it.
                    STATE.finish(inv, {"status": "abandoned"})
                    self.close_connection = True
                    return
            outcome = inv.outcome
        self._reply(200, outcome)

    def _stats(self):
        with STATE.cond:
            stats = {
                "started_at_ms": STATE.started_at_ms,
                "first_poll_at_ms": STATE.first_poll_at_ms,
                "polls": STATE.polls,
                "init_error": STATE.init_error,
                "invocations": STATE.invocations,
            }
        self._reply(200, stats)


class Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        # A client that disconnects is not worth a traceback; anything else goes to stderr.
        if isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            return
        super().handle_error(request, client_address)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--upstream", help="ignored")
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    server = Server(("127.0.0.1", args.port), Handler)

    def watch_stdin():
        try:
            while sys.stdin.buffer.read(4096):
                pass
        except (OSError, ValueError):
            pass
        server.shutdown()

    threading.Thread(target=watch_stdin, daemon=True).start()
    print(server.server_address[1], flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    server.server_close()
    return 0


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    sys.exit(main())
