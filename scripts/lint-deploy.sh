#!/usr/bin/env bash
# Lints the deployment files: cfn-lint over every CloudFormation template in deploy/ (installing
# cfn-lint with pip when it is missing), then checks that policies/sesctl-rotation-lambda.json is valid
# JSON and grants the same IAM and Secrets Manager actions, with the same conditions, as the inline
# policy of the execution role in deploy/rotation-function.yaml, so the two cannot drift apart.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
if ! "$PYTHON" -c 'import cfnlint.runner, cfnlint.decode' 2>/dev/null; then
  echo "installing cfn-lint with pip" >&2
  "$PYTHON" -m pip install --quiet --disable-pip-version-check cfn-lint
fi

templates=(deploy/*.yaml)
"$PYTHON" -c 'import sys; from cfnlint.runner import main; sys.argv[0] = "cfn-lint"; sys.exit(main())' \
  -- "${templates[@]}"

"$PYTHON" - policies/sesctl-rotation-lambda.json deploy/rotation-function.yaml <<'PY'
import json
import sys

from cfnlint.decode import cfn_yaml

policy_path, template_path = sys.argv[1:3]
try:
    with open(policy_path) as f:
        policy = json.load(f)
except ValueError as e:
    sys.exit(f"lint-deploy: {policy_path} is not valid JSON: {e}")

template = cfn_yaml.load(template_path)
role = template["Resources"]["ExecutionRole"]["Properties"]
inline = next(p["PolicyDocument"] for p in role["Policies"] if p["PolicyName"] == "sesctl-rotation")


def plain(value):
    """The template's decoded nodes as plain JSON values."""
    return json.loads(json.dumps(value))


def grants(document):
    """{service: {"actions": set, "conditions": [...]}} for the IAM and Secrets Manager statements."""
    out = {}
    for statement in plain(document["Statement"]):
        if "Fn::If" in statement:  # an optional statement (the KMS key): neither service
            continue
        actions = statement["Action"]
        actions = [actions] if isinstance(actions, str) else actions
        for action in actions:
            service = action.split(":")[0]
            if service in ("iam", "secretsmanager"):
                entry = out.setdefault(service, {"actions": set(), "conditions": []})
                entry["actions"].add(action)
                condition = statement.get("Condition")
                if condition not in entry["conditions"]:
                    entry["conditions"].append(condition)
    return out


expected, actual = grants(policy), grants(inline)
problems = []
for service in sorted(set(expected) | set(actual)):
    want = expected.get(service, {"actions": set(), "conditions": []})
    have = actual.get(service, {"actions": set(), "conditions": []})
    for action in sorted(want["actions"] - have["actions"]):
        problems.append(f"{action} is in {policy_path} but not in the template's inline policy")
    for action in sorted(have["actions"] - want["actions"]):
        problems.append(f"{action} is in the template's inline policy but not in {policy_path}")
    if want["conditions"] != have["conditions"]:
        problems.append(f"the {service} conditions differ: {want['conditions']} (policy file) vs "
                        f"{have['conditions']} (template)")
if problems:
    for problem in problems:
        print(f"lint-deploy: {problem}", file=sys.stderr)
    sys.exit(1)
PY

echo "lint-deploy: ${#templates[@]} template(s) pass cfn-lint; the rotation policy matches the template"
