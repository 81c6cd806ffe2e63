"""The ``tracker`` command: find, inspect, export, compare and remove runs from the terminal.

Commands of other installed packages (the ``sweep`` view of the sweeps package) join through the
``tracker.commands`` entry point group, so this package imports none of them.
"""

from __future__ import annotations

from importlib.metadata import entry_points

import click

import tracker
from tracker.cli._common import CommandError
from tracker.cli._online import login, logout, sync
from tracker.cli._runs import runs
from tracker.cli._show import history, show
from tracker.cli._trash import gc, rm
from tracker.cli._ui import ui


class _Commands(click.Group):
    """The command group: any tracker error (a bad setting, a damaged file) is one ``error:`` line, exit 2."""

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except tracker.Error as error:
            raise CommandError(str(error)) from None


@click.group(cls=_Commands, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--dir",
    "store_dir",
    envvar="TRACKER_DIR",
    type=click.Path(file_okay=False),
    help="The directory runs were written into (init(dir=...)); default TRACKER_DIR, else the cwd.",
)
@click.option("--server", "server_url", help="Read runs from this tracking server instead of a local store.")
@click.version_option(tracker.__version__, prog_name="tracker")
@click.pass_context
def main(ctx: click.Context, store_dir: str | None, server_url: str | None) -> None:
    """Find, inspect, export and compare tracked runs and sweeps."""
    ctx.obj = {"store_dir": store_dir, "server": server_url}  # the store is opened by the commands that read it


for command in (runs, show, history, rm, gc, sync, login, logout, ui):
    main.add_command(command)
for entry in entry_points(group="tracker.commands"):
    try:
        main.add_command(entry.load(), entry.name)
    except ImportError:  # a plugin whose own dependencies are missing only loses its command
        continue

__all__ = ["CommandError", "main"]
