#!/usr/bin/env python3
"""A fault-injecting reverse proxy in front of moto, for sesctl's tests.

It forwards every request to the upstream moto server unchanged (headers included, so signatures
still match) and, for requests whose API action matches a rule, answers with a fault instead:

  error     an AWS error response (IAM: query-protocol XML; Secrets Manager: JSON) with `code`
            (default ServiceFailure) and `status` (default 500)
  throttle  the service's throttling error (IAM `Throttling`, Secrets Manager `ThrottlingException`)
  drop      close the connection without answering
  hang      hold the request open for `seconds` (default 300), then drop it
  young     IAM's eventual consistency: for `ms` (default 2000) after a CreateUser for a user name was
            answered through this proxy, answer the rule's action for that UserName with NoSuchEntity
            (404), as IAM can while a new user propagates; later requests are forwarded
  delay     hold the request for `seconds` (default 1), then forward it and relay the answer (a slow
            call, for making races between two runs deterministic)
  after     forward the request, then drop the connection instead of relaying the answer (the call
            took effect but the caller never hears so)
  record    forward the request and relay the answer, keeping the answer's body in the log entry
            (`response`), so a test can learn values only the service returned (a new key's secret)
  ratelimit a sustained rate limit, as IAM's: a token bucket of `rate` tokens a second holding at
            most `burst` (default: `rate`, full at the start); a matching request takes a token and is
            forwarded, and with none left it is answered as `throttle` does (logged with fault
            "ratelimit"). Rules after it still apply to the requests it lets through.
  paginate  forward the request, then answer with one page of the (IAM query-protocol) list result:
            at most `page_size` entries (or the request's MaxItems, if smaller) of the result's
            top-level lists taken together, from the offset in the request's Marker, with
            IsTruncated and Marker set as IAM does. For actions whose upstream ignores Marker
            (moto answers GetAccountAuthorizationDetails and ListAccessKeys in full every time).

Control API (on the same port):
  POST /__proxy/rules   body: JSON list of rules, replacing the current ones
  GET  /__proxy/log     JSON list of {"action", "fault", "t"} for every request seen ("t": seconds
                        since the proxy started, when the request arrived; "response" for recorded
                        ones)
  POST /__proxy/reset   clear rules and log

A rule: {"action": "CreateAccessKey", "fault": "error", "status": 500, "code": "ServiceFailure",
         "match": "substring the request body or target must contain", "times": 1,
         "skip": 0, "probability": 1.0, "seconds": 300}
`times` counts faults injected (absent: every match); `skip` lets the first N matches through.

Usage: fault_proxy.py --upstream http://127.0.0.1:PORT  (prints its port on stdout; exits when stdin
closes).
"""
import argparse
import http.client
import re
import json
import random
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

LOCK = threading.Lock()
RULES = []
CREATED_USERS = {}  # user name -> when its CreateUser answered (for the "young" fault)
LOG = []
UPSTREAM = None
RNG = random.Random(1234)


def user_name_of(body: bytes) -> str:
    """The UserName parameter of an IAM (query-protocol) request, or ""."""
    values = urllib.parse.parse_qs(body.decode("utf-8", "replace")).get("UserName")
    return values[0] if values else ""


def action_of(headers, body: bytes, path: str) -> str:
    target = headers.get("X-Amz-Target")
    if target:
        return target.split(".")[-1]
    query = urllib.parse.urlparse(path).query
    for source in (body.decode("utf-8", "replace"), query):
        fields = urllib.parse.parse_qs(source)
        if "Action" in fields:
            return fields["Action"][0]
    return ""


STARTED = time.monotonic()


def take_token(rule) -> bool:
    """The rate-limit rule's token bucket (called with LOCK held): refill for the time passed, then
    take one token if there is one."""
    now = time.monotonic()
    rate = float(rule["rate"])
    burst = float(rule.get("burst", rate))
    tokens = rule.get("_tokens", burst)
    last = rule.get("_last", now)
    tokens = min(burst, tokens + (now - last) * rate)
    rule["_last"] = now
    if tokens >= 1.0:
        rule["_tokens"] = tokens - 1.0
        return True
    rule["_tokens"] = tokens
    return False


