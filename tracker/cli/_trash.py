"""``tracker rm`` and ``tracker gc``: move runs to the trash area, and empty it."""

from __future__ import annotations

import contextlib
import os
import shutil

import click

import tracker
from tracker import _layout, console
from tracker._claim import remove_abandoned
from tracker._layout import trash_target
from tracker._lock import is_held
from tracker.cli._common import CommandError, api, confirm, global_options, resolve_run


def _size(path: str) -> int:
    total = 0
    for directory, _, names in os.walk(path):
        for name in names:
            with contextlib.suppress(FileNotFoundError):
                total += os.lstat(os.path.join(directory, name)).st_size
    return total


@click.command("rm")
@click.argument("run_refs", metavar="RUN...", nargs=-1, required=True)
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation (needed without a terminal).")
@global_options("dir")
@click.pass_context
def rm(ctx: click.Context, run_refs: tuple[str, ...], yes: bool) -> None:
    """Move runs to the trash (tracker gc deletes it for good)."""
    store = api(ctx, local=True)
    runs = list({run.path: run for run in (resolve_run(store, reference) for reference in run_refs)}.values())
    for run in runs:
        if is_held(os.path.join(run.directory, _layout.LOCK_FILE)):
            raise CommandError(f"run {run.project}/{run.id} is running (a live process holds it); not removed")
    listed = "\n".join(f"  {run.project}/{run.id}  {run.name}  ({run.state})" for run in runs)
    if not yes:
        console.note(listed)
    confirm(f"move {len(runs)} run(s) to the trash?", yes)
    for run in runs:
        target = trash_target(store.root, run.project, run.id, "removed")
        shutil.move(run.directory, target)
        console.note(f"moved {run.project}/{run.id} to {target}")


def _without_run(store: tracker.Api) -> list[str]:
    """Run directories holding no run.json: debris of a killed init(), or a run being started right now."""
    found = []
    for project in store.projects():
        with os.scandir(_layout.project_dir(store.root, project)) as entries:
            for entry in entries:
                if entry.is_dir(follow_symlinks=False) and not os.path.lexists(
                    os.path.join(entry.path, _layout.RUN_FILE)
                ):
                    found.append(entry.path)
    return found


@click.command("gc")
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation (needed without a terminal).")
@global_options("dir")
@click.pass_context
def gc(ctx: click.Context, yes: bool) -> None:
    """Delete everything in the trash (removed and replaced runs) and run directories where no run started."""
    store = api(ctx, local=True)
    removed = sum(remove_abandoned(directory) for directory in _without_run(store))  # skips runs being started
    if removed:
        console.note(f"removed {removed} run director{'y' if removed == 1 else 'ies'} where no run had started")
    trash = _layout.trash_dir(store.root)
    if not os.path.isdir(trash) or not os.listdir(trash):
        console.note("the trash is empty")
        return
    size = _size(trash)
    confirm(f"delete {trash} ({size / 1e6:.1f} MB) for good?", yes)
    shutil.rmtree(trash)
    console.note(f"deleted {trash} ({size / 1e6:.1f} MB)")
