"""The one ingest path: a batch of a run's journal, applied once whatever how often it is sent.

A batch names the client's journal (``journal_id``) and the byte range it covers (``offset``..``end``).
The server keeps, per run and journal, how far it has applied; a batch that starts there is applied, one
that ends before it is an acknowledged duplicate (a retry), anything else is a 409 carrying the server's
position, from which the client resends. Streaming, retries and ``tracker sync`` all rely on this.
"""

from __future__ import annotations

import math
import time
from array import array
from dataclasses import dataclass
from operator import itemgetter
from typing import Any

import orjson
from sqlalchemy import Connection, and_, bindparam, func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite

from server import series_blocks
from server.schema import history_chunks, journal_cursors, metric_rules, runs, series_chunks, series_summaries
from tracker._journal import (
    EVENT,
    FINAL_STATES,
    MAX_STEP,
    NONFINITE,
    RUNTIME,
    STEP,
    TIMESTAMP,
    record_problem,
)

IDENTITY_FIELDS = ("name", "group", "job_type", "tags", "notes", "created_at")
RUN_STATES = ("running", "crashed", *FINAL_STATES)  # crashed: a run uploaded after its process died
MAX_SERIES_KEY = 256
_NUMBERS = {int, float}  # bools are not plotted
_TIMES = {int, float, type(None)}

# the statements of every batch, built once: building and keying a statement costs more than running it
_RUN_PK = select(runs.c.id).where(
    runs.c.entity_id == bindparam("b_entity"),
    runs.c.project == bindparam("b_project"),
    runs.c.run_id == bindparam("b_run"),
)
_RUN_PK_LOCKED = _RUN_PK.with_for_update()
_CURSOR_WHERE = and_(
    journal_cursors.c.run_pk == bindparam("b_run_pk"), journal_cursors.c.journal_id == bindparam("b_journal")
)
_CURSOR = select(journal_cursors.c.end_offset).where(_CURSOR_WHERE)
_MOVE_CURSOR = update(journal_cursors).where(_CURSOR_WHERE).values(end_offset=bindparam("b_end"))
_NEW_CURSOR = insert(journal_cursors)
_NEXT_SEQ = select(func.coalesce(func.max(history_chunks.c.seq), -1) + 1).where(
    history_chunks.c.run_pk == bindparam("b_run_pk")
)
_CREATED_AT = select(runs.c.created_at).where(runs.c.id == bindparam("b_run_pk"))
_INSERT_HISTORY = insert(history_chunks)
_INSERT_SERIES = insert(series_chunks)
_INSERT_SUMMARIES = insert(series_summaries)


class BatchError(ValueError):
    """The batch is malformed; the message says which field and why (a 400 for the client)."""


@dataclass
class Outcome:
    """What happened to a batch: ``applied``, ``duplicate`` or ``gap`` (then ``end`` is where to resume)."""

    status: str
    end: int
    run_pk: int


def parse(body: bytes) -> dict[str, Any]:
    """Decode and check a batch body (fields and types; records are checked one by one when applied)."""
    try:
        batch = orjson.loads(body)
    except orjson.JSONDecodeError as error:
        raise BatchError(f"the body is not JSON ({error})") from None
    if not isinstance(batch, dict):
        raise BatchError("the body must be a JSON object")
    journal_id = batch.get("journal_id")
    if not isinstance(journal_id, str) or not 1 <= len(journal_id) <= 64:
        raise BatchError("journal_id must be a string of 1 to 64 characters")
    for field in ("offset", "end"):
        value = batch.get(field)
        if value.__class__ is not int or value < 0:
            raise BatchError(f"{field} must be a non-negative integer")
    if batch["end"] < batch["offset"]:
        raise BatchError("end must not be before offset")
    records = batch.get("records", [])
    if not isinstance(records, list):
        raise BatchError("records must be a list of journal records")
    batch["records"] = records
    for field in ("run", "config", "metadata", "summary"):
        if batch.get(field) is not None and not isinstance(batch[field], dict):
            raise BatchError(f"{field} must be an object or null")
    run = batch.get("run") or {}
    for field in ("name", "group", "job_type", "notes", "created_at", "state"):
        if not isinstance(run.get(field), str | None):
            raise BatchError(f"run.{field} must be a string or null")
    if run.get("tags") is not None and not (
        isinstance(run["tags"], list) and all(isinstance(tag, str) for tag in run["tags"])
    ):
        raise BatchError("run.tags must be a list of strings")
    if run.get("state") not in (None, *RUN_STATES):
        raise BatchError(f"run.state must be one of {', '.join(RUN_STATES)}")
    if not isinstance(batch.get("live", True), bool):
        raise BatchError("live must be true (the run's own process) or false (an upload such as tracker sync)")
    return batch


def _insert(connection: Connection) -> Any:
    return (postgresql if connection.dialect.name == "postgresql" else sqlite).insert


