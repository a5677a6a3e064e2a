#!/usr/bin/env bash
# Checks that the project stays inside its own tree: no source, test, script or CI file names a path
# beside the repository (such as a shared folder next to a checkout, which a user's clone does not
# have). .ci/run also runs the whole test suite from a clone in an empty folder, which proves the same
# at run time.
set -euo pipefail
cd "$(dirname "$0")/.."

status=0
# Paths that climb out of the repository: into a shared folder beside it, or more `../` than the file is deep.
while IFS= read -r file; do
    depth=$(($(tr -cd '/' <<<"$file" | wc -c)))
    while IFS= read -r hit; do
        ups=$(grep -o '\.\./' <<<"$hit" | wc -l)
        if ((ups > depth)) || grep -qE '(^|/)shared$' <<<"$hit"; then
            echo "check-boundaries: $file reaches outside the repository: $hit" >&2
            status=1
        fi
    done < <(grep -oE '(\.\./)+[A-Za-z0-9_.-]*' "$file" 2>/dev/null || true)
done < <(git ls-files -co --exclude-standard -- src crates tests scripts .ci benches bench build.rs | grep -v "^scripts/check-boundaries.sh$" | grep -vE '\.(json|md|csv|lock)$')
exit $status
