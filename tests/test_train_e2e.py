"""End to end: the real train.py in a subprocess, as a user runs it, read back through tracker.Api."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import orjson
import pytest

from sweeps import SweepManifest
from tests.conftest import pid_of_logging_job
from tests.train_app import PROJECT


def test_two_by_three_sweep_gives_six_runs_in_one_group(app):
    result = app("-m", "lr=0.1,0.01", "seed=0,1,2", "epochs=5")
    runs = app.runs()
    assert len(runs) == 6
    assert {run.group for run in runs} == {"train:config epochs=5 lr=0.1,0.01 seed=0,1,2"}
    assert sorted(run.name for run in runs) == sorted(
        f"epochs=5,lr={lr},seed={seed}" for lr in ("0.1", "0.01") for seed in range(3)
    )
    for run in runs:
        assert run.state == "finished" and run.exit_code == 0 and run.tags == ("example",)
        config = run.config
        assert set(config) == {"seed", "lr", "epochs", "batch_size", "model", "data"}  # exclusions applied
        assert f"lr={config['lr']},seed={config['seed']}" in run.name
        history = run.history()
        assert [row["epoch"] for row in history] == [0, 1, 2, 3, 4]
        assert run.summary["val_loss"] == history[-1]["val_loss"]
        hydra = run.metadata["hydra"]
        assert hydra["override_dirname"] and hydra["output_dir"].startswith(str(app.root / "multirun"))
        assert hydra["sweep_dir"] == str(app.root / "multirun") and hydra["job_num"] in range(6)
    manifest = SweepManifest.load(app.api, PROJECT, runs[0].group)
    assert [job["state"] for job in manifest.jobs] == ["finished"] * 6
    assert sorted(job["run_id"] for job in manifest.jobs) == sorted(run.id for run in runs)
    for run in runs:  # the end-of-sweep table names every job with its state and metric
        assert run.name[:20] in result.stderr or run.id in result.stderr
    assert result.stderr.count("finished") >= 6 and "val_loss" in result.stderr


def test_include_keys_reach_into_nested_nodes(app):
    app(
        "-m",
        "seed=0,1",
        "epochs=2",
        "tracker.config_exclude_keys=null",
        "tracker.config_include_keys=[lr,model.hidden]",
    )
    for run in app.runs():
        assert run.config == {"lr": 0.05, "model": {"hidden": 16}}


def test_one_failing_job_does_not_disturb_the_others(app):
    result = app("-m", "lr=0.1,0.01", "seed=0,1,2", "epochs=8", "fail_if={seed:1,lr:0.01}", expect_ok=False)
    assert result.returncode != 0 and "failure drill" in result.stderr
    runs = app.runs()
    states = sorted(run.state for run in runs)
    assert states == ["failed"] + ["finished"] * 5
    failed = next(run for run in runs if run.state == "failed")
    assert failed.config["seed"] == 1 and failed.config["lr"] == 0.01 and failed.exit_code == 1
    assert [row["epoch"] for row in failed.history()] == [0, 1, 2, 3, 4]
    for run in runs:
        if run.state == "finished":
            assert len(run.history()) == 8


def test_a_rerun_keeps_the_first_set_and_resume_continues_the_latest(app):
    app("-m", "seed=0,1", "epochs=3")
    first = {run.id: (run.group, len(run.history())) for run in app.runs()}
    (group,) = {group for group, _ in first.values()}
    result = app("-m", "seed=0,1", "epochs=3")  # the same command again: a second set beside the first
    assert "replaced" not in result.stderr
    runs = app.runs()
    assert len(runs) == 4 and {run.group for run in runs} == {group, f"{group} #2"}
    assert {run.id: (run.group, len(run.history())) for run in runs if run.id in first} == first
    assert not (app.store / "tracker-runs" / "trash").exists()
    app("-m", "seed=0,1", "epochs=3", "tracker.tags=[again]")  # a tracker key only: still a new set
    assert {run.group for run in app.runs()} == {group, f"{group} #2", f"{group} #3"}
    before = {run.id: len(run.history()) for run in app.runs()}
    app("-m", "seed=0,1", "epochs=5", "tracker.resume=allow")  # other experiment: its own first attempt
    app("-m", "seed=0,1", "epochs=3", "tracker.resume=allow")  # continues the latest set (#3), adds none
    runs = app.runs()
    assert len(runs) == 8
    assert {run.id: len(run.history()) for run in runs if run.id in before} == before
    manifests = {manifest.group: manifest for manifest in SweepManifest.all(app.api, PROJECT)}
    assert len(manifests) == 4
    assert len(manifests[f"{group} #3"].data["launches"]) == 2 and manifests[f"{group} #3"].data["attempt"] == 3
    assert [len(manifests[name].data["launches"]) for name in (group, f"{group} #2")] == [1, 1]


@pytest.mark.parametrize("launcher", ["basic", pytest.param("submitit_local", marks=pytest.mark.slow)])
def test_hydras_own_launchers_run_the_example_app(app, launcher):
    """Our keys live in the tracker group, so Hydra's launchers compose; the callback tracks each job."""
    result = app("-m", "seed=0,1", "epochs=2", f"hydra/launcher={launcher}")
    assert "not in" not in result.stderr
    runs = app.runs()
    assert len(runs) == 2 and all(run.state == "finished" for run in runs)
    assert sorted(run.name for run in runs) == ["epochs=2,seed=0", "epochs=2,seed=1"]


