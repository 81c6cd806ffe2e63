"""``tracker sweep GROUP``: a sweep's status (jobs per state) and its results per configuration.

Joins the ``tracker`` command through the ``tracker.commands`` entry point.
"""

from __future__ import annotations

from typing import Any

import click

import tracker
from sweeps.manifest import SweepManifest
from sweeps.report import job_rows, results, state_counts
from tracker import console
from tracker.cli._common import CommandError, api, to_json
from tracker.console import format_value


def _find(store: tracker.Api, group: str, project: str | None) -> tuple[str, str, SweepManifest | None]:
    """(project, group, manifest) for an exact group or a unique prefix of one."""
    projects = [project] if project else store.projects()
    candidates: dict[tuple[str, str], SweepManifest | None] = {}
    for name in projects:
        for manifest in SweepManifest.all(store, name):
            candidates[(name, manifest.group)] = manifest
        for run in store.runs(name):
            if run.group and (name, run.group) not in candidates:
                candidates[(name, run.group)] = None
    exact = [key for key in candidates if key[1] == group]
    matches = exact or [key for key in candidates if key[1].startswith(group)]
    if not matches:
        raise CommandError(f"no sweep or group matches {group!r} in {store.root}")
    if len(matches) > 1:
        listed = "; ".join(f"{name}: {found!r}" for name, found in sorted(matches)[:10])
        raise CommandError(f"{group!r} matches several groups: {listed}; give more of it or --project")
    name, found = matches[0]
    return name, found, candidates[matches[0]]


@click.command("sweep")
@click.argument("group")
@click.option("--project", "-p", help="The sweep's project (default: search every project).")
@click.option("--metric", "-m", help="Summary metric to compare configurations by.")
@click.option("--goal", type=click.Choice(["min", "max"]), default="min", show_default=True)
@click.option("--seed-key", default="seed", show_default=True, help="Config key whose values are repeats.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of tables.")
@click.pass_context
def sweep(
    ctx: click.Context, group: str, project: str | None, metric: str | None, goal: str, seed_key: str, as_json: bool
) -> None:
    """Status and results of a sweep (a group): jobs per state, mean +- std of a metric over seeds."""
    store = api(ctx)
    project, group, manifest = _find(store, group, project)
    runs = store.runs(project, group=group)
    if manifest is not None:
        jobs = job_rows(manifest, store, metric)
    else:
        jobs = [
            {
                "num": None,
                "name": run.name,
                "run_id": run.id,
                "state": run.state,
                "metric": run.summary.get(metric) if metric else None,
            }
            for run in runs
        ]
    table = results(runs, metric, goal, seed_key) if metric else []
    report: dict[str, Any] = {
        "project": project,
        "group": group,
        "manifest": manifest.path if manifest else None,
        "status": state_counts(jobs),
        "jobs": jobs,
        "metric": metric,
        "goal": goal,
        "results": table,
    }
    if as_json:
        console.out(to_json(report))
        return
    status = ", ".join(f"{count} {state}" for state, count in sorted(report["status"].items()))
    console.out(f"sweep {group!r} in project {project}: {len(jobs)} jobs ({status})")
    console.table(
        "jobs",
        ["#", "run", "id", "state", *([metric] if metric else [])],
        [
            [
                str(job["num"]) if job["num"] is not None else "-",
                job["name"],
                job["run_id"],
                job["state"],
                *([format_value(job["metric"])] if metric else []),
            ]
            for job in jobs
        ],
        stdout=True,
    )
    if metric:
        console.table(
            f"{metric} per configuration over {seed_key!r} ({goal} is best)",
            ["", "configuration", "n", "mean", "std", seed_key, "not finished"],
            [
                [
                    "*" if row["best"] else "",
                    row["label"],
                    str(row["n"]),
                    format_value(row["mean"]),
                    format_value(row["std"]),
                    ",".join(str(seed) for seed in row["seeds"]),
                    str(row["excluded"]),
                ]
                for row in table
            ],
            stdout=True,
        )
