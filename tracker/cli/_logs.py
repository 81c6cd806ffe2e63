"""``tracker logs``: a run's debug events (or this store's per-host logs), readable or as JSON lines."""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import Any

import click
import orjson

from tracker import _layout, _lock, _logread, console
from tracker._logs import LEVELS
from tracker.cli._common import CommandError, api, global_options, resolve_run, wants_json


@click.command("logs")
@click.argument("reference", metavar="RUN", required=False)
@click.option("--host", "host_log", is_flag=True, help="This store's global log (every host's file, merged).")
@click.option(
    "--level",
    type=click.Choice(list(LEVELS), case_sensitive=False),
    help="Only events at this level or above.",
)
@click.option("--event", "names", multiple=True, metavar="NAME", help="Only these events (a name or a glob: 'lock.*').")
@click.option("--follow", "-f", is_flag=True, help="Keep printing new events until the run ends.")
@global_options("dir", "json")
@click.pass_context
def logs(
    ctx: click.Context,
    reference: str | None,
    host_log: bool,
    level: str | None,
    names: tuple[str, ...],
    follow: bool,
) -> None:
    """Print the debug events of RUN (id, prefix or project/id) in order, or with --host the global log."""
    if host_log == (reference is not None):
        raise CommandError("give either RUN or --host")
    store = api(ctx, local=True)  # debug logs are not uploaded
    as_json = wants_json(ctx)
    keep = _logread.event_filter(level.lower() if level else None, names)
    if host_log:
        if follow:
            raise CommandError("--follow is for a run: the global log has no end")
        _print(filter(keep, _logread.merged_host_events(store.root)), as_json)
        return
    run = resolve_run(store, reference or "")
    path = os.path.join(run.directory, _layout.LOGS_DIR, _layout.DEBUG_LOG)
    if follow:
        lock = os.path.join(run.directory, _layout.LOCK_FILE)
        try:
            for event in _logread.follow(path, lambda: _lock.is_held(lock)):
                if keep(event):
                    _print([event], as_json)
        except KeyboardInterrupt:
            return
        return
    if not os.path.exists(path):
        console.note(f"run {run.id} has no debug log ({path})")
        return
    _print(filter(keep, _logread.read_events(path)[0]), as_json)


def _print(events: Iterable[dict[str, Any]], as_json: bool) -> None:
    for event in events:
        if as_json:
            console.out(orjson.dumps(event).decode())
        else:
            console.styled_line(_logread.readable_parts(event))
