#!/usr/bin/env python3
"""Makes an AWS Organization in moto for sesctl's `--accounts` tests: the caller's account (moto's
default, 123456789012) becomes the management account, `--members` member accounts are created with
organizations:CreateAccount, and in each member (entered with sts:AssumeRole on
OrganizationAccountAccessRole; moto needs no real role there) it makes:
  <prefix>-<n>-group    member of AWSSESSendingGroupDoNotRename (whose inline policy allows
                        ses:SendRawEmail), one active key
  <prefix>-<n>-inline   the console's pre-September-2024 shape: inline AmazonSesSendingAccess and the
                        tag InvokedBy=SESConsole, one active key
  <prefix>-<n>-plain1   a plain user with a key; <prefix>-<n>-plain2 a plain user without one
The management account gets <prefix>-mgmt-group (as a member's group user).

moto keeps IAM apart per account: a request signed with an access key that sts:AssumeRole issued is
served by the IAM of the account named in the assumed role's ARN.

Prints one JSON object: {"management": id, "members": [id, ...], "users": {id: {user: kind}}}.

With --plain N, each member also gets N more plain users (<prefix>-<n>-p<i>), for benchmarks.
With --empty, only the organization and its member accounts are made (no IAM users or groups).

Usage: seed_organization.py --endpoint URL --prefix P [--members N] [--plain N] [--empty]
"""
import argparse
import json
import sys

import boto3

GROUP = "AWSSESSendingGroupDoNotRename"
POLICY = "AmazonSesSendingAccess"
SEND = json.dumps({"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Action": "ses:SendRawEmail", "Resource": "*"}]})
KEY = dict(aws_access_key_id="AKIAIOSFODNN7EXAMPLE",
           aws_secret_access_key="wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")


def seed(iam, prefix):
    users = {}
    try:
        iam.create_group(GroupName=GROUP)
    except iam.exceptions.EntityAlreadyExistsException:
        pass
    iam.put_group_policy(GroupName=GROUP, PolicyName=POLICY, PolicyDocument=SEND)
    iam.create_user(UserName=f"{prefix}-group")
    iam.add_user_to_group(GroupName=GROUP, UserName=f"{prefix}-group")
    iam.create_access_key(UserName=f"{prefix}-group")
    users[f"{prefix}-group"] = "group"
    return users


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--endpoint", required=True)
    p.add_argument("--prefix", required=True)
    p.add_argument("--members", type=int, default=3)
    p.add_argument("--empty", action="store_true")
    p.add_argument("--plain", type=int, default=0)
    args = p.parse_args()
    common = dict(endpoint_url=args.endpoint, region_name="us-east-1")
    org = boto3.client("organizations", **common, **KEY)
    sts = boto3.client("sts", **common, **KEY)
    management = sts.get_caller_identity()["Account"]
    org.create_organization(FeatureSet="ALL")
    members = []
    for n in range(args.members):
        status = org.create_account(Email=f"{args.prefix}-{n}@example.com",
                                    AccountName=f"{args.prefix}-{n}")["CreateAccountStatus"]
        members.append(status["AccountId"])
    if args.empty:
        json.dump({"management": management, "members": members, "users": {}}, sys.stdout)
        print()
        return 0
    users = {management: seed(boto3.client("iam", **common, **KEY), f"{args.prefix}-mgmt")}
    for n, account in enumerate(members):
        creds = sts.assume_role(RoleArn=f"arn:aws:iam::{account}:role/OrganizationAccountAccessRole",
                                RoleSessionName="seed")["Credentials"]
        iam = boto3.client("iam", **common, aws_access_key_id=creds["AccessKeyId"],
                           aws_secret_access_key=creds["SecretAccessKey"],
                           aws_session_token=creds["SessionToken"])
        prefix = f"{args.prefix}-{n}"
        mine = seed(iam, prefix)
        inline = f"{prefix}-inline"
        iam.create_user(UserName=inline, Tags=[{"Key": "InvokedBy", "Value": "SESConsole"}])
        iam.put_user_policy(UserName=inline, PolicyName=POLICY, PolicyDocument=SEND)
        iam.create_access_key(UserName=inline)
        mine[inline] = "inline"
        iam.create_user(UserName=f"{prefix}-plain1")
        iam.create_access_key(UserName=f"{prefix}-plain1")
        iam.create_user(UserName=f"{prefix}-plain2")
        for i in range(args.plain):
            iam.create_user(UserName=f"{prefix}-p{i}")
        users[account] = mine
    json.dump({"management": management, "members": members, "users": users}, sys.stdout)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
