#!/usr/bin/env python3
"""The SES developer guide's migration done by hand, as a sequential boto3 script: the baseline
sesctl's migrate-inline-policy is measured against (bench/run_migrate.py).

Once: create the managed policy AmazonSesSendingAccess and the group AWSSESSendingGroupDoNotRename
and attach one to the other. Then ListUsers (every page), and for each user: GetUserPolicy
AmazonSesSendingAccess (skip users without it), AddUserToGroup, ListGroupsForUser (confirm the
membership), DeleteUserPolicy, UntagUser InvokedBy. Standard boto3 retries.

Usage: guide_steps.py --endpoint-url URL
"""
import argparse
import json

import boto3
from botocore.config import Config

GROUP = "AWSSESSendingGroupDoNotRename"
POLICY = "AmazonSesSendingAccess"
DOCUMENT = json.dumps(
    {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "ses:SendRawEmail", "Resource": "*"}]}
)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--endpoint-url", required=True)
    args = parser.parse_args()
    iam = boto3.client(
        "iam",
        region_name="us-east-1",
        endpoint_url=args.endpoint_url,
        aws_access_key_id="AKIAIOSFODNN7EXAMPLE",
        aws_secret_access_key="wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        config=Config(retries={"mode": "standard", "max_attempts": 3}),
    )
    arn = iam.create_policy(PolicyName=POLICY, PolicyDocument=DOCUMENT)["Policy"]["Arn"]
    iam.create_group(GroupName=GROUP)
    iam.attach_group_policy(GroupName=GROUP, PolicyArn=arn)

    migrated = 0
    for page in iam.get_paginator("list_users").paginate():
        for user in page["Users"]:
            name = user["UserName"]
            try:
                iam.get_user_policy(UserName=name, PolicyName=POLICY)
            except iam.exceptions.NoSuchEntityException:
                continue
            iam.add_user_to_group(GroupName=GROUP, UserName=name)
            groups = iam.list_groups_for_user(UserName=name)["Groups"]
            if not any(g["GroupName"] == GROUP for g in groups):
                raise SystemExit(f"{name}: membership not visible; inline policy kept")
            iam.delete_user_policy(UserName=name, PolicyName=POLICY)
            iam.untag_user(UserName=name, TagKeys=["InvokedBy"])
            migrated += 1
    print(json.dumps({"migrated": migrated}))


if __name__ == "__main__":
    main()
