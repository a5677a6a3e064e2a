#!/usr/bin/env python3
"""A `credential_process` helper for sesctl's tests: appends one line to COUNTER each time it runs (so
a test can count how often a command asked it), then prints fixed long-term credentials in the AWS
CLI's credential_process format.

Usage (in a test's config file): credential_process = python3 tests/support/credential_process.py COUNTER
"""
import json
import sys

with open(sys.argv[1], "a") as counter:
    counter.write("asked\n")
print(
    json.dumps(
        {
            "Version": 1,
            "AccessKeyId": "AKIAPROCESSKEY000001",
            "SecretAccessKey": "processSecretKeyValue0000000000000000000",
        }
    )
)
