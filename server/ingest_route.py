"""The ingest endpoint, ``POST /api/runs/{entity}/{project}/{run_id}/batches``, and its lane past FastAPI.

Batches are nearly all of a busy server's requests, and FastAPI's machinery (middleware stack, dependency
solving) costs more CPU per request than a small batch's rows. The lane takes a batch whose path is well
formed and which carries a bearer key straight from ASGI: the key checked in a worker thread, the body parsed,
the batch packed and applied in a worker thread. Everything else (a malformed path, a missing key, another
method) goes on to FastAPI's route, which stays the one described in OpenAPI. Both answer through the same
functions (here and in server.access), so a batch gets the same answer whichever way it came.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from fastapi import HTTPException
from fastapi.security.utils import get_authorization_scheme_param
from starlette.concurrency import run_in_threadpool

from server import accounts, ingest
from server.access import not_found, viewer_of
from server.db import Store

# One batch packed at a time in a process: packing holds the GIL, so batches packed in several threads at
# once only take turns every few milliseconds, each turn evicting the other's rows from the CPU's caches;
# the machine's cores are kept busy by the other worker processes, the event loop and the database.
_PREPARING = threading.Lock()


async def ingest_batch(
    store: Store, viewer: accounts.Viewer, entity: str, project: str, run_id: str, body: bytes
) -> tuple[int, dict[str, Any]]:
    """(status, answer) of a batch for this viewer: 200 applied or duplicate, 409 a gap (resend from ``end``);
    HTTPException 404 (not the viewer's entity) or 400 (a malformed batch).

    The body is parsed here, on the event loop's thread, and packed and applied in a worker thread: measured,
    rows parsed in the worker thread made their packing there take twice the CPU.
    """
    if entity not in viewer.entities:
        raise not_found(entity, project, run_id)
    try:
        batch = ingest.parse(body)
    except ingest.BatchError as error:
        raise HTTPException(400, str(error)) from None
    outcome = await run_in_threadpool(_apply, store, entity, project, run_id, batch)
    return 409 if outcome.status == "gap" else 200, {"status": outcome.status, "end": outcome.end}


def _apply(store: Store, entity: str, project: str, run_id: str, batch: dict[str, Any]) -> ingest.Outcome:
    try:
        with _PREPARING:
            prepared = ingest.prepare(batch)  # outside the transaction: writers queue for it
        with store.writing() as connection:
            return ingest.apply(connection, accounts.entity_id(connection, entity), project, run_id, batch, prepared)
    except ingest.BatchError as error:
        raise HTTPException(400, str(error)) from None


class IngestLane:
    """ASGI in front of the app: well-formed batch posts with a bearer key are answered here."""

    def __init__(self, app: Any, store: Store, identifier: str) -> None:
        """``identifier``: the pattern (^...$) each of entity, project and run id must match."""
        self.app, self.store = app, store
        part = f"({identifier.removeprefix('^').removesuffix('$')})"
        self._batches = re.compile(f"^/api/runs/{part}/{part}/{part}/batches$")

    async def __call__(self, scope: dict[str, Any], receive: Callable[[], Awaitable[Any]], send: Any) -> None:
        found = self._batches.match(scope["path"]) if scope["type"] == "http" and scope["method"] == "POST" else None
        key = _bearer_key(scope) if found is not None else None
        if found is None or key is None:
            await self.app(scope, receive, send)
            return
        chunks, more = [], True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunks.append(message.get("body", b""))
            more = message.get("more_body", False)
        entity, project, run_id = found.groups()
        body = b"".join(chunks)
        try:
            viewer = await run_in_threadpool(viewer_of, self.store, key)
            scope.setdefault("state", {})["key_id"] = viewer.key_id  # for the request log, as request.state does
            status, answer = await ingest_batch(self.store, viewer, entity, project, run_id, body)
            headers: dict[str, str] = {}
        except HTTPException as error:
            status, answer, headers = error.status_code, {"detail": error.detail}, dict(error.headers or {})
        data = orjson.dumps(answer)
        head = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(data))]
        head += [(name.lower().encode(), value.encode()) for name, value in headers.items()]
        await send({"type": "http.response.start", "status": status, "headers": head})
        await send({"type": "http.response.body", "body": data})


def _bearer_key(scope: dict[str, Any]) -> str | None:
    """The key of an ``Authorization: Bearer`` header, as FastAPI's HTTPBearer reads it, or None."""
    for name, value in scope["headers"]:
        if name == b"authorization":
            scheme, credentials = get_authorization_scheme_param(value.decode("latin-1"))
            return credentials if scheme.lower() == "bearer" and credentials else None
    return None