def test_single_run_is_tracked_by_the_callback(app):
    result = app("epochs=3", "tracker.tags=[a,b]", "tracker.notes=hello")
    (run,) = app.runs()
    assert (run.state, run.tags, run.notes, run.group, run.name) == ("finished", ("a", "b"), "hello", None, "epochs=3")
    assert [row["epoch"] for row in run.history()] == [0, 1, 2]
    assert run.metadata["hydra"]["mode"] == "run"
    assert f"run epochs=3 ({run.id})" in result.stderr


@pytest.mark.parametrize("mode", ["-m", None])
def test_bad_tracker_config_fails_before_any_job(app, mode):
    args = [mode] if mode else []
    unknown = app(*args, "seed=0,1" if mode else "seed=0", "tracker.projcet=x", expect_ok=False)
    assert unknown.returncode != 0 and "projcet" in unknown.stderr
    bad_value = app(*args, "seed=0,1" if mode else "seed=0", "tracker.mode=bogus", expect_ok=False)
    assert bad_value.returncode != 0 and "tracker.mode='bogus'" in bad_value.stderr
    assert app.runs() == []


@pytest.mark.slow
def test_submitit_local_preemption_requeues_and_resumes_the_run(app):
    """USR2 (submitit's preemption signal) mid-run: the job is requeued and its run continues."""
    process = app.start("-m", "seed=0", "epochs=25", "epoch_sleep=0.2", "hydra/launcher=tracked_submitit_local")
    first_pid = pid_of_logging_job(app)
    os.kill(first_pid, signal.SIGUSR2)
    output, _ = process.communicate(timeout=300)
    assert process.returncode == 0, output
    (run,) = app.runs()
    assert run.state == "finished" and run.exit_code == 0
    assert [row["_step"] for row in run.history()] == list(range(25))
    assert [row["epoch"] for row in run.history()] == list(range(25))
    events = [orjson.loads(line) for line in Path(run.directory, "history.jsonl").read_bytes().splitlines()]
    kinds = [event.get("_event") for event in events if "_event" in event]
    assert kinds == ["preempting", "finish", "resume", "finish"]
    assert run.metadata["pid"] != first_pid and len(run.metadata["previous_processes"]) == 1


def test_runs_go_to_the_launch_directory_when_hydra_changes_the_cwd(app):
    """With hydra.job.chdir=true each job runs in its output dir; its run must still join the sweep's store."""
    del app.env["TRACKER_DIR"]
    app.store = app.root
    app("-m", "seed=0,1", "epochs=2", "hydra.job.chdir=true")
    app("epochs=2", "hydra.job.chdir=true")
    assert len(app.runs()) == 3
    assert not list((app.root / "multirun").rglob("tracker-runs"))


def test_a_group_that_resolves_differently_per_job_still_gives_one_sweep(app):
    """`tracker.group` with ${now:} resolves anew in every job; the launcher's group must win."""
    app("-m", "seed=0,1", "epochs=2", "tracker.group=g-${now:%H%M%S%f}")
    runs = app.runs()
    assert len(runs) == 2 and len({run.group for run in runs}) == 1
    manifest = SweepManifest.load(app.api, PROJECT, runs[0].group)
    assert sorted(job["run_id"] for job in manifest.jobs) == sorted(run.id for run in runs)
    assert [job["state"] for job in manifest.jobs] == ["finished", "finished"]
