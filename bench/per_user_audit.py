#!/usr/bin/env python3
"""The plain way to audit SMTP users, for comparison with `sesctl audit`: ListUsers, then for every
user ListUserPolicies, ListGroupsForUser and ListAccessKeys, and GetAccessKeyLastUsed per key.
Sequential, as such scripts usually are. Counts its own API calls (botocore's before-call event).

Usage: per_user_audit.py --endpoint URL   (prints {"users", "smtp_users", "calls"} as JSON)
"""
import argparse
import json
import sys

import boto3

GROUP = "AWSSESSendingGroupDoNotRename"
POLICY = "AmazonSesSendingAccess"


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--endpoint", required=True)
    args = p.parse_args()
    iam = boto3.client("iam", endpoint_url=args.endpoint, region_name="us-east-1",
                       aws_access_key_id="AKIAIOSFODNN7EXAMPLE", aws_secret_access_key="bench")
    calls = [0]
    iam.meta.events.register("before-call.iam", lambda **_: calls.__setitem__(0, calls[0] + 1))
    users = [u for page in iam.get_paginator("list_users").paginate() for u in page["Users"]]
    smtp = []
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
            smtp.append(name)
    json.dump({"users": len(users), "smtp_users": len(smtp), "calls": calls[0]}, sys.stdout)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
