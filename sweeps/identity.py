"""Deterministic identities: the same sweep command gives the same group, names and run ids every time.

That is what lets a re-run sweep (with resume) or a requeued job continue its own runs.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

MAX_GROUP = 128
_ID_ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyz"
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


def run_id(group: str, overrides: Iterable[str]) -> str:
    """Twelve base-36 characters from the group and the job's experiment overrides (order-free).

    >>> run_id("g", ["a=1", "b=2"]) == run_id("g", ["b=2", "a=1"])
    True
    """
    value = _digest(group, *sorted(experiment_overrides(overrides)))
    chars = []
    for _ in range(_ID_LENGTH):
        value, digit = divmod(value, len(_ID_ALPHABET))
        chars.append(_ID_ALPHABET[digit])
    return "".join(chars)
