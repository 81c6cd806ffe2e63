"""The ingest lane (server.ingest_route.IngestLane) answers every batch exactly as FastAPI's route does.

Each case is posted twice, in process, to the whole app (where the lane takes well-formed batches with a key)
and to the FastAPI app behind it (its documented route), on SQLite and PostgreSQL; both must give the same
status, body and authentication challenge, and store the same rows.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import orjson
import pytest

from server import accounts, reads
from server.app import create_app
from server.db import Store, database_url


@pytest.fixture
def store(tmp_path, database: str | None) -> Iterator[Store]:
    store = Store(database_url(str(tmp_path), database))
    store.upgrade()
    yield store
    store.dispose()


def _post(app: Any, path: str, body: bytes, key: str | None) -> tuple[int, Any, bytes | None]:
    """(status, JSON answer, WWW-Authenticate header) of one POST through an ASGI app."""
    headers = [(b"host", b"test"), (b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))]
    if key is not None:
        headers.append((b"authorization", f"Bearer {key}".encode()))
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": headers,
        "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 2),
    }
    messages = [{"type": "http.request", "body": body, "more_body": False}]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    asyncio.run(app(scope, receive, send))
    start = sent[0]
    challenge = dict(start["headers"]).get(b"www-authenticate")
    return start["status"], orjson.loads(b"".join(m.get("body", b"") for m in sent[1:])), challenge


def _batch(offset: int, end: int, steps: range, **extra: Any) -> bytes:
    records = [
        {"_step": step, "_runtime": step / 10, "_timestamp": 1.8e9 + step, "loss": 1 / (step + 1)} for step in steps
    ]
    return orjson.dumps({"journal_id": "j", "offset": offset, "end": end, "records": records, **extra})


def test_the_lane_answers_and_stores_as_the_route_does(store: Store) -> None:
    with store.writing() as connection:
        alice = accounts.add_key(connection, accounts.add_user(connection, "alice"))
        bob = accounts.add_key(connection, accounts.add_user(connection, "bob"))
        revoked = accounts.add_key(connection, accounts.user_id(connection, "alice"))
        accounts.revoke_key(connection, accounts.key_id_of(revoked) or "")
    whole = create_app(store)
    lane = whole.app.app  # _RequestLog -> _BodyLimit -> IngestLane -> FastAPI
    route, passed_on = lane.app, []

    async def counted(scope: dict[str, Any], receive: Any, send: Any) -> None:
        passed_on.append(scope["path"])
        await route(scope, receive, send)

    lane.app = counted
    cases = [
        ("applied", alice, "alice", _batch(0, 100, range(0, 50), summary={"loss": 0.02})),
        ("duplicate", alice, "alice", _batch(0, 100, range(0, 50))),
        ("next", alice, "alice", _batch(100, 200, range(50, 60), run={"state": "finished"})),
        ("gap", alice, "alice", _batch(500, 600, range(60, 70))),
        ("not json", alice, "alice", b"{nope"),
        ("bad record", alice, "alice", orjson.dumps({"journal_id": "j", "offset": 200, "end": 300, "records": [1]})),
        ("bad field", alice, "alice", orjson.dumps({"journal_id": "j", "offset": -1, "end": 300})),
        ("another entity", bob, "alice", _batch(200, 300, range(60, 70))),
        ("unknown key", "tk_nothing_such", "alice", _batch(200, 300, range(60, 70))),
        ("revoked key", revoked, "alice", _batch(200, 300, range(60, 70))),
        ("no key", None, "alice", _batch(200, 300, range(60, 70))),
    ]
    for name, key, entity, body in cases:
        status, answer, challenge = _post(whole, f"/api/runs/{entity}/p/lane/batches", body, key)
        through_lane = (status, orjson.dumps(answer).replace(b"/lane ", b"/RUN "), challenge)
        status, answer, challenge = _post(route, f"/api/runs/{entity}/p/route/batches", body, key)
        assert through_lane == (status, orjson.dumps(answer).replace(b"/route ", b"/RUN "), challenge), name
    assert passed_on == ["/api/runs/alice/p/lane/batches"]  # only the request without a key
    assert _post(whole, "/api/runs/alice/p/lane/batches", _batch(200, 300, range(60, 70)), alice)[0] == 200
    assert _post(route, "/api/runs/alice/p/route/batches", _batch(200, 300, range(60, 70)), alice)[0] == 200
    with store.reading() as connection:
        lane, routed = (reads.find(connection, {"alice"}, "alice", "p", run) for run in ("lane", "route"))
        assert lane is not None and routed is not None
        assert reads.history(connection, lane.id) == reads.history(connection, routed.id)
        assert len(reads.history(connection, lane.id)) == 70
        assert (lane.rows, lane.last_step, lane.state, lane.summary) == (70, 69, "finished", {"loss": 0.02})
        assert (routed.rows, routed.last_step, routed.state, routed.summary) == (70, 69, "finished", {"loss": 0.02})


def test_a_malformed_path_still_gets_the_routes_validation(store: Store) -> None:
    with store.writing() as connection:
        alice = accounts.add_key(connection, accounts.add_user(connection, "alice"))
    status, answer, _ = _post(create_app(store), "/api/runs/alice/p/.hidden/batches", _batch(0, 1, range(1)), alice)
    assert status == 422 and answer["detail"][0]["loc"] == ["path", "run_id"]
