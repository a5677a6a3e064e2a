#!/usr/bin/env bash
# Runs every sesctl test. Installs what the tests need when it is missing: the moto server (AWS
# emulator) and aiosmtpd (SMTP server), both from PyPI. The tests start and stop those servers
# themselves on free loopback ports. Extra arguments go to `cargo test` (e.g. a test name filter).
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
if ! "$PYTHON" -c 'import moto.server, flask, flask_cors, aiosmtpd, cryptography, boto3' 2>/dev/null; then
  echo "installing the test services (moto[server], aiosmtpd) with pip" >&2
  "$PYTHON" -m pip install --quiet --disable-pip-version-check 'moto[server]>=5,<6' 'aiosmtpd>=1.4' boto3
fi
export SESCTL_TEST_PYTHON="$PYTHON"

# `cargo test` builds a package's binaries only for that package's own integration tests: the rotation
# function's binary, which the CLI's tests run, is built here first (and so is never stale).
cargo build --workspace --bins
cargo test --all-targets "$@"
