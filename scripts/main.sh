#!/usr/bin/env bash
# The main job: set up .venv, then run the example and show where its run went.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
.venv/bin/python examples/quickstart.py
