"""The tracked Slurm launcher against the real single-node cluster of scripts/slurm-cluster.sh."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from pathlib import Path

import orjson
import pytest

from sweeps import SweepManifest
from tests.train_app import PROJECT, REPO

pytestmark = [pytest.mark.slurm, pytest.mark.slow]
# timeout_min stays 60: submitit counts a USR2 in the last 10 minutes of the limit as a time-out, not a preemption
SLURM = ["hydra/launcher=tracked_slurm"]


@pytest.fixture(scope="module", autouse=True)
def cluster() -> None:
    if os.geteuid() != 0:
        pytest.skip("the Slurm suite needs root to run scripts/slurm-cluster.sh")
    status = subprocess.run(["bash", str(REPO / "scripts" / "slurm-cluster.sh"), "status"], capture_output=True)
    if status.returncode != 0:
        pytest.skip("no Slurm cluster is running: start one with `bash scripts/slurm-cluster.sh start` (root)")


def wait_for_logging(app, rows: int, count: int = 1, timeout: float = 180) -> list[dict]:
    """The metadata of ``count`` runs once each has logged ``rows`` rows."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        histories = list((app.store / "tracker-runs" / "projects" / PROJECT).glob("*/history.jsonl"))
        ready = [path for path in histories if path.read_bytes().count(b'"_step"') >= rows]
        if len(ready) >= count:
            return [orjson.loads((path.parent / "metadata.json").read_bytes()) for path in ready]
        time.sleep(0.2)
    raise AssertionError(f"fewer than {count} runs logged {rows} rows within {timeout} s")


def test_a_two_by_two_sweep_runs_as_a_job_array(app):
    app("-m", "lr=0.1,0.01", "seed=0,1", "epochs=4", *SLURM)
    runs = app.runs()
    assert len(runs) == 4 and len({run.group for run in runs}) == 1
    array_ids = set()
    for run in runs:
        assert run.state == "finished" and [row["epoch"] for row in run.history()] == [0, 1, 2, 3]
        job = run.metadata["slurm_job"]
        assert job["node"] == socket.gethostname().split(".")[0] and job["restart_count"] == 0
        array_ids.add(job["array_job_id"])
        assert job["array_task_id"] in {"0", "1", "2", "3"}
        log = Path(run.directory, "logs", "debug.log").read_bytes().splitlines()
        (started,) = [event for event in map(orjson.loads, log) if event["event"] == "job.started"]
        assert started["slurm_job_id"] == job["job_id"] and started["requeues"] == 0
        assert started["slurm_array_job_id"] == job["array_job_id"]
        assert started["slurm_array_task_id"] == job["array_task_id"]
    assert len(array_ids) == 1, "one job array for the sweep"
    host_log = app.store / "tracker-runs" / ".logs" / f"{socket.gethostname()}.jsonl"
    (queued,) = [
        event for event in map(orjson.loads, host_log.read_bytes().splitlines()) if event["event"] == "jobs.queued"
    ]
    assert queued["array_job_ids"] == sorted(array_ids)  # known at submission, before any job ran
    assert {job["run_id"]: job["job_id"] for job in queued["jobs"]} == {
        run.id: f"{run.metadata['slurm_job']['array_job_id']}_{run.metadata['slurm_job']['array_task_id']}"
        for run in runs
    }


def test_preemption_requeues_and_the_run_resumes(app):
    process = app.start("-m", "seed=0", "epochs=30", "epoch_sleep=0.3", *SLURM)
    (metadata,) = wait_for_logging(app, rows=5)
    subprocess.run(["scancel", "--signal=USR2", metadata["slurm_job"]["job_id"]], check=True)
    output, _ = process.communicate(timeout=300)
    assert process.returncode == 0, output
    (run,) = app.runs()
    assert run.state == "finished"
    assert [row["_step"] for row in run.history()] == list(range(30))
    assert [row["epoch"] for row in run.history()] == list(range(30))
    assert run.metadata["slurm_job"]["restart_count"] >= 1
    assert run.metadata["previous_processes"][0]["pid"] == metadata["pid"]
    events = [
        orjson.loads(line).get("_event") for line in Path(run.directory, "history.jsonl").read_bytes().splitlines()
    ]
    assert [event for event in events if event] == ["preempting", "finish", "resume", "finish"]


