"""Hydra's Optuna sweeper driving the tracked launchers on the real train.py: one run per trial."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import orjson
import pytest
import yaml

from sweeps import SweepManifest
from tests.train_app import PROJECT

OPTUNA = ["hydra/sweeper=optuna", "lr=tag(log, interval(1e-4, 1e-1))", "epochs=2"]


def check_trials(app, trials: int) -> list:
    """One group, a run per trial with its number and sampled lr, the objective the sweeper saw."""
    runs = app.runs()
    assert len(runs) == trials and len({run.group for run in runs}) == 1
    assert sorted(run.metadata["sweep"]["trial"] for run in runs) == list(range(trials))
    for run in runs:
        sweep = run.metadata["sweep"]
        assert sweep["search"] and sweep["sweeper"].endswith("OptunaSweeper")
        assert float(sweep["params"]["lr"]) == run.config["lr"] and set(sweep["params"]) == {"lr"}
        assert run.state == "finished" and run.summary["objective"] == run.summary["val_loss"]
    best = yaml.safe_load((app.root / "multirun" / "optimization_results.yaml").read_text())
    winner = min(runs, key=lambda run: run.summary["objective"])
    assert best["best_value"] == winner.summary["objective"]  # handed to the sweeper unchanged
    assert best["best_params"]["lr"] == winner.config["lr"]
    manifest = SweepManifest.load(app.api, PROJECT, runs[0].group)
    assert sorted(job["run_id"] for job in manifest.jobs) == sorted(run.id for run in runs)
    return runs


def test_optuna_in_process_gives_one_group_with_a_run_per_trial_ranked_by_the_objective(app):
    app("-m", *OPTUNA, "hydra.sweeper.n_trials=3")
    runs = check_trials(app, 3)
    report = subprocess.run(
        [str(Path(sys.executable).parent / "tracker"), "--dir", str(app.store), "sweep", runs[0].group,
         "--metric", "objective", "--json"],
        capture_output=True, text=True, env=app.env, check=False,
    )  # fmt: skip
    assert report.returncode == 0, report.stderr
    ranked = orjson.loads(report.stdout)["results"]
    winner = min(runs, key=lambda run: run.summary["objective"])
    assert ranked[0]["best"] and ranked[0]["runs"] == [winner.id] and len(ranked) == 3


@pytest.mark.slow
def test_optuna_through_submitit_local(app):
    app("-m", *OPTUNA, "hydra.sweeper.n_trials=2", "hydra/launcher=tracked_submitit_local")
    check_trials(app, 2)


def test_a_failed_trial_reads_failed_and_the_sweeper_is_told(app):
    result = app("-m", *OPTUNA, "hydra.sweeper.n_trials=2", "fail_if={epochs:2}", "fail_at_epoch=1", expect_ok=False)
    assert result.returncode != 0
    assert "Failed experiment: failure drill" in result.stdout + result.stderr  # the sweeper marked them failed
    runs = app.runs()
    assert len(runs) == 2 and {run.state for run in runs} == {"failed"}
    manifest = SweepManifest.load(app.api, PROJECT, runs[0].group)
    assert [job["state"] for job in manifest.jobs] == ["failed", "failed"]


def test_identity_rules_for_attempts_trials_and_params():
    from sweeps import attempt_group, run_id, sweep_params

    long = "x" * 128
    assert attempt_group("g", 1) == "g" and attempt_group("g", 12) == "g #12"
    assert len(attempt_group(long, 3)) == 128 and attempt_group(long, 3).endswith(" #3")
    with pytest.raises(ValueError, match="attempt=0"):
        attempt_group("g", 0)
    assert run_id("g", ["lr=0.1"], trial=0) != run_id("g", ["lr=0.1"], trial=1) != run_id("g", ["lr=0.1"])
    assert sweep_params(["epochs=2", "lr=tag(log, interval(1e-4, 1e-1))"], ["epochs=2", "lr=0.01", "tracker.x=1"]) == {
        "lr": "0.01"
    }
