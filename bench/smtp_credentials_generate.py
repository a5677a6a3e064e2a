#!/usr/bin/env python3
"""The SES developer guide's SMTP password script, as users run it today:
`python3 smtp_credentials_generate.py SECRET REGION`. Used only as the baseline for sesctl's
whole-process `derive` benchmark (bench/derive.sh)."""
import argparse
import base64
import hashlib
import hmac

DATE = "11111111"
SERVICE = "ses"
MESSAGE = "SendRawEmail"
TERMINAL = "aws4_request"
VERSION = 0x04


def sign(key, msg):
    return hmac.new(key, msg.encode("utf-8"), hashlib.sha256).digest()


def calculate_key(secret_access_key, region):
    signature = sign(("AWS4" + secret_access_key).encode("utf-8"), DATE)
    signature = sign(signature, region)
    signature = sign(signature, SERVICE)
    signature = sign(signature, TERMINAL)
    signature = sign(signature, MESSAGE)
    signature_and_version = bytes([VERSION]) + signature
    return base64.b64encode(signature_and_version).decode("utf-8")


def main():
    parser = argparse.ArgumentParser(description="Convert a Secret Access Key to an SMTP password.")
    parser.add_argument("secret", help="The Secret Access Key to convert.")
    parser.add_argument("region", help="The AWS Region where the SMTP password will be used.")
    args = parser.parse_args()
    print(calculate_key(args.secret, args.region))


if __name__ == "__main__":
    main()
