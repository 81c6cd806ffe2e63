"""The one read path: runs a viewer may see, their rows, and series downsampled to what a chart can draw.

A chart never gets more points than it asked for: each bucket of x keeps its min, max (NaN ignored) and
last value (NaN kept), so spikes and gaps stay visible without stride or random sampling.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np
import orjson
from sqlalchemy import Connection, Row, and_, select

from server import series_blocks
from server.schema import entities, history_chunks, runs, series_axes, series_chunks
from server.schema import metric_rules as metric_rules_table
from tracker._api import merge_rows
from tracker._journal import record_problem
from tracker._metadata import utc_now_iso
from tracker._summary import MetricRule

# what the series endpoints accept as x: step, timestamp, relative, or metric:KEY, a step metric of define_metric()
X_AXIS_PATTERN = r"^(step|timestamp|relative|metric:.{1,256})$"


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


MEDIA_TYPES = frozenset({"image", "audio", "video", "html", "table", "histogram"})


def _is_media(value: Any) -> bool:
    """A media reference (or an inline histogram), or a non-empty list of them, as log() stores them."""
    items = value if isinstance(value, list) else [value]
    return bool(items) and all(isinstance(item, dict) and item.get("_type") in MEDIA_TYPES for item in items)


def media(connection: Connection, run_pk: int, per_key: int) -> dict[str, list[dict[str, Any]]]:
    """Each media key's values by step, at most ``per_key`` of them spread evenly (first and last kept).

    Chunks without a ``_type`` are not decoded, so a long run of plain metrics costs little.
    """
    found: dict[str, dict[int, Any]] = {}
    chunks = connection.execute(
        select(history_chunks.c.rows).where(history_chunks.c.run_pk == run_pk).order_by(history_chunks.c.seq)
    ).scalars()
    for chunk in chunks:
        if b'"_type"' not in chunk:
            continue
        for record in orjson.loads(chunk):
            step = record.get("_step") if isinstance(record, dict) else None
            if step.__class__ is not int:  # an event, or a record ingest would not have stored
                continue
            for key, value in record.items():
                if value.__class__ in (dict, list) and not key.startswith("_") and _is_media(value):
                    found.setdefault(key, {})[step] = value
    answer = {}
    for key, by_step in sorted(found.items()):
        steps = sorted(by_step)
        if len(steps) > per_key > 1:
            steps = [steps[round(i * (len(steps) - 1) / (per_key - 1))] for i in range(per_key)]
        answer[key] = [{"step": step, "value": by_step[step]} for step in dict.fromkeys(steps)]
    return answer


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


def metric_rules(connection: Connection, run_pks: list[int]) -> dict[int, list[MetricRule]]:
    """Each run's define_metric() rules (runs without any are left out)."""
    found: dict[int, list[MetricRule]] = {}
    query = select(metric_rules_table).where(metric_rules_table.c.run_pk.in_(run_pks))
    for row in connection.execute(query.order_by(metric_rules_table.c.run_pk, metric_rules_table.c.name)):
        rule = MetricRule(row.name, tuple(row.summary), row.step_metric, row.goal, row.hidden)
        found.setdefault(row.run_pk, []).append(rule)
    return found


def _points(
    connection: Connection, run_pk: int, key: str, *where: Any, timestamps: bool = False, only: str | None = None
) -> tuple[Any, Any, Any]:
    """A key's (steps, timestamps or None, values) over its chunks in order, each chunk's points read through
    its batch's axis; ``where`` narrows the chunks, ``only`` ("first" or "last") keeps one of them."""
    axis = (series_axes.c.steps, series_axes.c.timestamps) if timestamps else (series_axes.c.steps,)
    query = (
        select(series_chunks.c.rows, series_chunks.c["values"], *axis)
        .join(
            series_axes, and_(series_axes.c.run_pk == series_chunks.c.run_pk, series_axes.c.seq == series_chunks.c.seq)
        )
        .where(series_chunks.c.run_pk == run_pk, series_chunks.c.key == key, *where)
    )
    if only is None:
        query = query.order_by(series_chunks.c.seq)
    else:
        query = query.order_by(series_chunks.c.seq.desc() if only == "last" else series_chunks.c.seq).limit(1)
    steps, stamps, values = [], [], []
    for chunk in connection.execute(query):
        picked = slice(None) if chunk.rows is None else np.frombuffer(chunk.rows, "<u4")
        steps.append(np.frombuffer(chunk.steps, "<i8")[picked])
        if timestamps:
            stamps.append(np.frombuffer(chunk.timestamps, "<f8")[picked])
        values.append(np.frombuffer(chunk.values, "<f8"))
    if not values:
        return np.empty(0, "<i8"), np.empty(0, "<f8") if timestamps else None, np.empty(0, "<f8")
    return np.concatenate(steps), np.concatenate(stamps) if timestamps else None, np.concatenate(values)


