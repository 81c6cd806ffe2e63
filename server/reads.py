"""The one read path: runs a viewer may see, their rows, and series downsampled to what a chart can draw.

A chart never gets more points than it asked for: each bucket of x keeps its min, max (NaN ignored) and
last value (NaN kept), so spikes and gaps stay visible without stride or random sampling.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import orjson
from sqlalchemy import Connection, Row, and_, select

from server import series_blocks
from server.schema import entities, history_chunks, runs, series_chunks, series_summaries
from tracker._api import merge_rows
from tracker._journal import record_problem
from tracker._metadata import utc_now_iso

X_AXES = ("step", "timestamp", "relative")


def state_of(row: Row[Any], now: float, heartbeat_timeout: float) -> str:
    """A running run whose client stopped sending (no batch, no heartbeat) has died: crashed or preempted."""
    if row.state == "running" and now - row.heartbeat_at > heartbeat_timeout:
        return "preempted" if row.preempting else "crashed"
    return str(row.state)


def describe(row: Row[Any], now: float, heartbeat_timeout: float, *, full: bool = True) -> dict[str, Any]:
    state = state_of(row, now, heartbeat_timeout)
    described = {
        "entity": row.entity,
        "project": row.project,
        "id": row.run_id,
        "name": row.name,
        "group": row.group_name,
        "job_type": row.job_type,
        "tags": row.tags,
        "notes": row.notes,
        "state": state,
        "exit_code": row.exit_code if state != "crashed" else None,
        "created_at": row.created_at,
        "updated_at": utc_now_iso(row.updated_at),
        "last_step": row.last_step,
        "rows": row.rows,
        "summary": row.summary,
    }
    if full:
        described.update(config=row.config, metadata=row.run_metadata)
    return described


def _runs_query() -> Any:
    return select(runs, entities.c.name.label("entity")).join(entities, entities.c.id == runs.c.entity_id)


def find(connection: Connection, visible: Iterable[str], entity: str, project: str, run_id: str) -> Row[Any] | None:
    """A run, or None when it does not exist or the viewer may not see it (the caller answers 404 for both)."""
    if entity not in visible:
        return None
    return connection.execute(
        _runs_query().where(and_(entities.c.name == entity, runs.c.project == project, runs.c.run_id == run_id))
    ).first()


def list_runs(
    connection: Connection,
    visible: Iterable[str],
    *,
    entity: str | None,
    project: str | None,
    group: str | None = None,
    job_type: str | None = None,
) -> list[Row[Any]]:
    """Runs of the visible entities (or one of them), oldest first; state and tag filters are the caller's."""
    names = [name for name in visible if entity is None or name == entity]
    query = _runs_query().where(entities.c.name.in_(names))
    if project is not None:
        query = query.where(runs.c.project == project)
    if group is not None:
        query = query.where(runs.c.group_name == group)
    if job_type is not None:
        query = query.where(runs.c.job_type == job_type)
    return list(connection.execute(query.order_by(runs.c.created_at, runs.c.run_id)))


def history(connection: Connection, run_pk: int, keys: list[str] | None = None) -> list[dict[str, Any]]:
    """Rows in step order (records of one step merged), as the local reader gives them."""
    chunks = connection.execute(
        select(history_chunks.c.rows).where(history_chunks.c.run_pk == run_pk).order_by(history_chunks.c.seq)
    ).scalars()

    def records() -> Iterable[dict[str, Any]]:
        for chunk in chunks:
            for record in orjson.loads(chunk):
                if record_problem(record) is None:
                    yield record

    rows = merge_rows(records())
    if not keys:
        return list(rows)
    kept = ("_step", "_runtime", "_timestamp", *keys)
    return [{key: row[key] for key in kept if key in row} for row in rows if all(key in row for key in keys)]


