"""TrackerCallback: tracks a single (non -m) Hydra run, for which Hydra calls no launcher.

It shares launcher.tracking's code path with the tracked launchers and stands aside for jobs whose
task a tracked launcher already wrapped.
"""

from __future__ import annotations

from typing import Any

from hydra.core.utils import JobReturn, JobStatus
from hydra.experimental.callback import Callback
from omegaconf import DictConfig

import tracker
from launcher import events
from launcher.tracking import TrackedTask, start_run


class TrackerCallback(Callback):
    """Add to ``hydra.callbacks`` to track runs that no tracked launcher wraps."""

    def __init__(self) -> None:
        self._run: tracker.Run | None = None

    def on_job_start(self, config: DictConfig, *, task_function: Any = None, **kwargs: Any) -> None:
        if isinstance(task_function, TrackedTask):
            return
        try:
            self._run = start_run(config)
            events.job_started()
        except tracker.UsageError as error:
            # Hydra turns a callback's exceptions into warnings; a SystemExit stops the job as it must.
            raise SystemExit(f"tracker: {error}") from error

    def on_job_end(self, config: DictConfig, job_return: JobReturn, **kwargs: Any) -> None:
        if self._run is None:
            return
        events.job_ended(job_return.status.name)
        self._run.finish(exit_code=1 if job_return.status == JobStatus.FAILED else 0)
        self._run = None