def pick_rule(action: str, body: bytes):
    text = body.decode("utf-8", "replace")
    with LOCK:
        for rule in RULES:
            if rule.get("action") not in (action, "*"):
                continue
            if rule.get("match") and rule["match"] not in text and rule["match"] not in urllib.parse.unquote_plus(text):
                continue
            if rule.get("skip", 0) > 0:
                rule["skip"] -= 1
                continue
            if "times" in rule and rule["times"] <= 0:
                continue
            if RNG.random() >= rule.get("probability", 1.0):
                continue
            if rule.get("fault") == "ratelimit":
                if take_token(rule):
                    continue
                return {"fault": "ratelimit"}
            if "times" in rule:
                rule["times"] -= 1
            return dict(rule)
    return None


def error_body(json_protocol: bool, code: str, message: str):
    if json_protocol:
        return "application/x-amz-json-1.1", json.dumps({"__type": code, "message": message}).encode()
    xml = (
        '<ErrorResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/"><Error><Type>Sender</Type>'
        f"<Code>{code}</Code><Message>{message}</Message></Error>"
        "<RequestId>00000000-0000-0000-0000-000000000000</RequestId></ErrorResponse>"
    )
    return "text/xml", xml.encode()


def paginate(data: bytes, body: bytes, page_size: int) -> bytes:
    """One page of an IAM list response: the entries of the result's top-level lists, in order,
    sliced from the request's Marker."""
    fields = urllib.parse.parse_qs(body.decode("utf-8", "replace"))
    start = int(fields.get("Marker", ["0"])[0] or 0)
    if "MaxItems" in fields:
        page_size = min(page_size, int(fields["MaxItems"][0]))
    text = data.decode("utf-8")
    result = re.search(r"<(\w+Result)>(.*)</\1>", text, re.S)
    if not result:
        return data
    inner = result.group(2)
    # Top-level elements of the result, each either a list (<X><member>...</member>...</X>) or a value.
    pieces = []
    pos = 0
    while pos < len(inner):
        m = re.compile(r"<(\w+)(/?)>").search(inner, pos)
        if not m:
            break
        tag, empty = m.group(1), m.group(2)
        if empty:
            pieces.append((tag, None, m.group(0)))
            pos = m.end()
            continue
        depth, i = 1, m.end()
        opener, closer = re.compile(rf"<{tag}>"), f"</{tag}>"
        while depth:
            nxt_close = inner.index(closer, i)
            nxt_open = opener.search(inner, i, nxt_close)
            if nxt_open:
                depth, i = depth + 1, nxt_open.end()
            else:
                depth, i = depth - 1, nxt_close + len(closer)
        content = inner[m.end():i - len(closer)]
        members = split_members(content) if content.startswith("<member>") else None
        pieces.append((tag, members, inner[m.start():i]))
        pos = i
    total = sum(len(members) for _, members, _ in pieces if members is not None)
    end = start + page_size
    out, seen = [], 0
    for tag, members, raw in pieces:
        if tag in ("IsTruncated", "Marker"):
            continue
        if members is None:
            out.append(raw)
            continue
        keep = [x for n, x in enumerate(members, seen) if start <= n < end]
        seen += len(members)
        out.append(f"<{tag}>{''.join(keep)}</{tag}>" if keep else f"<{tag}/>")
    truncated = end < total
    out.append(f"<IsTruncated>{'true' if truncated else 'false'}</IsTruncated>")
    if truncated:
        out.append(f"<Marker>{end}</Marker>")
    page = text[:result.start(2)] + "".join(out) + text[result.end(2):]
    return page.encode("utf-8")


