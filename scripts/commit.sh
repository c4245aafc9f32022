#!/usr/bin/env bash
# Commit only when lint, types and the named tests pass:
#   scripts/commit.sh "message" [test files...]
set -euo pipefail
cd "$(dirname "$0")/.."
message=$1
shift
make -s lint typecheck
if [ $# -gt 0 ]; then
  make -s pytest PYTEST_ARGS="-q $*" > /tmp/commit-tests.log 2>&1 || { tail -20 /tmp/commit-tests.log; exit 1; }
  tail -1 /tmp/commit-tests.log
fi
git add -A
git commit -qm "$message"
echo "committed: $message"
