#!/usr/bin/env bash
# The side-by-side benchmark: a separate venv (.venv-bench) with the project (and its server) and its peers
# (bench/requirements.txt: wandb, trackio, mlflow), then `python -m bench "$@"` (e.g. --quick).
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv-bench/bin/python ] || python3 -m venv .venv-bench
if ! output=$(.venv-bench/bin/python -m pip install --quiet --disable-pip-version-check -e '.[server]' -r bench/requirements.txt 2>&1); then
  echo "$output" >&2
  echo "bench: installing the project and its peers failed; peers that did not install are reported as such" >&2
  .venv-bench/bin/python -m pip install --quiet --disable-pip-version-check -e '.[server]' >/dev/null
fi
exec .venv-bench/bin/python -m bench "$@"
