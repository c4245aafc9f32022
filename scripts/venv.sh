#!/usr/bin/env bash
# Creates the virtualenv at $1 with $PYTHON (python3), installing Debian's venv module if it lacks one.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
venv=$1
python=${PYTHON:-python3}
[ -x "$venv/bin/python" ] && exit 0
"$python" -c 'import sys; assert sys.version_info >= (3, 11), sys.version' ||
  { log "Python 3.11 or newer is needed (PYTHON=$python)"; exit 1; }
if ! "$python" -m venv "$venv" 2>/dev/null; then
  rm -rf "$venv"
  apt_install python3-venv
  "$python" -m venv "$venv"
fi
"$venv/bin/python" -m pip install -q --upgrade pip
