"""Deterministic identities: a sweep command and its attempt number give the same group, names and run ids.

That is what lets a requeued job, or a sweep launched again with resume, continue its own runs, while
a plain rerun (the next attempt: ``group #2``) gets runs of its own beside the earlier ones.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

from tracker._names import base36

MAX_GROUP = 128
_ID_LENGTH = 12
# Overrides that change how a job is tracked or launched, not what it computes.
_NOT_EXPERIMENT = ("tracker.", "hydra.", "hydra/", "+tracker", "++tracker", "~tracker", "+hydra", "++hydra")


def experiment_overrides(overrides: Iterable[str]) -> list[str]:
    """The overrides that define the experiment: tracker and hydra settings left out, order kept."""
    return [item for item in overrides if not item.lstrip().startswith(_NOT_EXPERIMENT)]


def _digest(*parts: str) -> int:
    return int.from_bytes(hashlib.sha256("\x00".join(parts).encode()).digest()[:16], "big")


def sweep_group(task_name: str, config_name: str | None, overrides: Iterable[str]) -> str:
    """A readable group such as ``train:config lr=1e-3,1e-4 seed=0,1,2``, at most 128 characters.

    >>> sweep_group("train", "config", ["seed=0,1", "tracker.tags=[a]"])
    'train:config seed=0,1'
    """
    head = task_name if not config_name or config_name == task_name else f"{task_name}:{config_name}"
    kept = sorted(experiment_overrides(overrides))
    group = " ".join([head, *kept])
    if len(group) <= MAX_GROUP:
        return group
    suffix = f"~{_digest(group) % 16**8:08x}"
    return group[: MAX_GROUP - len(suffix)] + suffix


def attempt_group(group: str, attempt: int) -> str:
    """The group of a sweep's ``attempt``-th set of runs: ``group`` itself first, then ``group #2``, ...

    >>> attempt_group("train:config seed=0,1", 1), attempt_group("train:config seed=0,1", 2)
    ('train:config seed=0,1', 'train:config seed=0,1 #2')
    """
    if attempt < 1:
        raise ValueError(f"attempt={attempt!r} must be >= 1")
    if attempt == 1:
        return group
    suffix = f" #{attempt}"
    return group[: MAX_GROUP - len(suffix)] + suffix


def sweep_params(command_overrides: Iterable[str], job_overrides: Iterable[str]) -> dict[str, str]:
    """The values a sweeper chose for this job: its experiment overrides that the command did not fix.

    >>> sweep_params(["epochs=3", "lr=tag(log, interval(1e-4, 1e-1))"], ["epochs=3", "lr=0.0042"])
    {'lr': '0.0042'}
    """
    fixed = set(command_overrides)
    params = {}
    for item in experiment_overrides(job_overrides):
        if item not in fixed and "=" in item:
            key, value = item.split("=", 1)
            params[key.lstrip("+~")] = value
    return params


def job_name(overrides: Iterable[str]) -> str | None:
    """A run name from the job's own overrides, e.g. ``lr=0.001,seed=1`` (None when there are none).

    >>> job_name(["seed=1", "lr=0.001", "tracker.mode=offline"])
    'lr=0.001,seed=1'
    """
    kept = sorted(experiment_overrides(overrides))
    if not kept:
        return None
    name = ",".join(kept)
    return name if len(name) <= MAX_GROUP else name[: MAX_GROUP - 9] + f"~{_digest(name) % 16**8:08x}"


def run_id(group: str, overrides: Iterable[str], trial: int | None = None) -> str:
    """Twelve base-36 characters from the group, the job's experiment overrides (order-free) and its trial.

    A search sweeper (Optuna) may draw the same values twice: its jobs pass their trial number.

    >>> run_id("g", ["a=1", "b=2"]) == run_id("g", ["b=2", "a=1"]) != run_id("g", ["a=1", "b=2"], trial=0)
    True
    """
    trial_part = [] if trial is None else [f"\x01trial={trial}"]
    return base36(_digest(group, *sorted(experiment_overrides(overrides)), *trial_part), _ID_LENGTH)
