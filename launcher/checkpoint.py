"""A task's own training state, kept in the tracked run's folder so a requeued job finds it again.

The run id of a launched job is deterministic, so ``tracker.run.dir`` is the same folder before and
after a preemption: save() there after each step of work, load() at the start of the task.
"""

from __future__ import annotations

import os
import pickle
from typing import Any

import tracker
from launcher import events
from tracker.atomic import write_atomic


def checkpoint_dir() -> str:
    """``<run files>/checkpoints``, created on demand (needs a live run)."""
    if tracker.run is None:
        raise tracker.Error("no active run: checkpoints live in the tracked run's folder")
    path = os.path.join(tracker.run.dir, "checkpoints")
    os.makedirs(path, exist_ok=True)
    return path


def save(state: Any, name: str = "state.pkl") -> str:
    """Pickle ``state`` atomically: a kill mid-save leaves the previous checkpoint intact."""
    path = os.path.join(checkpoint_dir(), name)
    data = pickle.dumps(state, protocol=pickle.HIGHEST_PROTOCOL)
    write_atomic(path, data)
    events.checkpoint("checkpoint.saved", path, bytes=len(data))
    return path


def load(name: str = "state.pkl", default: Any = None) -> Any:
    """The last saved state, or ``default`` when this run has none yet."""
    path = os.path.join(checkpoint_dir(), name)
    try:
        with open(path, "rb") as handle:
            state = pickle.load(handle)
    except FileNotFoundError:
        events.checkpoint("checkpoint.loaded", path, found=False)
        return default
    events.checkpoint("checkpoint.loaded", path, found=True)
    return state
