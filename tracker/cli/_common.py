"""What every command shares: the store option, run references, JSON output, formatting and errors."""

from __future__ import annotations

import datetime as _dt
import math
import os
from typing import Any

import click
import orjson

import tracker
from tracker import _layout, console
from tracker._api import RunView


class CommandError(click.ClickException):
    """A usage problem the user can fix: unknown or ambiguous run, bad option value. Exit code 2."""

    exit_code = 2

    def show(self, file: Any = None) -> None:
        click.echo(f"error: {console.printable(self.format_message())}", err=True)


def api(ctx: click.Context) -> Any:
    """The store the command reads (--dir, else TRACKER_DIR, the settings file or the cwd, as init() would)."""
    state = ctx.find_root().obj
    if "api" not in state and state.get("server"):
        state["api"] = tracker.Api(base_url=state["server"])
    if "api" not in state:
        store = tracker.Api(state["store_dir"])
        if not os.path.isdir(store.root):
            raise CommandError(f"no runs here: {store.root} does not exist (use --dir or TRACKER_DIR)")
        state["api"] = store
    return state["api"]


def resolve_run(api: Any, reference: str) -> RunView:
    """A run from ``id``, ``project/id``, ``entity/project/id`` or a unique prefix of an id."""
    if "/" in reference:
        try:
            return api.run(reference)
        except tracker.Error as error:
            raise CommandError(str(error)) from None
    if not isinstance(api, tracker.Api):  # a server: match among the runs the key sees
        found = [run for run in api.runs(None) if run.id == reference] or [
            run for run in api.runs(None) if run.id.startswith(reference)
        ]
        if len(found) != 1:
            raise CommandError(f"{reference!r} matches {len(found)} runs on {api.root}; give entity/project/id")
        return found[0]
    exact, prefixed = [], []
    for project in api.projects():
        try:
            names = os.listdir(_layout.project_dir(api.root, project))
        except FileNotFoundError:
            continue
        for name in names:
            if name == reference:
                exact.append((project, name))
            elif name.startswith(reference):
                prefixed.append((project, name))
    matches = exact or prefixed
    if not matches:
        raise CommandError(f"no run matches {reference!r} in {api.root}")
    if len(matches) > 1:
        listed = ", ".join(f"{project}/{run_id}" for project, run_id in sorted(matches)[:10])
        more = f" and {len(matches) - 10} more" if len(matches) > 10 else ""
        raise CommandError(f"{reference!r} is ambiguous: {listed}{more}; give more of the id or project/id")
    project, run_id = matches[0]
    try:
        return api.run(f"{project}/{run_id}")
    except tracker.Error as error:  # a directory without run.json: a run being created, or debris
        raise CommandError(str(error)) from None


def to_json(value: Any) -> str:
    """Pretty JSON; non-finite floats become null, as JSON has no NaN."""
    return orjson.dumps(value, default=str, option=orjson.OPT_INDENT_2 | orjson.OPT_SERIALIZE_NUMPY).decode()


def parse_time(iso: str | None) -> float | None:
    if not iso:
        return None
    return _dt.datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


def format_duration(seconds: float | None) -> str:
    """``0.4s``, ``42s``, ``3m05s``, ``2h07m``, ``3d04h``."""
    if seconds is None or not math.isfinite(seconds):
        return "-"
    if seconds < 10:
        return f"{seconds:.1f}s"
    seconds = int(seconds)
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    if seconds < 86400:
        return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
    return f"{seconds // 86400}d{seconds % 86400 // 3600:02d}h"


def split_list(value: str | None) -> list[str]:
    """``--keys a,b`` and repeated options alike."""
    return [item.strip() for item in (value or "").split(",") if item.strip()]
