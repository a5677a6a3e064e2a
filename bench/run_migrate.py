#!/usr/bin/env python3
"""Measures `sesctl migrate-inline-policy --all` against the guide's steps as a sequential boto3
script (guide_steps.py): API calls (counted by the fault proxy in front of moto, which logs every
request) and wall time, for N legacy users on a local moto server.

Each contender gets a fresh account (moto reset) with N legacy users (legacy_users.py, created
directly at moto so they are not counted), then runs through the proxy. The end state is checked:
every user in the group, no inline policy, no InvokedBy tag.

Usage: bench/run_migrate.py [--users 1000] [--sesctl target/debug/sesctl] [--concurrency 1,8,16]
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

import boto3

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
GROUP = "AWSSESSendingGroupDoNotRename"
CREDS = {"AWS_ACCESS_KEY_ID": "AKIAIOSFODNN7EXAMPLE", "AWS_SECRET_ACCESS_KEY": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"}


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


def check_migrated(moto_url, users):
    iam = boto3.client("iam", region_name="us-east-1", endpoint_url=moto_url,
                       aws_access_key_id=CREDS["AWS_ACCESS_KEY_ID"], aws_secret_access_key=CREDS["AWS_SECRET_ACCESS_KEY"])
    details = []
    for page in iam.get_paginator("get_account_authorization_details").paginate(Filter=["User"]):
        details.extend(page["UserDetailList"])
    bad = [u["UserName"] for u in details
           if u.get("UserPolicyList") or GROUP not in u.get("GroupList", [])
           or any(t["Key"] == "InvokedBy" for t in u.get("Tags", []))]
    if len(details) != users or bad:
        raise SystemExit(f"end state wrong: {len(details)} users, not migrated: {bad[:5]}")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--users", type=int, default=1000)
    parser.add_argument("--sesctl", default=os.path.join(ROOT, "target", "debug", "sesctl"))
    parser.add_argument("--concurrency", default="1,8,16")
    args = parser.parse_args()

    moto_port = free_port()
    moto = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(moto_port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    moto_url = f"http://127.0.0.1:{moto_port}"
    proxy = subprocess.Popen([sys.executable, os.path.join(HERE, "counting_proxy.py"),
                              "--upstream", moto_url], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    proxy_url = f"http://127.0.0.1:{proxy.stdout.readline().decode().strip()}"
    rows = []
    try:
        wait_for(f"{moto_url}/moto-api/")
        contenders = [("guide steps, boto3, sequential",
                       [sys.executable, os.path.join(HERE, "guide_steps.py"), "--endpoint-url", proxy_url])]
        for c in args.concurrency.split(","):
            contenders.append((f"sesctl --all --concurrency {c}",
                               [args.sesctl, "migrate-inline-policy", "--all", "--yes", "-o", "json",
                                "--concurrency", c]))
        for label, cmd in contenders:
            http("POST", f"{moto_url}/moto-api/reset")
            subprocess.run([sys.executable, os.path.join(HERE, "legacy_users.py"), "--endpoint-url", moto_url,
                            "--count", str(args.users)], check=True)
            http("POST", f"{proxy_url}/__proxy/reset")
            env = dict(os.environ, AWS_ENDPOINT_URL=proxy_url, AWS_EC2_METADATA_DISABLED="true",
                       AWS_CONFIG_FILE="/nonexistent", AWS_SHARED_CREDENTIALS_FILE="/nonexistent", **CREDS)
            start = time.monotonic()
            done = subprocess.run(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            elapsed = time.monotonic() - start
            if done.returncode != 0:
                raise SystemExit(f"{label} failed ({done.returncode}): {done.stderr.decode()[-2000:]}")
            log = json.loads(http("GET", f"{proxy_url}/__proxy/log"))
            calls = Counter(e["action"] for e in log)
            check_migrated(moto_url, args.users)
            rows.append((label, len(log), calls, elapsed))
            print(f"{label}: {len(log)} calls, {elapsed:.1f} s", file=sys.stderr)
    finally:
        proxy.stdin.close()
        proxy.wait(timeout=10)
        moto.terminate()
        moto.wait(timeout=10)

    n = args.users
    print(f"| run ({n} legacy users) | API calls | calls per user | wall time (s) | users/s |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for label, total, _, elapsed in rows:
        print(f"| {label} | {total} | {total / n:.2f} | {elapsed:.1f} | {n / elapsed:.0f} |")
    print()
    for label, _, calls, _ in rows:
        print(f"- {label}: " + ", ".join(f"{a} {c}" for a, c in sorted(calls.items(), key=lambda x: -x[1])))


if __name__ == "__main__":
    main()
