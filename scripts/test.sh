#!/usr/bin/env bash
# The test command: set up .venv, start the services the suites need (as root), run ruff, mypy and pytest.
# In CI (CI=true) a skipped service test (slurm, postgres, browser) counts as a failure.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/mypy  # the files and settings are in pyproject.toml's [tool.mypy]
if [ "${CI:-}" = "true" ]; then export TRACKER_REQUIRE_SERVICES=1; fi
stop=()
cleanup() { for command in "${stop[@]}"; do eval "$command" >/dev/null 2>&1 || true; done; }
trap cleanup EXIT
if [ "$(id -u)" = 0 ]; then
  # a service that was already running is left running; one started here is stopped at the end
  if ! bash scripts/slurm-cluster.sh status >/dev/null 2>&1; then
    bash scripts/slurm-cluster.sh start
    stop+=("bash scripts/slurm-cluster.sh stop")
  fi
  if ! bash scripts/postgres.sh status >/dev/null 2>&1; then
    bash scripts/postgres.sh start >/dev/null
    stop+=("bash scripts/postgres.sh stop")
  fi
  TRACKER_TEST_POSTGRES_URL=$(bash scripts/postgres.sh url)
  export TRACKER_TEST_POSTGRES_URL
  bash scripts/browser.sh >/dev/null  # Debian's chromium for the browser suite
else
  echo "not root: the Slurm, PostgreSQL and browser suites may be skipped (their scripts need root)" >&2
fi
.venv/bin/python -m pytest "$@"
