#!/usr/bin/env bash
# The test command: set up .venv, start the services the suites need (as root), run ruff and pytest.
# In CI (CI=true) a skipped service test (slurm, postgres, browser) counts as a failure.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
.venv/bin/ruff check .
if [ "${CI:-}" = "true" ]; then export TRACKER_REQUIRE_SERVICES=1; fi
if [ "$(id -u)" = 0 ]; then
  # a cluster that was already running is left running; one started here is stopped at the end
  if ! bash scripts/slurm-cluster.sh status >/dev/null 2>&1; then
    bash scripts/slurm-cluster.sh start
    trap 'bash scripts/slurm-cluster.sh stop >/dev/null 2>&1 || true' EXIT
  fi
else
  echo "not root: the Slurm suite will be skipped (scripts/slurm-cluster.sh needs root)" >&2
fi
.venv/bin/python -m pytest "$@"
