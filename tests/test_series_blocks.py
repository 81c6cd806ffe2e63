"""Long series are charted from the block summaries written at ingest: every bucket's min, max and last are
exactly those of the points it holds (spikes and NaN included), a run that logs more steps is charted with
them, and chunks stored before revision 0003 are summarised by it."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import orjson
import pytest
from sqlalchemy import inspect, select

import server
from server import accounts, ingest, reads, series_blocks
from server.db import Store
from server.schema import runs

BUCKETS = 100
POINTS = BUCKETS * series_blocks.BLOCK * series_blocks.MIN_BLOCKS_PER_BUCKET + 123  # just over the threshold


@pytest.fixture
def store(tmp_path: Path, database: str | None):
    opened = Store(
        database.replace("postgresql://", "postgresql+psycopg://") if database else f"sqlite:///{tmp_path}/t.db"
    )
    opened.upgrade()
    with opened.writing() as connection:
        accounts.add_user(connection, "ada")
    yield opened
    opened.dispose()


def value(step: int) -> float:
    if step == 4321:
        return 1e6  # a spike inside a block
    if step % 997 == 0:
        return math.nan
    return math.sin(step / 50)


def log(store: Store, steps: range, offset: int) -> int:
    """One batch of ``steps`` (``loss`` logged with non-finite values as the journal encodes them)."""
    records = []
    for step in steps:
        number = value(step)
        if math.isnan(number):
            records.append({"_step": step, "loss": "nan", "_nonfinite": ["loss"]})
        else:
            records.append({"_step": step, "loss": number})
    batch = {"journal_id": "j", "offset": offset, "end": offset + len(steps), "records": records}
    with store.writing() as connection:
        outcome = ingest.apply(
            connection, accounts.entity_id(connection, "ada"), "p", "r", ingest.parse(orjson.dumps(batch))
        )
    assert outcome.status == "applied"
    return outcome.run_pk


def chart(store: Store, run_pk: int) -> dict:
    with store.reading() as connection:
        return reads.series(connection, run_pk, "loss", buckets=BUCKETS)


def assert_exact(drawn: dict, last_step: int) -> None:
    """Buckets partition the points in order: bucket i holds the steps in (x[i-1], x[i]], nothing else."""
    assert drawn["count"] == last_step + 1 and 0.8 * BUCKETS <= len(drawn["x"]) <= BUCKETS
    assert drawn["x"][-1] == last_step
    previous = -1
    for x, low, high, last in zip(drawn["x"], drawn["min"], drawn["max"], drawn["last"], strict=True):
        values = np.array([value(step) for step in range(previous + 1, int(x) + 1)])
        finite = values[~np.isnan(values)]
        assert low == finite.min() and high == finite.max()
        assert last == ("nan" if math.isnan(values[-1]) else values[-1])
        previous = int(x)


def test_a_long_series_is_bucketed_exactly_from_its_blocks_and_grows(store, monkeypatch):
    used = []
    real = series_blocks.downsample
    monkeypatch.setattr(series_blocks, "downsample", lambda *args: used.append(args) or real(*args))
    run_pk = log(store, range(0, 3001), 0)  # chunks of uneven sizes: blocks never span two chunks
    run_pk = log(store, range(3001, POINTS), 3001)
    drawn = chart(store, run_pk)
    assert len(used) == 1
    assert_exact(drawn, POINTS - 1)
    assert max(drawn["max"]) == 1e6  # the spike is on screen
    log(store, range(POINTS, POINTS + 5000), POINTS)  # the run logs more steps
    assert_exact(chart(store, run_pk), POINTS + 4999)
    assert len(used) == 2


def test_a_short_or_zoomed_series_is_bucketed_from_its_points(store, monkeypatch):
    used = []
    real = series_blocks.downsample
    monkeypatch.setattr(series_blocks, "downsample", lambda *args: used.append(args) or real(*args))
    run_pk = log(store, range(0, POINTS - 200), 0)  # under the threshold: too few blocks per bucket
    assert_exact(chart(store, run_pk), POINTS - 201)
    log(store, range(POINTS - 200, POINTS), POINTS - 200)
    with store.reading() as connection:
        zoomed = reads.series(connection, run_pk, "loss", buckets=BUCKETS, start=100, stop=5000)
        assert connection.execute(select(runs.c.rows)).scalar_one() == POINTS
    assert zoomed["x"][0] >= 100 and zoomed["x"][-1] == 5000
    assert used == []


def test_chunks_stored_before_revision_0003_are_summarised_by_it(store, monkeypatch):
    from alembic import command
    from alembic.config import Config

    run_pk = log(store, range(0, 3001), 0)
    log(store, range(3001, POINTS), 3001)
    config = Config()
    config.set_main_option("script_location", str(Path(server.__file__).parent / "migrations"))
    with store.engine.begin() as connection:  # back to before the summaries, then up again
        config.attributes["connection"] = connection
        command.downgrade(config, "0002")
        assert "series_summaries" not in inspect(connection).get_table_names()
        command.upgrade(config, "head")
    used = []
    real = series_blocks.downsample
    monkeypatch.setattr(series_blocks, "downsample", lambda *args: used.append(args) or real(*args))
    assert_exact(chart(store, run_pk), POINTS - 1)
    assert len(used) == 1


def test_block_summaries_keep_min_max_ignoring_nan_and_the_last_value_as_is():
    steps = np.arange(20, dtype="<i8")
    values = np.arange(20, dtype="<f8")
    values[3] = math.nan
    values[19] = math.nan
    packed, doubled = series_blocks.summarise(steps, np.stack([values, values * 2]))
    xs, lows, highs, lasts = series_blocks.downsample(0, [packed], 1)
    assert xs.tolist() == [19.0] and lows.tolist() == [0.0] and highs.tolist() == [18.0] and math.isnan(lasts[0])
    assert series_blocks.downsample(0, [doubled], 1)[2].tolist() == [36.0]  # each row of a matrix on its own
