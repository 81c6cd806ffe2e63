"""A ported wandb script keeps its own init() and runs under the tracked launcher: it joins the job's run."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import tracker

SCRIPT = """
import hydra
import tracker

@hydra.main(config_path="conf", config_name="config", version_base="1.3")
def main(cfg):
    run = tracker.init(project="userproj", name="my-name", tags=["ported"], notes="from the script",
                       group="its-own-group", config={"lr": 999.0, "extra": 1})
    again = tracker.init(project="userproj")
    assert again is run is tracker.run
    run.log({"loss": cfg.lr})

if __name__ == "__main__":
    main()
"""

CONFIG = """
defaults:
  - tracker: base
  - override hydra/launcher: tracked
  - _self_
tracker:
  project: hydra-proj
  mode: offline
  tags: [yaml]
lr: 0.5
seed: 0
"""


def test_a_scripts_own_init_joins_the_jobs_run_and_names_what_it_cannot_apply(tmp_path: Path):
    (tmp_path / "conf").mkdir()
    (tmp_path / "conf" / "config.yaml").write_text(textwrap.dedent(CONFIG))
    (tmp_path / "app.py").write_text(SCRIPT)
    result = subprocess.run(
        [sys.executable, "app.py", "-m", "seed=0,1", f"hydra.sweep.dir={tmp_path / 'multirun'}"],
        cwd=tmp_path, capture_output=True, text=True, timeout=300, check=False,
        env={**os.environ, "TRACKER_DIR": str(tmp_path / "store")},
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    store = tracker.Api(tmp_path / "store")
    runs = store.runs("hydra-proj")
    assert len(runs) == 2 and store.runs("userproj") == []
    for run in runs:
        assert (run.name, run.tags, run.notes) == ("my-name", ("yaml", "ported"), "from the script")
        assert run.config["extra"] == 1 and run.config["lr"] == 0.5  # merged; the job's own value wins
        assert run.group != "its-own-group" and run.state == "finished" and run.history()[0]["loss"] == 0.5
    warnings = [line for line in result.stderr.splitlines() if "init() inside a tracked Hydra job" in line]
    assert len(warnings) == 2  # once per job (each job is one run), not once per init() call
    for part in ("project='userproj'", "group='its-own-group'", "config['lr']=999.0"):
        assert part in warnings[0]
    assert "name=" not in warnings[0] and "tags=" not in warnings[0]
