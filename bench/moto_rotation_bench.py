#!/usr/bin/env python3
"""The tests' rotating moto server (tests/support/moto_rotation.py), with what the aws-samples rotation
function needs and moto lacks or does differently from AWS, for bench/rotation_lambda.py:

- RotateSecret (which, as in the tests, only starts a rotation: a version with the token, staged
  AWSPENDING, holding no value) also sets RotationEnabled, as Secrets Manager does when a function is
  attached. The aws-samples function refuses to run on a secret whose rotation is not enabled.
- GetSecretValue without VersionId or VersionStage answers AWSCURRENT, as in AWS. moto answers the
  version that was current when the value was last put, even after UpdateSecretVersionStage has
  moved AWSCURRENT (the aws-samples finishSecret reads the current value that way).
- SSM ListCommandInvocations, answered from moto's own record of the command (moto implements
  SendCommand and GetCommandInvocation, but not ListCommandInvocations, which the aws-samples
  finishSecret polls). moto runs no command: every invocation is already "Success".
- SendCommand's `tag:` targets resolve to one fixed instance (one email server) instead of moto's
  EC2 instances: loading moto's EC2 makes its state dump (/moto-api/data.json, which the SMTP server
  reads at each login to check the key) megabytes long and seconds slow.

sesctl-rotation-lambda uses no SSM, and its calls per rotation are the same
under this server as under the tests' (21, then 26, with SESCTL_VERIFY=none).

Usage: moto_rotation_bench.py [moto.server's options: -H HOST -p PORT]
"""
import importlib.util
import os

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

_spec = importlib.util.spec_from_file_location(
    "moto_rotation", os.path.join(ROOT, "tests", "support", "moto_rotation.py"))
_rotation = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_rotation)  # patches RotateSecret as the tests do

from moto.core.responses import ActionResult  # noqa: E402
from moto.secretsmanager import models as sm_models  # noqa: E402
from moto.ssm import models as ssm_models  # noqa: E402
from moto.ssm.responses import SimpleSystemManagerResponse  # noqa: E402

EMAIL_SERVER = "i-0be4c4000000e3a11"


def _start_rotation_enabled(self, secret_id, *args, **kwargs):
    answer = _rotation.start_rotation(self, secret_id, *args, **kwargs)
    self.secrets[secret_id].rotation_enabled = True
    return answer


_update_stage = sm_models.SecretsManagerBackend.update_secret_version_stage


def _update_stage_and_default(self, secret_id, version_stage, remove_from_version_id, move_to_version_id):
    answer = _update_stage(self, secret_id, version_stage, remove_from_version_id, move_to_version_id)
    if version_stage == "AWSCURRENT" and move_to_version_id:
        self.secrets[secret_id].set_default_version_id(move_to_version_id)
    return answer


def _tag_targets(self):
    return [EMAIL_SERVER] if any(t["Key"].startswith("tag:") for t in self.targets) else []


def _list_command_invocations(self):
    command_id = self._get_param("CommandId")
    instance_id = self._get_param("InstanceId")
    commands = self.ssm_backend.list_commands(command_id, None)
    invocations = [inv for c in commands for inv in c.invocations
                   if instance_id is None or inv["InstanceId"] == instance_id]
    return ActionResult({"CommandInvocations": invocations})


sm_models.SecretsManagerBackend.rotate_secret = _start_rotation_enabled
sm_models.SecretsManagerBackend.update_secret_version_stage = _update_stage_and_default
ssm_models.Command._get_instance_ids_from_targets = _tag_targets
SimpleSystemManagerResponse.list_command_invocations = _list_command_invocations

if __name__ == "__main__":
    from moto.server import main

    main()
