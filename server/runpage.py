"""The run page's JSON and files: one run's identity, state history, debug events, media and files, for the dashboard.

A run's files live in one folder: its own run directory under ``tracker ui`` (the names a server would
have been sent, ``tracker._online.UPLOADED``), the uploaded copies on a tracking server. Files are served
so that nothing a run stored can act as a page of the dashboard: only images, audio, video and plain text
are shown inline, with ``nosniff`` and a sandboxing Content-Security-Policy; everything else downloads.
"""

import os
import time
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, Query, Request
from fastapi.responses import FileResponse, Response

import tracker
from server import reads
from server.app import IDENTIFIER
from server.files import RunFiles, checked_name
from tracker import _layout
from tracker._logread import read_events, readable_parts
from tracker._online import UPLOADED, uploaded_files

MAX_EVENTS = 2000  # the newest debug events a page shows
MEDIA_PER_KEY = 50  # steps of one media key a page can step through
_INLINE = {
    "png": "image/png",
    "jpg": "image/jpeg",
    "jpeg": "image/jpeg",
    "gif": "image/gif",
    "webp": "image/webp",
    "bmp": "image/bmp",
    "wav": "audio/wav",
    "mp3": "audio/mpeg",
    "ogg": "audio/ogg",
    "flac": "audio/flac",
    "mp4": "video/mp4",
    "webm": "video/webm",
    "json": "application/json",
    "jsonl": "text/plain; charset=utf-8",
    "log": "text/plain; charset=utf-8",
    "txt": "text/plain; charset=utf-8",
}
_SAFE_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'none'; img-src 'self'; media-src 'self'; sandbox",
    "Cache-Control": "no-cache",
}
_FINAL = ("finished", "failed", "crashed", "preempted")
_DIED = "its process ended without finishing"
Identifier = Annotated[str, Path(pattern=IDENTIFIER, max_length=128)]


def state_history(events: list[dict[str, Any]], state: str, created_at: str) -> list[dict[str, Any]]:
    """The run's states in order (started, preempting, requeued, resumed, finished...), from its debug events.

    The state it reads now closes the list when the events do not say it: a process killed without
    finishing writes no event, so its ``crashed`` (or ``preempted``) is known only from the run's state.
    """
    history: list[dict[str, Any]] = []
    for event in events:
        name, at = event.get("event"), event.get("timestamp")
        if name == "identity.decided":
            action = event.get("action")
            if action == "resumed" and history and history[-1]["label"] not in _FINAL:
                history.append(_unfinished(history[-1]["state"]))  # the process before this one died
            label = "resumed" if action == "resumed" else "started"
            detail = "replaced an earlier run of this id" if action == "replaced" else str(event.get("reason") or "")
            history.append({"at": at, "state": "running", "label": label, "detail": detail})
        elif name == "run.preempting":
            history.append({"at": at, "state": "preempted", "label": "preempting", "detail": ""})
        elif name == "job.requeued":
            detail = f"requeue {event.get('requeues')}" + (
                f", Slurm job {event['slurm_job_id']}" if event.get("slurm_job_id") else ""
            )
            history.append({"at": at, "state": "running", "label": "requeued", "detail": detail})
        elif name == "run.finished":
            ended = str(event.get("state"))
            history.append({"at": at, "state": ended, "label": ended, "detail": f"exit code {event.get('exit_code')}"})
    if not history or history[0]["label"] != "started":
        history.insert(0, {"at": created_at, "state": "running", "label": "started", "detail": ""})
    last = history[-1]
    if state != last["state"] or (state in _FINAL and last["label"] != state):
        detail = _DIED if state in ("crashed", "preempted") else ""
        history.append({"at": None, "state": state, "label": state, "detail": detail})
    return history


def _unfinished(state: str) -> dict[str, Any]:
    """How a process that wrote no end event ended (it was killed): running -> crashed, preempting -> preempted."""
    ended = "crashed" if state == "running" else state
    return {"at": None, "state": ended, "label": ended, "detail": _DIED}


