"""``tracker login``, ``tracker logout`` and ``tracker sync``: the client side of a tracking server."""

from __future__ import annotations

import os
import sys

import click

from tracker import _credentials, _layout, _setup, console
from tracker._errors import Error
from tracker._lock import is_held
from tracker._settings import _base_url, getenv
from tracker.cli._common import CommandError, api, global_options, resolve_run


@click.command("login")
@click.option("--host", required=True, help="The server, e.g. http://127.0.0.1:8080.")
@click.option("--key", help="The API key (default: asked for, or read from stdin when it is not a terminal).")
def login(host: str, key: str | None) -> None:
    """Check an API key against a server and store it (mode 0600) for init() and the CLI."""
    base_url = _base_url("--host", host)
    assert base_url is not None  # --host is required
    if key is None:
        key = click.prompt("API key", hide_input=True, err=True) if sys.stdin.isatty() else sys.stdin.readline()
    key = key.strip()
    if not key:
        raise CommandError("no API key given (--key, or type it at the prompt, or pipe it on stdin)")
    try:
        console.note(_setup.check_and_store(base_url, key))
    except Error as error:
        raise CommandError(str(error)) from None


@click.command("logout")
def logout() -> None:
    """Forget the key `tracker login` stored."""
    removed = _credentials.remove()
    console.note("logged out" if removed else "there was no stored login")


@click.command("sync")
@click.argument("run_refs", metavar="[RUN]...", nargs=-1)
@click.option("--project", "-p", help="Only runs of this project.")
@click.option(
    "--server",
    "base_url",
    envvar=["TRACKER_BASE_URL", "WANDB_BASE_URL"],
    help="The server (default: TRACKER_BASE_URL or the login).",
)
@click.option("--entity", "-e", help="The entity to upload into (default: the run's, else the key's).")
@click.option(
    "--tensorboard",
    "tensorboard_dir",
    type=click.Path(exists=True, file_okay=False),
    help="Import this TensorBoard log directory into a new local run (of --project) instead of uploading.",
)
@global_options("dir")
@click.pass_context
def sync(
    ctx: click.Context,
    run_refs: tuple[str, ...],
    project: str | None,
    base_url: str | None,
    entity: str | None,
    tensorboard_dir: str | None,
) -> None:
    """Upload runs written offline, or cut off from their server, from where the server has them."""
    if tensorboard_dir is not None:
        from tracker.integrations import tensorboard

        store_dir = ctx.find_root().ensure_object(dict).get("dir")
        imported, count = tensorboard.import_into_store(tensorboard_dir, store_dir, project)
        console.note(
            f"{tensorboard_dir}: {count} events imported into run {imported.project}/{imported.id} ({imported.name})"
        )
        return
    from tracker._http import Client, ServerUnreachable
    from tracker._online import Uploader, UploadRefused

    url, key = _credentials.configured_server(
        _base_url("--server", base_url) if base_url else None, getenv("TRACKER_API_KEY")
    )
    if url is None or key is None:
        raise CommandError("no tracking server or key: pass --server and set TRACKER_API_KEY, or run `tracker login`")
    store = api(ctx, local=True)
    runs = [resolve_run(store, reference) for reference in run_refs] if run_refs else store.runs(project)
    client = Client(url, key)
    try:
        viewer = client.get("/api/viewer")
    except ServerUnreachable as error:
        raise CommandError(str(error)) from None
    if viewer.status != 200:
        raise CommandError(f"{url} refused the key ({viewer.detail()})")
    failed = 0
    for run in runs:
        if is_held(os.path.join(run.directory, _layout.LOCK_FILE)):
            console.note(f"{run.project}/{run.id}: skipped, a live process is writing it (it uploads itself online)")
            continue
        owner = entity or run.entity or viewer.body["entity"]
        journal_id = run._record.get("journal_id") or f"local-{run.id}"
        path = f"/api/runs/{owner}/{run.project}/{run.id}"
        uploader = Uploader(client, path, _layout.RunPaths(run.directory), journal_id, state=run.state)
        try:
            uploader.start()
            before = uploader.offset or 0
            uploader.upload_all()
        except (UploadRefused, ServerUnreachable, Error) as error:
            failed += 1
            console.warn(f"{run.project}/{run.id}: not synced ({error})")
            continue
        for problem in uploader.artifacts_refused:
            console.warn(f"{run.project}/{run.id}: {problem}")
        failed += bool(uploader.artifacts_refused)
        sent = (uploader.offset or 0) - before
        console.note(
            f"{run.project}/{run.id}: {'up to date' if not sent else f'sent {sent / 1024:.0f} KiB'} -> {url}/{owner}"
        )
    client.close()
    if failed:
        raise CommandError(f"{failed} run(s) could not be synced")
