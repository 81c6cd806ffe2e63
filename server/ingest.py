"""The one ingest path: a batch of a run's journal, applied once whatever how often it is sent.

A batch names the client's journal (``journal_id``) and the byte range it covers (``offset``..``end``).
The server keeps, per run and journal, how far it has applied; a batch that starts there is applied, one
that ends before it is an acknowledged duplicate (a retry), anything else is a 409 carrying the server's
position, from which the client resends. Streaming, retries and ``tracker sync`` all rely on this.
"""

from __future__ import annotations

import functools
import time
from dataclasses import dataclass
from operator import itemgetter
from typing import Any

import numpy as np  # with the server, not with its first batch: numpy takes a quarter second of CPU to import
import orjson
from sqlalchemy import Connection, and_, bindparam, func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite

from server import series_blocks
from server.schema import history_chunks, journal_cursors, metric_rules, runs, series_axes, series_chunks
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
_CURSOR_WHERE = and_(
    journal_cursors.c.run_pk == bindparam("b_run_pk"), journal_cursors.c.journal_id == bindparam("b_journal")
)
_MOVE_CURSOR = update(journal_cursors).where(_CURSOR_WHERE).values(end_offset=bindparam("b_end"))
_NEW_CURSOR = insert(journal_cursors)
_RUN_WHERE = and_(
    runs.c.entity_id == bindparam("b_entity"),
    runs.c.project == bindparam("b_project"),
    runs.c.run_id == bindparam("b_run"),
)
_LOCK_RUN = select(runs.c.id).where(_RUN_WHERE).with_for_update()
# the run, how far this journal is applied and the next chunk's seq, in one round trip
_RUN = select(
    runs.c.id,
    select(journal_cursors.c.end_offset)
    .where(journal_cursors.c.run_pk == runs.c.id, journal_cursors.c.journal_id == bindparam("b_journal"))
    .scalar_subquery()
    .label("position"),
    select(func.coalesce(func.max(history_chunks.c.seq), -1) + 1)
    .where(history_chunks.c.run_pk == runs.c.id)
    .scalar_subquery()
    .label("next_seq"),
).where(_RUN_WHERE)
_CREATED_AT = select(runs.c.created_at).where(runs.c.id == bindparam("b_run_pk"))
_INSERT_HISTORY = insert(history_chunks)
_INSERT_SERIES = insert(series_chunks)
_INSERT_AXIS = insert(series_axes)


@functools.lru_cache(maxsize=256)
def _update_run(columns: tuple[str, ...]) -> Any:
    """The UPDATE of a run's row setting these columns (``rows`` is added to the count), built once per set of
    columns: a batch usually sets the same few, and building a statement costs more than running it."""
    bound: dict[str, Any] = {column: bindparam(f"v_{column}", type_=runs.c[column].type) for column in columns}
    if "rows" in bound:
        bound["rows"] = runs.c.rows + bound["rows"]
    return update(runs).where(runs.c.id == bindparam("b_run_pk")).values(bound)


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


def _run(connection: Connection, entity_id: int, project: str, run_id: str, batch: dict[str, Any]) -> Any:
    """The run's row (id, position, next_seq), created on its first batch (concurrent first batches create it
    once)."""
    where = {"b_entity": entity_id, "b_project": project, "b_run": run_id, "b_journal": batch["journal_id"]}
    found = _locked(connection, where)
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
    return _locked(connection, where)


def _locked(connection: Connection, where: dict[str, Any]) -> Any:
    """The run's row once no other batch of the run is being applied (SQLite: one writer at a time).

    PostgreSQL locks the run's row first, in a statement of its own: a statement that waited for the lock
    still reads from the snapshot it began with, so only the next one sees what the other batch committed.
    """
    if connection.dialect.name == "postgresql":
        connection.execute(_LOCK_RUN, where)
    return connection.execute(_RUN, where).first()


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
    try:  # one pass per key (cheaper than rows of tuples turned into columns)
        columns = {key: tuple(map(itemgetter(key), rows)) for key in keys}
    except KeyError:
        return None
    steps = columns[STEP]
    if set(map(type, steps)) != {int} or min(steps) < 0 or max(steps) > MAX_STEP:
        return None
    for key in (RUNTIME, TIMESTAMP):
        if key in columns and not set(map(type, columns[key])) <= _TIMES:
            return None
    return rows, events, columns


@dataclass
class Series:
    """A batch's rows as series: the shared axis once (packed steps and timestamps) and per numeric key a
    row of series_chunks without run and seq (its values, block summaries and, when the key is missing or not
    a number in some rows, the indexes of those where it is)."""

    steps: bytes
    timestamps: bytes
    chunks: list[dict[str, Any]]


