#!/usr/bin/env python3
"""An SMTP server on loopback for the `verify` tests, built on aiosmtpd.

It generates a self-signed certificate at start-up (CA:FALSE, subjectAltName localhost and 127.0.0.1,
so rustls accepts it as a trust anchor for itself) and writes it to --cert-out for the test to pass
as --ca-file. AUTH is offered only over TLS and accepts exactly --username/--password (the password
is read from the environment variable named by --password-env, never from argv).

Modes:
  starttls     plain connection, STARTTLS required before AUTH (SES on 587, 2587, 25)
  tls          TLS from the first byte (SES on 465, 2465)
  no-starttls  plain connection, no STARTTLS, AUTH advertised anyway (a downgraded server)
  silent       accepts connections and never answers
  throttle     like starttls, but every AUTH answers 454 (too many login attempts)

--reject-first N rejects the first N logins with 535 even when the credential is right (an access
key that has not reached SES yet). Every SMTP command received is appended to --log as one line:
the command verb (never its arguments) and whether the connection was encrypted.

Usage: smtp_server.py --port P --mode MODE --cert-out PEM --log FILE --username U --password-env VAR
"""
import argparse
import asyncio
import base64
import datetime
import hashlib
import hmac
import ipaddress
import json
import os
import ssl
import sys
import tempfile
import threading
import time
import urllib.request

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult


def make_certificate(cert_out: str) -> tuple:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    # A name no system root has, so that without --ca-file the verdict is "unknown issuer".
    name = x509.Name(
        [x509.NameAttribute(NameOID.COMMON_NAME, f"sesctl test server {os.getpid()}-{time.time_ns()}")]
    )
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_pem = cert.public_bytes(serialization.Encoding.PEM)
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    tmp = tempfile.mkdtemp(prefix="sesctl-smtp-")
    cert_path = os.path.join(tmp, "cert.pem")
    key_path = os.path.join(tmp, "key.pem")
    with open(cert_path, "wb") as f:
        f.write(cert_pem)
    with open(key_path, "wb") as f:
        f.write(key_pem)
    # Written last, atomically: the test waits for the port, then reads this file.
    with open(cert_out + ".tmp", "wb") as f:
        f.write(cert_pem)
    os.replace(cert_out + ".tmp", cert_out)
    return cert_path, key_path


class Recorder:
    def __init__(self, path: str):
        self.path = path
        self.lock = threading.Lock()

    def record(self, verb: str, encrypted: bool) -> None:
        with self.lock, open(self.path, "a") as f:
            f.write(f"{verb} {'tls' if encrypted else 'plain'}\n")


class RecordingSMTP(SMTP):
    """aiosmtpd's SMTP, logging each command verb as it arrives."""

    recorder: Recorder = None

    def _encrypted(self) -> bool:
        return bool(self._tls_protocol) or self.transport.get_extra_info("sslcontext") is not None

    async def _record(self, verb: str) -> None:
        self.recorder.record(verb, self._encrypted())


for _verb in ["EHLO", "HELO", "STARTTLS", "AUTH", "MAIL", "RCPT", "DATA", "QUIT", "NOOP", "RSET"]:
    _orig = getattr(SMTP, "smtp_" + _verb)

    def _make(orig, verb):
        async def method(self, arg):
            await self._record(verb)
            return await orig(self, arg)

        method.__name__ = "smtp_" + verb
        method.__doc__ = orig.__doc__
        return method

    setattr(RecordingSMTP, "smtp_" + _verb, _make(_orig, _verb))


def smtp_password_v4(secret: str, region: str) -> bytes:
    """The SES v4 SMTP password, as SES computes it from the key's secret."""
    def sign(key: bytes, msg: str) -> bytes:
        return hmac.new(key, msg.encode(), hashlib.sha256).digest()
    k = sign(("AWS4" + secret).encode(), "11111111")
    for part in (region, "ses", "aws4_request", "SendRawEmail"):
        k = sign(k, part)
    return base64.b64encode(bytes([4]) + k)


