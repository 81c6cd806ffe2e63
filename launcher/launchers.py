"""The tracked launchers: Hydra's basic launcher and submitit's local/Slurm launchers, with tracking.

Each wraps the task in a TrackedTask carrying the sweep's group, records the sweep manifest before the
jobs start and as they end, and prints the jobs' table at the end. The running of jobs is left to
the inner launcher it extends. Hydra only instantiates plugin classes defined under hydra_plugins,
so hydra_plugins/tracker_launcher subclasses these with no further logic.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from hydra._internal.core_plugins.basic_launcher import BasicLauncher
from hydra.core.utils import JobReturn
from hydra.types import HydraContext, TaskFunction
from hydra_plugins.hydra_submitit_launcher.submitit_launcher import LocalLauncher, SlurmLauncher
from omegaconf import DictConfig

import tracker
from launcher import events
from launcher.tracking import TrackedTask, store_dir, tracker_yaml, validate
from sweeps import SweepManifest, experiment_overrides, job_name, run_id, sweep_group
from sweeps.report import print_jobs


class TrackingLauncherMixin:
    """Tracking around any Hydra launcher that runs ``self.task_function`` for each job."""

    config: DictConfig | None
    task_function: TaskFunction | None

    def __init__(self, summary_metric: str | None = None, **params: Any) -> None:
        self.summary_metric = summary_metric
        super().__init__(**params)

    def setup(self, *, hydra_context: HydraContext, task_function: TaskFunction, config: DictConfig) -> None:
        yaml = tracker_yaml(config)
        try:
            validate(yaml)  # a bad tracker key or value fails here, before any job starts
        except tracker.UsageError as error:
            raise SystemExit(f"tracker: {error}") from None  # one line, as for a single run, not Hydra's traceback
        self.group = yaml.get("group") or sweep_group(
            config.hydra.job.name, config.hydra.job.get("config_name"), config.hydra.overrides.task
        )
        wrapped = TrackedTask(task_function, self.group)
        super().setup(hydra_context=hydra_context, task_function=wrapped, config=config)  # type: ignore[misc]

    def _manifest(self) -> tuple[SweepManifest, tracker.Api]:
        yaml = tracker_yaml(self.config)
        project = tracker.Settings.resolve(yaml.get("settings"), project=yaml.get("project")).project
        api = tracker.Api(store_dir(yaml, self.config.hydra.runtime.cwd))
        manifest = SweepManifest.open(
            api,
            project,
            self.group,
            sweep_dir=str(self.config.hydra.sweep.dir),
            task_name=self.config.hydra.job.name,
            overrides=experiment_overrides(self.config.hydra.overrides.task),
            launcher=type(self).__name__,
        )
        return manifest, api

    def launch(self, job_overrides: Sequence[Sequence[str]], initial_job_idx: int) -> Sequence[JobReturn]:
        manifest, api = self._manifest()
        jobs = [
            {
                "num": initial_job_idx + index,
                "overrides": list(overrides),
                "name": job_name(overrides),
                "run_id": run_id(self.group, overrides),
            }
            for index, overrides in enumerate(job_overrides)
        ]
        manifest.add_jobs(jobs)
        events.sweep_launched(api.root, self.group, type(self).__name__, str(self.config.hydra.sweep.dir), jobs)
        try:
            return super().launch(job_overrides, initial_job_idx)  # type: ignore[misc]
        finally:
            manifest.refresh_states(api, [job["run_id"] for job in jobs])
            print_jobs(manifest, api, self.summary_metric)


class TrackedBasicLauncherBase(TrackingLauncherMixin, BasicLauncher):
    """In-process jobs, one after another."""


class _RequeueCounting:
    """submitit pickles the launcher to requeue a preempted job; count it so the job resumes its run."""

    task_function: TaskFunction | None

    def checkpoint(self, *args: Any, **kwargs: Any) -> Any:
        if isinstance(self.task_function, TrackedTask):
            self.task_function.requeues += 1
            events.requeued(self.task_function.requeues)
        return super().checkpoint(*args, **kwargs)  # type: ignore[misc]


class TrackedSubmititLocalLauncherBase(_RequeueCounting, TrackingLauncherMixin, LocalLauncher):
    """Jobs in local subprocesses through submitit."""


class TrackedSlurmLauncherBase(_RequeueCounting, TrackingLauncherMixin, SlurmLauncher):
    """Jobs as a Slurm job array through submitit."""
