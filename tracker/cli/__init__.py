"""The ``tracker`` command: find, inspect, export, compare and remove runs from the terminal.

Commands of other installed packages (the ``sweep`` view of the sweeps package) join through the
``tracker.commands`` entry point group, so this package imports none of them.
"""

from __future__ import annotations

from importlib.metadata import entry_points

import click

import tracker
from tracker.cli._artifact import artifact
from tracker.cli._common import ROOT_HELP, CommandError
from tracker.cli._compare import compare
from tracker.cli._logs import logs
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
@click.option("--dir", "store_dir", envvar="TRACKER_DIR", metavar="DIR", help=ROOT_HELP["dir"])
@click.option("--server", "server_url", metavar="URL", help=ROOT_HELP["server"])
@click.option("--json", "as_json", is_flag=True, help=ROOT_HELP["json"])
@click.version_option(tracker.__version__, prog_name="tracker")
@click.pass_context
def main(ctx: click.Context, store_dir: str | None, server_url: str | None, as_json: bool) -> None:
    """Find, inspect, export and compare tracked runs and sweeps.

    --dir (and --server, --json where a command has them) go before or after the command; after it, they win.
    """
    ctx.obj = {"dir": store_dir, "server": server_url, "json": as_json}  # commands open the store they read


for command in (runs, show, history, compare, rm, gc, sync, login, logout, artifact, logs, ui):
    main.add_command(command)
for entry in entry_points(group="tracker.commands"):
    try:
        main.add_command(entry.load(), entry.name)
    except ImportError:  # a plugin whose own dependencies are missing only loses its command
        continue

__all__ = ["CommandError", "main"]
