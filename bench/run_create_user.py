#!/usr/bin/env python3
"""Measures `sesctl create-user` against a local moto server, beside create_user_boto3.py.

Starts moto on a free loopback port and the test suite's fault proxy in front of it (to count API
calls), builds sesctl (debug profile), then for a fresh account (setup has work to do) and a ready one
(the group and policy exist) runs each tool RUNS times with new names and reports the median wall
time. Everything it started is stopped at the end.

Usage: python3 bench/run_create_user.py [RUNS]   (default 7)
"""
import json
import os
import socket
import statistics
import subprocess
import sys
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RUNS = int(sys.argv[1]) if len(sys.argv) > 1 else 7
REGION = "eu-west-1"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait(url: str):
    for _ in range(600):
        try:
            urllib.request.urlopen(url, timeout=1)
            return
        except Exception:
            time.sleep(0.1)
    raise SystemExit(f"{url} did not answer")


def http(method: str, url: str) -> bytes:
    req = urllib.request.Request(url, method=method, data=b"" if method == "POST" else None)
    return urllib.request.urlopen(req).read()


def main() -> int:
    subprocess.run(["cargo", "build", "--quiet", "--bin", "sesctl"], cwd=ROOT, check=True)
    sesctl = os.path.join(ROOT, "target", "debug", "sesctl")
    port = free_port()
    moto = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    proxy = subprocess.Popen([sys.executable, os.path.join(ROOT, "tests/support/fault_proxy.py"),
                              "--upstream", f"http://127.0.0.1:{port}"],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    try:
        moto_url = f"http://127.0.0.1:{port}"
        wait(f"{moto_url}/moto-api/")
        proxy_url = f"http://127.0.0.1:{int(proxy.stdout.readline())}"
        env = dict(os.environ, AWS_ACCESS_KEY_ID="AKIAIOSFODNN7EXAMPLE",
                   AWS_SECRET_ACCESS_KEY="wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
                   AWS_EC2_METADATA_DISABLED="true", AWS_REGION=REGION)
        results = {}
        n = 0
        for state in ("fresh", "ready"):
            for tool in ("sesctl", "boto3"):
                times, api_times, calls = [], [], None
                for _ in range(RUNS):
                    if state == "fresh":
                        http("POST", f"{moto_url}/moto-api/reset")
                    n += 1
                    user, secret = f"bench-{tool}-{n}", f"bench/{tool}-{n}"
                    http("POST", f"{proxy_url}/__proxy/reset")
                    if tool == "sesctl":
                        cmd = [sesctl, "create-user", user, "--secret-name", secret,
                               "--region", REGION, "--endpoint-url", proxy_url, "-q"]
                    else:
                        cmd = [sys.executable, os.path.join(ROOT, "bench/create_user_boto3.py"),
                               "--endpoint-url", proxy_url, "--region", REGION, user, secret]
                    t0 = time.monotonic()
                    out = subprocess.run(cmd, env=env, capture_output=True, text=True)
                    times.append(time.monotonic() - t0)
                    if out.returncode != 0:
                        raise SystemExit(f"{tool} failed: {out.stderr}")
                    if tool == "boto3":
                        api_times.append(float(out.stdout.strip()))
                    log = json.loads(http("GET", f"{proxy_url}/__proxy/log"))
                    calls = [e["action"] for e in log]
                results[(state, tool)] = (statistics.median(times),
                                          statistics.median(api_times) if api_times else None, calls)
        # "ready" runs follow the fresh ones without a reset: the group and policy are in place.
        for (state, tool), (wall, api, calls) in results.items():
            api_text = f", API part {api * 1000:.0f} ms" if api is not None else ""
            print(f"{state:5} {tool:6} median wall {wall * 1000:.0f} ms{api_text}; {len(calls)} calls: {' '.join(calls)}")
    finally:
        proxy.stdin.close()
        proxy.wait(timeout=10)
        moto.terminate()
        moto.wait(timeout=10)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
