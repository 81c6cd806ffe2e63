"""The dashboard: its static pages at ``/``, browser sessions, and the JSON the pages need beyond the API.

A browser signs in once with an API key; the key never reaches a URL or a cookie. The session cookie
(HttpOnly, SameSite=Strict) holds only the key's public id, an expiry and an HMAC; the key is looked up on
every request, so revoking it ends its sessions. State-changing requests carry a CSRF token derived from
the session. Under ``tracker ui`` (``ServerSettings.local_entity``) every request acts for the local store.
The runs table is filtered, sorted and paged here, so ten thousand runs cost the browser one page of rows.
"""

import base64
import hashlib
import hmac
import math
import os
import re
import secrets
import time
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import FileResponse, Response

from server import accounts, reads

STATIC_DIR = os.path.join(os.path.dirname(__file__), "static")
SESSION_COOKIE = "tracker_session"
SESSION_SECONDS = 7 * 24 * 3600
MAX_PAGE = 1000
_STATIC_TYPES = {".js": "text/javascript", ".css": "text/css", ".html": "text/html", ".json": "application/json"}
_STATES = "^(running|finished|failed|crashed|preempted)$"
_RUN_REF = re.compile(r"^([^/]+)/([^/]+)/([^/]+)$")
# the columns every run has; anything else is config.<key> or summary.<key>
_FIXED = ("name", "state", "group", "job_type", "tags", "created_at", "runtime", "last_step", "project", "id")


def session_secret(settings: Any) -> bytes:
    """One secret per server data directory, so every worker (and a restart) honours the same sessions."""
    path = os.path.join(os.path.dirname(os.path.abspath(settings.files_dir)), "session-secret")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        pass
    else:
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_hex(32))
    deadline = time.monotonic() + 5
    while True:  # another worker may be writing it this instant
        with open(path) as handle:
            secret = handle.read().strip()
        if len(secret) == 64 or time.monotonic() > deadline:
            return secret.encode()
        time.sleep(0.01)


def _sign(secret: bytes, message: str) -> str:
    return base64.urlsafe_b64encode(hmac.new(secret, message.encode(), hashlib.sha256).digest()).decode().rstrip("=")


def _session_value(secret: bytes, key_id: str) -> str:
    message = f"{key_id}.{int(time.time()) + SESSION_SECONDS}"
    return f"{message}.{_sign(secret, message)}"


def _session_key_id(secret: bytes, value: str) -> str | None:
    """The key id of a valid, unexpired session cookie; None otherwise."""
    message, _, signature = value.rpartition(".")
    key_id, _, expires = message.partition(".")
    if not (key_id and expires.isdigit() and hmac.compare_digest(_sign(secret, message), signature)):
        return None
    return key_id if int(expires) > time.time() else None


def _csrf(secret: bytes, session: str) -> str:
    return _sign(secret, "csrf:" + session)


def flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    """Nested config as dotted keys (``optimizer.lr``), which is how the table names its columns."""
    if not isinstance(value, dict):
        return {prefix: value}
    flat: dict[str, Any] = {}
    for key, item in value.items():
        name = f"{prefix}.{key}" if prefix else str(key)
        if isinstance(item, dict) and item:
            flat.update(flatten(item, name))
        else:
            flat[name] = item
    return flat


def _cell(run: dict[str, Any], column: str) -> Any:
    if column == "runtime":
        return run["summary"].get("_runtime")
    if column.startswith("config."):
        return run["config_flat"].get(column[7:])
    if column.startswith("summary."):
        return run["summary"].get(column[8:])
    return run.get(column)


def _sort_key(value: Any) -> tuple[int, Any]:
    """Numbers before strings before missing values, whatever the direction (missing always last)."""
    if isinstance(value, bool):
        return (1, int(value))
    if isinstance(value, int | float) and not (isinstance(value, float) and math.isnan(value)):
        return (0, value)
    if value is None:
        return (3, 0)
    if isinstance(value, list):
        return (2, " ".join(map(str, value)))
    return (2, str(value))


def _matches(run: dict[str, Any], text: str) -> bool:
    needle = text.casefold()
    haystack = (run["name"], run["id"], run["group"] or "", run["job_type"] or "", *run["tags"])
    return any(needle in str(item).casefold() for item in haystack)


