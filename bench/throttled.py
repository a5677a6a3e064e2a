#!/usr/bin/env python3
"""sesctl under a sustained rate limit, as IAM applies one: the tests' fault proxy in its `ratelimit`
mode (a token bucket of RATE tokens a second, holding at most RATE, answering `Throttling` beyond it)
in front of a local moto server.

For each rate and each retry setting, two runs on a fresh account:
  migrate  N legacy users (bench/legacy_users.py), `sesctl migrate-inline-policy --all --yes`
  list     N SMTP users (tests/support/seed_account.py --smtp-every 1), `sesctl list` (one
           ListAccessKeys per user with keys: the per-user read the rate limit bites on)
Figures: calls IAM accepted and throttled (the proxy's log), wall time, accepted calls per second
over the run (first to last request) and that as a share of the limit, users failed, and for migrate
whether each write reached IAM exactly once per user.

Retry settings: "default" (sesctl's: adaptive mode, 10 attempts for throttling, 3 for the rest) and
"standard-3" (AWS_RETRY_MODE=standard, AWS_MAX_ATTEMPTS=3: the SDK's standard mode without the
extra throttling attempts, as sesctl ran before).

Usage: bench/throttled.py [--users 300] [--rates 20,50] [--settings default,standard-3]
                          [--sesctl target/debug/sesctl]
Prints a Markdown table for docs/benchmarks.md.
"""
import argparse
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections import Counter

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
CREDS = {"AWS_ACCESS_KEY_ID": "AKIAIOSFODNN7EXAMPLE", "AWS_SECRET_ACCESS_KEY": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"}
WRITES = ["AddUserToGroup", "DeleteUserPolicy", "UntagUser"]
SETTINGS = {
    "default": {},
    "standard-3": {"AWS_RETRY_MODE": "standard", "AWS_MAX_ATTEMPTS": "3"},
}


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http(method, url, body=b""):
    req = urllib.request.Request(url, data=body if method == "POST" else None, method=method)
    with urllib.request.urlopen(req, timeout=60) as resp:
        return resp.read()


def wait_for(url):
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            http("GET", url)
            return
        except Exception:
            time.sleep(0.1)
    raise SystemExit(f"{url} did not answer")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--users", type=int, default=300)
    p.add_argument("--rates", default="20,50")
    p.add_argument("--settings", default="default,standard-3")
    p.add_argument("--sesctl", default=os.path.join(ROOT, "target", "debug", "sesctl"))
    args = p.parse_args()

    moto_port = free_port()
    moto = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(moto_port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    moto_url = f"http://127.0.0.1:{moto_port}"
    proxy = subprocess.Popen([sys.executable, os.path.join(HERE, "counting_proxy.py"), "--upstream", moto_url],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    proxy_url = f"http://127.0.0.1:{proxy.stdout.readline().decode().strip()}"
    rows = []
    try:
        wait_for(f"{moto_url}/moto-api/")
        for rate in [int(r) for r in args.rates.split(",")]:
            for setting in args.settings.split(","):
                for command in ("migrate", "list"):
                    http("POST", f"{moto_url}/moto-api/reset")
                    if command == "migrate":
                        subprocess.run([sys.executable, os.path.join(HERE, "legacy_users.py"), "--endpoint-url",
                                        moto_url, "--count", str(args.users)], check=True)
                        cmd = [args.sesctl, "migrate-inline-policy", "--all", "--yes", "-o", "json"]
                    else:
                        subprocess.run([sys.executable, os.path.join(ROOT, "tests", "support", "seed_account.py"),
                                        "--endpoint", moto_url, "--prefix", "rl", "--users", str(args.users),
                                        "--smtp-every", "1"], check=True, stdout=subprocess.DEVNULL)
                        cmd = [args.sesctl, "list", "-o", "json"]
                    http("POST", f"{proxy_url}/__proxy/reset")
                    rule = [{"action": "*", "fault": "ratelimit", "rate": rate, "burst": rate}]
                    http("POST", f"{proxy_url}/__proxy/rules", json.dumps(rule).encode())
                    env = dict(os.environ, AWS_ENDPOINT_URL=proxy_url, AWS_EC2_METADATA_DISABLED="true",
                               AWS_CONFIG_FILE="/nonexistent", AWS_SHARED_CREDENTIALS_FILE="/nonexistent",
                               **CREDS, **SETTINGS[setting])
                    for k in ("AWS_RETRY_MODE", "AWS_MAX_ATTEMPTS"):
                        if k not in SETTINGS[setting]:
                            env.pop(k, None)
                    start = time.monotonic()
                    done = subprocess.run(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
                    wall = time.monotonic() - start
                    log = json.loads(http("GET", f"{proxy_url}/__proxy/log"))
                    accepted = [e for e in log if e["fault"] is None]
                    throttled = len(log) - len(accepted)
                    span = (log[-1]["t"] - log[0]["t"]) if len(log) > 1 else wall
                    per_s = len(accepted) / span if span > 0 else 0.0
                    try:
                        out = json.loads(done.stdout)
                    except ValueError:
                        out = {}
                    if command == "migrate":
                        failed = out.get("totals", {}).get("failed", "?")
                        made = Counter(e["action"] for e in accepted)
                        once = all(made[w] == args.users for w in WRITES)
                    else:
                        users = out.get("users", [])
                        failed = sum(1 for u in users if u.get("error")) + (args.users - len(users))
                        once = None
                    rows.append((rate, setting, command, done.returncode, len(accepted), throttled, wall, span,
                                 per_s, failed, once))
                    print(f"{rate}/s {setting} {command}: exit {done.returncode}, {len(accepted)} accepted, "
                          f"{throttled} throttled, {wall:.1f} s, {per_s:.1f}/s, failed {failed}", file=sys.stderr)
    finally:
        proxy.stdin.close()
        proxy.wait(timeout=10)
        moto.terminate()
        moto.wait(timeout=10)

    print(f"| limit | retry setting | command ({args.users} users) | exit | calls accepted | throttled answers "
          "| wall time | accepted calls/s over the run | share of the limit | users failed | each write once |")
    print("| ---: | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |")
    for rate, setting, command, code, acc, thr, wall, span, per_s, failed, once in rows:
        once_cell = "-" if once is None else ("yes" if once else "no")
        print(f"| {rate}/s | {setting} | {command} | {code} | {acc} | {thr} | {wall:.1f} s | {per_s:.1f} "
              f"| {100 * per_s / rate:.0f}% | {failed} | {once_cell} |")


if __name__ == "__main__":
    main()
