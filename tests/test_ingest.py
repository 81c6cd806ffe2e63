"""The server's ingest path in-process: the columnar fast path and the record-by-record path agree."""

from __future__ import annotations

import math

import orjson
import pytest

from server import accounts, ingest, reads
from server.db import Store
from tracker._journal import encode_nonfinite


@pytest.fixture
def store(tmp_path):
    store = Store(f"sqlite:///{tmp_path / 'tracker.db'}")
    store.upgrade()
    with store.writing() as connection:
        accounts.add_user(connection, "alice")
    yield store
    store.dispose()


def _apply(store: Store, run_id: str, records: list, offset: int = 0) -> ingest.Outcome:
    body = orjson.dumps({"journal_id": "j", "offset": offset, "end": offset + 1, "records": records})
    with store.writing() as connection:
        return ingest.apply(connection, accounts.entity_id(connection, "alice"), "p", run_id, ingest.parse(body))


def _read(store: Store, run_pk: int, key: str) -> dict:
    with store.reading() as connection:
        return reads.series(connection, run_pk, key, buckets=1000)


def _rows(count: int) -> list[dict]:
    return [{"_step": step, "_timestamp": 1.7e9 + step, "loss": 1 / (step + 1), "acc": step} for step in range(count)]


def test_uniform_and_ragged_batches_store_the_same_series(store):
    uniform = _apply(store, "uniform", _rows(50))
    ragged_rows = _rows(50)
    ragged_rows[10]["only_here"] = 3.0  # one extra key sends the batch down the record-by-record path
    ragged = _apply(store, "ragged", ragged_rows)
    for key in ("loss", "acc"):
        assert _read(store, uniform.run_pk, key) == _read(store, ragged.run_pk, key)
    assert _read(store, ragged.run_pk, "only_here")["x"] == [10.0]
    with store.reading() as connection:
        assert reads.history(connection, uniform.run_pk) == _rows(50)


def test_a_batch_mixing_events_and_rows_is_applied(store):
    records = [{"_event": "metric", "name": "loss", "summary": ["min"]}, *_rows(5), {"_event": "summary", "data": {}}]
    outcome = _apply(store, "mixed", records)
    assert outcome.status == "applied"
    assert _read(store, outcome.run_pk, "loss")["count"] == 5


def test_non_finite_values_survive_both_paths(store):
    records = [encode_nonfinite(row) for row in ({"_step": 0, "x": math.nan}, {"_step": 1, "x": 2.0})]
    outcome = _apply(store, "nan", records)
    values = _read(store, outcome.run_pk, "x")["last"]
    assert values[0] == "nan" and values[1] == 2.0
    assert math.isnan(float(values[0]))


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ({"_step": "3", "x": 1}, "_step must be a non-negative 64-bit integer"),
        ({"_step": -1, "x": 1}, "_step must be a non-negative 64-bit integer"),
        ({"_step": 2**63, "x": 1}, "_step must be a non-negative 64-bit integer"),
        ({"_step": 2, "x": 1, "_timestamp": "noon"}, "_timestamp must be a number"),
        ({"_step": 2, "_runtime": [1]}, "_runtime must be a number"),
        ([1, 2], "not a JSON object"),
    ],
)
def test_a_malformed_record_fails_the_batch_naming_it(store, bad, message):
    records = [{"_step": 0, "x": 1}, {"_step": 1, "x": 1}, bad]
    with pytest.raises(ingest.BatchError, match=rf"records\[2\]: {message}"):
        _apply(store, "bad", records)


def test_private_keys_make_no_series_and_an_empty_key_breaks_nothing(store):
    outcome = _apply(store, "keys", [{"_step": 0, "": 1.0, "_private": 2.0, "ok": 3.0}])
    with store.reading() as connection:
        assert reads.series_keys(connection, outcome.run_pk) == ["", "ok"]