def iam_password(iam_url: str, key_id: str, region: str):
    """Like SES: the password an active IAM key has for `region`, read from the moto server's state;
    None when the key is missing or inactive."""
    with urllib.request.urlopen(iam_url + "/moto-api/data.json", timeout=10) as r:
        data = json.load(r)
    for k in data.get("iam", {}).get("AccessKey", []):
        if k.get("access_key_id") == key_id and k.get("status") == "Active":
            return smtp_password_v4(k["secret_access_key"], region)
    return None


class LoginPolicy:
    def __init__(self, username: bytes, password: bytes, reject_first: int, throttle: bool,
                 iam_url=None, iam_region=None):
        self.username = username
        self.password = password
        self.remaining_rejections = reject_first
        self.throttle = throttle
        self.iam_url = iam_url
        self.iam_region = iam_region
        self.lock = threading.Lock()

    def __call__(self, server, session, envelope, mechanism, auth_data):
        if self.throttle:
            return AuthResult(
                success=False, handled=False, message="454 4.7.0 Too many login attempts, try later"
            )
        if self.iam_url:
            expected = iam_password(self.iam_url, auth_data.login.decode(), self.iam_region)
            ok = expected is not None and auth_data.password == expected
        else:
            ok = auth_data.login == self.username and auth_data.password == self.password
        with self.lock:
            if ok and self.remaining_rejections > 0:
                self.remaining_rejections -= 1
                ok = False
        if ok:
            return AuthResult(success=True)
        # handled=False makes aiosmtpd answer "535 5.7.8 Authentication credentials invalid".
        return AuthResult(success=False, handled=False)


class Sink:
    async def handle_DATA(self, server, session, envelope):
        return "554 5.7.1 this test server accepts no mail"


class RecordingController(Controller):
    def factory(self):
        return RecordingSMTP(self.handler, **self.SMTP_kwargs)


async def silent_server(port: int) -> None:
    held = []

    async def hold(reader, writer):
        held.append(writer)
        await asyncio.sleep(3600)

    server = await asyncio.start_server(hold, "127.0.0.1", port)
    async with server:
        await server.serve_forever()


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--mode", choices=["starttls", "tls", "no-starttls", "silent", "throttle"], required=True)
    p.add_argument("--cert-out", required=True)
    p.add_argument("--log", required=True)
    p.add_argument("--username", required=True)
    p.add_argument("--password-env", required=True)
    p.add_argument("--reject-first", type=int, default=0)
    p.add_argument("--iam-url", help="accept any active key of this moto server, with its v4 password "
                   "for --iam-region (as SES checks logins against IAM); --username is then ignored")
    p.add_argument("--iam-region", default="us-east-1")
    args = p.parse_args()

    cert_path, key_path = make_certificate(args.cert_out)
    if args.mode == "silent":
        asyncio.run(silent_server(args.port))
        return 0

    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert_path, key_path)
    RecordingSMTP.recorder = Recorder(args.log)
    policy = LoginPolicy(
        args.username.encode(),
        os.environ[args.password_env].encode(),
        args.reject_first,
        args.mode == "throttle",
        args.iam_url,
        args.iam_region,
    )
    kwargs = dict(
        hostname="127.0.0.1",
        port=args.port,
        authenticator=policy,
        server_hostname="smtp.test",
    )
    if args.mode == "tls":
        # TLS from the first byte: aiosmtpd only counts STARTTLS as TLS for auth_require_tls, so the
        # requirement is met by the listener itself here.
        controller = RecordingController(Sink(), ssl_context=context, auth_require_tls=False, **kwargs)
    elif args.mode in ("starttls", "throttle"):
        controller = RecordingController(
            Sink(), tls_context=context, require_starttls=True, auth_require_tls=True, **kwargs
        )
    else:  # no-starttls: AUTH offered over plain text, as a downgrading attacker would
        controller = RecordingController(Sink(), auth_require_tls=False, **kwargs)
    controller.start()
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        controller.stop()
    return 0


if __name__ == "__main__":
    import signal

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    sys.exit(main())