def split_members(content: str):
    """The <member>...</member> entries of a list, nested members kept whole."""
    members, depth, start, i = [], 0, 0, 0
    token = re.compile(r"<member>|</member>|<member/>")
    for m in token.finditer(content):
        if m.group(0) == "<member/>":
            if depth == 0:
                members.append(m.group(0))
            continue
        if m.group(0) == "<member>":
            if depth == 0:
                start = m.start()
            depth += 1
        else:
            depth -= 1
            if depth == 0:
                members.append(content[start:m.end()])
    return members


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Buffer each reply and send it in one write, with Nagle off: unbuffered, the headers and body
    # go out as separate small writes and Nagle plus delayed ACKs add ~40 ms to every call.
    wbufsize = 1 << 16
    disable_nagle_algorithm = True

    def log_message(self, *args):
        pass

    def _reply(self, status: int, content_type: str, body: bytes, extra=None):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def _control(self, body: bytes) -> bool:
        global RULES, LOG
        if not self.path.startswith("/__proxy/"):
            return False
        if self.path == "/__proxy/rules" and self.command == "POST":
            with LOCK:
                RULES = json.loads(body or b"[]")
            self._reply(200, "application/json", b"{}")
        elif self.path == "/__proxy/log":
            with LOCK:
                data = json.dumps(LOG).encode()
            self._reply(200, "application/json", data)
        elif self.path == "/__proxy/reset":
            with LOCK:
                RULES = []
                LOG = []
            self._reply(200, "application/json", b"{}")
        else:
            self._reply(404, "text/plain", b"unknown control path")
        return True

    def _drop(self):
        self.close_connection = True
        try:
            self.connection.shutdown(2)
        except OSError:
            pass

    def _handle(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        if self._control(body):
            return
        action = action_of(self.headers, body, self.path)
        rule = pick_rule(action, body)
        fault = rule["fault"] if rule else None
        entry = {"action": action, "fault": fault, "t": round(time.monotonic() - STARTED, 4)}
        with LOCK:
            LOG.append(entry)
        json_protocol = bool(self.headers.get("X-Amz-Target"))
        if fault == "drop":
            return self._drop()
        if fault == "hang":
            time.sleep(float(rule.get("seconds", 300)))
            return self._drop()
        if fault in ("throttle", "ratelimit"):
            code = "ThrottlingException" if json_protocol else "Throttling"
            ctype, data = error_body(json_protocol, code, "Rate exceeded")
            return self._reply(400, ctype, data)
        if fault == "error":
            ctype, data = error_body(json_protocol, rule.get("code", "ServiceFailure"), rule.get("message", "injected failure"))
            return self._reply(int(rule.get("status", 500)), ctype, data)
        if fault == "delay":
            time.sleep(float(rule.get("seconds", 1)))
        if fault == "young":
            name = user_name_of(body)
            with LOCK:
                born = CREATED_USERS.get(name)
            if born is not None and (time.monotonic() - born) * 1000 < float(rule.get("ms", 2000)):
                entry["refused"] = True
                ctype, data = error_body(json_protocol, "NoSuchEntity", f"The user with name {name} cannot be found.")
                return self._reply(404, ctype, data)
        status, headers, data = self._forward(body)
        if action == "CreateUser" and status == 200:
            with LOCK:
                CREATED_USERS[user_name_of(body)] = time.monotonic()
        if fault == "after":
            return self._drop()
        if fault == "record":
            with LOCK:
                entry["response"] = data.decode("utf-8", "replace")
        if fault == "paginate" and status == 200:
            data = paginate(data, body, int(rule.get("page_size", 100)))
        self._reply(status, headers.get("Content-Type", "text/xml"), data,
                    {k: v for k, v in headers.items() if k.lower().startswith("x-amz")})

    def _forward(self, body: bytes):
        url = urllib.parse.urlparse(UPSTREAM)
        conn = http.client.HTTPConnection(url.hostname, url.port, timeout=120)
        headers = {k: v for k, v in self.headers.items() if k.lower() not in ("connection", "keep-alive")}
        conn.request(self.command, self.path, body=body, headers=headers)
        resp = conn.getresponse()
        data = resp.read()
        out_headers = {k: v for k, v in resp.getheaders()}
        conn.close()
        return resp.status, out_headers, data

    do_GET = _handle
    do_POST = _handle
    do_PUT = _handle
    do_DELETE = _handle


def main() -> int:
    global UPSTREAM
    parser = argparse.ArgumentParser()
    parser.add_argument("--upstream", required=True)
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    UPSTREAM = args.upstream
    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
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
