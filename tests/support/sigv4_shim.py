#!/usr/bin/env python3
"""A reverse proxy in front of a moto server that enforces IAM, for sesctl's least-privilege tests.

moto checks a request's SigV4 signature by recomputing it, but in server mode it recomputes it from
the form parameters it has already parsed, re-encoded the way botocore encodes them (a space becomes
`+`), not from the bytes that arrived. The Rust SDK encodes a space as `%20`, so every IAM (query
protocol) request with a space in a parameter — iam:CreatePolicy's document and description, a tag
value — fails moto's signature check although it was signed correctly.

This proxy removes that difference and nothing else: for a form-encoded request signed with a key it
knows, it re-encodes the body as botocore would and signs it again with the same key, region and
service, then forwards it. moto still resolves the key to its user and judges the action against that
user's policies. Requests signed with a key it does not know (and JSON-protocol requests, which moto
checks against their raw bytes) pass through unchanged.

Keys: POST /__shim/keys with {"AKID": "secret", ...} (adds to the known keys).

Usage: sigv4_shim.py --upstream http://127.0.0.1:PORT  (prints its port on stdout; exits when stdin
closes).
"""
import argparse
import http.client
import json
import sys
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

LOCK = threading.Lock()
KEYS = {}
UPSTREAM = None


def credential_scope(authorization: str):
    """(access key id, region, service) from a SigV4 Authorization header, or None."""
    scope = authorization.partition("Credential=")[2].partition(",")[0].split("/")
    if len(scope) < 4:
        return None
    return scope[0], scope[2], scope[3]


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    wbufsize = 1 << 16
    disable_nagle_algorithm = True

    def log_message(self, *args):
        pass

    def _reply(self, status, headers, body: bytes):
        self.send_response(status)
        for k, v in headers:
            if k.lower() not in ("content-length", "connection", "transfer-encoding", "keep-alive"):
                self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _handle(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        if self.path == "/__shim/keys" and self.command == "POST":
            with LOCK:
                KEYS.update(json.loads(body or b"{}"))
            return self._reply(200, [("Content-Type", "application/json")], b"{}")
        headers = {k: v for k, v in self.headers.items() if k.lower() not in ("connection", "keep-alive")}
        scope = credential_scope(self.headers.get("Authorization", ""))
        form = self.headers.get("Content-Type", "").startswith("application/x-www-form-urlencoded")
        with LOCK:
            secret = KEYS.get(scope[0]) if scope else None
        if scope and secret and form:
            body = urllib.parse.urlencode(
                urllib.parse.parse_qsl(body.decode("utf-8"), keep_blank_values=True)
            ).encode("utf-8")
            for name in list(headers):
                if name.lower() in ("authorization", "x-amz-date", "content-length", "x-amz-content-sha256"):
                    del headers[name]
            request = AWSRequest(method=self.command, url=f"http://{headers.get('Host')}{self.path}",
                                 data=body, headers=headers)
            SigV4Auth(Credentials(scope[0], secret), scope[2], scope[1]).add_auth(request)
            headers = dict(request.headers.items())
            headers["Content-Length"] = str(len(body))
        url = urllib.parse.urlparse(UPSTREAM)
        conn = http.client.HTTPConnection(url.hostname, url.port, timeout=120)
        conn.request(self.command, self.path, body=body, headers=headers)
        resp = conn.getresponse()
        data = resp.read()
        out = resp.getheaders()
        conn.close()
        self._reply(resp.status, out, data)

    do_GET = _handle
    do_POST = _handle
    do_PUT = _handle
    do_DELETE = _handle


def main() -> int:
    global UPSTREAM
    parser = argparse.ArgumentParser()
    parser.add_argument("--upstream", required=True)
    args = parser.parse_args()
    UPSTREAM = args.upstream
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    print(server.server_address[1], flush=True)
    try:
        while sys.stdin.buffer.read(4096):
            pass
    except (OSError, KeyboardInterrupt):
        pass
    server.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
