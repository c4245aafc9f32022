#!/usr/bin/env bash
# Commit only when lint and types pass: scripts/commit.sh "message"
set -euo pipefail
cd "$(dirname "$0")/.."
make -s lint typecheck
git add -A
git commit -qm "$1"
echo "committed: $1"
