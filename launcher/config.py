"""Typed schemas for the ``tracker`` config group and the tracked launchers, registered with Hydra.

Structured configs make Hydra reject an unknown key (``tracker.projcet``) while composing, before
any job starts; values are checked by the tracker's own validation in the launcher's setup.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from hydra.core.config_store import ConfigStore
from hydra_plugins.hydra_submitit_launcher.config import LocalQueueConf, SlurmQueueConf


@dataclass
class TrackerConf:
    """Every init() setting that makes sense in YAML; null means "the tracker's default"."""

    project: str | None = None
    entity: str | None = None
    group: str | None = None
    name: str | None = None
    tags: list[str] | None = None
    notes: str | None = None
    job_type: str | None = None
    mode: str | None = None
    dir: str | None = None
    resume: Any = None
    reinit: Any = None
    save_code: bool | None = None
    config_include_keys: list[str] | None = None
    config_exclude_keys: list[str] | None = None
    allow_val_change: bool | None = None
    settings: dict[str, Any] = field(default_factory=dict)
    # read by the tracked launchers only (kept here, not under hydra.launcher, so Hydra's own launchers work)
    summary_metric: str | None = None  # the metric shown in the end-of-sweep table


@dataclass
class TrackedBasicConf:
    """Jobs run one after another in the launching process."""

    _target_: str = ""


@dataclass
class TrackedSubmititLocalConf(LocalQueueConf):
    """Jobs run in local subprocesses through submitit (preemption is simulated with USR2)."""


@dataclass
class TrackedSlurmConf(SlurmQueueConf):
    """Jobs run as one Slurm job array through submitit."""


def register_configs(*, basic_target: str, submitit_local_target: str, slurm_target: str) -> None:
    """Register the ``tracker`` schema and the three launchers (targets live under hydra_plugins)."""
    store = ConfigStore.instance()
    store.store(group="tracker", name="base", node=TrackerConf, provider="tracker")
    store.store(
        group="hydra/launcher", name="tracked", node=TrackedBasicConf(_target_=basic_target), provider="tracker"
    )
    store.store(
        group="hydra/launcher",
        name="tracked_submitit_local",
        node=TrackedSubmititLocalConf(_target_=submitit_local_target),
        provider="tracker",
    )
    store.store(
        group="hydra/launcher", name="tracked_slurm", node=TrackedSlurmConf(_target_=slurm_target), provider="tracker"
    )
