"""The sweep manifest under two launches of one sweep at once: neither loses the other's jobs or launch."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import tracker
from sweeps import SweepManifest

# Opens the manifest (recording its launch), says so, waits for the parent's go on stdin, adds its job.
LAUNCH = """
import sys, tracker
from sweeps import SweepManifest
store, run_id = sys.argv[1], sys.argv[2]
manifest = SweepManifest.open(tracker.Api(store), "p", "sweep-a")
print("opened", flush=True)
sys.stdin.readline()
manifest.add_jobs([{"num": int(run_id[-1]), "overrides": [f"lr={run_id}"], "run_id": run_id, "name": run_id}])
"""


def test_two_simultaneous_launches_of_one_sweep_keep_both_jobs_and_launches(tmp_path: Path) -> None:
    store = tmp_path / "store"
    store.mkdir()
    launches = [
        subprocess.Popen(
            [sys.executable, "-c", LAUNCH, str(store), run_id],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for run_id in ("job1", "job2")
    ]
    for launch in launches:  # both hold the manifest as it was before either added a job
        assert launch.stdout is not None and launch.stdout.readline().strip() == "opened"
    for launch in launches:
        assert launch.stdin is not None
        launch.stdin.write("go\n")
        launch.stdin.close()
    for launch in launches:
        assert launch.wait(timeout=120) == 0
    manifest = SweepManifest.load(tracker.Api(store), "p", "sweep-a")
    assert manifest is not None
    assert sorted(job["run_id"] for job in manifest.jobs) == ["job1", "job2"]
    assert len(manifest.data["launches"]) == 2
    assert {job["state"] for job in manifest.jobs} == {"pending"}