def _step_metric_axis(connection: Connection, run_pk: int, step_metric: str, steps: Any) -> Any:
    """The step metric's value at each step: the one logged at that step, else the last before it (NaN: none yet).

    Only the chunks from the one before ``steps`` begin are read, so a live chart's update stays small.
    """
    first = int(steps.min())
    before = _points(connection, run_pk, step_metric, series_chunks.c.last_step < first, only="last")
    after = _points(connection, run_pk, step_metric, series_chunks.c.last_step >= first)
    known = np.concatenate([before[0], after[0]])
    values = np.concatenate([before[2], after[2]])
    if not len(known):
        return np.full(len(steps), np.nan)
    at = np.searchsorted(known, steps, side="right") - 1
    return np.where(at >= 0, values[np.maximum(at, 0)], np.nan)


def series(
    connection: Connection,
    run_pk: int,
    key: str,
    *,
    buckets: int,
    x: str = "step",
    start: float | None = None,
    stop: float | None = None,
    since: int | None = None,
) -> dict[str, Any]:
    """One metric of one run, at most ``buckets`` points of (x, min, max, last) over [start, stop].

    ``x`` is step, timestamp, relative (seconds since the series began) or ``metric:KEY``, a step metric
    declared with define_metric(step_metric=KEY). With ``since`` (a step), only the points logged after
    it: a live chart appends them. ``step`` in the answer is the last step the series holds, the next
    ``since``. A whole series by step much longer than ``buckets`` is bucketed from its chunks' block
    summaries (server.series_blocks); anything else from its points.
    """
    empty = {"key": key, "x_axis": x, "count": 0, "step": since, "x": [], "min": [], "max": [], "last": []}
    if x == "step" and start is None and stop is None and since is None:
        summaries = connection.execute(
            select(series_chunks.c.count.label("points"), series_chunks.c.first_step, series_chunks.c.blocks)
            .where(and_(series_chunks.c.run_pk == run_pk, series_chunks.c.key == key))
            .order_by(series_chunks.c.seq)
        ).all()
        count = sum(summary.points for summary in summaries)
        if summaries and series_blocks.usable(count, buckets):
            packed = [summary.blocks for summary in summaries]
            xs, lows, highs, lasts = series_blocks.downsample(summaries[0].first_step, packed, buckets)
            last_step = int(xs[-1]) if len(xs) else since  # each bucket's x is its last point's step
            return {**empty, **_buckets(count, last_step, xs, lows, highs, lasts)}
    newer = () if since is None else (series_chunks.c.last_step > since,)
    steps, stamps, values = _points(connection, run_pk, key, *newer, timestamps=x in ("timestamp", "relative"))
    if not len(steps):
        return empty
    if x == "step":
        axis = steps.astype("f8")
    elif x.startswith("metric:"):
        axis = _step_metric_axis(connection, run_pk, x[7:], steps)
    else:
        axis = stamps
        if x == "relative":
            first = axis[0] if since is None else _points(connection, run_pk, key, timestamps=True, only="first")[1][0]
            axis = axis - first
    keep = np.ones(len(axis), dtype=bool) if since is None else steps > since
    if x.startswith("metric:"):
        keep &= np.isfinite(axis)
    if start is not None:
        keep &= axis >= start
    if stop is not None:
        keep &= axis <= stop
    last_step = int(steps.max())
    axis, values = axis[keep], values[keep]
    if len(axis) and np.any(np.diff(axis) < 0):  # a step metric need not grow: buckets need x in order
        order = np.argsort(axis, kind="stable")
        axis, values = axis[order], values[order]
    count = len(axis)
    if count <= buckets:
        listed = _listed(values)
        points = {"x": axis.tolist(), "min": listed, "max": listed, "last": listed}
        return {**empty, "count": count, "step": last_step, **points}
    bucketed = series_blocks.bucketed(axis, values, values, values, float(axis[0]), buckets)
    return {**empty, **_buckets(count, last_step, *bucketed)}


def _buckets(count: int, last_step: int | None, xs: Any, lows: Any, highs: Any, lasts: Any) -> dict[str, Any]:
    """The answer's points: each bucket's x (that of its last point), min, max and last value."""
    return {
        "count": count,
        "step": last_step,
        "x": xs.tolist(),
        "min": _listed(lows),
        "max": _listed(highs),
        "last": _listed(lasts),
    }


def _listed(values: Any) -> list[float | str | None]:
    """Floats for JSON: NaN and infinities as the strings the journal uses, so nothing is silently nulled."""
    finite = np.isfinite(values)
    if finite.all():
        return values.tolist()
    return [
        float(value) if ok else repr(float(value)) for value, ok in zip(values.tolist(), finite.tolist(), strict=True)
    ]
