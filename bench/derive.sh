#!/usr/bin/env bash
# Whole-process time of `sesctl derive` beside the developer guide's Python script, in one hyperfine
# run. Needs a release build (cargo build --release) and hyperfine (Debian: apt-get install hyperfine).
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${SESCTL_BIN:-target/release/sesctl}
secret_file=$(mktemp)
trap 'rm -f "$secret_file"' EXIT
printf '%s' 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY' > "$secret_file"
# Both must print the same password before timing means anything.
a=$("$bin" derive --region us-east-1 < "$secret_file")
b=$(python3 bench/smtp_credentials_generate.py "$(cat "$secret_file")" us-east-1)
[ "$a" = "$b" ] || { echo "outputs differ: $a vs $b" >&2; exit 1; }
hyperfine --warmup 5 --runs "${RUNS:-100}" --export-markdown "${EXPORT:-/dev/stdout}" \
  -n 'sesctl derive' "$bin derive --region us-east-1 < $secret_file" \
  -n 'python3 smtp_credentials_generate.py' "python3 bench/smtp_credentials_generate.py \$(cat $secret_file) us-east-1"
