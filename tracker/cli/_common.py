"""What every command shares: the store option, run references, JSON output, formatting and errors."""

from __future__ import annotations

import datetime as _dt
import math
import os
import sys
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

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


_Command = TypeVar("_Command", bound=Callable[..., Any])
GLOBAL_HELP = {
    "dir": "The directory runs were written into (init(dir=...)); default TRACKER_DIR, else the cwd.",
    "server": "Read runs from this tracking server instead of a local store.",
    "json": "Print JSON instead of tables.",
}
# the group's own help says which commands honour them
ROOT_HELP = {
    **GLOBAL_HELP,
    "server": "Read runs from this tracking server instead of a local store (runs, show, history, compare, artifact).",
    "json": "Print JSON instead of tables (runs, show, history, compare, logs, sweep).",
}


def _remember(ctx: click.Context, param: click.Parameter, value: Any) -> None:
    """A global option given after the command: it overrides the one given before it."""
    if value:
        ctx.find_root().ensure_object(dict)[param.name or ""] = value


def global_options(*names: str) -> Callable[[_Command], _Command]:
    """Global options accepted after the command too: ``tracker runs --dir X`` as ``tracker --dir X runs``."""

    def decorate(command: _Command) -> _Command:
        for name in reversed(names):
            flag = {"is_flag": True} if name == "json" else {"metavar": "DIR" if name == "dir" else "URL"}
            command = click.option(
                f"--{name}", name, expose_value=False, callback=_remember, help=GLOBAL_HELP[name], **flag
            )(command)
        return command

    return decorate


def wants_json(ctx: click.Context) -> bool:
    """Whether ``--json`` was given, before or after the command."""
    return bool(ctx.find_root().ensure_object(dict).get("json"))


def api(ctx: click.Context, *, local: bool = False) -> Any:
    """The store the command reads (--dir, else TRACKER_DIR, the settings file or the cwd, as init() would);
    ``local`` refuses --server for the commands that change files."""
    state = ctx.find_root().ensure_object(dict)
    if local and state.get("server"):
        raise CommandError(f"{ctx.info_name} works on a local store only: --server {state['server']} is not supported")
    if "api" not in state and state.get("server"):
        state["api"] = tracker.Api(base_url=state["server"])
    if "api" not in state:
        store = tracker.Api(state.get("dir"))
        if not os.path.isdir(store.root):
            raise CommandError(f"no runs here: {store.root} does not exist (use --dir or TRACKER_DIR)")
        state["api"] = store
    return state["api"]


def matching(reference: str, names: Iterable[str]) -> list[str]:
    """The names equal to ``reference``, else those it is a prefix of: how runs and sweeps are named briefly."""
    names = list(names)
    return [name for name in names if name == reference] or [name for name in names if name.startswith(reference)]


def resolve_run(api: Any, reference: str) -> RunView:
    """A run from ``id``, ``project/id``, ``entity/project/id`` or a unique prefix of an id."""
    if "/" in reference:
        try:
            return api.run(reference)
        except tracker.Error as error:
            raise CommandError(str(error)) from None
    if not isinstance(api, tracker.Api):  # a server: match among the runs the key sees
        every = api.runs(None)
        ids = set(matching(reference, (run.id for run in every)))
        found = [run for run in every if run.id in ids]
        if len(found) != 1:
            raise CommandError(f"{reference!r} matches {len(found)} runs on {api.root}; give entity/project/id")
        return found[0]
    stored: list[str] = []
    for project in api.projects():
        try:
            stored.extend(f"{project}/{name}" for name in os.listdir(_layout.project_dir(api.root, project)))
        except FileNotFoundError:
            continue
    ids = set(matching(reference, (path.split("/")[1] for path in stored)))
    matches = [tuple(path.split("/")) for path in stored if path.split("/")[1] in ids]
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


def confirm(question: str, yes: bool) -> None:
    """Go on when ``-y`` was given or the user agrees at the terminal; without a terminal, say what to pass."""
    if yes:
        return
    if not sys.stdin.isatty():
        raise CommandError(f"{question} needs a confirmation and there is no terminal to ask: pass -y/--yes")
    if not click.confirm(question, err=True):
        raise click.Abort()


def flatten(value: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested dicts as dotted keys (``optimizer.lr``); empty dicts and media references stay one value."""
    flat: dict[str, Any] = {}
    for key, item in value.items():
        if isinstance(item, dict) and item and "_type" not in item:
            flat.update(flatten(item, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = item
    return flat


def unknown(option: str, value: str, what: str, known: Iterable[str]) -> CommandError:
    """The error for a name that exists nowhere, listing the names that do (the first 40)."""
    names = sorted(set(known))
    listed = ", ".join(names[:40]) + (f" and {len(names) - 40} more" if len(names) > 40 else "")
    return CommandError(f"{option} {value!r}: no such {what}; these exist: {listed or '(none)'}")


_TIMESTAMPS = ("_timestamp", "created_at", "updated_at", "created", "updated")


def _date(value: Any) -> str | None:
    """Epoch seconds or an ISO time as a local date; None for anything else (a config key named "created")."""
    try:
        seconds = parse_time(value) if isinstance(value, str) else float(value)
        return _dt.datetime.fromtimestamp(seconds).strftime("%Y-%m-%d %H:%M:%S")  # type: ignore[arg-type]
    except (TypeError, ValueError, OverflowError, OSError):
        return None


def cell(key: str, value: Any) -> str:
    """A table cell; timestamps (``_timestamp``, ``created``) as local dates rather than epoch seconds."""
    if key in _TIMESTAMPS and not isinstance(value, bool) and (date := _date(value)) is not None:
        return date
    return console.format_value(value)


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