def _run_pk(connection: Connection, entity_id: int, project: str, run_id: str, batch: dict[str, Any]) -> int:
    """The run's row, created on its first batch (concurrent first batches create it once)."""
    query = _RUN_PK_LOCKED if connection.dialect.name == "postgresql" else _RUN_PK
    where = {"b_entity": entity_id, "b_project": project, "b_run": run_id}
    found = connection.execute(query, where).scalar()
    if found is not None:
        return found
    run = batch.get("run") or {}
    now = time.time()
    connection.execute(
        _insert(connection)(runs)
        .values(
            entity_id=entity_id,
            project=project,
            run_id=run_id,
            name=run.get("name") or run_id,
            group_name=run.get("group"),
            job_type=run.get("job_type"),
            tags=run.get("tags") or [],
            notes=run.get("notes"),
            state=run.get("state") or "running",
            preempting=False,
            created_at=run.get("created_at") or time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now)),
            updated_at=now,
            heartbeat_at=now,
            config={},
            summary={},
            run_metadata={},
            rows=0,
        )
        .on_conflict_do_nothing()
    )
    return connection.execute(query, where).scalar_one()


def _split(records: list[Any]) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]:
    """(rows as sent, their decoded copies, events); a malformed record fails the whole batch."""
    rows, decoded, events = [], [], []
    for index, record in enumerate(records):
        # decoding non-finite numbers changes a record in place: only then is a copy needed
        copy = dict(record) if isinstance(record, dict) and NONFINITE in record else record
        problem = record_problem(copy)
        if problem is not None:
            raise BatchError(f"records[{index}]: {problem}")
        if STEP in copy:
            rows.append(record)
            decoded.append(copy)
        else:
            events.append(copy)
    return rows, decoded, events


def _fast_split(records: list[Any]) -> tuple[list[Any], list[Any], dict[str, tuple[Any, ...]]] | None:
    """(rows, events, each key's column) when every row has one set of keys (the usual batch: rows, maybe
    a few events such as a run's metric definitions or its finish), else None.

    Rows are checked column by column, so a batch of thousands costs a few passes in C rather than a
    check per record; anything doubtful returns None and takes the record-by-record path, which also
    words the error.
    """
    if not records or set(map(type, records)) != {dict}:
        return None
    rows = [record for record in records if STEP in record]
    events = [record for record in records if STEP not in record] if len(rows) < len(records) else []
    if not rows or any(record_problem(event) is not None for event in events):
        return None
    if len(set(map(len, rows))) != 1:
        return None
    keys = tuple(rows[0])
    if EVENT in keys or NONFINITE in keys:
        return None
    try:
        table = list(map(itemgetter(*keys), rows))
    except KeyError:
        return None
    columns = dict(zip(keys, zip(*table, strict=True) if len(keys) > 1 else [tuple(table)], strict=True))
    steps = columns[STEP]
    if set(map(type, steps)) != {int} or min(steps) < 0 or max(steps) > MAX_STEP:
        return None
    for key in (RUNTIME, TIMESTAMP):
        if key in columns and not set(map(type, columns[key])) <= _TIMES:
            return None
    return rows, events, columns


def _series(columns: dict[str, tuple[Any, ...]]) -> dict[str, tuple[bytes, bytes, bytes]]:
    """Per numeric key: packed steps, timestamps and values (NaN and infinities kept).

    A key that is a number in every row (the usual case) shares the batch's step and timestamp
    arrays, so a batch costs a few passes per key, not work per value.
    """
    steps = columns[STEP]
    stamps = [math.nan if stamp is None else float(stamp) for stamp in columns.get(TIMESTAMP) or [None] * len(steps)]
    all_steps, all_stamps = array("q", steps).tobytes(), array("d", stamps).tobytes()
    series = {}
    for key, column in columns.items():
        if key.startswith("_") or len(key) > MAX_SERIES_KEY:
            continue
        kinds = set(map(type, column))
        if kinds <= _NUMBERS:
            series[key] = (all_steps, all_stamps, array("d", column).tobytes())
        elif kinds & _NUMBERS:  # sparse or mixed: only the rows where it is a number
            kept = [index for index, value in enumerate(column) if type(value) in _NUMBERS]
            series[key] = (
                array("q", [steps[index] for index in kept]).tobytes(),
                array("d", [stamps[index] for index in kept]).tobytes(),
                array("d", [column[index] for index in kept]).tobytes(),
            )
    return series


def _ragged_columns(decoded: list[dict[str, Any]]) -> dict[str, tuple[Any, ...]]:
    """Columns of rows whose keys differ (a missing value is None, which no series keeps)."""
    keys: dict[str, None] = {}
    for row in decoded:
        keys.update(dict.fromkeys(row))
    return {key: tuple(row.get(key) for row in decoded) for key in keys}


def _replaced(connection: Connection, run_pk: int, batch: dict[str, Any]) -> bool:
    """A new journal of a run created at another moment: the client replaced the run (same id, resume off).

    A resumed run keeps its creation time on every node, so only a replacement differs.
    """
    created_at = (batch.get("run") or {}).get("created_at")
    if created_at is None:
        return False
    return connection.execute(_CREATED_AT, {"b_run_pk": run_pk}).scalar_one() != created_at


