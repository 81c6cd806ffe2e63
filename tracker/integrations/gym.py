"""``monitor_gym=True``: each episode Gymnasium's ``RecordVideo`` writes is logged as a video under ``videos``."""

from __future__ import annotations

import os
import re
import threading
from typing import TYPE_CHECKING, Any

from tracker import console

if TYPE_CHECKING:
    from tracker._run import Run

VIDEO_KEY = "videos"
_lock = threading.Lock()
_original_stop: Any = None
_run: Run | None = None


def monitor(run: Run) -> None:
    """Log the videos RecordVideo saves from now on into ``run`` (until it finishes)."""
    global _original_stop, _run
    try:
        from gymnasium.wrappers import RecordVideo
    except ImportError:
        from tracker._errors import UsageError

        raise UsageError("monitor_gym=True needs gymnasium: pip install 'tracker[gym]'") from None
    with _lock:
        if _original_stop is None:
            _original_stop = RecordVideo.stop_recording
            RecordVideo.stop_recording = _stop_recording  # type: ignore[method-assign]  # until unmonitor()
        _run = run


def unmonitor(run: Run) -> None:
    """RecordVideo's own stop_recording back, unless another run has been monitored since."""
    global _original_stop, _run
    with _lock:
        if _run is run and _original_stop is not None:
            from gymnasium.wrappers import RecordVideo

            RecordVideo.stop_recording = _original_stop  # type: ignore[method-assign]  # its own method back
            _original_stop, _run = None, None


def _stop_recording(self: Any) -> None:
    """RecordVideo's own stop_recording (it writes the file), then the file logged with its episode index."""
    path = os.path.join(self.video_folder, f"{self._video_name}.mp4")
    # the name says which episode it shows ("<prefix>-episode-<n>"); episode_id has moved on by now
    named = re.search(r"-episode-(\d+)$", self._video_name or "")
    episode = int(named.group(1)) if named else self.episode_id
    _original_stop(self)
    run = _run
    if run is None or run._finished or run.disabled or not os.path.isfile(path):
        return
    from tracker._media import Video

    try:  # like wandb: attached to the row in progress rather than taking a step of its own
        run.log({VIDEO_KEY: Video(path, format="mp4"), "episode": episode}, commit=False)
    except Exception as error:  # the training loop goes on; the file stays where RecordVideo put it
        console.warn(f"monitor_gym: the video of episode {episode} ({path}) was not logged: {error}")
