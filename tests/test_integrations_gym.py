"""monitor_gym=True: a real CartPole (rgb_array, headless) recorded by RecordVideo; every episode's video is logged."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import tracker

pytest.importorskip("gymnasium")
pytest.importorskip("pygame")  # CartPole draws its rgb_array frames with pygame
pytest.importorskip("moviepy")  # RecordVideo writes its mp4 files with moviepy

CARTPOLE = """
import sys
import gymnasium as gym
import tracker
from gymnasium.wrappers import RecordVideo

tracker.init(project="gym", id="cart", monitor_gym=True)
env = gym.make("CartPole-v1", render_mode="rgb_array")
env = RecordVideo(env, sys.argv[1], episode_trigger=lambda episode: True, disable_logger=True)
for episode in range(3):
    env.reset(seed=episode)
    done, total = False, 0.0
    while not done:
        _, reward, terminated, truncated, _ = env.step(env.action_space.sample())
        total += reward
        done = terminated or truncated
    tracker.log({"return": total})
env.close()
tracker.finish()
"""


def test_cartpole_episodes_are_logged_as_videos(tmp_path: Path) -> None:
    script = tmp_path / "cartpole.py"
    script.write_text(CARTPOLE)
    env = {**os.environ, "TRACKER_DIR": str(tmp_path / "store"), "SDL_VIDEODRIVER": "dummy"}
    done = subprocess.run(
        [sys.executable, str(script), str(tmp_path / "videos")], env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    run = tracker.Api(dir=tmp_path / "store").run("gym/cart")
    videos = [(row["episode"], row["videos"]) for row in run.scan_history() if "videos" in row]
    assert [episode for episode, _ in videos] == [0, 1, 2]
    for _, video in videos:
        assert video["_type"] == "video" and video["format"] == "mp4"
        stored = Path(run.directory) / video["path"]
        assert stored.stat().st_size == video["size"] > 0
        assert stored.read_bytes()[4:8] == b"ftyp"  # an MP4 container
    assert len(list((tmp_path / "videos").glob("*.mp4"))) == 3


def test_monitor_gym_must_be_a_bool(store: Path) -> None:
    with pytest.raises(tracker.UsageError, match="monitor_gym=1 must be a bool"):
        tracker.init(dir=store, monitor_gym=1)


def test_record_video_is_given_back_at_finish(store: Path) -> None:
    from gymnasium.wrappers import RecordVideo

    original = RecordVideo.stop_recording
    run = tracker.init(dir=store, project="p", monitor_gym=True)
    assert RecordVideo.stop_recording is not original
    run.finish()
    assert RecordVideo.stop_recording is original