def series_keys(connection: Connection, *run_pks: int) -> list[str]:
    """The numeric keys logged by any of the runs, in one query."""
    return list(
        connection.execute(
            select(series_chunks.c.key)
            .where(series_chunks.c.run_pk.in_(run_pks))
            .distinct()
            .order_by(series_chunks.c.key)
        ).scalars()
    )


def series(
    connection: Connection,
    run_pk: int,
    key: str,
    *,
    buckets: int,
    x: str = "step",
    start: float | None = None,
    stop: float | None = None,
) -> dict[str, Any]:
    """One metric of one run, at most ``buckets`` points of (x, min, max, last) over [start, stop].

    A whole series by step that is much longer than ``buckets`` is bucketed from its chunks' block summaries
    (server.series_blocks); anything else from its points.
    """
    import numpy as np

    if x == "step" and start is None and stop is None:
        summaries = connection.execute(
            select(series_summaries.c.count, series_summaries.c.first_step, series_summaries.c.blocks)
            .where(and_(series_summaries.c.run_pk == run_pk, series_summaries.c.key == key))
            .order_by(series_summaries.c.seq)
        ).all()
        count = sum(summary.count for summary in summaries)
        if summaries and series_blocks.usable(count, buckets):
            packed = [summary.blocks for summary in summaries]
            xs, lows, highs, lasts = series_blocks.downsample(summaries[0].first_step, packed, buckets)
            return _buckets(key, x, count, xs, lows, highs, lasts)
    where = and_(series_chunks.c.run_pk == run_pk, series_chunks.c.key == key)
    columns = [series_chunks.c.steps, series_chunks.c["values"]]
    if x != "step":
        columns.append(series_chunks.c.timestamps)
    chunks = list(connection.execute(select(*columns).where(where).order_by(series_chunks.c.seq)))
    if not chunks:
        return {"key": key, "x_axis": x, "count": 0, "x": [], "min": [], "max": [], "last": []}
    steps = np.concatenate([np.frombuffer(chunk.steps, "<i8") for chunk in chunks])
    values = np.concatenate([np.frombuffer(chunk.values, "<f8") for chunk in chunks])
    if x == "step":
        axis = steps.astype("f8")
    else:
        axis = np.concatenate([np.frombuffer(chunk.timestamps, "<f8") for chunk in chunks])
        if x == "relative":
            axis = axis - axis[0]
    keep = np.ones(len(axis), dtype=bool)
    if start is not None:
        keep &= axis >= start
    if stop is not None:
        keep &= axis <= stop
    axis, values = axis[keep], values[keep]
    count = len(axis)
    if count <= buckets:
        listed = _listed(values)
        return {
            "key": key,
            "x_axis": x,
            "count": count,
            "x": axis.tolist(),
            "min": listed,
            "max": listed,
            "last": listed,
        }
    edges = np.linspace(axis[0], axis[-1], buckets + 1)
    index = np.clip(np.searchsorted(edges, axis, side="right") - 1, 0, buckets - 1)
    starts = np.flatnonzero(np.r_[True, index[1:] != index[:-1]])
    ends = np.r_[starts[1:], count] - 1
    with np.errstate(invalid="ignore"):
        lows = np.fmin.reduceat(values, starts)
        highs = np.fmax.reduceat(values, starts)
    return _buckets(key, x, count, axis[ends], lows, highs, values[ends])


def _buckets(key: str, x: str, count: int, xs: Any, lows: Any, highs: Any, lasts: Any) -> dict[str, Any]:
    return {
        "key": key,
        "x_axis": x,
        "count": count,
        "x": xs.tolist(),
        "min": _listed(lows),
        "max": _listed(highs),
        "last": _listed(lasts),
    }


def _listed(values: Any) -> list[float | str | None]:
    """Floats for JSON: NaN and infinities as the strings the journal uses, so nothing is silently nulled."""
    import numpy as np

    finite = np.isfinite(values)
    if finite.all():
        return values.tolist()
    return [
        float(value) if ok else repr(float(value)) for value, ok in zip(values.tolist(), finite.tolist(), strict=True)
    ]
