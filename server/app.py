"""The ASGI app: the HTTP API (described at /api/openapi.json) over the store, behind API keys.

Every request but health (and anonymous sign-up, when the server allows it) needs a key. A key sees and
writes only its entities' runs; anything else answers 404, exactly as for a run that does not exist, so
existence never leaks. Request bodies are capped (413), and each request is one structured log line.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Any

import orjson
from fastapi import Depends, FastAPI, HTTPException, Path, Query, Request
from fastapi.responses import Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel

import tracker
from server import access, accounts, ingest_route, reads
from server.db import Store
from server.files import RunFiles
from server.responses import OrjsonResponse
from server.schema import journal_cursors

IDENTIFIER = r'^[^./\\#?%:*"<>|&+=;@\s\x00-\x1f\x7f][^/\\#?%:*"<>|&+=;@\s\x00-\x1f\x7f]{0,127}$'
Identifier = Annotated[str, Path(pattern=IDENTIFIER, max_length=128)]
_NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"description": "no such run for this key"}}


@dataclass(frozen=True)
class ServerSettings:
    files_dir: str = "tracker-server/files"  # uploaded run files, one directory per run
    allow_anonymous: bool = False
    heartbeat_timeout: float = 60.0  # a running run silent this long reads crashed
    max_body: int = 64 * 1024 * 1024
    local_entity: str | None = None  # tracker ui: the dashboard acts for this entity without a key
    local_dir: str | None = None  # tracker ui: the store (init's dir) whose run directories hold the runs' files


class Health(BaseModel):
    status: str
    version: str


class ViewerOut(BaseModel):
    user: str
    entity: str
    entities: list[str]
    admin: bool
    anonymous: bool


class AnonymousOut(BaseModel):
    entity: str
    key: str


class RunOut(BaseModel):
    entity: str
    project: str
    id: str
    name: str
    group: str | None
    job_type: str | None
    tags: list[str]
    notes: str | None
    state: str
    exit_code: int | None
    created_at: str
    updated_at: str
    last_step: int | None
    rows: int
    summary: dict[str, Any]
    config: dict[str, Any] | None = None
    metadata: dict[str, Any] | None = None
    journals: dict[str, int] | None = None


class RunList(BaseModel):
    runs: list[RunOut]


class BatchOut(BaseModel):
    status: str
    end: int


class Rows(BaseModel):
    rows: list[dict[str, Any]]


class Keys(BaseModel):
    keys: list[str]


class FileList(BaseModel):
    files: dict[str, dict[str, Any]]


class Series(BaseModel):
    key: str
    x_axis: str
    count: int
    step: int | None = None  # the last step the series holds: the next request's ``since``
    x: list[float]
    min: list[float | str | None]
    max: list[float | str | None]
    last: list[float | str | None]


class Batch(BaseModel):
    """A run's journal from ``offset`` to ``end`` (bytes of the client's journal ``journal_id``)."""

    live: bool = True
    journal_id: str
    offset: int
    end: int
    records: list[dict[str, Any]] = []
    run: dict[str, Any] | None = None
    config: dict[str, Any] | None = None
    metadata: dict[str, Any] | None = None
    summary: dict[str, Any] | None = None


class _BodyLimit:
    """Refuse a request body over the limit with 413, whether or not it declares its length."""

    def __init__(self, app: Any, limit: int) -> None:
        self.app, self.limit = app, limit

    async def __call__(self, scope: dict[str, Any], receive: Callable[[], Awaitable[Any]], send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            await _too_large(send, self.limit)
            return
        received = 0

        async def limited() -> Any:
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > self.limit:
                raise _TooLarge
            return message

        try:
            await self.app(scope, limited, send)
        except _TooLarge:
            await _too_large(send, self.limit)


class _RequestLog:
    """One line per request (method, path, status, duration, entity, run, key id; never the key), as plain
    ASGI around everything, so refused bodies are logged too and a request pays only for its line."""

    def __init__(self, app: Any, log: Any, *, only_failures: bool = False) -> None:
        self.app, self.log, self.only_failures = app, log, only_failures

    async def __call__(self, scope: dict[str, Any], receive: Callable[[], Awaitable[Any]], send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started, status = time.perf_counter(), 500

        async def observed(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, observed)
        finally:
            if not (self.only_failures and status < 400):
                self._log(scope, status, started)

    def _log(self, scope: dict[str, Any], status: int, started: float) -> None:
        path = scope["path"]
        parts = path.split("/")
        in_run = len(parts) > 5 and parts[2] == "runs"
        self.log.info(
            "request",
            method=scope["method"],
            path=path,
            status=status,
            duration_ms=round((time.perf_counter() - started) * 1000, 2),
            entity=parts[3] if in_run else None,
            run=parts[5] if in_run else None,
            key_id=(scope.get("state") or {}).get("key_id"),  # set by _viewer through request.state
        )


class _TooLarge(Exception):
    pass


async def _too_large(send: Any, limit: int) -> None:
    body = orjson.dumps({"detail": f"request body over the server's limit of {limit} bytes"})
    await send({"type": "http.response.start", "status": 413, "headers": [(b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": body})


def _request_log() -> Any:
    """One JSON line per request on stderr (structlog, configured for this logger only)."""
    import structlog

    return structlog.wrap_logger(
        structlog.PrintLogger(sys.stderr),
        processors=[
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.JSONRenderer(serializer=lambda value, **_: orjson.dumps(value).decode()),
        ],
    )


_bearer = HTTPBearer(auto_error=False, description="an API key from `tracker server user add` or `key add`")


def _viewer(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> accounts.Viewer:
    """Who the request acts for; 401 without a valid key (never saying which part was wrong)."""
    found = access.viewer_of(request.app.state.store, credentials.credentials if credentials else None)
    request.state.key_id = found.key_id
    return found


Viewer = Annotated[accounts.Viewer, Depends(_viewer)]


def create_app(store: Store, settings: ServerSettings | None = None) -> Any:
    settings = settings or ServerSettings()
    app = FastAPI(
        title="tracker server",
        version=tracker.__version__,
        openapi_url="/api/openapi.json",
        docs_url=None,
        redoc_url=None,
        default_response_class=OrjsonResponse,
    )
    app.state.store = store

    def run_row(viewer: accounts.Viewer, entity: str, project: str, run_id: str) -> Any:
        with store.reading() as connection:
            row = reads.find(connection, viewer.entities, entity, project, run_id)
        if row is None:
            raise access.not_found(entity, project, run_id)
        return row

    @app.get("/api/health", response_model=Health, tags=["server"])
    def health() -> dict[str, str]:
        return {"status": "ok", "version": tracker.__version__}

    @app.get("/api/viewer", response_model=ViewerOut, tags=["accounts"])
    def who(viewer: Viewer) -> dict[str, Any]:
        return {
            "user": viewer.name,
            "entity": viewer.entity,
            "entities": sorted(viewer.entities),
            "admin": viewer.is_admin,
            "anonymous": viewer.anonymous,
        }

    @app.post(
        "/api/anonymous", response_model=AnonymousOut, tags=["accounts"], responses={403: {"description": "refused"}}
    )
    def anonymous() -> dict[str, str]:
        if not settings.allow_anonymous:
            raise HTTPException(403, "this server does not accept anonymous runs (start it with --allow-anonymous)")
        with store.writing() as connection:
            entity, key = accounts.add_anonymous(connection)
        return {"entity": entity, "key": key}

    @app.get("/api/runs", response_model=RunList, tags=["runs"])
    def list_runs(
        viewer: Viewer,
        entity: Annotated[str | None, Query(pattern=IDENTIFIER)] = None,
        project: Annotated[str | None, Query(pattern=IDENTIFIER)] = None,
        group: Annotated[str | None, Query(max_length=1024)] = None,
        state: Annotated[str | None, Query(pattern="^(running|finished|failed|crashed|preempted)$")] = None,
        tag: Annotated[list[str] | None, Query()] = None,
        job_type: Annotated[str | None, Query(max_length=64)] = None,
    ) -> dict[str, Any]:
        now = time.time()
        with store.reading() as connection:
            rows = reads.list_runs(
                connection, viewer.entities, entity=entity, project=project, group=group, job_type=job_type
            )
        described = [reads.describe(row, now, settings.heartbeat_timeout, full=False) for row in rows]
        wanted_tags = set(tag or ())
        return {
            "runs": [
                run for run in described if (state is None or run["state"] == state) and wanted_tags <= set(run["tags"])
            ]
        }

    @app.get(
        "/api/runs/{entity}/{project}/{run_id}",
        response_model=RunOut,
        tags=["runs"],
        responses=_NOT_FOUND,
    )
    def get_run(viewer: Viewer, entity: Identifier, project: Identifier, run_id: Identifier) -> dict[str, Any]:
        row = run_row(viewer, entity, project, run_id)
        with store.reading() as connection:
            cursors = connection.execute(journal_cursors.select().where(journal_cursors.c.run_pk == row.id)).all()
        return {
            **reads.describe(row, time.time(), settings.heartbeat_timeout),
            "journals": {cursor.journal_id: cursor.end_offset for cursor in cursors},
        }

    @app.post(
        "/api/runs/{entity}/{project}/{run_id}/batches",
        response_model=BatchOut,
        tags=["ingest"],
        openapi_extra={
            "requestBody": {"required": True, "content": {"application/json": {"schema": Batch.model_json_schema()}}}
        },
        responses={
            400: {"description": "malformed batch"},
            404: {"description": "no such entity for this key"},
            409: {"description": "the batch does not start where the server is; resend from end", "model": BatchOut},
            413: {"description": "body too large"},
        },
    )
    async def post_batch(
        viewer: Viewer, entity: Identifier, project: Identifier, run_id: Identifier, request: Request
    ) -> Any:
        # a well-formed batch with a key is answered by ingest_route.IngestLane before it gets here
        status, answer = await ingest_route.ingest_batch(store, viewer, entity, project, run_id, await request.body())
        return OrjsonResponse(answer, status_code=status)

    @app.get(
        "/api/runs/{entity}/{project}/{run_id}/history",
        response_model=Rows,
        tags=["runs"],
        responses=_NOT_FOUND,
    )
    def get_history(
        viewer: Viewer,
        entity: Identifier,
        project: Identifier,
        run_id: Identifier,
        keys: Annotated[list[str] | None, Query(max_length=256)] = None,
    ) -> Any:
        row = run_row(viewer, entity, project, run_id)
        with store.reading() as connection:
            rows = reads.history(connection, row.id, keys)
        return OrjsonResponse({"rows": [_jsonable(item) for item in rows]})

    @app.get(
        "/api/runs/{entity}/{project}/{run_id}/keys",
        response_model=Keys,
        tags=["runs"],
        responses=_NOT_FOUND,
    )
    def get_keys(viewer: Viewer, entity: Identifier, project: Identifier, run_id: Identifier) -> dict[str, Any]:
        row = run_row(viewer, entity, project, run_id)
        with store.reading() as connection:
            return {"keys": reads.series_keys(connection, row.id)}

    @app.get(
        "/api/runs/{entity}/{project}/{run_id}/series",
        response_model=Series,
        tags=["runs"],
        responses=_NOT_FOUND,
    )
    def get_series(
        viewer: Viewer,
        entity: Identifier,
        project: Identifier,
        run_id: Identifier,
        key: Annotated[str, Query(min_length=1, max_length=256)],
        buckets: Annotated[int, Query(ge=1, le=10000)] = 1000,
        x: Annotated[str, Query(pattern=reads.X_AXIS_PATTERN)] = "step",
        start: Annotated[float | None, Query(allow_inf_nan=False)] = None,
        stop: Annotated[float | None, Query(allow_inf_nan=False)] = None,
        since: Annotated[int | None, Query(ge=0, le=2**63 - 1)] = None,
    ) -> dict[str, Any]:
        """One metric, bucketed; ``x`` a step metric as ``metric:KEY``; ``since`` (a step) only newer points."""
        row = run_row(viewer, entity, project, run_id)
        with store.reading() as connection:
            return reads.series(connection, row.id, key, buckets=buckets, x=x, start=start, stop=stop, since=since)

    files = RunFiles(settings.files_dir)

    @app.put(
        "/api/runs/{entity}/{project}/{run_id}/files/{path:path}",
        response_model=FileList,
        tags=["files"],
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}},
            }
        },
        responses={
            400: {"description": "a path that is not a plain relative path"},
            404: {"description": "no such run for this key"},
            413: {"description": "body too large"},
        },
    )
    async def put_file(
        viewer: Viewer, entity: Identifier, project: Identifier, run_id: Identifier, path: str, request: Request
    ) -> dict[str, Any]:
        row = run_row(viewer, entity, project, run_id)
        try:
            stored = files.store(row.id, path, await request.body())
        except ValueError as error:
            raise HTTPException(400, str(error)) from None
        return {"files": {stored[0]: stored[1]}}

    @app.get(
        "/api/runs/{entity}/{project}/{run_id}/files",
        response_model=FileList,
        tags=["files"],
        responses=_NOT_FOUND,
    )
    def list_files(viewer: Viewer, entity: Identifier, project: Identifier, run_id: Identifier) -> dict[str, Any]:
        return {"files": files.list(run_row(viewer, entity, project, run_id).id)}

    @app.get(
        "/api/runs/{entity}/{project}/{run_id}/files/{path:path}",
        tags=["files"],
        response_class=Response,
        responses={
            200: {"content": {"application/octet-stream": {}}},
            400: {"description": "not a plain relative path"},
            404: {"description": "no such run or file for this key"},
        },
    )
    def get_file(viewer: Viewer, entity: Identifier, project: Identifier, run_id: Identifier, path: str) -> Response:
        row = run_row(viewer, entity, project, run_id)
        try:
            data = files.read(row.id, path)
        except ValueError as error:
            raise HTTPException(400, str(error)) from None
        if data is None:
            raise HTTPException(404, f"run {entity}/{project}/{run_id} has no file {path!r}")
        return Response(data, media_type="application/octet-stream")

    from server import artifacts, ui

    app.include_router(artifacts.routes(os.path.join(os.path.dirname(settings.files_dir), "entities")))
    app.include_router(ui.router(settings))
    # tracker ui polls: its terminal shows only the requests that failed
    only_failures = settings.local_entity is not None
    lane = ingest_route.IngestLane(app, store, IDENTIFIER)
    return _RequestLog(_BodyLimit(lane, settings.max_body), _request_log(), only_failures=only_failures)


def _jsonable(row: dict[str, Any]) -> dict[str, Any]:
    """A history row for JSON: top-level NaN/inf as in the journal (strings listed under _nonfinite)."""
    from tracker._journal import encode_nonfinite

    return encode_nonfinite(row)
