"""The dashboard's runs table: filtered, sorted and paged on the server, so 10,000 runs cost the browser a page.

The rows of a viewer's project are read once into a snapshot (only the columns the table shows, JSON
decoded by orjson) and kept until a run changes (the count or the newest ``updated_at`` moves). Each sort
order of a snapshot is computed once too; a request then only filters (when it has filters) and slices a
page. States are recomputed per request, and only for running runs, since a silent run turns crashed with
time, not with a write.
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import ColumnElement, Connection, Row, Text, func, select, type_coerce

from server.reads import state_of
from server.schema import entities, runs

FIXED_COLUMNS = ("name", "state", "group", "job_type", "tags", "created_at", "runtime", "last_step", "project", "id")
_SNAPSHOTS = 16  # viewers x projects kept in memory


def check_sort(sort: str) -> str | None:
    """Why ``sort`` is not a column of the table, or None."""
    if sort in FIXED_COLUMNS or sort.startswith(("config.", "summary.")):
        return None
    return f"sort={sort!r}: sort by {', '.join(FIXED_COLUMNS)}, config.KEY or summary.KEY"


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


@dataclass
class Query:
    """What the browser asked for: filters, one sort column, one page, and extra columns."""

    project: str | None = None
    q: str | None = None
    group: str | None = None
    tag: str | None = None
    state: str | None = None
    job_type: str | None = None
    sort: str = "created_at"
    descending: bool = True
    offset: int = 0
    limit: int = 200
    columns: tuple[str, ...] = ()


class _Snapshot:
    """A project's runs as the table needs them, its facets, and its sort orders as they are asked for."""

    def __init__(self, version: Any, everything: list[dict[str, Any]]) -> None:
        self.version, self.everything = version, everything
        self.facets = _facets(everything)
        self.orders: dict[tuple[str, bool], list[dict[str, Any]]] = {}


class RunsTable:
    """Snapshots of the runs per (visible entities, project), answering table queries."""

    def __init__(self, heartbeat_timeout: float) -> None:
        self.heartbeat_timeout = heartbeat_timeout
        self._snapshots: OrderedDict[tuple[frozenset[str], str | None], _Snapshot] = OrderedDict()
        self._lock = threading.Lock()

    def page(self, connection: Connection, visible: frozenset[str], query: Query) -> dict[str, Any]:
        snapshot = self._snapshot(connection, visible, query.project)
        now = time.time()
        states: dict[int, str] = {}

        def state(run: dict[str, Any]) -> str:
            """Stored, except for a running run, whose state depends on its heartbeat's age."""
            if run["stored_state"] != "running":
                return str(run["stored_state"])
            if id(run) not in states:
                states[id(run)] = state_of(run["_row"], now, self.heartbeat_timeout)
            return states[id(run)]

        ordered = self._ordered(snapshot, query.sort, query.descending, state)
        if _filtered(query):
            ordered = [run for run in ordered if _keep(run, query, state)]
        shown = ("entity", "project", "id", "name", "group", "job_type", "tags", "created_at")
        return {
            "total": len(ordered),
            "offset": query.offset,
            "runs": [
                {
                    **{field: run[field] for field in shown},
                    "state": state(run),
                    "runtime": run["summary"].get("_runtime"),
                    "last_step": run["last_step"],
                    "columns": {
                        column: state(run) if column == "state" else _cell(run, column) for column in query.columns
                    },
                }
                for run in ordered[query.offset : query.offset + query.limit]
            ],
            "facets": snapshot.facets,
        }

    def _ordered(
        self, snapshot: _Snapshot, sort: str, descending: bool, state: Callable[[dict[str, Any]], str]
    ) -> list[dict[str, Any]]:
        """The snapshot sorted by one column, missing values last; kept, except by state (which ages)."""
        cached = snapshot.orders.get((sort, descending))
        if cached is not None:
            return cached
        cells = [(state(run) if sort == "state" else _cell(run, sort), run) for run in snapshot.everything]
        present = [pair for pair in cells if pair[0] is not None]
        present.sort(key=lambda pair: _sort_key(pair[0]), reverse=descending)
        ordered = [run for _, run in present] + [run for value, run in cells if value is None]
        if sort != "state":
            snapshot.orders[(sort, descending)] = ordered
        return ordered

    def _snapshot(self, connection: Connection, visible: frozenset[str], project: str | None) -> _Snapshot:
        where: ColumnElement[bool] = entities.c.name.in_(sorted(visible))
        if project is not None:
            where = where & (runs.c.project == project)
        joined = runs.join(entities, entities.c.id == runs.c.entity_id)
        version = tuple(
            connection.execute(select(func.count(), func.max(runs.c.updated_at)).select_from(joined).where(where)).one()
        )
        key = (visible, project)
        with self._lock:
            cached = self._snapshots.get(key)
            if cached is not None and cached.version == version:
                self._snapshots.move_to_end(key)
                return cached
        rows = connection.execute(
            select(
                entities.c.name.label("entity"),
                runs.c.project,
                runs.c.run_id,
                runs.c.name,
                runs.c.group_name,
                runs.c.job_type,
                type_coerce(runs.c.tags, Text).label("tags"),
                runs.c.state,
                runs.c.preempting,
                runs.c.heartbeat_at,
                runs.c.created_at,
                runs.c.last_step,
                type_coerce(runs.c.config, Text).label("config"),
                type_coerce(runs.c.summary, Text).label("summary"),
            )
            .select_from(joined)
            .where(where)
        )
        snapshot = _Snapshot(version, [_entry(row) for row in rows])
        with self._lock:
            self._snapshots[key] = snapshot
            while len(self._snapshots) > _SNAPSHOTS:
                self._snapshots.popitem(last=False)
        return snapshot


