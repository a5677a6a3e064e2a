#!/usr/bin/env python3
"""Measures a Secrets Manager rotation function for SES SMTP credentials: cold start, peak memory,
and a whole rotation's API calls and time, against a local moto server.

By default the function is sesctl-rotation-lambda. With --aws-samples DIR it is the aws-samples
Python function instead (ses-credential-rotation/ses_credential_rotator of aws-samples/serverless-mail:
DIR holds its lambda_function.py, which is imported from there, never copied), run by Lambda's Python
runtime interface client `awslambdaric` (PyPI), as `python3 -m awslambdaric lambda_function.handler`
with DIR as working directory.

The world: moto (bench/moto_rotation_bench.py: the tests' tests/support/moto_rotation.py, whose
RotateSecret stops where Secrets Manager hands over to the function, plus RotationEnabled and SSM
ListCommandInvocations for the aws-samples function), the tests' fault proxy in front of it to count
calls (tests/support/fault_proxy.py), and, when the function logs in, the tests' SMTP server
(tests/support/smtp_server.py), which accepts any active key of moto with its v4 password, as SES does.

- sesctl: one SMTP user made by `sesctl create-user --secret-name`. Without --smtp, testSecret only
  checks the key (SESCTL_VERIFY=none); with --smtp it logs in (STARTTLS) to the SMTP server.
- aws-samples: one IAM user with one key and a secret holding "AKID:password" (that function's
  format). Its finishSecret sends an SSM command to the servers tagged EmailServers=True and waits
  for it (here one server, and the command succeeds at once: see bench/moto_rotation_bench.py). Its
  testSecret always logs in (implicit TLS, SMTP_ENDPOINT).

Each of RUNS runs starts a new Lambda Runtime API server (tests/support/lambda_runtime.py) and the
function, and takes the cold start as the server's time of the first poll (GET .../invocation/next)
less the time just before the process was spawned. Then it starts a rotation (RotateSecret), invokes
the four steps as Secrets Manager does ({"Step", "SecretId": the ARN, "ClientRequestToken"}), times
them, counts the calls the proxy saw (and the SMTP logins), reads the process's peak resident memory
(VmHWM) and stops it.

Usage: python3 bench/rotation_lambda.py [BIN_DIR] [RUNS] [--smtp]
       python3 bench/rotation_lambda.py --aws-samples DIR [RUNS] [--python PY]
  BIN_DIR: where sesctl and sesctl-rotation-lambda are (default target/release); RUNS: default 10
  --python: the interpreter that runs the aws-samples function (default: this one); it needs boto3
  and awslambdaric
"""
import argparse
import collections
import importlib.util
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid

