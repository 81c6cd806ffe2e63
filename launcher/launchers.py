"""The tracked launchers: Hydra's basic launcher and submitit's local/Slurm launchers, with tracking.

Each decides the sweep's group once (a new attempt per launch unless resuming), wraps the task in a
TrackedTask carrying it, records the sweep manifest before the jobs start and as they end, and prints
the jobs' table at the end. Any Hydra sweeper drives them: a search sweeper (Optuna) calls launch()
once per batch of trials, and each job's return value goes back to it unchanged. The running of jobs is left to
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
from sweeps import SweepManifest, experiment_overrides, job_name, sweep_group
from sweeps.manifest import launch_group
from sweeps.report import print_jobs

# Hydra's default sweeper expands a grid; any other sweeper (Optuna, ...) searches, one trial per job.
_GRID_SWEEPER = "hydra._internal.core_plugins.basic_sweeper.BasicSweeper"


class TrackingLauncherMixin:
    """Tracking around any Hydra launcher that runs ``self.task_function`` for each job."""

    config: DictConfig | None
    task_function: TaskFunction | None

    def setup(self, *, hydra_context: HydraContext, task_function: TaskFunction, config: DictConfig) -> None:
        yaml = tracker_yaml(config)
        try:
            validate(yaml)  # a bad tracker key or value fails here, before any job starts
        except tracker.UsageError as error:
            raise SystemExit(f"tracker: {error}") from None  # one line, as for a single run, not Hydra's traceback
        self.summary_metric = yaml.get("summary_metric")
        resolved = tracker.Settings.resolve(
            yaml.get("settings"), project=yaml.get("project"), resume=yaml.get("resume")
        )
        self.project = resolved.project
        self.api = tracker.Api(store_dir(yaml, config.hydra.runtime.cwd))
        base = yaml.get("group") or sweep_group(
            config.hydra.job.name, config.hydra.job.get("config_name"), config.hydra.overrides.task
        )
        self.group, self.attempt = launch_group(self.api, self.project, base, resume=resolved.resume)
        search = config.hydra.sweeper.get("_target_") != _GRID_SWEEPER
        wrapped = TrackedTask(task_function, self.group, list(config.hydra.overrides.task), search=search)
        super().setup(hydra_context=hydra_context, task_function=wrapped, config=config)  # type: ignore[misc]

    def launch(self, job_overrides: Sequence[Sequence[str]], initial_job_idx: int) -> Sequence[JobReturn]:
        config = self.config
        assert config is not None, "Hydra calls setup() before launch()"
        manifest = SweepManifest.open(
            self.api,
            self.project,
            self.group,
            sweep_dir=str(config.hydra.sweep.dir),
            task_name=config.hydra.job.name,
            overrides=experiment_overrides(config.hydra.overrides.task),
            launcher=type(self).__name__,
            attempt=self.attempt,
            sweeper=config.hydra.sweeper.get("_target_"),
            summary_metric=self.summary_metric,
        )
        task: TrackedTask = self.task_function  # type: ignore[assignment]  # wrapped in setup()
        jobs = []
        for index, overrides in enumerate(job_overrides):
            num = initial_job_idx + index
            job: dict[str, Any] = {"num": num, "overrides": list(overrides), "name": job_name(overrides)}
            job["run_id"] = task.run_id(overrides, num)
            if task.search:
                job["params"] = task.params(overrides)
            jobs.append(job)
        manifest.add_jobs(jobs)
        self._queued = jobs
        events.sweep_launched(self.api.root, self.group, type(self).__name__, str(config.hydra.sweep.dir), jobs)
        try:
            return super().launch(job_overrides, initial_job_idx)  # type: ignore[misc]
        finally:
            manifest.refresh_states(self.api, [job["run_id"] for job in jobs])
            print_jobs(manifest, self.api, self.summary_metric)


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


class _ReportsQueuedJobs:
    """submitit's launch() submits the jobs and then waits for all of them to end; the scheduler's ids are
    recorded (``jobs.queued``) as soon as the jobs are submitted, by watching the executor's ``map_array``
    for the length of this launch."""

    api: tracker.Api
    group: str
    _queued: list[dict[str, Any]]

    def launch(self, job_overrides: Sequence[Sequence[str]], initial_job_idx: int) -> Sequence[JobReturn]:
        import submitit

        executor_class = submitit.AutoExecutor
        submit = executor_class.map_array
        inherited = "map_array" not in vars(executor_class)
        jobs = self._queued

        def map_array(executor: Any, *args: Any, **kwargs: Any) -> Any:
            submitted = submit(executor, *args, **kwargs)
            events.jobs_queued(self.api.root, self.group, jobs, [str(job.job_id) for job in submitted])
            return submitted

        executor_class.map_array = map_array  # type: ignore[method-assign,assignment]  # this launch only
        try:
            return super().launch(job_overrides, initial_job_idx)  # type: ignore[misc]
        finally:
            if inherited:
                del executor_class.map_array  # submitit's own again
            else:
                executor_class.map_array = submit  # type: ignore[method-assign]


class TrackedSubmititLocalLauncherBase(_RequeueCounting, TrackingLauncherMixin, _ReportsQueuedJobs, LocalLauncher):
    """Jobs in local subprocesses through submitit."""


class TrackedSlurmLauncherBase(_RequeueCounting, TrackingLauncherMixin, _ReportsQueuedJobs, SlurmLauncher):
    """Jobs as a Slurm job array through submitit."""
