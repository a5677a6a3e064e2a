#!/usr/bin/env python3
"""Creates N SMTP users as the SES console made them before 6 September 2024: tag
InvokedBy=SESConsole and the inline user policy AmazonSesSendingAccess (ses:SendRawEmail on *).

Usage: legacy_users.py --endpoint-url URL --count N [--prefix NAME]
"""
import argparse
import json
from concurrent.futures import ThreadPoolExecutor

import boto3

POLICY = json.dumps(
    {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "ses:SendRawEmail", "Resource": "*"}]}
)


def iam_client(endpoint_url):
    return boto3.client(
        "iam",
        region_name="us-east-1",
        endpoint_url=endpoint_url,
        aws_access_key_id="AKIAIOSFODNN7EXAMPLE",
        aws_secret_access_key="wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    )


def create(iam, name):
    iam.create_user(UserName=name, Tags=[{"Key": "InvokedBy", "Value": "SESConsole"}])
    iam.put_user_policy(UserName=name, PolicyName="AmazonSesSendingAccess", PolicyDocument=POLICY)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--endpoint-url", required=True)
    parser.add_argument("--count", type=int, required=True)
    parser.add_argument("--prefix", default="ses-smtp-user.legacy")
    args = parser.parse_args()
    iam = iam_client(args.endpoint_url)
    names = [f"{args.prefix}-{i:05d}" for i in range(args.count)]
    with ThreadPoolExecutor(16) as pool:
        list(pool.map(lambda n: create(iam, n), names))


if __name__ == "__main__":
    main()
