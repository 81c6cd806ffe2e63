#!/usr/bin/env bash
# Create .venv (if missing) and install the project with its development extras into it.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))' || { echo "Python >= 3.11 is required" >&2; exit 2; }
[ -x .venv/bin/python ] || python3 -m venv .venv
if ! output=$(.venv/bin/python -m pip install --quiet --disable-pip-version-check -e '.[dev]' 2>&1); then
  echo "$output" >&2
  echo "bootstrap: installing the project into .venv failed" >&2
  exit 1
fi
.venv/bin/python -c 'import tracker' >/dev/null
