"""``tracker runs``: a filtered, sorted table (or JSON) of runs with chosen summary metrics."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import click

from tracker import console
from tracker._api import STATES, RunView
from tracker.cli._common import (
    api,
    cell,
    flatten,
    format_duration,
    global_options,
    parse_time,
    split_list,
    to_json,
    unknown,
    wants_json,
)
from tracker.console import format_value

_FIELDS = {
    "created": lambda run: run.created_at,
    "updated": lambda run: run.updated_at,
    "name": lambda run: run.name,
    "id": lambda run: run.id,
    "group": lambda run: run.group,
    "state": lambda run: run.state,
    "step": lambda run: run.summary.get("_step"),
    "runtime": lambda run: run.summary.get("_runtime"),
}


def summary_of(run: RunView) -> dict[str, Any]:
    return run.summary


def config_of(run: RunView) -> dict[str, Any]:
    """The run's config with nested keys dotted (``optimizer.lr``)."""
    return flatten(run.config)


def keys_in(runs: list[RunView], keys_of: Callable[[RunView], dict[str, Any]]) -> set[str]:
    return {key for run in runs for key in keys_of(run)}


def check_names(
    option: str, names: list[str], what: str, runs: list[RunView], keys_of: Callable[[RunView], dict[str, Any]]
) -> None:
    """Names that no listed run has are errors (a typo would otherwise show an empty column); the runs are
    read only until each name is found."""
    for name in names:
        if not any(name in keys_of(run) for run in runs):
            raise unknown(option, name, what, keys_in(runs, keys_of))


def sort_key(spec: str, runs: list[RunView]) -> tuple[Callable[[RunView], Any], bool]:
    """``created`` / ``-val_loss`` / ``optimizer.lr``: a field, a summary metric or a config key; a leading
    ``-`` sorts descending."""
    descending = spec.startswith("-")
    name = spec.lstrip("-")
    if name in _FIELDS:
        return _FIELDS[name], descending
    metrics = keys_in(runs, summary_of)
    if name in metrics:
        return (lambda run: run.summary.get(name)), descending
    configs = keys_in(runs, config_of)
    if name in configs or not runs:
        return (lambda run: config_of(run).get(name)), descending
    raise unknown("--sort", spec, "field, summary metric or config key", {*_FIELDS, *metrics, *configs})


def sort_runs(runs: list[RunView], spec: str) -> list[RunView]:
    """Sort with runs lacking the value last, whatever the direction."""
    key, descending = sort_key(spec, runs)
    valued = [(key(run), run) for run in runs]
    present = [(value, run) for value, run in valued if value is not None]
    missing = [run for value, run in valued if value is None]
    try:
        present.sort(key=lambda pair: pair[0], reverse=descending)
    except TypeError:  # mixed types (numbers and strings) sort by their text
        present.sort(key=lambda pair: str(pair[0]), reverse=descending)
    return [run for _, run in present] + missing


@contextmanager
def scan_progress() -> Iterator[Callable[[int, int], None] | None]:
    """A progress bar on stderr for long scans, only when stderr is a terminal."""
    if not sys.stderr.isatty():
        yield None
        return
    from rich.progress import Progress

    with Progress(transient=True) as progress:
        task = progress.add_task("scanning runs", total=None)
        yield lambda done, total: progress.update(task, completed=done, total=total)


def run_row(run: RunView, metrics: list[str], configs: list[str], now: float) -> dict[str, Any]:
    summary = run.summary
    flat = flatten(run.config) if configs else {}
    created = parse_time(run.created_at)
    return {
        "id": run.id,
        "project": run.project,
        "name": run.name,
        "group": run.group,
        "job_type": run.job_type,
        "tags": list(run.tags),
        "state": run.state,
        "exit_code": run.exit_code,
        "step": summary.get("_step"),
        "runtime": summary.get("_runtime"),
        "created_at": run.created_at,
        "age": None if created is None else now - created,
        "metrics": {metric: summary.get(metric) for metric in metrics},
        "config": {key: flat.get(key) for key in configs},
    }


@click.command("runs")
@click.option("--project", "-p", help="Only this project (default: every project).")
@click.option("--group", "-g", help="Only runs of this group (a sweep).")
@click.option("--state", "-s", type=click.Choice(STATES), help="Only runs in this state.")
@click.option("--tag", "-t", "tags", multiple=True, help="Only runs with this tag (repeat for all of several).")
@click.option("--job-type", "-j", help="Only runs of this job type.")
@click.option("--metric", "-m", "metrics", multiple=True, help="Summary metrics to show (repeat, or a,b).")
@click.option(
    "--config", "-c", "configs", multiple=True, help="Config values to show, nested keys dotted (repeat, or a,b)."
)
@click.option(
    "--sort",
    "sort_spec",
    default="-created",
    show_default=True,
    help="created, updated, name, id, group, state, step, runtime, a summary metric or a config key; -KEY descends.",
)
@click.option("--limit", "-n", type=click.IntRange(min=0), default=50, show_default=True, help="0 shows every run.")
@global_options("dir", "server", "json")
@click.pass_context
def runs(
    ctx: click.Context,
    project: str | None,
    group: str | None,
    state: str | None,
    tags: tuple[str, ...],
    job_type: str | None,
    metrics: tuple[str, ...],
    configs: tuple[str, ...],
    sort_spec: str,
    limit: int,
) -> None:
    """List runs with their state, step, runtime, creation date, chosen config values and summary metrics."""
    wanted_metrics = [name for option in metrics for name in split_list(option)]
    wanted_configs = [name for option in configs for name in split_list(option)]
    with scan_progress() as progress:
        found = api(ctx).runs(
            project, group=group, tags=list(tags) or None, state=state, job_type=job_type, progress=progress
        )
    if found:  # an empty listing cannot tell a typo from a metric no run has logged yet
        check_names("--metric", wanted_metrics, "summary metric", found, summary_of)
        check_names("--config", wanted_configs, "config key", found, config_of)
    ordered = sort_runs(found, sort_spec)
    shown = ordered[:limit] if limit else ordered
    now = time.time()
    rows = [run_row(run, wanted_metrics, wanted_configs, now) for run in shown]
    if wants_json(ctx):
        console.out(to_json(rows))
        return
    columns = ["id", "name", "group", "state", "step", "runtime", "created", *wanted_configs, *wanted_metrics]
    if project is None:
        columns.insert(1, "project")
    cells = []
    for row in rows:
        line = [
            row["id"],
            row["name"],
            row["group"] or "-",
            row["state"],
            format_value(row["step"]),
            format_duration(row["runtime"]),
            cell("created", row["created_at"]),
            *(format_value(row["config"][key]) for key in wanted_configs),
            *(format_value(row["metrics"][metric]) for metric in wanted_metrics),
        ]
        if project is None:
            line.insert(1, row["project"])
        cells.append(line)
    console.table(None, columns, cells, stdout=True)
    if len(shown) < len(ordered):
        console.note(f"showing {len(shown)} of {len(ordered)} runs (--limit 0 shows all)")
