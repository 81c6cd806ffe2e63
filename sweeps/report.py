"""Sweep views: the jobs table (name, state, metric) and results per configuration over seeds."""

from __future__ import annotations

import math
import statistics
from typing import Any

import orjson

import tracker
from sweeps.manifest import SweepManifest
from tracker import console
from tracker.cli._common import flatten
from tracker.console import format_value


def job_rows(manifest: SweepManifest, api: tracker.Api, metric: str | None) -> list[dict[str, Any]]:
    """One row per job with its run's current state and the metric's summary value."""
    rows = []
    for job in manifest.jobs:
        try:
            view = api.run(f"{manifest.project}/{job['run_id']}")
            state, summary = view.state, view.summary
        except tracker.Error:
            state, summary = job.get("state", "pending"), {}
        rows.append(
            {
                "num": job["num"],
                "name": job.get("name") or job["run_id"],
                "run_id": job["run_id"],
                "state": state,
                "metric": summary.get(metric) if metric else None,
            }
        )
    return rows


def print_jobs(manifest: SweepManifest, api: tracker.Api, metric: str | None) -> None:
    rows = job_rows(manifest, api, metric)
    columns = ["#", "run", "id", "state"] + ([metric] if metric else [])
    cells = [
        [str(row["num"]), row["name"], row["run_id"], row["state"]] + ([format_value(row["metric"])] if metric else [])
        for row in rows
    ]
    console.table(f"sweep {manifest.group!r}: project {manifest.project} in {api.root}", columns, cells)


def metric_value(value: Any) -> float | None:
    """A summary value as a metric: a finite number, else None (strings, bools, NaN and dicts do not score)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def varying_keys(flat_configs: list[dict[str, Any]]) -> list[str]:
    """The swept parameters: flattened config keys whose value differs between runs (missing counts as a value)."""
    keys = {key for flat in flat_configs for key in flat}
    return sorted(key for key in keys if len({orjson.dumps(flat.get(key), default=str) for flat in flat_configs}) > 1)


def results(runs: list[Any], metric: str, goal: str = "min", seed_key: str = "seed") -> list[dict[str, Any]]:
    """One row per configuration (runs differing only in ``seed_key``): mean and std of the metric.

    Only finished runs count: a failed, crashed or running run's summary is a partial one. Such runs
    are listed in ``runs`` and counted in ``excluded``; ``n`` counts the values averaged. Rows are
    sorted best first; the best row has ``best=True``. ``std`` is None below two values (one seed has none).
    """
    by_config: dict[str, dict[str, Any]] = {}
    flat_configs = []
    for run in runs:
        flat = flatten(run.config)
        flat.pop(seed_key, None)
        flat_configs.append(flat)
        key = orjson.dumps(flat, option=orjson.OPT_SORT_KEYS, default=str).decode()
        row = by_config.setdefault(key, {"config": flat, "runs": [], "seeds": [], "values": [], "excluded": 0})
        row["runs"].append(run.id)
        if run.state != "finished":
            row["excluded"] += 1
            continue
        row["seeds"].append(flatten(run.config).get(seed_key))
        value = metric_value(run.summary.get(metric))
        if value is not None:
            row["values"].append(value)
    varying = varying_keys(flat_configs)
    rows = []
    for row in by_config.values():
        values = row.pop("values")
        row["label"] = ",".join(f"{key}={row['config'].get(key)}" for key in varying) or "(all runs)"
        row["n"] = len(values)
        row["mean"] = statistics.fmean(values) if values else None
        row["std"] = statistics.stdev(values) if len(values) > 1 else None
        row["best"] = False
        rows.append(row)
    scored = [row for row in rows if row["mean"] is not None]
    scored.sort(key=lambda row: row["mean"], reverse=goal == "max")
    if scored:
        scored[0]["best"] = True
    return scored + [row for row in rows if row["mean"] is None]


def best_run(runs: list[Any], metric: str, goal: str = "min") -> str | None:
    """The id of the finished run with the best value of ``metric`` (as ``results`` counts runs), or None."""
    scored = [
        (value, run.id)
        for run in runs
        if run.state == "finished" and (value := metric_value(run.summary.get(metric))) is not None
    ]
    if not scored:
        return None
    return (max if goal == "max" else min)(scored, key=lambda pair: pair[0])[1]


FAILED_STATES = ("failed", "crashed")


def state_counts(rows: list[dict[str, Any]]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for row in rows:
        counts[row["state"]] = counts.get(row["state"], 0) + 1
    return counts
