"""sync_tensorboard / tracker.tensorboard.patch and `tracker sync --tensorboard`, with real tensorboardX writers."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import tracker
from tests.conftest import TRACKER

pytest.importorskip("tensorboardX")

TRAINING = """
import os, sys
import numpy as np
import tracker
from tensorboardX import SummaryWriter

logs = sys.argv[1]
if sys.argv[2] == "patch":  # wandb's other spelling: patch first, then init
    tracker.tensorboard.patch(root_logdir=logs)
    tracker.init(project="tb", id="run1")
else:
    tracker.init(project="tb", id="run1", **{sys.argv[2]: True})
train = SummaryWriter(os.path.join(logs, "train"))
val = SummaryWriter(os.path.join(logs, "val"))
for step in range(0, 30, 10):
    train.add_scalar("loss", 1.0 / (step + 1), step)
    train.add_scalar("lr", 0.5, step)
    val.add_scalar("loss", 2.0 / (step + 1), step)
train.add_histogram("weights", np.arange(100, dtype=float), 20)
train.add_image("sample", np.full((3, 4, 6), 0.5), 20)
train.close()
val.close()
tracker.finish()
"""


def _train(tmp_path: Path, how: str) -> tracker.Api:
    script = tmp_path / "train.py"
    script.write_text(TRAINING)
    env = {**os.environ, "TRACKER_DIR": str(tmp_path / "store")}
    logs = tmp_path / "logs"
    done = subprocess.run(
        [sys.executable, str(script), str(logs), how], env=env, capture_output=True, text=True, timeout=180
    )
    assert done.returncode == 0, done.stderr
    return tracker.Api(dir=tmp_path / "store").run("tb/run1")


def _check(run: tracker.Api) -> None:
    rows = list(run.scan_history())
    assert [row["global_step"] for row in rows] == [0, 10, 20]
    assert [row["train/loss"] for row in rows] == pytest.approx([1.0, 1 / 11, 1 / 21])
    assert [row["val/loss"] for row in rows] == pytest.approx([2.0, 2 / 11, 2 / 21])
    assert all("loss" not in row for row in rows)  # the writers' tags are kept apart
    histogram, image = rows[-1]["train/weights"], rows[-1]["train/sample"]
    assert histogram["_type"] == "histogram" and sum(histogram["values"]) == 100
    assert image["_type"] == "image" and (image["width"], image["height"]) == (6, 4)
    assert {"train", "val"} <= set(os.listdir(os.path.join(run.directory, "files")))
    for part in ("train", "val"):
        saved = os.listdir(os.path.join(run.directory, "files", part))
        assert len(saved) == 1 and "tfevents" in saved[0]
        assert os.path.getsize(os.path.join(run.directory, "files", part, saved[0])) > 0


@pytest.mark.parametrize("how", ["sync_tensorboard", "tensorboard", "patch"])
def test_tensorboardx_training_lands_in_the_run(tmp_path: Path, how: str) -> None:
    _check(_train(tmp_path, how))


def test_sync_tensorboard_imports_a_logdir(tmp_path: Path) -> None:
    _train(tmp_path, "sync_tensorboard")
    imported = tmp_path / "imported"
    done = subprocess.run(
        [TRACKER, "--dir", str(imported), "sync", "--tensorboard", str(tmp_path / "logs"), "-p", "tb"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "events imported" in done.stderr + done.stdout
    (run,) = tracker.Api(dir=imported).runs("tb")
    assert run.state == "finished" and run.name == "logs"
    _check(run)


def test_sync_tensorboard_needs_an_existing_directory(tmp_path: Path) -> None:
    done = subprocess.run(
        [TRACKER, "sync", "--tensorboard", str(tmp_path / "missing")], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 2 and "missing" in done.stderr


def test_sync_tensorboard_must_be_a_bool(store: Path) -> None:
    with pytest.raises(tracker.UsageError, match="sync_tensorboard='yes' must be a bool"):
        tracker.init(dir=store, sync_tensorboard="yes")


def test_writers_are_given_back_at_finish(store: Path) -> None:
    from tensorboardX.event_file_writer import EventFileWriter

    original = (EventFileWriter.__init__, EventFileWriter.add_event)
    run = tracker.init(dir=store, project="p", sync_tensorboard=True)
    assert EventFileWriter.add_event is not original[1]
    run.finish()
    assert (EventFileWriter.__init__, EventFileWriter.add_event) == original
