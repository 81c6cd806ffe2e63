"""The dashboard's runs table: filtered, sorted and paged on the server, so 10,000 runs cost the browser a page.

The rows of a viewer's project are read once into a snapshot (only the columns the table shows, JSON
decoded by orjson) and kept until a run changes (the count or the newest ``updated_at`` moves); each
request then filters and sorts that snapshot in memory. States are recomputed per request, since a
silent run turns crashed with time, not with a write.
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import ColumnElement, Connection, Text, func, select, type_coerce

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


class RunsTable:
    """Snapshots of the runs per (visible entities, project), answering table queries."""

    def __init__(self, heartbeat_timeout: float) -> None:
        self.heartbeat_timeout = heartbeat_timeout
        self._snapshots: OrderedDict[tuple[frozenset[str], str | None], tuple[Any, list[dict[str, Any]], Any]] = (
            OrderedDict()
        )
        self._lock = threading.Lock()

    def page(self, connection: Connection, visible: frozenset[str], query: Query) -> dict[str, Any]:
        snapshot, facets = self._snapshot(connection, visible, query.project)
        now = time.time()
        everything = ({**run, "state": state_of(run["_row"], now, self.heartbeat_timeout)} for run in snapshot)
        kept = [run for run in everything if _keep(run, query)]
        cells = [(_cell(run, query.sort), run) for run in kept]
        present = [pair for pair in cells if pair[0] is not None]
        present.sort(key=lambda pair: _sort_key(pair[0]), reverse=query.descending)
        ordered = [run for _, run in present] + [run for value, run in cells if value is None]  # missing: last
        shown = ("entity", "project", "id", "name", "group", "job_type", "tags", "state", "created_at")
        return {
            "total": len(ordered),
            "offset": query.offset,
            "runs": [
                {
                    **{field: run[field] for field in shown},
                    "runtime": run["summary"].get("_runtime"),
                    "last_step": run["last_step"],
                    "columns": {column: _cell(run, column) for column in query.columns},
                }
                for run in ordered[query.offset : query.offset + query.limit]
            ],
            "facets": facets,
        }

    def _snapshot(
        self, connection: Connection, visible: frozenset[str], project: str | None
    ) -> tuple[list[dict[str, Any]], dict[str, list[str]]]:
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
            if cached is not None and cached[0] == version:
                self._snapshots.move_to_end(key)
                return cached[1], cached[2]
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
        snapshot = [
            {
                "_row": row,
                "entity": row.entity,
                "project": row.project,
                "id": row.run_id,
                "name": row.name,
                "group": row.group_name,
                "job_type": row.job_type,
                "tags": _decoded(row.tags),
                "created_at": row.created_at,
                "last_step": row.last_step,
                "config": flatten(_decoded(row.config)),
                "summary": _decoded(row.summary),
            }
            for row in rows
        ]
        facets = _facets(snapshot)
        with self._lock:
            self._snapshots[key] = (version, snapshot, facets)
            while len(self._snapshots) > _SNAPSHOTS:
                self._snapshots.popitem(last=False)
        return snapshot, facets


def _decoded(value: Any) -> Any:
    """A JSON column as read raw: text on SQLite (decoded here, by orjson), already decoded by psycopg."""
    return orjson.loads(value) if isinstance(value, str | bytes) else value


def _keep(run: dict[str, Any], query: Query) -> bool:
    if query.group is not None and run["group"] != query.group:
        return False
    if query.tag is not None and query.tag not in run["tags"]:
        return False
    if query.state is not None and run["state"] != query.state:
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
