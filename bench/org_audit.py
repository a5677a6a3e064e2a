#!/usr/bin/env python3
"""`sesctl audit --accounts all` beside a sequential boto3 script doing the same per account, against
an organization in moto (tests/support/seed_organization.py: `--members` members, each with a group
SMTP user, a console-era inline-policy user, two plain users and `--plain` more plain users; the
management account has one SMTP user).

The script is what such a script usually is: organizations:ListAccounts, then per account (one after
another) sts:AssumeRole (not for the caller's own account) and the per-user audit of
bench/per_user_audit.py (ListUsers; per user ListUserPolicies, ListGroupsForUser, ListAccessKeys;
GetAccessKeyLastUsed per key). It counts its own calls (botocore before-call events). sesctl's calls
are counted in the fault proxy's log (bench/counting_proxy.py), by action.

Usage: org_audit.py [--members 12] [--plain 50] [--repeat 3] [--sesctl target/debug/sesctl]
Prints a JSON object with the figures.
"""
import argparse
import collections
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request

import boto3

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
GROUP = "AWSSESSendingGroupDoNotRename"
POLICY = "AmazonSesSendingAccess"
KEY = dict(aws_access_key_id="AKIAIOSFODNN7EXAMPLE",
           aws_secret_access_key="wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait(url):
    for _ in range(300):
        try:
            urllib.request.urlopen(url, timeout=1)
            return
        except Exception:
            time.sleep(0.1)
    raise SystemExit(f"{url} did not answer")


def script_audit(endpoint):
    """The sequential script; returns (smtp users, calls)."""
    calls = [0]
    count = lambda **_: calls.__setitem__(0, calls[0] + 1)  # noqa: E731
    common = dict(endpoint_url=endpoint, region_name="us-east-1")
    org = boto3.client("organizations", **common, **KEY)
    sts = boto3.client("sts", **common, **KEY)
    for c in (org, sts):
        c.meta.events.register("before-call", count)
    me = sts.get_caller_identity()["Account"]
    accounts = [a["Id"] for page in org.get_paginator("list_accounts").paginate()
                for a in page["Accounts"] if a["Status"] == "ACTIVE"]
    smtp = 0
    for account in accounts:
        if account == me:
            iam = boto3.client("iam", **common, **KEY)
        else:
            c = sts.assume_role(RoleArn=f"arn:aws:iam::{account}:role/OrganizationAccountAccessRole",
                                RoleSessionName="script")["Credentials"]
            iam = boto3.client("iam", **common, aws_access_key_id=c["AccessKeyId"],
                               aws_secret_access_key=c["SecretAccessKey"], aws_session_token=c["SessionToken"])
        iam.meta.events.register("before-call", count)
        users = [u for page in iam.get_paginator("list_users").paginate() for u in page["Users"]]
        for u in users:
            name = u["UserName"]
            policies = [n for page in iam.get_paginator("list_user_policies").paginate(UserName=name)
                        for n in page["PolicyNames"]]
            groups = [g["GroupName"] for page in iam.get_paginator("list_groups_for_user").paginate(UserName=name)
                      for g in page["Groups"]]
            keys = [k for page in iam.get_paginator("list_access_keys").paginate(UserName=name)
                    for k in page["AccessKeyMetadata"]]
            for k in keys:
                iam.get_access_key_last_used(AccessKeyId=k["AccessKeyId"])
            if GROUP in groups or POLICY in policies:
                smtp += 1
    return smtp, calls[0], len(accounts)


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--members", type=int, default=12)
    p.add_argument("--plain", type=int, default=50)
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--sesctl", default=os.path.join(ROOT, "target", "debug", "sesctl"))
    args = p.parse_args()
    port = free_port()
    moto = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    proxy = None
    try:
        endpoint = f"http://127.0.0.1:{port}"
        wait(endpoint + "/moto-api/")
        subprocess.run([sys.executable, os.path.join(ROOT, "tests", "support", "seed_organization.py"),
                        "--endpoint", endpoint, "--prefix", "b", "--members", str(args.members),
                        "--plain", str(args.plain)], check=True, stdout=subprocess.DEVNULL)
        proxy = subprocess.Popen([sys.executable, os.path.join(ROOT, "bench", "counting_proxy.py"),
                                  "--upstream", endpoint], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        proxy_url = f"http://127.0.0.1:{proxy.stdout.readline().strip()}"
        env = {"PATH": os.environ.get("PATH", ""), "HOME": os.environ.get("HOME", "/tmp"),
               "AWS_ACCESS_KEY_ID": KEY["aws_access_key_id"], "AWS_SECRET_ACCESS_KEY": KEY["aws_secret_access_key"],
               "AWS_CONFIG_FILE": "/dev/null", "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
               "AWS_EC2_METADATA_DISABLED": "true"}
        walls, doc, log = [], None, []
        for i in range(args.repeat):
            urllib.request.urlopen(urllib.request.Request(proxy_url + "/__proxy/reset", data=b"", method="POST"))
            t = time.perf_counter()
            out = subprocess.run([args.sesctl, "audit", "--accounts", "all", "-o", "json", "-q"],
                                 env={**env, "AWS_ENDPOINT_URL": proxy_url}, capture_output=True, text=True)
            walls.append(time.perf_counter() - t)
            assert out.returncode == 0, out.stderr
            doc = json.loads(out.stdout)
            log = json.load(urllib.request.urlopen(proxy_url + "/__proxy/log"))
        actions = collections.Counter(e["action"] for e in log)
        accounts = len(doc["accounts"])
        t = time.perf_counter()
        smtp, script_calls, script_accounts = script_audit(endpoint)
        script_wall = time.perf_counter() - t
        assert script_accounts == accounts and smtp == doc["summary"]["smtp_users"], (smtp, doc["summary"])
        print(json.dumps({
            "accounts": accounts, "users": doc["users_scanned"], "smtp_users": smtp,
            "sesctl_calls": sum(actions.values()), "sesctl_calls_by_action": dict(actions),
            "sesctl_calls_per_account": round(sum(actions.values()) / accounts, 2),
            "sesctl_wall_best": round(min(walls), 2), "sesctl_walls": [round(w, 2) for w in walls],
            "script_calls": script_calls, "script_calls_per_account": round(script_calls / accounts, 2),
            "script_wall": round(script_wall, 2), "speedup": round(script_wall / min(walls), 1),
        }, indent=1))
    finally:
        if proxy:
            proxy.stdin.close()
            proxy.wait(timeout=10)
        moto.terminate()
        moto.wait(timeout=10)
    return 0


if __name__ == "__main__":
    sys.exit(main())
