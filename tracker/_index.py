"""A rebuildable SQLite index of each project's runs (run.json + final summary), so a listing is one query.

The run directories stay the source of truth; the index (``<root>/cache/runs-<project>.sqlite``) is
written by readers only and trusted as follows:

- A row of a finished run is trusted while the project directory keeps its signature (inode, mtime,
  link count), which was read *before* the scan that wrote the row. Creating, removing or replacing
  a run directory changes it, and so does a resume: ``note_resumed`` touches the project directory
  after the resumed run's run.json is written.
- Rows of runs that can still change (running, a directory without run.json yet, a damaged
  run.json) are checked on every listing against their run.json's inode, size and mtime.
- A signature read less than ``RACY_S`` after the directory changed is not trusted (a change in the
  same clock tick would not move the mtime), so the next listing scans the directory again.

Deleting the index, or finding it damaged, locked or of another version, loses nothing: the listing
scans the directories and rebuilds it. A store that cannot be written is listed by scanning.
"""

from __future__ import annotations

import contextlib
import operator
import os
import time
from collections.abc import Callable
from typing import Any, NamedTuple

from tracker import _layout
from tracker._errors import Error
from tracker._journal import FINAL_STATES, encode_json, read_json_object, run_record_problem
from tracker._lock import is_held

SCHEMA_VERSION = 1
RACY_S = 2.0  # how long after a directory change its mtime is not trusted (clock ticks, NFS server time)
_BUSY_S = 0.2  # how long a reader waits for another reader's write before listing without the index

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS runs (
    name TEXT PRIMARY KEY,  -- the run directory's name
    ino INTEGER, size INTEGER, mtime_ns INTEGER,  -- run.json's signature when the row was read, NULL if none
    state TEXT,  -- run.json's state, NULL for a directory without a sound run.json
    created_at TEXT, id TEXT,
    record BLOB,  -- run.json, compact (encode_json)
    summary BLOB,  -- summary.json of a finished run, compact, NULL to rebuild it from the history
    problem TEXT  -- why run.json is unusable, or NULL
) WITHOUT ROWID;
"""
_COLUMNS = "name, ino, size, mtime_ns, state, created_at, id, record, summary, problem"


class Row(NamedTuple):
    """One run directory as the index holds it."""

    name: str
    ino: int | None = None
    size: int | None = None
    mtime_ns: int | None = None
    state: str | None = None
    created_at: str | None = None
    id: str | None = None
    record: bytes | None = None
    summary: bytes | None = None
    problem: str | None = None


# Rows are read as plain tuples and become ``Row`` only where they are looked at: a listing reads 10,000.
_NAME, _STATE, _CREATED_AT, _ID, _RECORD, _SUMMARY, _PROBLEM = map(
    Row._fields.index, ("name", "state", "created_at", "id", "record", "summary", "problem")
)

# A sound run of a listing: (directory, id, created_at, run.json, summary.json or None), both compact JSON.
Listed = tuple[str, str, str, bytes, bytes | None]


def _settled(row: tuple[Any, ...]) -> bool:
    """Whether only a new directory signature can change this row (a finished run with a sound run.json)."""
    return row[_STATE] in FINAL_STATES and row[_PROBLEM] is None


class ScanReport:
    """What a scan could not list: damaged runs (each named) and directories where no run ever started."""

    def __init__(self) -> None:
        self.damaged: list[str] = []
        self.incomplete: list[str] = []

    def warnings(self, limit: int = 10) -> list[str]:
        lines = [f"skipped {problem}" for problem in self.damaged[:limit]]
        if len(self.damaged) > limit:
            lines.append(f"skipped {len(self.damaged) - limit} more damaged run(s)")
        if self.incomplete:
            lines.append(
                f"{len(self.incomplete)} run director{'y holds' if len(self.incomplete) == 1 else 'ies hold'} no run "
                f"(a process was killed while starting it), e.g. {self.incomplete[0]}; `tracker gc` removes them"
            )
        return lines


def index_path(root: str, project: str) -> str:
    return os.path.join(root, "cache", f"runs-{project}.sqlite")


def note_resumed(run_directory: str) -> None:
    """Tell indexes that a run of this project changed in place: call it after the resumed run.json is written."""
    with contextlib.suppress(OSError):  # a store we cannot touch is one whose index we could not write either
        os.utime(os.path.dirname(run_directory))


def unsupported_format(record: dict[str, Any]) -> str | None:
    """Why this tracker cannot read a run.json of another store format, or None."""
    version = record.get("format_version", _layout.FORMAT_VERSION)
    if not isinstance(version, int) or version > _layout.FORMAT_VERSION:
        return f"uses store format {version!r}; this tracker reads up to {_layout.FORMAT_VERSION} (upgrade tracker)"
    return None


def _read(directory: str, name: str, previous: Row | None) -> Row | None:
    """The row a run directory deserves now; ``previous`` is reused while run.json is unchanged. None: gone."""
    path = os.path.join(directory, _layout.RUN_FILE)
    try:
        status = os.stat(path, follow_symlinks=False)
    except FileNotFoundError:
        return _unstarted(directory, name)
    except OSError as error:
        return Row(name, problem=f"run.json cannot be read ({error.strerror or error})")
    signature = (status.st_ino, status.st_size, status.st_mtime_ns)  # every atomic replace has a new inode
    if previous is not None and (previous.ino, previous.size, previous.mtime_ns) == signature:
        return previous
    try:
        record = read_json_object(path, "run.json")
    except Error as error:
        return Row(name, *signature, problem=str(error))
    if record is None:  # removed between stat and open
        return _unstarted(directory, name)
    problem = run_record_problem(record) or unsupported_format(record)
    if problem is not None:
        return Row(name, *signature, problem=problem)
    summary = None
    if record["state"] in FINAL_STATES:
        with contextlib.suppress(Error):  # a damaged summary.json is rebuilt from the history on demand
            summary = read_json_object(os.path.join(directory, _layout.SUMMARY_FILE), "summary.json")
    return Row(
        name,
        *signature,
        state=record["state"],
        created_at=record["created_at"],
        id=record["id"],
        record=encode_json("run.json", record, pretty=False),
        summary=None if summary is None else encode_json("summary.json", summary, pretty=False),
    )


def _unstarted(directory: str, name: str) -> Row | None:
    """A directory without run.json (a run being started, or debris), or None when the directory is gone."""
    return Row(name) if os.path.isdir(directory) else None


class _Index:
    """The open index file of one project; every method raises sqlite3.Error when the file is unusable.

    Each write holds one reader's snapshot plus what that reader found changed, and only lands if no
    other reader wrote since the snapshot was read (``generation``), so rows never mix two scans.
    """

    def __init__(self, path: str) -> None:
        import sqlite3

        self.connection = sqlite3.connect(path, timeout=_BUSY_S, isolation_level=None)
        try:
            self.connection.execute("PRAGMA synchronous=OFF")  # a cache: a file torn by a power cut is rebuilt
            self.connection.executescript(_SCHEMA)
        except BaseException:
            self.connection.close()
            raise
        self.generation: int | None = None

    def read(self) -> tuple[list[int] | None, list[tuple[Any, ...]]]:
        """(trusted project directory signature or None, every row as a plain tuple of Row's fields), as one
        snapshot."""
        execute = self.connection.execute
        execute("BEGIN")
        try:
            meta = dict(execute("SELECT key, value FROM meta"))
            self.generation = meta.get("generation")
            if meta.get("schema") != SCHEMA_VERSION:
                return None, []
            rows = execute(f"SELECT {_COLUMNS} FROM runs").fetchall()
        finally:
            execute("COMMIT")
        signature = meta.get("signature")
        return (list(map(int, signature.split())) if signature else None), rows

    def write(self, signature: list[int] | None, upserts: list[Row], deletes: list[str]) -> None:
        """Apply what a listing found changed since ``read()``, unless another reader has written meanwhile."""
        execute = self.connection.execute
        execute("BEGIN IMMEDIATE")
        try:
            if execute("SELECT value FROM meta WHERE key = 'generation'").fetchone() != (
                (self.generation,) if self.generation is not None else None
            ):
                execute("ROLLBACK")
                return
            if execute("SELECT value FROM meta WHERE key = 'schema'").fetchone() != (SCHEMA_VERSION,):
                execute("DELETE FROM runs")  # another version's rows: read() returned none, so all are upserts
            self.connection.executemany("DELETE FROM runs WHERE name = ?", [(name,) for name in deletes])
            self.connection.executemany(
                f"INSERT OR REPLACE INTO runs ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                upserts,
            )
            stored = " ".join(map(str, signature)) if signature is not None else None
            self.connection.executemany(
                "INSERT OR REPLACE INTO meta VALUES (?, ?)",
                [("schema", SCHEMA_VERSION), ("signature", stored), ("generation", (self.generation or 0) + 1)],
            )
            execute("COMMIT")
        except BaseException:
            with contextlib.suppress(Exception):
                execute("ROLLBACK")
            raise

    def close(self) -> None:
        self.connection.close()


def _read_index(path: str) -> tuple[_Index | None, list[int] | None, list[tuple[Any, ...]]]:
    """The open index with its trusted signature and rows, created if missing and replaced if damaged;
    (None, None, []) when it cannot be used now (a read-only store, another reader's write)."""
    import sqlite3

    with contextlib.suppress(OSError):
        os.makedirs(os.path.dirname(path), exist_ok=True)
    for attempt in (1, 2):
        index = None
        try:
            index = _Index(path)
            signature, rows = index.read()
            return index, signature, rows
        except sqlite3.OperationalError:  # locked, or cannot be opened or created
            pass
        except (sqlite3.DatabaseError, ValueError, TypeError):  # not a database, torn, rows of the wrong shape
            if attempt == 1:
                with contextlib.suppress(OSError):  # whoever has it open keeps reading the old file
                    os.unlink(path)
                if index is not None:
                    index.close()
                continue
        if index is not None:
            index.close()
        break
    return None, None, []


def project_records(
    root: str, project: str, report: ScanReport, progress: Callable[[int, int], None] | None = None
) -> list[Listed]:
    """Every sound run of a project in listing order (created_at, id); the rest go to ``report``."""
    import sqlite3

    directory = _layout.project_dir(root, project)
    checked_at = time.time()
    try:
        status = os.stat(directory)
    except FileNotFoundError:
        return []
    signature = [status.st_ino, status.st_mtime_ns, status.st_nlink]
    trusted = signature if checked_at - status.st_mtime_ns / 1e9 >= RACY_S else None
    index, stored_signature, stored = _read_index(index_path(root, project))
    try:
        if stored_signature is not None and stored_signature == signature:
            rows, upserts, deletes = _check_changing(directory, stored)
        else:
            rows, upserts, deletes = _scan(directory, stored, progress)
        if index is not None and (upserts or deletes or stored_signature != trusted):
            with contextlib.suppress(sqlite3.Error):  # locked by another reader, or a read-only store
                index.write(trusted, upserts, deletes)
    finally:
        if index is not None:
            index.close()
    listed = _listed(directory, rows, report)
    listed.sort(key=operator.itemgetter(2, 1))
    if progress is not None:
        progress(len(rows), len(rows))
    return listed


def _check_changing(directory: str, rows: list[tuple[Any, ...]]) -> tuple[list[tuple[Any, ...]], list[Row], list[str]]:
    """The stored rows, those that can still change read again: (rows, rows changed, names gone)."""
    current, upserts, deletes = [], [], []
    for row in rows:
        if _settled(row):
            current.append(row)
            continue
        old = Row(*row)
        fresh = _read(os.path.join(directory, old.name), old.name, old)
        if fresh is None:
            deletes.append(old.name)
            continue
        if fresh is not old:
            upserts.append(fresh)
        current.append(fresh)
    return current, upserts, deletes


def _scan(
    directory: str, stored: list[tuple[Any, ...]], progress: Callable[[int, int], None] | None
) -> tuple[list[tuple[Any, ...]], list[Row], list[str]]:
    """Every run directory's row, stored rows reused while their run.json is unchanged."""
    previous = {row[_NAME]: row for row in stored}
    try:
        entries = [entry for entry in os.scandir(directory) if entry.is_dir(follow_symlinks=False)]
    except FileNotFoundError:
        entries = []
    rows: list[tuple[Any, ...]] = []
    upserts = []
    for done, entry in enumerate(entries, 1):
        if progress is not None and done % 500 == 0:
            progress(done, len(entries))
        stored_row = previous.pop(entry.name, None)
        old = Row(*stored_row) if stored_row is not None else None
        row = _read(entry.path, entry.name, old)
        if row is None:
            continue
        if row is not old:
            upserts.append(row)
        rows.append(row)
    return rows, upserts, list(previous)


def _listed(directory: str, rows: list[tuple[Any, ...]], report: ScanReport) -> list[Listed]:
    """The sound runs among ``rows``; damaged ones and directories where no run started go to ``report``."""
    prefix = directory + os.sep
    listed: list[Listed] = []
    for row in rows:
        if _settled(row):
            listed.append((prefix + row[_NAME], row[_ID], row[_CREATED_AT], row[_RECORD], row[_SUMMARY]))
            continue
        row = Row(*row)
        run_directory = prefix + row.name
        if row.problem is not None:
            report.damaged.append(f"{run_directory}: {row.problem}")
        elif row.record is None:
            if not is_held(os.path.join(run_directory, _layout.LOCK_FILE)):  # else a run being started now
                report.incomplete.append(run_directory)
        else:
            assert row.id is not None and row.created_at is not None
            listed.append((run_directory, row.id, row.created_at, row.record, row.summary))
    return listed