def router(settings: Any) -> APIRouter:
    """The dashboard's routes, for ``create_app`` to include."""
    routes = APIRouter(include_in_schema=False)
    secret = session_secret(settings)

    def viewer(request: Request) -> accounts.Viewer:
        store = request.app.state.store
        if settings.local_entity is not None:
            entity = settings.local_entity
            return accounts.Viewer(0, "local", entity, frozenset([entity]), is_admin=True, anonymous=False, key_id="")
        key_id = _session_key_id(secret, request.cookies.get(SESSION_COOKIE, ""))
        found = None
        if key_id is not None:
            with store.reading() as connection:
                found = accounts.viewer_of_key(connection, key_id)
        if found is None:
            raise HTTPException(401, "sign in with an API key")
        request.state.key_id = found.key_id
        return found

    Viewer = Annotated[accounts.Viewer, Depends(viewer)]

    def same_origin(request: Request) -> None:
        """A state-changing request must come from our own pages (Origin, when sent, names this host)."""
        origin = request.headers.get("origin")
        if origin is not None and origin.split("://", 1)[-1] != request.headers.get("host"):
            raise HTTPException(403, "cross-origin request refused")

    @routes.get("/")
    def index() -> Response:
        return _static("index.html")

    @routes.get("/static/{name}")
    def static(name: str) -> Response:
        if not re.fullmatch(r"[A-Za-z0-9_-]+\.(js|css|html|json)", name):
            raise HTTPException(404, "no such file")
        return _static(name)

    @routes.post("/api/ui/session")
    async def sign_in(request: Request) -> Response:
        same_origin(request)
        if request.headers.get("content-type", "").split(";")[0] != "application/json":
            raise HTTPException(415, 'send the key as JSON: {"key": "trk_..."}')
        try:
            body = await request.json()
        except ValueError:
            raise HTTPException(400, "the body is not JSON") from None
        key = body.get("key") if isinstance(body, dict) else None
        if not isinstance(key, str) or len(key) > 256:
            raise HTTPException(400, "key must be a string (an API key, trk_...)")
        with request.app.state.store.reading() as connection:
            found = accounts.authenticate(connection, key.strip())
        if found is None:
            raise HTTPException(401, "this API key is not valid (unknown or revoked)")
        value = _session_value(secret, found.key_id)
        answer = _json({"user": found.name, "csrf": _csrf(secret, value)})
        answer.set_cookie(
            SESSION_COOKIE,
            value,
            max_age=SESSION_SECONDS,
            httponly=True,
            samesite="strict",
            secure=request.url.scheme == "https",
            path="/",
        )
        return answer

    @routes.delete("/api/ui/session")
    def sign_out(request: Request) -> Response:
        same_origin(request)
        session = request.cookies.get(SESSION_COOKIE, "")
        if not hmac.compare_digest(request.headers.get("x-csrf-token", ""), _csrf(secret, session)):
            raise HTTPException(403, "missing or wrong CSRF token")
        answer = Response(status_code=204)
        answer.delete_cookie(SESSION_COOKIE, path="/")
        return answer

    @routes.get("/api/ui/me")
    def me(request: Request, who: Viewer) -> dict[str, Any]:
        return {
            "user": who.name,
            "entities": sorted(who.entities),
            "local": settings.local_entity is not None,
            "csrf": _csrf(secret, request.cookies.get(SESSION_COOKIE, "")),
        }

    def visible_runs(request: Request, who: accounts.Viewer, project: str | None) -> list[dict[str, Any]]:
        now = time.time()
        with request.app.state.store.reading() as connection:
            rows = reads.list_runs(connection, who.entities, entity=None, project=project)
        described = []
        for row in rows:
            run = reads.describe(row, now, settings.heartbeat_timeout)
            run["config_flat"] = flatten(run.pop("config") or {})
            run.pop("metadata", None)
            run["runtime"] = run["summary"].get("_runtime")
            described.append(run)
        return described

    @routes.get("/api/ui/runs")
    def runs_page(
        request: Request,
        who: Viewer,
        project: Annotated[str | None, Query(max_length=128)] = None,
        q: Annotated[str | None, Query(max_length=256)] = None,
        group: Annotated[str | None, Query(max_length=1024)] = None,
        tag: Annotated[str | None, Query(max_length=256)] = None,
        state: Annotated[str | None, Query(pattern=_STATES)] = None,
        job_type: Annotated[str | None, Query(max_length=64)] = None,
        sort: Annotated[str, Query(max_length=300)] = "created_at",
        order: Annotated[str, Query(pattern="^(asc|desc)$")] = "desc",
        offset: Annotated[int, Query(ge=0)] = 0,
        limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 200,
        col: Annotated[list[str] | None, Query(max_length=50)] = None,
    ) -> Any:
        if sort not in _FIXED and not sort.startswith(("config.", "summary.")):
            raise HTTPException(400, f"sort={sort!r}: sort by {', '.join(_FIXED)}, config.KEY or summary.KEY")
        everything = visible_runs(request, who, project or None)
        projects = sorted({run["project"] for run in everything})
        groups = sorted({run["group"] for run in everything if run["group"]})
        job_types = sorted({run["job_type"] for run in everything if run["job_type"]})
        tags = sorted({tag for run in everything for tag in run["tags"]})
        config_keys = sorted({key for run in everything for key in run["config_flat"]})
        summary_keys = sorted({key for run in everything for key in run["summary"] if not key.startswith("_")})
        kept = [
            run
            for run in everything
            if (group is None or run["group"] == group)
            and (tag is None or tag in run["tags"])
            and (state is None or run["state"] == state)
            and (job_type is None or run["job_type"] == job_type)
            and (not q or _matches(run, q))
        ]
        missing = [run for run in kept if _cell(run, sort) is None]
        present = [run for run in kept if _cell(run, sort) is not None]
        present.sort(key=lambda run: _sort_key(_cell(run, sort)), reverse=order == "desc")
        ordered = present + missing
        columns = list(col or ())
        page = [
            {
                **{field: run[field] for field in ("entity", "project", "id", "name", "group", "job_type", "tags")},
                "state": run["state"],
                "created_at": run["created_at"],
                "runtime": run["runtime"],
                "last_step": run["last_step"],
                "columns": {column: _cell(run, column) for column in columns},
            }
            for run in ordered[offset : offset + limit]
        ]
        return _json(
            {
                "total": len(ordered),
                "offset": offset,
                "runs": page,
                "facets": {
                    "projects": projects,
                    "groups": groups,
                    "job_types": job_types,
                    "tags": tags,
                    "config": config_keys,
                    "summary": summary_keys,
                },
            }
        )

    def resolve(request: Request, who: accounts.Viewer, references: list[str]) -> list[tuple[str, Any]]:
        found = []
        with request.app.state.store.reading() as connection:
            for reference in references:
                match = _RUN_REF.match(reference)
                row = match and reads.find(connection, who.entities, *match.groups())
                if row:
                    found.append((reference, row))
        return found

    @routes.get("/api/ui/keys")
    def metric_keys(
        request: Request, who: Viewer, run: Annotated[list[str] | None, Query(max_length=200)] = None
    ) -> dict[str, Any]:
        keys: set[str] = set()
        rows = resolve(request, who, run or [])
        with request.app.state.store.reading() as connection:
            for _, row in rows:
                keys.update(reads.series_keys(connection, row.id))
        return {"keys": sorted(keys)}

    @routes.get("/api/ui/series")
    def many_series(
        request: Request,
        who: Viewer,
        key: Annotated[str, Query(min_length=1, max_length=256)],
        run: Annotated[list[str] | None, Query(max_length=200)] = None,
        buckets: Annotated[int, Query(ge=1, le=10000)] = 1000,
        x: Annotated[str, Query(pattern="^(step|timestamp|relative)$")] = "step",
        start: Annotated[float | None, Query(allow_inf_nan=False)] = None,
        stop: Annotated[float | None, Query(allow_inf_nan=False)] = None,
    ) -> Any:
        rows = resolve(request, who, run or [])
        now = time.time()
        answer = []
        with request.app.state.store.reading() as connection:
            for reference, row in rows:
                series = reads.series(connection, row.id, key, buckets=buckets, x=x, start=start, stop=stop)
                state = reads.state_of(row, now, settings.heartbeat_timeout)
                answer.append({"run": reference, "name": row.name, "state": state, **series})
        return _json({"series": answer})

    return routes


def _json(value: Any) -> Response:
    return Response(orjson.dumps(value), media_type="application/json")


def _static(name: str) -> Response:
    path = os.path.join(STATIC_DIR, name)
    if not os.path.isfile(path):
        raise HTTPException(404, f"no {name} (build the dashboard: bash scripts/web-build.sh)")
    media = _STATIC_TYPES[os.path.splitext(name)[1]]
    return FileResponse(path, media_type=media, headers={"Cache-Control": "no-cache"})
