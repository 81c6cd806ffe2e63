"""The end-of-sweep table: each job's run name, state and one summary metric."""

from __future__ import annotations

from typing import Any

import tracker
from sweeps.manifest import SweepManifest
from tracker import console


def _format(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return "-" if value is None else str(value)


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
        [str(row["num"]), row["name"], row["run_id"], row["state"]] + ([_format(row["metric"])] if metric else [])
        for row in rows
    ]
    console.table(f"sweep {manifest.group!r}: project {manifest.project} in {api.root}", columns, cells)
