#!/usr/bin/env bash
# The main job: set up .venv, then run a real sweep of the example train.py (2 learning rates x 3
# seeds = 6 tracked runs in one group, stored under ./tracker-runs) and print its results table.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
.venv/bin/python train.py -m lr=0.1,0.01 seed=0,1,2 "$@"