import boto3

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SUPPORT = os.path.join(ROOT, "tests", "support")
REGION = "eu-west-1"
CREDS = {"AWS_ACCESS_KEY_ID": "AKIAIOSFODNN7EXAMPLE", "AWS_SECRET_ACCESS_KEY": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"}
STEPS = ["createSecret", "setSecret", "testSecret", "finishSecret"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def now_ms() -> float:
    return time.time_ns() / 1e6


def http(method, url, body=None):
    req = urllib.request.Request(url, data=body.encode() if body else None, method=method)
    with urllib.request.urlopen(req, timeout=300) as r:
        return json.loads(r.read() or b"null")


def service(script, *args):
    """A tests/support service that prints its port and exits when its stdin closes."""
    p = subprocess.Popen([sys.executable, os.path.join(SUPPORT, script), *args],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    port = int(p.stdout.readline())
    return p, f"http://127.0.0.1:{port}"


def wait_for(what, ok, seconds=30):
    deadline = time.time() + seconds
    while not ok():
        if time.time() > deadline:
            raise SystemExit(f"{what} did not start")
        time.sleep(0.05)


def smtp_server(mode, moto_url, workdir):
    """The tests' SMTP server checking logins against moto's keys; (process, port, cert, log)."""
    port = free_port()
    cert, log = os.path.join(workdir, f"{mode}-cert.pem"), os.path.join(workdir, f"{mode}-commands.log")
    open(log, "w").close()
    p = subprocess.Popen([sys.executable, os.path.join(SUPPORT, "smtp_server.py"), "--port", str(port),
                          "--mode", mode, "--cert-out", cert, "--log", log, "--username", "-",
                          "--password-env", "BENCH_UNUSED", "--iam-url", moto_url, "--iam-region", REGION],
                         env={**os.environ, "BENCH_UNUSED": "-"},
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def up():
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return os.path.exists(cert)
        except OSError:
            return False

    wait_for("the SMTP server", up)
    return p, port, cert, log


def smtp_password_v4(secret_access_key):
    spec = importlib.util.spec_from_file_location("smtp_server", os.path.join(SUPPORT, "smtp_server.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod.smtp_password_v4(secret_access_key, REGION).decode()


def client(name, url):
    return boto3.client(name, region_name=REGION, endpoint_url=url, aws_access_key_id="x",
                        aws_secret_access_key="y")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("bin_dir", nargs="?", default=os.path.join(ROOT, "target", "release"))
    ap.add_argument("runs", nargs="?", type=int, default=10)
    ap.add_argument("--smtp", action="store_true", help="sesctl: testSecret logs in (SESCTL_VERIFY=smtp)")
    ap.add_argument("--aws-samples", metavar="DIR", help="measure the aws-samples function in DIR instead")
    ap.add_argument("--python", default=sys.executable, help="interpreter for the aws-samples function")
    args = ap.parse_args()
    if args.aws_samples and args.bin_dir.isdigit():  # --aws-samples DIR RUNS: no BIN_DIR
        args.runs = int(args.bin_dir)
    samples = args.aws_samples and os.path.abspath(args.aws_samples)
    if samples and not os.path.exists(os.path.join(samples, "lambda_function.py")):
        raise SystemExit(f"{samples}/lambda_function.py is missing")

    workdir = tempfile.mkdtemp(prefix="rotation-bench-")
    base = {"PATH": os.environ.get("PATH", ""), "HOME": "/nonexistent", "AWS_EC2_METADATA_DISABLED": "true",
            "AWS_CONFIG_FILE": "/dev/null", "AWS_SHARED_CREDENTIALS_FILE": "/dev/null", **CREDS}
    moto_port = free_port()
    moto_url = f"http://127.0.0.1:{moto_port}"
    procs = [subprocess.Popen([sys.executable, os.path.join(ROOT, "bench", "moto_rotation_bench.py"),
                               "-H", "127.0.0.1", "-p", str(moto_port)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)]
    try:
        def moto_up():
            try:
                urllib.request.urlopen(f"{moto_url}/moto-api/", timeout=1)
                return True
            except OSError:
                return False

        wait_for("moto", moto_up)
        proxy, proxy_url = service("fault_proxy.py", "--upstream", moto_url)
        procs.append(proxy)
        sm = client("secretsmanager", moto_url)
        user, secret = f"bench-{uuid.uuid4().hex[:8]}", f"smtp/bench-{uuid.uuid4().hex[:8]}"
        fn_env = {**base, "AWS_ENDPOINT_URL": proxy_url, "AWS_REGION": REGION, "AWS_DEFAULT_REGION": REGION,
                  "AWS_LAMBDA_FUNCTION_NAME": "bench", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128",
                  "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST"}
        smtp_log = None
        if samples:
            iam = client("iam", moto_url)
            iam.create_user(UserName=user)
            key = iam.create_access_key(UserName=user)["AccessKey"]
            sm.create_secret(Name=secret, SecretString=f"{key['AccessKeyId']}:"
                             f"{smtp_password_v4(key['SecretAccessKey'])}")
            smtp, smtp_port, _, smtp_log = smtp_server("tls", moto_url, workdir)
            procs.append(smtp)
            fn_env.update({"SMTP_IAM_USER_NAME": user, "SMTP_ENDPOINT": f"127.0.0.1:{smtp_port}",
                           "SSM_ROTATION_DOCUMENT": "bench-update-smtp-password",
                           "SSM_SERVER_TAG": "EmailServers", "SSM_SERVER_TAG_VALUE": "True"})
            command = [args.python, "-m", "awslambdaric", "lambda_function.handler"]
            function = "aws-samples ses_credential_rotator (awslambdaric, " + subprocess.run(
                [args.python, "-V"], capture_output=True, text=True).stdout.strip() + ")"
        else:
            subprocess.run([os.path.join(args.bin_dir, "sesctl"), "create-user", user, "--region", REGION,
                            "--secret-name", secret], env={**base, "AWS_ENDPOINT_URL": moto_url},
                           check=True, stdout=subprocess.DEVNULL)
            if args.smtp:
                smtp, smtp_port, cert, smtp_log = smtp_server("starttls", moto_url, workdir)
                procs.append(smtp)
                fn_env.update({"SESCTL_VERIFY": "smtp", "SESCTL_SMTP_HOST": "127.0.0.1",
                               "SESCTL_SMTP_PORT": str(smtp_port), "SESCTL_CA_FILE": cert})
            else:
                fn_env["SESCTL_VERIFY"] = "none"
            command = [os.path.join(args.bin_dir, "sesctl-rotation-lambda")]
            function = command[0]
        arn = sm.describe_secret(SecretId=secret)["ARN"]

        cold, rss, wall, calls, logins, actions = [], [], [], [], [], []
        for run in range(args.runs):
            runtime, runtime_url = service("lambda_runtime.py")
            out = open(os.path.join(workdir, f"function-{run}.log"), "w")
            try:
                env = {**fn_env, "AWS_LAMBDA_RUNTIME_API": runtime_url.removeprefix("http://")}
                started = now_ms()
                fn = subprocess.Popen(command, env=env, cwd=samples or None, stdin=subprocess.DEVNULL,
                                      stdout=out, stderr=subprocess.STDOUT)
                while (first := http("GET", f"{runtime_url}/__test/stats")["first_poll_at_ms"]) is None:
                    if fn.poll() is not None:
                        raise SystemExit(f"the function exited: see {out.name}")
                    time.sleep(0.001)
                cold.append(first - started)
                token = str(uuid.uuid4())
                sm.rotate_secret(SecretId=secret, ClientRequestToken=token)
                http("POST", f"{proxy_url}/__proxy/reset")  # clears the proxy's log
                auth_before = open(smtp_log).read().count("AUTH") if smtp_log else 0
                t0 = now_ms()
                for step in STEPS:
                    r = http("POST", f"{runtime_url}/__test/invoke",
                             json.dumps({"Step": step, "SecretId": arn, "ClientRequestToken": token}))
                    if r["status"] != "ok":
                        raise SystemExit(f"{step}: {r} (function log: {out.name})")
                wall.append(now_ms() - t0)
                log = http("GET", f"{proxy_url}/__proxy/log")
                calls.append(len(log))
                actions.append(collections.Counter(e["action"] for e in log))
                logins.append(open(smtp_log).read().count("AUTH") - auth_before if smtp_log else 0)
                with open(f"/proc/{fn.pid}/status") as f:
                    hwm = next(line for line in f if line.startswith("VmHWM"))
                rss.append(int(hwm.split()[1]) / 1024)
                fn.kill()
                fn.wait()
            finally:
                out.close()
                runtime.stdin.close()
                runtime.kill()
                runtime.wait()
        print(json.dumps({
            "function": function,
            "verify": "smtp" if (samples or args.smtp) else "none",
            "runs": args.runs,
            "cold_start_ms_median": round(statistics.median(cold), 1),
            "cold_start_ms_max": round(max(cold), 1),
            "peak_rss_mib_max": round(max(rss), 1),
            "rotation_ms_median": round(statistics.median(wall), 1),
            "rotation_ms_max": round(max(wall), 1),
            "api_calls_per_rotation": sorted(set(calls)),
            "smtp_logins_per_rotation": sorted(set(logins)),
            "calls_first_rotation": dict(sorted(actions[0].items())),
            "calls_last_rotation": dict(sorted(actions[-1].items())),
        }, indent=2))
    finally:
        for p in procs:
            p.kill()
            p.wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
