#!/usr/bin/env bash
# The test command: set up .venv, start the services the suites need (as root), run ruff and pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
.venv/bin/ruff check .
if [ "${CI:-}" = "true" ]; then export TRACKER_REQUIRE_SERVICES=1; fi
.venv/bin/python -m pytest "$@"
