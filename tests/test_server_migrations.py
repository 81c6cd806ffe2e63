"""A server deployed before revision 0004 upgrades in place: its series, stored per key with their own steps and
times, read back after the upgrade exactly as the same rows ingested today; and a downgrade gives them back."""

from __future__ import annotations

import math
import time
from array import array
from pathlib import Path

import orjson
import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, column, select, table

import server
from server import accounts, ingest, reads
from server.db import Store
from server.schema import history_chunks, runs
from tracker._journal import encode_nonfinite

# A uniform batch, then a ragged one: a key missing from some rows, a string, a bool, NaN and infinity, no
# timestamp in one row; and a key too long to chart.
BATCHES = [
    [{"_step": step, "_timestamp": 1.7e9 + step, "loss": 1 / (step + 1), "acc": step} for step in range(40)],
    [
        {"_step": 40, "_timestamp": 1.7e9 + 40, "loss": math.nan, "acc": "n/a", "flag": True},
        {"_step": 41, "loss": math.inf, "acc": 3, "lr": 0.1},
        {"_step": 42, "_timestamp": 1.7e9 + 42, "loss": 0.5, "x" * 300: 1.0},
        {"_step": 42, "_timestamp": 1.7e9 + 42.5, "lr": 0.2},  # a second record of one step
    ],
    # one set of keys in every row (the columnar path), a key a number in only some of them
    [
        {"_step": step, "_timestamp": 1.7e9 + step, "loss": 0.25, "acc": "n/a" if step % 2 else step}
        for step in range(43, 47)
    ],
]
KEYS = ("loss", "acc", "lr", "flag")


def _config(connection: Connection) -> Config:
    config = Config()
    config.set_main_option("script_location", str(Path(server.__file__).parent / "migrations"))
    config.attributes["connection"] = connection
    return config


@pytest.fixture
def url(tmp_path: Path, database: str | None) -> str:
    return database.replace("postgresql://", "postgresql+psycopg://") if database else f"sqlite:///{tmp_path}/t.db"


def _old_series(records: list[dict]) -> dict[str, tuple[bytes, bytes, bytes]]:
    """Per numeric key, what revision 0003 stored: its own steps, timestamps and values (written out by hand)."""
    found: dict[str, tuple[array, array, array]] = {}
    for record in records:
        for key, value in record.items():
            if key.startswith("_") or len(key) > 256 or type(value) not in (int, float):
                continue
            steps, stamps, values = found.setdefault(key, (array("q"), array("d"), array("d")))
            steps.append(record["_step"])
            stamps.append(record.get("_timestamp", math.nan))
            values.append(value)
    return {key: tuple(part.tobytes() for part in parts) for key, parts in found.items()}


def _store_0003(connection: Connection, entity_id: int) -> tuple[int, list[dict]]:
    """A run as revision 0003 stored it: history chunks, series chunks and their block summaries."""
    run_pk = connection.execute(
        runs.insert()
        .values(
            entity_id=entity_id,
            project="p",
            run_id="old",
            name="old",
            tags=[],
            state="running",
            preempting=False,
            created_at="2026-01-01T00:00:00Z",
            updated_at=time.time(),
            heartbeat_at=time.time(),
            config={},
            summary={},
            run_metadata={},
            rows=0,
        )
        .returning(runs.c.id)
    ).scalar_one()
    names = ("run_pk", "key", "seq", "count", "first_step", "last_step", "steps", "timestamps", "values")
    old_chunks = table("series_chunks", *(column(name) for name in names))
    summaries = table(
        "series_summaries", *(column(name) for name in ("run_pk", "key", "seq", "count", "first_step", "blocks"))
    )
    inserted = []
    for seq, records in enumerate(BATCHES):
        sent = [encode_nonfinite(record) for record in records]
        steps = [record["_step"] for record in records]
        connection.execute(
            history_chunks.insert().values(
                run_pk=run_pk,
                seq=seq,
                first_step=steps[0],
                last_step=max(steps),
                count=len(sent),
                rows=orjson.dumps(sent),
            )
        )
        for key, (packed_steps, stamps, values) in _old_series(records).items():
            count = len(packed_steps) // 8
            first, last = array("q", packed_steps)[0], array("q", packed_steps)[-1]
            chunk = {"run_pk": run_pk, "key": key, "seq": seq, "count": count, "first_step": first, "last_step": last}
            inserted.append({**chunk, "steps": packed_steps, "timestamps": stamps, "values": values})
            connection.execute(
                summaries.insert().values(run_pk=run_pk, key=key, seq=seq, count=count, first_step=first, blocks=b"")
            )
    connection.execute(old_chunks.insert(), inserted)
    return run_pk, inserted


def _reads(connection: Connection, run_pk: int) -> dict:
    """What the read path answers about a run (as JSON text, where NaN compares equal to NaN)."""
    found = {"history": reads.history(connection, run_pk), "keys": reads.series_keys(connection, run_pk)}
    for key in KEYS:
        for x in ("step", "timestamp", "relative"):
            found[f"{key} by {x}"] = reads.series(connection, run_pk, key, buckets=1000, x=x)
        found[f"{key} since"] = reads.series(connection, run_pk, key, buckets=1000, x="relative", since=39)
    found["loss by lr"] = reads.series(connection, run_pk, "loss", buckets=1000, x="metric:lr")
    return orjson.loads(orjson.dumps(found))


def test_revision_0004_rebuilds_series_stored_before_it_and_its_downgrade_gives_them_back(url):
    store = Store(url)
    try:
        with store.engine.begin() as connection:
            command.upgrade(_config(connection), "0003")
            accounts.add_user(connection, "ada")
            run_pk, before = _store_0003(connection, accounts.entity_id(connection, "ada"))
            command.upgrade(_config(connection), "head")
        with store.writing() as connection:
            fresh = None
            entity_id = accounts.entity_id(connection, "ada")
            for offset, records in enumerate(BATCHES):
                body = {
                    "journal_id": "j",
                    "offset": offset,
                    "end": offset + 1,
                    "records": [encode_nonfinite(r) for r in records],
                }
                fresh = ingest.apply(connection, entity_id, "p", "new", ingest.parse(orjson.dumps(body))).run_pk
        with store.reading() as connection:
            migrated, ingested = _reads(connection, run_pk), _reads(connection, fresh)
        assert migrated == ingested
        assert migrated["loss by step"]["last"] == [
            *(1 / (step + 1) for step in range(40)),
            "nan",
            "inf",
            0.5,
            *[0.25] * 4,
        ]
        assert migrated["lr by step"]["x"] == [41.0, 42.0] and migrated["acc by step"]["x"][-3:] == [41.0, 44.0, 46.0]
        assert migrated["lr by timestamp"]["x"] == [None, 1.7e9 + 42.5]  # row 41 has no time
        assert migrated["loss by lr"]["x"] == [0.1, *[0.2] * 5]
        assert migrated["loss since"]["x"] == [40.0, None, *range(42, 47)]
        assert migrated["flag by step"]["count"] == 0 and migrated["keys"] == ["acc", "loss", "lr"]
        with store.engine.begin() as connection:
            command.downgrade(_config(connection), "0003")
            names = ("run_pk", "key", "seq", "count", "first_step", "last_step", "steps", "timestamps", "values")
            old = table("series_chunks", *(column(name) for name in names))
            after = [dict(row._mapping) for row in connection.execute(select(old).where(old.c.run_pk == run_pk))]
        key = lambda chunk: (chunk["seq"], chunk["key"])  # noqa: E731
        assert sorted(after, key=key) == sorted(before, key=key)
    finally:
        store.dispose()
