#!/usr/bin/env python3
"""Measures the rotation function (sesctl-rotation-lambda): cold start, peak memory, and a whole
rotation's API calls and time, against a local moto server.

Starts moto (with tests/support/moto_rotation.py, whose RotateSecret stops where Secrets Manager
hands over to the function), the test suite's fault proxy in front of it (to count calls) and the
Lambda Runtime API server of the tests (tests/support/lambda_runtime.py). Creates one SMTP user with
`sesctl create-user --secret-name`, then RUNS times: starts the function, takes the time from its
process start to its first poll of the Runtime API (the cold start), runs the four steps of one
rotation (SESCTL_VERIFY=none: no SMTP server in this measurement), reads the process's peak resident
memory (VmHWM), and stops it.

Usage: python3 bench/rotation_lambda.py [BIN_DIR] [RUNS]
  BIN_DIR: where sesctl and sesctl-rotation-lambda are (default target/release)
"""
import json
import os
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
import uuid

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN_DIR = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "target", "release")
RUNS = int(sys.argv[2]) if len(sys.argv) > 2 else 10
REGION = "eu-west-1"
CREDS = {"AWS_ACCESS_KEY_ID": "AKIAIOSFODNN7EXAMPLE", "AWS_SECRET_ACCESS_KEY": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http(method, url, body=None):
    req = urllib.request.Request(url, data=body.encode() if body else None, method=method)
    with urllib.request.urlopen(req, timeout=300) as r:
        return json.loads(r.read() or b"null")


def service(script, *args):
    p = subprocess.Popen([sys.executable, os.path.join(ROOT, "tests/support", script), *args],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    port = int(p.stdout.readline())
    return p, f"http://127.0.0.1:{port}"


def main() -> int:
    base = {"PATH": os.environ.get("PATH", ""), "HOME": "/nonexistent", "AWS_EC2_METADATA_DISABLED": "true",
            "AWS_CONFIG_FILE": "/dev/null", "AWS_SHARED_CREDENTIALS_FILE": "/dev/null", **CREDS}
    moto_port = free_port()
    moto = subprocess.Popen([sys.executable, os.path.join(ROOT, "tests/support/moto_rotation.py"),
                             "-H", "127.0.0.1", "-p", str(moto_port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    moto_url = f"http://127.0.0.1:{moto_port}"
    procs = [moto]
    try:
        for _ in range(200):
            try:
                urllib.request.urlopen(f"{moto_url}/moto-api/", timeout=1)
                break
            except OSError:
                time.sleep(0.1)
        proxy, proxy_url = service("fault_proxy.py", "--upstream", moto_url)
        runtime, runtime_url = service("lambda_runtime.py", "--upstream", "-")
        procs += [proxy, runtime]
        user, secret = f"bench-{uuid.uuid4().hex[:8]}", f"smtp/bench-{uuid.uuid4().hex[:8]}"
        subprocess.run([os.path.join(BIN_DIR, "sesctl"), "create-user", user, "--region", REGION,
                        "--secret-name", secret], env={**base, "AWS_ENDPOINT_URL": moto_url},
                       check=True, stdout=subprocess.DEVNULL)
        cold, rss, wall, calls = [], [], [], []
        for _ in range(RUNS):
            env = {**base, "AWS_ENDPOINT_URL": proxy_url, "AWS_REGION": REGION,
                   "AWS_LAMBDA_RUNTIME_API": runtime_url.removeprefix("http://"),
                   "AWS_LAMBDA_FUNCTION_NAME": "bench", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128",
                   "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST", "SESCTL_VERIFY": "none"}
            polls_before = http("GET", f"{runtime_url}/__test/stats")["polls"]
            started = time.time() * 1000
            fn = subprocess.Popen([os.path.join(BIN_DIR, "sesctl-rotation-lambda")], env=env,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            while True:
                stats = http("GET", f"{runtime_url}/__test/stats")
                if stats["polls"] > polls_before:
                    break
                time.sleep(0.0005)
            # The server records the first poll of its life only; later runs use the poll count,
            # so the figure is the time until the poll was seen (an upper bound by up to ~1 ms).
            cold.append(time.time() * 1000 - started)
            token = str(uuid.uuid4())
            subprocess.run([sys.executable, "-c", f"""
import boto3
boto3.client('secretsmanager', region_name='{REGION}', endpoint_url='{moto_url}',
  aws_access_key_id='x', aws_secret_access_key='y').rotate_secret(SecretId='{secret}', ClientRequestToken='{token}')
"""], check=True)
            http("POST", f"{proxy_url}/__proxy/reset")  # clears the proxy's log
            t0 = time.time()
            for step in ["createSecret", "setSecret", "testSecret", "finishSecret"]:
                r = http("POST", f"{runtime_url}/__test/invoke",
                         json.dumps({"Step": step, "SecretId": secret, "ClientRequestToken": token}))
                assert r["status"] == "ok", r
            wall.append((time.time() - t0) * 1000)
            calls.append(len(http("GET", f"{proxy_url}/__proxy/log")))
            with open(f"/proc/{fn.pid}/status") as f:
                hwm = next(l for l in f if l.startswith("VmHWM"))
            rss.append(int(hwm.split()[1]) / 1024)
            fn.kill()
            fn.wait()
        print(json.dumps({
            "binary": os.path.join(BIN_DIR, "sesctl-rotation-lambda"),
            "runs": RUNS,
            "cold_start_ms_median": round(statistics.median(cold), 1),
            "cold_start_ms_max": round(max(cold), 1),
            "peak_rss_mib_max": round(max(rss), 1),
            "rotation_ms_median": round(statistics.median(wall), 1),
            "api_calls_per_rotation": sorted(set(calls)),
        }, indent=2))
    finally:
        for p in procs:
            p.kill()
            p.wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
