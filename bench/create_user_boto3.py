#!/usr/bin/env python3
"""The steps of `sesctl create-user NAME --secret-name SECRET`, as a plain sequential boto3 script.

The same API calls in the same order, one after another: the checks (GetUser, DescribeSecret,
GetCallerIdentity, the sending group's state), setup's changes where missing, CreateUser,
AddUserToGroup, CreateAccessKey, the SMTP password derived locally, CreateSecret, ListAccessKeys.
Prints the seconds the API work took (after imports and client creation) on stdout.

Usage: create_user_boto3.py --endpoint-url URL --region REGION USER SECRET_NAME
"""
import argparse
import base64
import hashlib
import hmac
import json
import time
import urllib.parse

import boto3
from botocore.exceptions import ClientError

GROUP = "AWSSESSendingGroupDoNotRename"
POLICY = "AmazonSesSendingAccess"
DOCUMENT = json.dumps({"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Action": "ses:SendRawEmail", "Resource": "*"}]})


def smtp_password(secret: str, region: str) -> str:
    def sign(key: bytes, msg: str) -> bytes:
        return hmac.new(key, msg.encode(), hashlib.sha256).digest()
    k = sign(("AWS4" + secret).encode(), "11111111")
    for part in (region, "ses", "aws4_request", "SendRawEmail"):
        k = sign(k, part)
    return base64.b64encode(b"\x04" + k).decode()


def missing(call, code="NoSuchEntity"):
    try:
        return call(), False
    except ClientError as e:
        if e.response["Error"]["Code"] in (code, "ResourceNotFoundException"):
            return None, True
        raise


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--endpoint-url", required=True)
    p.add_argument("--region", required=True)
    p.add_argument("user")
    p.add_argument("secret_name")
    a = p.parse_args()
    iam = boto3.client("iam", endpoint_url=a.endpoint_url, region_name="us-east-1")
    sts = boto3.client("sts", endpoint_url=a.endpoint_url, region_name="us-east-1")
    sm = boto3.client("secretsmanager", endpoint_url=a.endpoint_url, region_name=a.region)
    start = time.monotonic()

    _, user_missing = missing(lambda: iam.get_user(UserName=a.user))
    assert user_missing, "the user exists"
    _, secret_missing = missing(lambda: sm.describe_secret(SecretId=a.secret_name))
    assert secret_missing, "the secret exists"
    account = sts.get_caller_identity()["Account"]
    arn = f"arn:aws:iam::{account}:policy/{POLICY}"
    _, group_missing = missing(lambda: iam.get_group(GroupName=GROUP, MaxItems=1))
    policy, policy_missing = missing(lambda: iam.get_policy(PolicyArn=arn))
    if policy:
        version = iam.get_policy_version(PolicyArn=arn, VersionId=policy["Policy"]["DefaultVersionId"])
        doc = version["PolicyVersion"]["Document"]
        if isinstance(doc, str):
            doc = json.loads(urllib.parse.unquote(doc))
    inline, attached = [], []
    if not group_missing:
        inline = iam.list_group_policies(GroupName=GROUP)["PolicyNames"]
        attached = [x["PolicyArn"] for x in iam.list_attached_group_policies(GroupName=GROUP)["AttachedPolicies"]]
    if POLICY not in inline:
        if policy_missing:
            iam.create_policy(PolicyName=POLICY, PolicyDocument=DOCUMENT)
        if group_missing:
            iam.create_group(GroupName=GROUP)
        if arn not in attached:
            iam.attach_group_policy(GroupName=GROUP, PolicyArn=arn)

    iam.create_user(UserName=a.user)
    iam.add_user_to_group(GroupName=GROUP, UserName=a.user)
    key = iam.create_access_key(UserName=a.user)["AccessKey"]
    password = smtp_password(key["SecretAccessKey"], a.region)
    sm.create_secret(Name=a.secret_name, SecretString=json.dumps({
        "username": key["AccessKeyId"], "password": password,
        "host": f"email-smtp.{a.region}.amazonaws.com", "port": 587, "region": a.region,
        "iam_user_name": a.user, "access_key_id": key["AccessKeyId"]}))
    iam.list_access_keys(UserName=a.user)
    print(f"{time.monotonic() - start:.4f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
