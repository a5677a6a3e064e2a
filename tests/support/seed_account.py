#!/usr/bin/env python3
"""Fills an IAM endpoint (moto) with many users, a few of them SMTP users, for sesctl's audit tests
and benchmarks.

Every `--smtp-every`-th user is an SMTP user of one of these kinds, in turn:
  group           member of AWSSESSendingGroupDoNotRename, one active key
  inline          inline AmazonSesSendingAccess and tag InvokedBy=SESConsole, one active key
  tag             only the tag InvokedBy=SESConsole (no sending permission), no key
  attached        a customer-managed policy allowing ses:SendRawEmail attached to the user, one key
  group_two_keys  member of the group, one active and one inactive key
Every other user is a plain user: every 10th of them has an access key, and every 7th is in an
unrelated group with an unrelated inline policy.

Prints one JSON object: {"smtp": {user: kind}, "plain": [users], "keys": {user: [key ids]}}.

Usage: seed_account.py --endpoint URL --prefix P --users N [--smtp-every K] [--workers W]
"""
import argparse
import json
import sys
from concurrent.futures import ThreadPoolExecutor

import boto3
from botocore.config import Config

GROUP = "AWSSESSendingGroupDoNotRename"
POLICY = "AmazonSesSendingAccess"
SEND = json.dumps({"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Action": "ses:SendRawEmail", "Resource": "*"}]})
OTHER = json.dumps({"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]})
KINDS = ["group", "inline", "tag", "attached", "group_two_keys"]


def client(endpoint):
    return boto3.client(
        "iam", endpoint_url=endpoint, region_name="us-east-1",
        aws_access_key_id="AKIAIOSFODNN7EXAMPLE", aws_secret_access_key="seed",
        config=Config(max_pool_connections=64, retries={"max_attempts": 5, "mode": "standard"}))


def ensure(fn, *args, **kwargs):
    try:
        return fn(*args, **kwargs)
    except Exception as e:  # already there (a second seeding of the same server)
        if "EntityAlreadyExists" not in str(e):
            raise


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--endpoint", required=True)
    p.add_argument("--prefix", required=True)
    p.add_argument("--users", type=int, required=True)
    p.add_argument("--smtp-every", type=int, default=20)
    p.add_argument("--workers", type=int, default=16)
    args = p.parse_args()
    iam = client(args.endpoint)
    ensure(iam.create_group, GroupName=GROUP)
    iam.put_group_policy(GroupName=GROUP, PolicyName=POLICY, PolicyDocument=SEND)
    other_group = f"{args.prefix}-developers"
    ensure(iam.create_group, GroupName=other_group)
    send_policy = f"{args.prefix}-send"
    created = ensure(iam.create_policy, PolicyName=send_policy, PolicyDocument=SEND)
    send_arn = created["Policy"]["Arn"] if created else \
        f"arn:aws:iam::{boto3.client('sts', endpoint_url=args.endpoint, region_name='us-east-1', aws_access_key_id='AKIAIOSFODNN7EXAMPLE', aws_secret_access_key='seed').get_caller_identity()['Account']}:policy/{send_policy}"

    smtp, plain, keys = {}, [], {}

    def one(i):
        name = f"{args.prefix}-{i:05d}"
        if i % args.smtp_every == 0:
            kind = KINDS[(i // args.smtp_every) % len(KINDS)]
            tags = [{"Key": "InvokedBy", "Value": "SESConsole"}] if kind in ("inline", "tag") else []
            iam.create_user(UserName=name, Tags=tags)
            made = []
            if kind in ("group", "group_two_keys"):
                iam.add_user_to_group(GroupName=GROUP, UserName=name)
            if kind == "inline":
                iam.put_user_policy(UserName=name, PolicyName=POLICY, PolicyDocument=SEND)
            if kind == "attached":
                iam.attach_user_policy(UserName=name, PolicyArn=send_arn)
            if kind != "tag":
                made.append(iam.create_access_key(UserName=name)["AccessKey"]["AccessKeyId"])
            if kind == "group_two_keys":
                second = iam.create_access_key(UserName=name)["AccessKey"]["AccessKeyId"]
                iam.update_access_key(UserName=name, AccessKeyId=second, Status="Inactive")
                made.append(second)
            return name, kind, made
        iam.create_user(UserName=name)
        made = []
        if i % 10 == 1:
            made.append(iam.create_access_key(UserName=name)["AccessKey"]["AccessKeyId"])
        if i % 7 == 3:
            iam.add_user_to_group(GroupName=other_group, UserName=name)
            iam.put_user_policy(UserName=name, PolicyName="read-bucket", PolicyDocument=OTHER)
        return name, None, made

    with ThreadPoolExecutor(args.workers) as pool:
        for name, kind, made in pool.map(one, range(args.users)):
            if kind:
                smtp[name] = kind
            else:
                plain.append(name)
            if made:
                keys[name] = made
    json.dump({"smtp": smtp, "plain": plain, "keys": keys}, sys.stdout)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