def series(columns: dict[str, tuple[Any, ...]]) -> Series:
    """The series of a batch's columns (NaN and infinities kept; strings, bools and None are not points).

    Keys that are numbers in every row (the usual case) are converted and summarised together, as one
    matrix, so a batch costs a few numpy calls, not work per key.
    """
    steps = np.array(columns[STEP], dtype="<i8")
    stamps = np.array(columns.get(TIMESTAMP) or [None] * len(steps), dtype="<f8")  # None: NaN
    dense, sparse = [], []
    for key, column in columns.items():
        if key.startswith("_") or len(key) > MAX_SERIES_KEY:
            continue
        kinds = set(map(type, column))
        if kinds <= _NUMBERS:
            dense.append(key)
        elif kinds & _NUMBERS:
            sparse.append(key)
    chunks = []
    if dense:
        matrix = np.array([columns[key] for key in dense], dtype="<f8")
        first, last = int(steps[0]), int(steps[-1])
        for key, values, blocks in zip(dense, matrix, series_blocks.summarise(steps, matrix), strict=True):
            chunks.append(_chunk(key, len(steps), first, last, blocks, None, values))
    for key in sparse:
        column = columns[key]
        kept = np.array([index for index, value in enumerate(column) if type(value) in _NUMBERS], dtype="<u4")
        values = np.array([column[index] for index in kept.tolist()], dtype="<f8")
        kept_steps = steps[kept]
        blocks = series_blocks.summarise(kept_steps, values[np.newaxis])[0]
        chunks.append(_chunk(key, len(kept), int(kept_steps[0]), int(kept_steps[-1]), blocks, kept.tobytes(), values))
    return Series(steps.tobytes(), stamps.tobytes(), chunks)


def _chunk(
    key: str, count: int, first: int, last: int, blocks: bytes, rows: bytes | None, values: Any
) -> dict[str, Any]:
    return {
        "key": key,
        "count": count,
        "first_step": first,
        "last_step": last,
        "blocks": blocks,
        "rows": rows,
        "values": values.tobytes(),
    }


def columns(records: list[Any]) -> tuple[list[Any], list[dict[str, Any]], dict[str, tuple[Any, ...]]]:
    """(rows as sent, events, each key's column over the rows): by columns when the rows share their keys,
    else record by record (which also words what is wrong with a malformed record)."""
    fast = _fast_split(records)
    if fast is not None:
        return fast
    rows, decoded, events = _split(records)
    return rows, events, _ragged_columns(decoded) if rows else {}


def _ragged_columns(decoded: list[dict[str, Any]]) -> dict[str, tuple[Any, ...]]:
    """Columns of rows whose keys differ (a missing value is None, which no series keeps)."""
    keys: dict[str, None] = {}
    for row in decoded:
        keys.update(dict.fromkeys(row))
    return {key: tuple(row.get(key) for row in decoded) for key in keys}


def store_series(connection: Connection, run_pk: int, seq: int, found: Series) -> None:
    """Insert a batch's axis and its keys' chunks, if it has any numeric key (also used by the migration that
    introduced them)."""
    if found.chunks:
        axis = {"run_pk": run_pk, "seq": seq, "steps": found.steps, "timestamps": found.timestamps}
        connection.execute(_INSERT_AXIS, axis)
        connection.execute(_INSERT_SERIES, [{"run_pk": run_pk, "seq": seq, **chunk} for chunk in found.chunks])


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
    for table in (history_chunks, series_axes, series_chunks, journal_cursors, metric_rules):
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


@dataclass
class Prepared:
    """What a batch stores, worked out before its transaction: the server's writers wait for one another
    (SQLite has one), so the CPU work of a batch is done outside, where batches overlap."""

    rows: list[Any]
    events: list[dict[str, Any]]
    history: bytes  # the rows as sent, for exact reads
    steps: tuple[int, ...]
    series: Series | None


def prepare(batch: dict[str, Any]) -> Prepared:
    """Check a parsed batch's records (BatchError names a malformed one) and pack what it stores."""
    rows, events, by_key = columns(batch["records"])
    if not rows:
        return Prepared(rows, events, b"", (), None)
    return Prepared(rows, events, orjson.dumps(rows), by_key[STEP], series(by_key))


def apply(
    connection: Connection,
    entity_id: int,
    project: str,
    run_id: str,
    batch: dict[str, Any],
    prepared: Prepared | None = None,
) -> Outcome:
    """Apply one parsed (and maybe prepared) batch inside the caller's transaction."""
    run_pk, position, seq = _run(connection, entity_id, project, run_id, batch)
    if position is None and _replaced(connection, run_pk, batch):
        _forget(connection, run_pk)
    applied_to = position or 0
    if batch["offset"] != applied_to:
        if batch["end"] <= applied_to:
            return Outcome("duplicate", applied_to, run_pk)
        return Outcome("gap", applied_to, run_pk)
    prepared = prepared or prepare(batch)
    now = time.time()
    values: dict[str, Any] = {"updated_at": now}
    if batch.get("live", True):  # the run's own process: the batch says it is alive
        values["heartbeat_at"] = now
    if prepared.series is not None:
        last = max(prepared.steps)
        history = {"run_pk": run_pk, "seq": seq, "first_step": prepared.steps[0], "last_step": last}
        connection.execute(_INSERT_HISTORY, {**history, "count": len(prepared.rows), "rows": prepared.history})
        store_series(connection, run_pk, seq, prepared.series)
        values["last_step"] = last  # steps only grow, across journals too (a resume continues after the last)
        values["rows"] = len(prepared.rows)  # added to the count
    run = batch.get("run") or {}
    for field in IDENTITY_FIELDS:
        if field in run and run[field] is not None:
            values["group_name" if field == "group" else field] = run[field]
    for event in prepared.events:
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
    connection.execute(_update_run(tuple(values)), {"b_run_pk": run_pk, **{f"v_{k}": v for k, v in values.items()}})
    if position is None:
        connection.execute(
            _NEW_CURSOR, {"run_pk": run_pk, "journal_id": batch["journal_id"], "end_offset": batch["end"]}
        )
    else:
        connection.execute(_MOVE_CURSOR, {"b_run_pk": run_pk, "b_journal": batch["journal_id"], "b_end": batch["end"]})
    return Outcome("applied", batch["end"], run_pk)
