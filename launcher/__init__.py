"""Hydra glue: the tracked task wrapper, the tracked launchers, a callback for single runs, checkpoints."""

from launcher.callback import TrackerCallback
from launcher.tracking import TrackedTask

__all__ = ["TrackedTask", "TrackerCallback"]