def _event_out(event: dict[str, Any]) -> dict[str, Any]:
    """An event as the page shows it: time, level and name in columns, the rest as tracker logs prints it."""
    fields = " ".join(text for text, _ in readable_parts(event)[3:])
    return {**{field: event.get(field) for field in ("timestamp", "level", "event")}, "fields": fields}


class RunFolders:
    """Where one run's files are: its run directory (tracker ui) or the server's uploaded copies."""

    def __init__(self, settings: Any) -> None:
        self.local = settings.local_entity is not None
        self.root = tracker.Api(settings.local_dir).root if self.local else None  # the store the mirror reads
        self.uploaded = RunFiles(settings.files_dir)

    def _directory(self, row: Any) -> str:
        assert self.root is not None
        return _layout.run_dir(self.root, row.project, row.run_id)

    def paths(self, row: Any) -> dict[str, str]:
        """Name -> path of the run's files."""
        if self.local:
            return uploaded_files(self._directory(row))
        return self.uploaded.paths(row.id)

    def locate(self, row: Any, name: str) -> str | None:
        """The path of one file of the run, or None; ValueError for a name that is not a plain relative path."""
        if not self.local:
            return self.uploaded.locate(row.id, name)
        name = checked_name(name)
        if name.split("/")[0] not in UPLOADED:
            return None
        directory = os.path.realpath(self._directory(row))
        path = os.path.realpath(os.path.join(directory, name))
        return path if path.startswith(directory + os.sep) and os.path.isfile(path) else None


def routes(settings: Any, viewer: Any) -> APIRouter:
    """The run page's routes; ``viewer`` is the dashboard's dependency saying who asks (404 for others' runs)."""
    router = APIRouter(include_in_schema=False)
    folders = RunFolders(settings)

    def run_row(request: Request, who: Any, entity: str, project: str, run_id: str) -> Any:
        with request.app.state.store.reading() as connection:
            row = reads.find(connection, who.entities, entity, project, run_id)
        if row is None:
            raise HTTPException(404, f"no run {entity}/{project}/{run_id} for this key")
        return row

    @router.get("/api/ui/run/{entity}/{project}/{run_id}")
    def run_page(request: Request, who: viewer, entity: Identifier, project: Identifier, run_id: Identifier) -> Any:
        row = run_row(request, who, entity, project, run_id)
        described = reads.describe(row, time.time(), settings.heartbeat_timeout)
        paths = folders.paths(row)
        events = read_events(paths["logs/debug.log"])[0] if "logs/debug.log" in paths else []
        files = []
        for name, path in sorted(paths.items()):
            try:
                files.append({"name": name, "size": os.stat(path).st_size})
            except FileNotFoundError:  # replaced or removed meanwhile
                continue
        return {
            "run": described,
            "states": state_history(events, described["state"], described["created_at"]),
            "files": files,
            "events": [_event_out(event) for event in events[-MAX_EVENTS:]],
            "events_total": len(events),
        }

    @router.get("/api/ui/run/{entity}/{project}/{run_id}/media")
    def run_media(request: Request, who: viewer, entity: Identifier, project: Identifier, run_id: Identifier) -> Any:
        row = run_row(request, who, entity, project, run_id)
        with request.app.state.store.reading() as connection:
            return {"media": reads.media(connection, row.id, MEDIA_PER_KEY)}

    @router.get("/api/ui/run/{entity}/{project}/{run_id}/file/{name:path}")
    def run_file(
        request: Request,
        who: viewer,
        entity: Identifier,
        project: Identifier,
        run_id: Identifier,
        name: str,
        download: Annotated[bool, Query()] = False,
    ) -> Response:
        row = run_row(request, who, entity, project, run_id)
        try:
            path = folders.locate(row, name)
        except ValueError as error:
            raise HTTPException(400, str(error)) from None
        if path is None:
            raise HTTPException(404, f"run {entity}/{project}/{run_id} has no file {name!r}")
        media_type = _INLINE.get(name.rsplit(".", 1)[-1].lower())
        return FileResponse(
            path,
            media_type=media_type or "application/octet-stream",
            filename=os.path.basename(name),
            content_disposition_type="inline" if media_type and not download else "attachment",
            headers=_SAFE_HEADERS,
        )

    return router