def _forget(connection: Connection, run_pk: int) -> None:
    """Drop what the server has of a replaced run, as the client did (uploaded files are overwritten as they come)."""
    for table in (history_chunks, series_chunks, series_summaries, journal_cursors, metric_rules):
        connection.execute(table.delete().where(table.c.run_pk == run_pk))
    connection.execute(
        update(runs)
        .where(runs.c.id == run_pk)
        .values(
            rows=0,
            last_step=None,
            state="running",
            exit_code=None,
            preempting=False,
            summary={},
            config={},
            run_metadata={},
        )
    )


def _define_metric(connection: Connection, run_pk: int, event: dict[str, Any]) -> None:
    """Keep a define_metric() rule, replacing an earlier one of the same name, as the run's summary does.

    A name or step metric longer than any series key names no chart, and is not kept.
    """
    name, step_metric = event["name"], event.get("step_metric")
    if len(name) > MAX_SERIES_KEY or (step_metric is not None and len(step_metric) > MAX_SERIES_KEY):
        return
    rule = {
        "step_metric": step_metric,
        "goal": event.get("goal"),
        "summary": event.get("summary") or ["last"],
        "hidden": bool(event.get("hidden")),
    }
    statement = _insert(connection)(metric_rules).values(run_pk=run_pk, name=name, **rule)
    connection.execute(statement.on_conflict_do_update(index_elements=["run_pk", "name"], set_=rule))


def apply(connection: Connection, entity_id: int, project: str, run_id: str, batch: dict[str, Any]) -> Outcome:
    """Apply one parsed batch inside the caller's transaction."""
    run_pk = _run_pk(connection, entity_id, project, run_id, batch)
    cursor = {"b_run_pk": run_pk, "b_journal": batch["journal_id"]}
    position = connection.execute(_CURSOR, cursor).scalar()
    if position is None and _replaced(connection, run_pk, batch):
        _forget(connection, run_pk)
    applied_to = position or 0
    if batch["offset"] != applied_to:
        if batch["end"] <= applied_to:
            return Outcome("duplicate", applied_to, run_pk)
        return Outcome("gap", applied_to, run_pk)
    fast = _fast_split(batch["records"])
    if fast is not None:
        rows, events, columns = fast
    else:
        rows, decoded, events = _split(batch["records"])
        columns = _ragged_columns(decoded) if rows else {}
    now = time.time()
    values: dict[str, Any] = {"updated_at": now}
    if batch.get("live", True):  # the run's own process: the batch says it is alive
        values["heartbeat_at"] = now
    if rows:
        seq = connection.execute(_NEXT_SEQ, {"b_run_pk": run_pk}).scalar_one()
        first, last = columns[STEP][0], max(columns[STEP])
        connection.execute(
            _INSERT_HISTORY,
            {
                "run_pk": run_pk,
                "seq": seq,
                "first_step": first,
                "last_step": last,
                "count": len(rows),
                "rows": orjson.dumps(rows),
            },
        )
        chunks = [
            {
                "run_pk": run_pk,
                "key": key,
                "seq": seq,
                "count": len(steps) // 8,
                "first_step": int.from_bytes(steps[:8], "little", signed=True),
                "last_step": int.from_bytes(steps[-8:], "little", signed=True),
                "steps": steps,
                "timestamps": stamps,
                "values": numbers,
            }
            for key, (steps, stamps, numbers) in _series(columns).items()
        ]
        if chunks:
            connection.execute(_INSERT_SERIES, chunks)
            summaries = [
                {
                    "run_pk": run_pk,
                    "key": chunk["key"],
                    "seq": seq,
                    "count": chunk["count"],
                    "first_step": chunk["first_step"],
                    "blocks": series_blocks.summarise(chunk["steps"], chunk["values"]),
                }
                for chunk in chunks
            ]
            connection.execute(_INSERT_SUMMARIES, summaries)
        values["last_step"] = last  # steps only grow, across journals too (a resume continues after the last)
        values["rows"] = runs.c.rows + len(rows)
    run = batch.get("run") or {}
    for field in IDENTITY_FIELDS:
        if field in run and run[field] is not None:
            values["group_name" if field == "group" else field] = run[field]
    for event in events:
        if event[EVENT] == "finish":
            values.update(state=event["state"], exit_code=event["exit_code"])
        elif event[EVENT] == "preempting":
            values["preempting"] = True
        elif event[EVENT] == "resume":
            values.update(state="running", exit_code=None, preempting=False)
        elif event[EVENT] == "metric":
            _define_metric(connection, run_pk, event)
    if run.get("state") is not None and "state" not in values:
        values["state"] = run["state"]
    for field, column in (("config", "config"), ("metadata", "run_metadata"), ("summary", "summary")):
        if batch.get(field) is not None:
            values[column] = batch[field]
    connection.execute(update(runs).where(runs.c.id == run_pk).values(**values))
    if position is None:
        connection.execute(
            _NEW_CURSOR, {"run_pk": run_pk, "journal_id": batch["journal_id"], "end_offset": batch["end"]}
        )
    else:
        connection.execute(_MOVE_CURSOR, {**cursor, "b_end": batch["end"]})
    return Outcome("applied", batch["end"], run_pk)
