"""The dashboard: its static pages at ``/``, browser sessions, and the JSON the pages need beyond the API.

A browser signs in once with an API key; the key never reaches a URL or a cookie. The session cookie
(HttpOnly, SameSite=Strict) holds only the key's public id, an expiry and an HMAC; the key is looked up on
every request, so revoking it ends its sessions. State-changing requests carry a CSRF token derived from
the session. Under ``tracker ui`` (``ServerSettings.local_entity``) every request acts for the local store.
The runs table's queries are answered by ``server.table``; series by ``server.reads``; the run page by
``server.runpage``; sweeps by ``server.sweep``.
"""

import base64
import hashlib
import hmac
import os
import re
import secrets
import time
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import FileResponse, Response

from server import accounts, reads, runpage, sweep, table

STATIC_DIR = os.path.join(os.path.dirname(__file__), "static")
SESSION_COOKIE = "tracker_session"
SESSION_SECONDS = 7 * 24 * 3600
MAX_PAGE = 1000
_STATIC_TYPES = {".js": "text/javascript", ".css": "text/css", ".html": "text/html", ".json": "application/json"}
_STATES = "^(running|finished|failed|crashed|preempted)$"
_RUN_REF = re.compile(r"^([^/]+)/([^/]+)/([^/]+)$")


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


def _local_host(host: str) -> bool:
    """Whether a Host header names this machine by address or as localhost, not by a domain that could rebind."""
    import ipaddress

    name = host.rsplit(":", 1)[0] if host.count(":") == 1 else host.rpartition("]")[0].lstrip("[") or host
    if name == "localhost":
        return True
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


def _csrf(secret: bytes, session: str) -> str:
    return _sign(secret, "csrf:" + session)


def router(settings: Any) -> APIRouter:
    """The dashboard's routes, for ``create_app`` to include."""
    routes = APIRouter(include_in_schema=False)
    secret = session_secret(settings)
    runs_table = table.RunsTable(settings.heartbeat_timeout)

    def viewer(request: Request) -> accounts.Viewer:
        store = request.app.state.store
        if settings.local_entity is not None:
            if not _local_host(request.headers.get("host", "")):
                raise HTTPException(403, "tracker ui answers only to an IP address or localhost (DNS rebinding)")
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
    routes.include_router(runpage.routes(settings, Viewer))

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
        problem = table.check_sort(sort)
        if problem is not None:
            raise HTTPException(400, problem)
        query = table.Query(
            project=project or None,
            q=q,
            group=group,
            tag=tag,
            state=state,
            job_type=job_type,
            sort=sort,
            descending=order == "desc",
            offset=offset,
            limit=limit,
            columns=tuple(col or ()),
        )
        with request.app.state.store.reading() as connection:
            return _json(runs_table.page(connection, who.entities, query))

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
        rows = resolve(request, who, run or [])
        if not rows:
            return {"keys": [], "step_metrics": []}
        with request.app.state.store.reading() as connection:
            keys = reads.series_keys(connection, *(row.id for _, row in rows))
            rules = reads.metric_rules(connection, [row.id for _, row in rows])
        steps = {rule.step_metric for found in rules.values() for rule in found if rule.step_metric}
        return {"keys": keys, "step_metrics": sorted(steps)}

    @routes.get("/api/ui/series")
    def many_series(
        request: Request,
        who: Viewer,
        key: Annotated[str, Query(min_length=1, max_length=256)],
        run: Annotated[list[str] | None, Query(max_length=200)] = None,
        buckets: Annotated[int, Query(ge=1, le=10000)] = 1000,
        x: Annotated[str, Query(pattern=reads.X_AXIS_PATTERN)] = "step",
        start: Annotated[float | None, Query(allow_inf_nan=False)] = None,
        stop: Annotated[float | None, Query(allow_inf_nan=False)] = None,
        group_by: Annotated[str | None, Query(pattern=r"^(group|config\..+)$", max_length=300)] = None,
        since: Annotated[list[int] | None, Query(max_length=200)] = None,
    ) -> Any:
        """Each run's series; ``since`` (one step per run, in the order of ``run``) asks only for newer points."""
        if since is not None and len(since) != len(run or []):
            raise HTTPException(400, f"since: {len(since)} value(s) for {len(run or [])} run(s); give one step per run")
        after = dict(zip(run or [], since or [], strict=False))
        rows = resolve(request, who, run or [])
        now = time.time()
        answer = []
        with request.app.state.store.reading() as connection:
            for reference, row in rows:
                series = reads.series(
                    connection, row.id, key, buckets=buckets, x=x, start=start, stop=stop, since=after.get(reference)
                )
                state = reads.state_of(row, now, settings.heartbeat_timeout)
                described = {"run": reference, "name": row.name, "state": state, **series}
                if group_by is not None:
                    described["group_value"] = _group_value(row, group_by)
                answer.append(described)
        return _json({"series": answer})

    @routes.get("/api/ui/sweep")
    def sweep_page(
        request: Request,
        who: Viewer,
        entity: Annotated[str, Query(min_length=1, max_length=128)],
        project: Annotated[str, Query(min_length=1, max_length=128)],
        group: Annotated[str, Query(min_length=1, max_length=1024)],
        metric: Annotated[str | None, Query(min_length=1, max_length=256)] = None,
        goal: Annotated[str | None, Query(pattern="^(min|max)$")] = None,
        seed_key: Annotated[str, Query(max_length=300)] = "seed",  # "": no key holds repeats
    ) -> Any:
        with request.app.state.store.reading() as connection:
            try:
                found = sweep.describe(
                    connection,
                    who.entities,
                    entity,
                    project,
                    group,
                    metric=metric,
                    goal=goal,
                    seed_key=seed_key,
                    heartbeat_timeout=settings.heartbeat_timeout,
                )
            except ValueError as error:
                raise HTTPException(400, str(error)) from None
        if found is None:
            raise HTTPException(404, f"no sweep {group!r} in {entity}/{project}")
        return _json(found)

    return routes


def _group_value(row: Any, group_by: str) -> str:
    """What a run is grouped by in a chart (its group, or a config value), as the label shows it."""
    value = row.group_name if group_by == "group" else table.flatten(row.config or {}).get(group_by[7:])
    return "none" if value is None else orjson.dumps(value).decode().strip('"')


def _json(value: Any) -> Response:
    return Response(orjson.dumps(value), media_type="application/json")


def _static(name: str) -> Response:
    path = os.path.join(STATIC_DIR, name)
    if not os.path.isfile(path):
        raise HTTPException(404, f"no {name} (build the dashboard: bash scripts/web-build.sh)")
    media = _STATIC_TYPES[os.path.splitext(name)[1]]
    return FileResponse(path, media_type=media, headers={"Cache-Control": "no-cache"})