def _entry(row: Row[Any]) -> dict[str, Any]:
    """One run as the table keeps it (the row itself too, for the state of a running run)."""
    entity, project, run_id, name, group, job_type, tags, state, _, _, created_at, last_step, config, summary = tuple(
        row
    )
    return {
        "_row": row,
        "entity": entity,
        "project": project,
        "id": run_id,
        "name": name,
        "group": group,
        "job_type": job_type,
        "tags": _decoded(tags),
        "stored_state": state,
        "created_at": created_at,
        "last_step": last_step,
        "config": flatten(_decoded(config)),
        "summary": _decoded(summary),
    }


def _decoded(value: Any) -> Any:
    """A JSON column as read raw: text on SQLite (decoded here, by orjson), already decoded by psycopg."""
    return orjson.loads(value) if isinstance(value, str | bytes) else value


def _filtered(query: Query) -> bool:
    return any(value is not None for value in (query.group, query.tag, query.state, query.job_type)) or bool(query.q)


def _keep(run: dict[str, Any], query: Query, state: Callable[[dict[str, Any]], str]) -> bool:
    if query.group is not None and run["group"] != query.group:
        return False
    if query.tag is not None and query.tag not in run["tags"]:
        return False
    if query.state is not None and state(run) != query.state:
        return False
    if query.job_type is not None and run["job_type"] != query.job_type:
        return False
    if query.q:
        needle = query.q.casefold()
        haystack = (run["name"], run["id"], run["group"] or "", run["job_type"] or "", *run["tags"])
        return any(needle in str(item).casefold() for item in haystack)
    return True


def _facets(everything: list[dict[str, Any]]) -> dict[str, list[str]]:
    """The values the filters offer, and the keys the column picker offers."""
    return {
        "projects": sorted({run["project"] for run in everything}),
        "groups": sorted({run["group"] for run in everything if run["group"]}),
        "job_types": sorted({run["job_type"] for run in everything if run["job_type"]}),
        "tags": sorted({tag for run in everything for tag in run["tags"]}),
        "config": sorted({key for run in everything for key in run["config"]}),
        "summary": sorted({key for run in everything for key in run["summary"] if not key.startswith("_")}),
    }


def _cell(run: dict[str, Any], column: str) -> Any:
    if column == "runtime":
        return run["summary"].get("_runtime")
    if column.startswith("config."):
        return run["config"].get(column[7:])
    if column.startswith("summary."):
        return run["summary"].get(column[8:])
    return run.get(column)


def _sort_key(value: Any) -> tuple[int, Any]:
    """Numbers, then booleans, then text (lists by their items, NaN as "nan"): mixed columns still sort."""
    if isinstance(value, bool):
        return (1, int(value))
    if isinstance(value, int | float) and not (isinstance(value, float) and math.isnan(value)):
        return (0, value)
    if isinstance(value, list):
        return (2, " ".join(map(str, value)))
    return (2, str(value))
