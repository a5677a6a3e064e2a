#!/usr/bin/env bash
# Runs sesctl's main job end to end against a local AWS emulator: starts a moto server on a free
# loopback port (installing moto[server] with pip if it is missing), builds sesctl, runs `setup`, then
# `create-user` to Secrets Manager and to a CSV file, then `list`, `rotate`, `audit` and `delete-user`,
# and shows what a user sees. Everything it started
# (the server, the temporary directory) is removed on exit, however the script ends.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PYTHON="${PYTHON:-python3}"
REGION="${REGION:-eu-west-1}"

if ! "$PYTHON" -c 'import moto.server' 2>/dev/null; then
    echo "# installing moto[server] (pip)"
    "$PYTHON" -m pip install --quiet 'moto[server]'
fi

WORK="$(mktemp -d)"
MOTO_PID=""
cleanup() {
    if [ -n "$MOTO_PID" ]; then
        kill "$MOTO_PID" 2>/dev/null || true
        wait "$MOTO_PID" 2>/dev/null || true
    fi
    rm -rf "$WORK"
}
trap cleanup EXIT INT TERM

PORT="$("$PYTHON" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
"$PYTHON" -m moto.server -H 127.0.0.1 -p "$PORT" >"$WORK/moto.log" 2>&1 &
MOTO_PID=$!
for _ in $(seq 1 100); do
    if "$PYTHON" -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:$PORT/moto-api/', timeout=1)" 2>/dev/null; then
        break
    fi
    sleep 0.2
done

if [ -n "${SESCTL_BIN:-}" ]; then
    SESCTL="$SESCTL_BIN"
else
    echo "# building sesctl"
    (cd "$ROOT" && cargo build --quiet --bin sesctl)
    SESCTL="$ROOT/target/debug/sesctl"
fi

# A throwaway account in the emulator: fake credentials, every call sent to moto.
export AWS_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLE
export AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY
export AWS_ENDPOINT_URL="http://127.0.0.1:$PORT"
export AWS_CONFIG_FILE="$WORK/config" AWS_SHARED_CREDENTIALS_FILE="$WORK/credentials"
touch "$AWS_CONFIG_FILE" "$AWS_SHARED_CREDENTIALS_FILE"
export AWS_EC2_METADATA_DISABLED=true

run() {
    echo
    echo "\$ sesctl $*"
    "$SESCTL" "$@"
}

run setup --dry-run
run setup
run setup
run create-user app-mailer --region "$REGION" --secret-name smtp/app-mailer --dry-run
run create-user app-mailer --region "$REGION" --secret-name smtp/app-mailer
run create-user app-mailer --region "$REGION" --secret-name smtp/app-mailer || echo "(exit $?)"
run create-user reports-mailer --region "$REGION" --csv "$WORK/reports-mailer.csv"
echo
echo "\$ ls -l reports-mailer.csv && cat reports-mailer.csv"
ls -l "$WORK/reports-mailer.csv" | awk '{print $1, $NF}'
cat "$WORK/reports-mailer.csv"
run create-user --region "$REGION" -o json
echo
echo "# the secret as Secrets Manager holds it:"
"$PYTHON" - <<PY
import boto3, json
sm = boto3.client("secretsmanager", endpoint_url="$AWS_ENDPOINT_URL", region_name="$REGION")
value = json.loads(sm.get_secret_value(SecretId="smtp/app-mailer")["SecretString"])
value["password"] = value["password"][:4] + "... (hidden here)"
print(json.dumps(value, indent=2))
PY

run list
run rotate app-mailer --secret-name smtp/app-mailer --region "$REGION" --dry-run
run rotate app-mailer --secret-name smtp/app-mailer --region "$REGION"
run audit --fail-on error
run delete-user reports-mailer --yes
echo
echo "# done: the emulator and the temporary files are removed on exit"
