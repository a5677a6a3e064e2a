#!/usr/bin/env python3
"""Measures `sesctl audit` against the per-user script (bench/per_user_audit.py) on moto accounts of
1,000 and 5,000 users (tests/support/seed_account.py): a mixed account (one SMTP user in 20) and an
all-SMTP one (every user an SMTP user, four in five holding keys).

For each account: a fresh moto server is seeded; wall time of each tool is measured against moto
directly (best of --repeat runs); API calls are counted through the fault proxy's log for sesctl
(`audit`, and `audit --key-ids`, which adds one ListAccessKeys per SMTP user with keys), and by the
script itself (botocore events) for the script. Prints a Markdown table.

Usage: python3 bench/audit_scale.py [--sizes 1000 5000] [--smtp-every 20 1] [--repeat 3]
                                    [--sesctl target/debug/sesctl]
"""
import argparse
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def free_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait(url: str) -> None:
    for _ in range(300):
        try:
            urllib.request.urlopen(url, timeout=1)
            return
        except Exception:
            time.sleep(0.1)
    raise SystemExit(f"{url} did not answer")


def timed(cmd, env) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, env=env, check=False, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--sizes", type=int, nargs="+", default=[1000, 5000])
    p.add_argument("--smtp-every", type=int, nargs="+", default=[20, 1])
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--sesctl", default=os.path.join(ROOT, "target/debug/sesctl"))
    args = p.parse_args()
    env = dict(os.environ, AWS_ACCESS_KEY_ID="AKIAIOSFODNN7EXAMPLE", AWS_SECRET_ACCESS_KEY="bench",
               AWS_EC2_METADATA_DISABLED="true")
    rows = []
    for size, every in [(size, every) for every in args.smtp_every for size in args.sizes]:
        port = free_port()
        moto = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        url = f"http://127.0.0.1:{port}"
        try:
            wait(f"{url}/moto-api/")
            seed = json.loads(subprocess.check_output(
                [sys.executable, os.path.join(ROOT, "tests/support/seed_account.py"), "--endpoint", url,
                 "--prefix", "bench", "--users", str(size), "--smtp-every", str(every)]))
            smtp = len(seed["smtp"])
            sesctl = [args.sesctl, "--endpoint-url", url, "audit", "-o", "json"]
            script = [sys.executable, os.path.join(ROOT, "bench/per_user_audit.py"), "--endpoint", url]
            sesctl_time = min(timed(sesctl, env) for _ in range(args.repeat))
            ids_time = min(timed(sesctl + ["--key-ids"], env) for _ in range(args.repeat))
            script_time = min(timed(script, env) for _ in range(max(1, args.repeat - 2)))
            script_calls = json.loads(subprocess.check_output(script, env=env))["calls"]

            proxy = subprocess.Popen([sys.executable, os.path.join(ROOT, "tests/support/fault_proxy.py"),
                                      "--upstream", url], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
            proxy_port = int(proxy.stdout.readline())
            try:
                purl = f"http://127.0.0.1:{proxy_port}"
                counts = []
                for extra in ([], ["--key-ids"]):
                    urllib.request.urlopen(urllib.request.Request(f"{purl}/__proxy/reset", data=b"", method="POST"))
                    subprocess.run([args.sesctl, "--endpoint-url", purl, "audit", "-o", "json"] + extra, env=env,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                    counts.append(len(json.loads(urllib.request.urlopen(f"{purl}/__proxy/log").read())))
                sesctl_calls, ids_calls = counts
            finally:
                proxy.stdin.close()
                proxy.wait(timeout=10)
            kind = "all SMTP" if every == 1 else f"1 in {every} SMTP"
            rows.append((kind, size, smtp, sesctl_calls, sesctl_time, ids_calls, ids_time, script_calls, script_time))
            print(rows[-1], file=sys.stderr)
        finally:
            moto.terminate()
            moto.wait(timeout=10)
    print("| account | users | SMTP users | audit calls | calls/user | audit wall | --key-ids calls | calls/user "
          "| --key-ids wall | script calls | calls/user | script wall | speed-up (audit, --key-ids) |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for kind, size, smtp, sc, st, ic, it, pc, pt in rows:
        print(f"| {kind} | {size} | {smtp} | {sc} | {sc / size:.3f} | {st:.2f} s | {ic} | {ic / size:.3f} | {it:.2f} s "
              f"| {pc} | {pc / size:.2f} | {pt:.2f} s | {pt / st:.0f}×, {pt / it:.0f}× |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
