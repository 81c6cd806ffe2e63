"""``tracker rm`` and ``tracker gc``: move runs to the trash area, and empty it."""

from __future__ import annotations

import contextlib
import os
import shutil

import click

from tracker import _layout
from tracker._layout import trash_target
from tracker._lock import is_held
from tracker.cli._common import CommandError, api, resolve_run


def _size(path: str) -> int:
    total = 0
    for directory, _, names in os.walk(path):
        for name in names:
            with contextlib.suppress(FileNotFoundError):
                total += os.lstat(os.path.join(directory, name)).st_size
    return total


@click.command("rm")
@click.argument("run_refs", metavar="RUN...", nargs=-1, required=True)
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
@click.pass_context
def rm(ctx: click.Context, run_refs: tuple[str, ...], yes: bool) -> None:
    """Move runs to the trash (``tracker gc`` deletes it for good)."""
    store = api(ctx)
    runs = list({run.path: run for run in (resolve_run(store, reference) for reference in run_refs)}.values())
    for run in runs:
        if is_held(os.path.join(run.path, _layout.LOCK_FILE)):
            raise CommandError(f"run {run.project}/{run.id} is running (a live process holds it); not removed")
    listed = "\n".join(f"  {run.project}/{run.id}  {run.name}  ({run.state})" for run in runs)
    if not yes and not click.confirm(f"move {len(runs)} run(s) to the trash?\n{listed}\n", err=True):
        raise click.Abort()
    for run in runs:
        target = trash_target(store.root, run.project, run.id, "removed")
        shutil.move(run.path, target)
        click.echo(f"moved {run.project}/{run.id} to {target}", err=True)


@click.command("gc")
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
@click.pass_context
def gc(ctx: click.Context, yes: bool) -> None:
    """Delete everything in the trash (removed and replaced runs)."""
    trash = _layout.trash_dir(api(ctx).root)
    if not os.path.isdir(trash) or not os.listdir(trash):
        click.echo("the trash is empty", err=True)
        return
    size = _size(trash)
    if not yes and not click.confirm(f"delete {trash} ({size / 1e6:.1f} MB) for good?", err=True):
        raise click.Abort()
    shutil.rmtree(trash)
    click.echo(f"deleted {trash} ({size / 1e6:.1f} MB)", err=True)
