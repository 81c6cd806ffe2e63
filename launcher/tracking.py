"""The one code path that turns a Hydra job into a tracked run, started from its YAML.

Used by TrackedTask (multirun, wrapped by the tracked launchers) and by TrackerCallback (single runs).
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Mapping, Sequence
from typing import Any, cast

from hydra.conf import HydraConf
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig, OmegaConf

import tracker
from launcher import events
from launcher.config import TrackerConf
from launcher.nested import host_script_init
from sweeps import job_name, run_id, sweep_params
from tracker._config import key_filters
from tracker._settings import INIT_KEYWORDS

# tracker YAML keys that are init()'s settings keywords; the rest of TrackerConf is handled here.
_INIT_KEYS = tuple(field.name for field in dataclasses.fields(TrackerConf) if field.name in INIT_KEYWORDS)


def tracker_yaml(config: DictConfig) -> dict[str, Any]:
    """The job's ``tracker`` node as plain values ({} when the app has none)."""
    node = config.get("tracker") if isinstance(config, DictConfig) else None
    if node is None:
        return {}
    if not isinstance(node, DictConfig):
        raise tracker.UsageError(f"tracker={node!r} must be a mapping of tracker keys (project: ..., tags: ...)")
    container = OmegaConf.to_container(node, resolve=True)
    assert isinstance(container, dict)  # a DictConfig converts to a dict
    return {str(key): value for key, value in container.items()}


def validate(yaml: Mapping[str, Any]) -> None:
    """Check the tracker YAML with the tracker's own rules, naming the key, before any job starts.

    Unknown keys are refused here too: ``+tracker.typo=x`` opens the struct and would slip past Hydra.
    """
    known = [field.name for field in dataclasses.fields(TrackerConf)]
    unknown = sorted(key for key in yaml if key not in known)
    if unknown:
        raise tracker.UsageError(
            f"invalid tracker config: unknown key(s) {', '.join(f'tracker.{key}' for key in unknown)}; "
            f"known keys: {', '.join(known)}"
        )
    try:
        tracker.Settings.from_init_keywords({key: yaml.get(key) for key in _INIT_KEYS})
        key_filters(yaml.get("config_include_keys"), yaml.get("config_exclude_keys"))
    except tracker.UsageError as error:
        raise tracker.UsageError(f"invalid tracker config: tracker.{error}") from None
    try:
        tracker.Settings.from_mapping(yaml.get("settings") or {}, "tracker.settings")
    except tracker.UsageError as error:
        raise tracker.UsageError(f"invalid tracker config: {error}") from None


def store_dir(yaml: Mapping[str, Any], launch_cwd: str) -> str:
    """Where runs go: tracker.dir, else the settings/TRACKER_DIR, else where the command was started.

    Not the job's working directory, which Hydra may have changed to the job's output dir.
    """
    resolved = tracker.Settings.resolve(yaml.get("settings"), dir=yaml.get("dir"))
    return resolved.root_dir or launch_cwd


def _hydra_metadata() -> dict[str, Any]:
    hydra = HydraConfig.get()
    return {
        "hydra": {
            "job_name": hydra.job.name,
            "job_num": _job_field(hydra, "num"),
            "job_id": _job_field(hydra, "id"),
            "override_dirname": hydra.job.override_dirname,
            "overrides": list(hydra.overrides.task),
            "output_dir": hydra.runtime.output_dir,
            "config_name": hydra.job.config_name,
            "mode": hydra.mode.name.lower() if hydra.mode is not None else None,
            "sweep_dir": hydra.sweep.dir if hydra.mode == RunMode.MULTIRUN else None,
        }
    }


def _job_field(hydra: HydraConf, key: str) -> Any:
    """``hydra.job.<key>``, None while unset (``num`` and ``id`` are missing outside a multirun)."""
    job = cast(DictConfig, hydra.job)  # typed as Hydra's JobConf dataclass, a DictConfig at runtime
    return job.get(key)


def start_run(config: DictConfig, *, task: TrackedTask | None = None) -> tracker.Run:
    """tracker.init() for the running Hydra job, from its ``tracker`` YAML and its resolved config.

    ``task`` is the tracked launcher's wrapper (None for a single run): it fixes the group and the id.
    """
    yaml = tracker_yaml(config)
    validate(yaml)
    kwargs = {key: yaml[key] for key in _INIT_KEYS if yaml.get(key) is not None}
    kwargs["dir"] = store_dir(yaml, HydraConfig.get().runtime.cwd)
    overrides = list(HydraConfig.get().overrides.task)
    if "name" not in kwargs and (name := job_name(overrides)) is not None:
        kwargs["name"] = name
    metadata = _hydra_metadata()
    if task is not None:
        hydra = HydraConfig.get()
        num = _job_field(hydra, "num")
        kwargs["group"] = task.group  # the launcher's group, fixed once for the whole sweep
        kwargs["id"] = task.run_id(overrides, num)
        metadata["sweep"] = {"group": task.group, "search": task.search}
        if task.search:
            metadata["sweep"].update(trial=num, params=task.params(overrides), sweeper=hydra.sweeper._target_)
    if (task is not None and task.requeues > 0) or int(os.environ.get("SLURM_RESTART_COUNT") or 0) > 0:
        kwargs["resume"] = "allow"  # a requeued job continues its own run, whatever resume says
    job_keys = [key for key in config if isinstance(key, str) and key not in ("hydra", "tracker")]
    job_config = OmegaConf.to_container(OmegaConf.masked_copy(config, job_keys), resolve=True)
    settings = {**(yaml.get("settings") or {}), "run_metadata": metadata}
    run = tracker.init(
        config=job_config,
        config_include_keys=yaml.get("config_include_keys"),
        config_exclude_keys=yaml.get("config_exclude_keys"),
        settings=settings,
        **kwargs,
    )
    host_script_init(run)
    return run


class TrackedTask:
    """The task function of every tracked job: a picklable wrapper around the user's task.

    It holds only the user's task function (pickled by reference or by cloudpickle), the sweep's
    group and command-line overrides, whether a search sweeper drives it, and how often submitit
    requeued it, so it crosses into submitit and Slurm workers intact.
    """

    def __init__(
        self,
        task_function: Callable[[DictConfig], Any],
        group: str,
        command_overrides: list[str],
        *,
        search: bool = False,
    ) -> None:
        self.task_function = task_function
        self.group = group
        self.command_overrides = command_overrides
        self.search = search
        self.requeues = 0

    def run_id(self, overrides: Sequence[str], num: int | None) -> str:
        """The job's deterministic run id; a search's trials also differ by number (values may repeat)."""
        return run_id(self.group, overrides, num if self.search else None)

    def params(self, overrides: Sequence[str]) -> dict[str, str]:
        """The values the sweeper chose for this job."""
        return sweep_params(self.command_overrides, overrides)

    def __call__(self, config: DictConfig) -> Any:
        # the run's context ends it finished, failed or preempted with the task's real exit code,
        # although Hydra swallows task exceptions in sweeps; the exception still reaches Hydra, which
        # marks the job failed for the sweeper
        with start_run(config, task=self) as run, events.job(self.requeues):
            result = self.task_function(config)
            if self.search and _is_objective(result) and "objective" not in run.summary:
                run.summary["objective"] = result  # what the sweeper optimizes, so `tracker sweep` can rank by it
            return result


def _is_objective(value: Any) -> bool:
    """A number, or a sequence of numbers (a multi-objective search)."""
    values = value if isinstance(value, list | tuple) else [value]
    return bool(values) and all(isinstance(item, int | float) and not isinstance(item, bool) for item in values)
