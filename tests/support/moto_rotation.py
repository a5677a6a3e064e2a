#!/usr/bin/env python3
"""A moto server whose RotateSecret starts a rotation the way Secrets Manager does, then stops.

Secrets Manager, asked to rotate a secret, adds a version whose id is the rotation's token, staged
AWSPENDING and holding no value, and then invokes the rotation function four times. moto can invoke
a function only through Docker, and without one it promotes the new, empty version to AWSCURRENT at
once. Here RotateSecret, called without a function, does only the first part (the version staged
AWSPENDING, AWSPENDING taken off any other version); the tests then invoke the function's four steps
through a Lambda Runtime API themselves (tests/cli/support/lambda.rs).

Usage: moto_rotation.py [moto.server's options: -H HOST -p PORT]
"""
import time
import uuid

from moto.secretsmanager import models
from moto.secretsmanager.exceptions import InvalidRequestException, SecretNotFoundException


def start_rotation(self, secret_id, client_request_token=None, rotation_lambda_arn=None,
                   rotation_rules=None, rotate_immediately=True):
    if rotation_lambda_arn:
        raise InvalidRequestException("this test server starts rotations without a function only")
    if not self._is_valid_identifier(secret_id):
        raise SecretNotFoundException()
    secret = self.secrets[secret_id]
    for version in secret.versions.values():
        stages = version["version_stages"]
        if "AWSPENDING" in stages and "AWSCURRENT" not in stages:
            # As Secrets Manager: a rotation whose AWSPENDING version is not current is in progress.
            raise InvalidRequestException("A previous rotation isn't complete. That rotation will be reattempted.")
    token = client_request_token or str(uuid.uuid4())
    secret.remove_version_stages_from_old_versions(["AWSPENDING"])
    secret.versions[token] = {
        "createdate": int(time.time()),
        "version_id": token,
        "version_stages": ["AWSPENDING"],
    }
    secret.rotation_requested = True
    return secret.to_short_dict(version_id=token)


models.SecretsManagerBackend.rotate_secret = start_rotation

if __name__ == "__main__":
    from moto.server import main

    main()
