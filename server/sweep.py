"""The sweep page's data: a group's runs, the parameters swept in it and the chosen metric per configuration.

What a sweep's parameters and results are is the ``sweeps`` package's, as for ``tracker sweep``: the swept
parameters are the config keys that vary within the group, results are over seeds and count finished runs
only. This module reads the runs from the server's store and picks a default metric and goal: one whose
goal was declared with define_metric(goal=), else one whose name says what it is (a loss, an accuracy).
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection

from server import reads
from sweeps import report
from tracker._summary import MetricRule
from tracker.cli._common import flatten

_MAXIMIZED = re.compile(r"acc|auc|f1|precision|recall|score|reward|return|iou|bleu|r2", re.IGNORECASE)
_MINIMIZED = re.compile(r"loss|err|mse|mae|perplexity|ppl|regret", re.IGNORECASE)
_GOALS = {"minimize": "min", "maximize": "max"}


@dataclass(frozen=True)
class SweepRun:
    """A run as ``sweeps.report`` reads it."""

    id: str
    name: str
    state: str
    config: dict[str, Any]
    summary: dict[str, Any]


def describe(
    connection: Connection,
    visible: Iterable[str],
    entity: str,
    project: str,
    group: str,
    *,
    metric: str | None,
    goal: str | None,
    seed_key: str,
    heartbeat_timeout: float,
) -> dict[str, Any] | None:
    """The sweep page of ``group``; None when it has no run the viewer may see (the caller answers 404).

    Raises ValueError for a ``metric`` that is no numeric summary key of the sweep's runs.
    """
    rows = reads.list_runs(connection, visible, entity=entity, project=project, group=group)
    if not rows:
        return None
    now = time.time()
    found = [
        SweepRun(row.run_id, row.name, reads.state_of(row, now, heartbeat_timeout), row.config or {}, row.summary or {})
        for row in rows
    ]
    metrics = sorted(
        {
            key
            for run in found
            for key, value in run.summary.items()
            if not key.startswith("_") and report.metric_value(value) is not None
        }
    )
    goals = declared_goals(reads.metric_rules(connection, [row.id for row in rows]).values(), metrics)
    if metric is None:
        metric = default_metric(metrics, goals)
    elif metric not in metrics:
        raise ValueError(
            f"metric={metric!r} is not a numeric summary key of sweep {group!r}; these are: "
            f"{', '.join(metrics) or '(none)'}"
        )
    if metric is not None and goal is None:
        goal = goals.get(metric) or ("max" if _MAXIMIZED.search(metric) and not _MINIMIZED.search(metric) else "min")
    flat = [flatten(run.config) for run in found]
    params = report.varying_keys(flat)
    return {
        "entity": entity,
        "project": project,
        "group": group,
        "states": report.state_counts([{"state": run.state} for run in found]),
        "params": params,
        "seed_key": seed_key,
        "metrics": metrics,
        "metric": metric,
        "goal": goal,
        "goal_declared": metric in goals,
        "runs": [
            {
                "id": run.id,
                "name": run.name,
                "state": run.state,
                "params": {key: config.get(key) for key in params},
                "value": report.metric_value(run.summary.get(metric)) if metric else None,
            }
            for run, config in zip(found, flat, strict=True)
        ],
        "best_run": report.best_run(found, metric, goal or "min") if metric else None,
        "results": report.results(found, metric, goal or "min", seed_key) if metric else [],
    }


def declared_goals(rules: Iterable[list[MetricRule]], metrics: list[str]) -> dict[str, str]:
    """min or max per metric whose define_metric() rule gave a goal (an exact name wins over a glob).

    >>> rules = [MetricRule("val/*", goal="maximize"), MetricRule("val/loss", goal="minimize")]
    >>> declared_goals([rules], ["val/acc", "val/loss", "epoch"])
    {'val/acc': 'max', 'val/loss': 'min'}
    """
    goals: dict[str, str] = {}
    for run_rules in rules:
        for metric in metrics:
            matching = [rule for rule in run_rules if rule.goal and rule.matches(metric)]
            matching.sort(key=lambda rule: (rule.pattern == metric, len(rule.pattern)))
            if matching and metric not in goals:
                goals[metric] = _GOALS[matching[-1].goal]  # type: ignore[index]
    return goals


def default_metric(metrics: list[str], goals: dict[str, str]) -> str | None:
    """The metric the page opens with: one with a declared goal, else a loss or score, validation first.

    >>> default_metric(["epoch", "train_loss", "val_loss"], {}), default_metric(["acc", "val_loss"], {"acc": "max"})
    ('val_loss', 'acc')
    """

    def rank(key: str) -> tuple[bool, bool, bool, str]:
        named = bool(_MINIMIZED.search(key) or _MAXIMIZED.search(key))
        return (key not in goals, not named, not key.startswith(("val", "eval", "test")), key)

    return min(metrics, key=rank, default=None)
