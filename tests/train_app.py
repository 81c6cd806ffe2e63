"""The example train.py driven as a user drives it, with everything it writes in one temporary directory."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import tracker

REPO = Path(__file__).resolve().parents[1]
PROJECT = "hydra-demo"


class App:
    """Runs train.py with its store, outputs and sweep dirs inside one temporary directory."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.store = root / "store"
        self.env = {**os.environ, "TRACKER_DIR": str(self.store), "TRACKER_SILENT": "false"}

    def command(self, *args: str) -> list[str]:
        return [
            sys.executable,
            str(REPO / "train.py"),
            *args,
            f"hydra.sweep.dir={self.root / 'multirun'}",
            f"hydra.run.dir={self.root / 'outputs'}",
        ]

    def __call__(self, *args: str, expect_ok: bool = True) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            self.command(*args), cwd=self.root, env=self.env, capture_output=True, text=True, timeout=600, check=False
        )
        if expect_ok and result.returncode != 0:
            raise AssertionError(f"train.py failed:\n{result.stdout}\n{result.stderr}")
        return result

    def start(self, *args: str) -> subprocess.Popen[str]:
        """train.py in the background, its output (stdout and stderr) on one pipe."""
        return subprocess.Popen(
            self.command(*args),
            cwd=self.root,
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )

    @property
    def api(self) -> tracker.Api:
        return tracker.Api(self.store)

    def runs(self, **filters) -> list:
        return self.api.runs(PROJECT, **filters)
