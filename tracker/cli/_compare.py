"""``tracker compare``: runs side by side, the config keys that differ between them and their summaries."""

from __future__ import annotations

from typing import Any

import click

from tracker import console
from tracker.cli._common import CommandError, api, cell, flatten, global_options, resolve_run, to_json, wants_json


def _side_by_side(sections: list[dict[str, Any]]) -> dict[str, list[Any]]:
    """Every key of the flattened sections, with one value per run (None where a run lacks it)."""
    flat = [flatten(section) for section in sections]
    keys = dict.fromkeys(key for section in flat for key in section)
    return {key: [section.get(key) for section in flat] for key in keys}


def _differs(values: list[Any]) -> bool:
    return any(value != values[0] or type(value) is not type(values[0]) for value in values[1:])


@click.command("compare")
@click.argument("run_refs", metavar="RUN RUN...", nargs=-1, required=True)
@click.option("--all", "show_all", is_flag=True, help="Also show the config keys all runs share.")
@global_options("dir", "server", "json")
@click.pass_context
def compare(ctx: click.Context, run_refs: tuple[str, ...], show_all: bool) -> None:
    """Runs side by side: the config keys that differ between them, then their summaries."""
    store = api(ctx)
    runs = list({run.path: run for run in (resolve_run(store, reference) for reference in run_refs)}.values())
    if len(runs) < 2:
        raise CommandError(f"compare needs two runs or more; {', '.join(run_refs)} name {len(runs)}")
    config = _side_by_side([run.config for run in runs])
    different = {key: values for key, values in config.items() if _differs(values)}
    shared = {key: values[0] for key, values in config.items() if key not in different}
    summary = _side_by_side([run.summary for run in runs])
    if wants_json(ctx):
        described = [
            {"id": run.id, "project": run.project, "name": run.name, "state": run.state, "group": run.group}
            for run in runs
        ]
        console.out(to_json({"runs": described, "config": different, "same_config": shared, "summary": summary}))
        return
    headers = ["", *(f"{run.project}/{run.id}\n{run.name}" for run in runs)]
    states = [["state", *(run.state for run in runs)], ["group", *(run.group or "-" for run in runs)]]
    config_rows = [[key, *(cell(key, value) for value in values)] for key, values in different.items()]
    if show_all:
        config_rows += [[key, *(cell(key, value) for _ in runs)] for key, value in shared.items()]
    title = "config" if show_all else f"config that differs ({len(shared)} keys the same; --all shows them)"
    console.table(None, headers, states, stdout=True)
    console.table(title, ["key", *headers[1:]], config_rows or [["(no difference)", *("" for _ in runs)]], stdout=True)
    summary_rows = [[key, *(cell(key, value) for value in values)] for key, values in summary.items()]
    console.table("summary", ["key", *headers[1:]], summary_rows, stdout=True)
