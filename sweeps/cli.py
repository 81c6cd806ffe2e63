"""``tracker sweep GROUP``: a sweep's status (jobs per state) and its results per configuration.

Joins the ``tracker`` command through the ``tracker.commands`` entry point.
"""

from __future__ import annotations

from typing import Any

import click

import tracker
from sweeps.manifest import SweepManifest
from sweeps.report import FAILED_STATES, job_rows, results, state_counts
from tracker import console
from tracker.cli._common import CommandError, api, global_options, matching, to_json, unknown, wants_json
from tracker.console import format_value


def _find(store: tracker.Api, group: str, project: str | None) -> tuple[str, str, SweepManifest | None]:
    """(project, group, manifest) for an exact group or a prefix of one; of several, the most recent
    (the one whose newest run started last), with a note naming the others."""
    projects = [project] if project else store.projects()
    candidates: dict[tuple[str, str], SweepManifest | None] = {}
    newest: dict[tuple[str, str], str] = {}
    for name in projects:
        for manifest in SweepManifest.all(store, name):
            candidates[(name, manifest.group)] = manifest
        for run in store.runs(name):
            if run.group:
                candidates.setdefault((name, run.group), None)
                newest[(name, run.group)] = max(newest.get((name, run.group), ""), run.created_at or "")
    found = set(matching(group, (key[1] for key in candidates)))
    matches = sorted((key for key in candidates if key[1] in found), key=lambda key: (newest.get(key, ""), key))
    if not matches:
        raise CommandError(f"no sweep or group matches {group!r} in {store.root}")
    chosen = matches[-1]
    if len(matches) > 1:
        others = ", ".join(f"{name}/{other}" for name, other in reversed(matches[:-1]))
        console.note(
            f"{group!r} matches {len(matches)} sweeps; showing the most recent, {chosen[0]}/{chosen[1]} "
            f"(also: {others})"
        )
    return chosen[0], chosen[1], candidates[chosen]


@click.command("sweep")
@click.argument("group")
@click.option("--project", "-p", help="The sweep's project (default: search every project).")
@click.option("--metric", "-m", help="Summary metric to compare configurations by.")
@click.option("--goal", type=click.Choice(["min", "max"]), default="min", show_default=True)
@click.option("--seed-key", default="seed", show_default=True, help="Config key whose values are repeats.")
@click.option("--no-fail", is_flag=True, help="Exit 0 even when jobs failed (by default such a sweep exits 1).")
@global_options("dir", "json")
@click.pass_context
def sweep(
    ctx: click.Context, group: str, project: str | None, metric: str | None, goal: str, seed_key: str, no_fail: bool
) -> None:
    """Status and results of a sweep (a group, or a prefix of one; the most recent if several match): jobs
    per state, mean +- std of a metric over seeds. Exits 1 when jobs failed or crashed."""
    store = api(ctx, local=True)
    project, group, manifest = _find(store, group, project)
    runs = store.runs(project, group=group)
    if metric and runs and not any(metric in run.summary for run in runs):
        raise unknown(
            "--metric", metric, f"summary metric in sweep {group!r}", {k for run in runs for k in run.summary}
        )
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
    failed = sum(count for state, count in report["status"].items() if state in FAILED_STATES)
    if wants_json(ctx):
        console.out(to_json(report))
    else:
        _print(report, seed_key)
    if failed and not no_fail:
        console.note(f"{failed} of {len(jobs)} jobs failed or crashed: exit code 1 (--no-fail exits 0)")
        ctx.exit(1)


def _print(report: dict[str, Any], seed_key: str) -> None:
    """The report as a status line, the jobs table and the results per configuration."""
    group, project, jobs, metric, goal = (report[key] for key in ("group", "project", "jobs", "metric", "goal"))
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
                for row in report["results"]
            ],
            stdout=True,
        )
