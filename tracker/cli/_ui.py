"""``tracker ui``: the dashboard over the local store, with nothing to set up (like ``tensorboard --logdir``).

The tracking server's app runs on a private SQLite file in a temporary directory; the local runs are
mirrored into it in-process and re-scanned in the background, so running runs update live. No key is
asked for: the dashboard acts for the local store (keep it on a loopback address).
"""

from __future__ import annotations

import math
import os
import shutil
import tempfile
import threading
import webbrowser

import click

from tracker import console
from tracker.cli._common import CommandError, global_options

SCAN_INTERVAL_S = 1.0


@click.command("ui")
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option("--port", default=8765, show_default=True, type=click.IntRange(0, 65535))
@click.option("--open", "open_browser", is_flag=True, help="Open the dashboard in the default browser.")
@global_options("dir")
@click.pass_context
def ui(ctx: click.Context, host: str, port: int, open_browser: bool) -> None:
    """Show the runs of the local store (--dir) in the browser: runs table and live charts."""
    try:
        import uvicorn

        from server.app import ServerSettings, create_app
        from server.db import Store
        from server.local import LOCAL_ENTITY, LocalMirror
    except ImportError as error:
        raise CommandError(f"tracker ui needs the server extra (pip install 'tracker[server]'): {error}") from None
    store_dir = ctx.find_root().ensure_object(dict).get("dir")
    private = tempfile.mkdtemp(prefix="tracker-ui-")
    store = Store(f"sqlite:///{os.path.join(private, 'ui.db')}")
    try:
        store.upgrade()
        mirror = LocalMirror(store, store_dir)
        mirror.start(SCAN_INTERVAL_S)
        settings = ServerSettings(
            files_dir=os.path.join(private, "files"),
            heartbeat_timeout=math.inf,
            local_entity=LOCAL_ENTITY,
            local_dir=store_dir,
        )
        url = f"http://{host}:{port}/"
        if host not in ("127.0.0.1", "localhost", "::1"):
            console.warn(f"tracker ui on {host}: anyone who can reach it sees every run (there is no sign-in)")
        console.note(f"tracker ui on {url} (runs of {mirror.directory or os.getcwd()})")
        if open_browser:
            threading.Timer(1.0, webbrowser.open, [url]).start()
        uvicorn.run(create_app(store, settings), host=host, port=port, log_level="warning")
        mirror.stop()
    finally:
        store.dispose()
        shutil.rmtree(private, ignore_errors=True)