def test_a_task_killed_hard_reads_crashed_and_keeps_its_steps(app):
    process = app.start("-m", "seed=0,1", "epochs=40", "epoch_sleep=0.2", *SLURM)
    victim = wait_for_logging(app, rows=3, count=2)[0]
    os.kill(victim["pid"], signal.SIGKILL)
    output, _ = process.communicate(timeout=300)
    assert process.returncode != 0
    runs = {run.metadata["pid"]: run for run in app.runs()}
    killed = runs[victim["pid"]]
    assert killed.state == "crashed" and killed.exit_code is None
    steps = [row["_step"] for row in killed.history()]
    assert len(steps) >= 3 and steps == list(range(len(steps)))
    assert sorted(run.state for run in runs.values()) == ["crashed", "finished"]
    manifest = SweepManifest.load(app.api, PROJECT, killed.group)
    assert sorted(job["state"] for job in manifest.jobs) == ["crashed", "finished"]
    assert "crashed" in output


def test_a_bad_partition_fails_at_once_with_slurms_message(app):
    result = app("-m", "seed=0,1", *SLURM, "hydra.launcher.partition=nonexistent", expect_ok=False)
    assert result.returncode != 0
    assert "invalid partition" in result.stderr.lower()
    assert app.runs() == []


def test_an_online_sweep_on_slurm_lands_every_job_in_one_group_on_the_server(app, tmp_path):
    import tracker
    from tests.conftest import LiveServer

    server = LiveServer(tmp_path / "server", None).start()
    try:
        key = server.user("alice")
        app.env.update(TRACKER_BASE_URL=server.url, TRACKER_API_KEY=key)
        app("-m", "lr=0.1,0.01", "seed=0", "epochs=3", "tracker.mode=online", *SLURM)
        runs = tracker.Api(base_url=server.url, api_key=key).runs(PROJECT)
        assert len(runs) == 2 and len({run.group for run in runs}) == 1
        for run in runs:
            assert run.state == "finished" and [row["epoch"] for row in run.history()] == [0, 1, 2]
            assert run.metadata["slurm_job"]["array_job_id"]
    finally:
        server.stop()


def test_the_optuna_sweeper_runs_its_trials_as_slurm_jobs(app):
    from tests.test_sweepers import OPTUNA, check_trials

    app("-m", *OPTUNA, "hydra.sweeper.n_trials=3", *SLURM)
    runs = check_trials(app, 3)
    assert all(run.metadata["slurm_job"]["job_id"] for run in runs)  # each trial ran as a Slurm job


def test_the_readme_slurm_block(tmp_path):
    """README's Slurm command, on the test cluster's partition and without the GPU it does not have."""
    import tracker
    from tests.test_readme import SLURM_BLOCK, block, environment, hydra_dirs, shell

    (command,) = block(SLURM_BLOCK)
    assert " hydra.launcher.partition=gpu " in command and command.endswith(" hydra.launcher.gpus_per_node=1")
    sinfo = subprocess.run(["sinfo", "-h", "-o", "%R"], capture_output=True, text=True, check=True)
    partition = sinfo.stdout.split()[0]
    command = command.replace("partition=gpu", f"partition={partition}").removesuffix(" hydra.launcher.gpus_per_node=1")
    shell(f"{command} {hydra_dirs(tmp_path)}", tmp_path, environment(tmp_path))
    runs = tracker.Api(tmp_path).runs(PROJECT)
    assert len(runs) == 6 and {run.state for run in runs} == {"finished"}
    assert all(run.metadata["slurm_job"]["job_id"] for run in runs)
