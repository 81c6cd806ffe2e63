"""A rebuildable SQLite index of each project's runs (run.json + final summary), so a listing is one query.

A listing reads only names, ids and creation times, already filtered and in order; the stored run.json
and summary of the listed runs are read together when a view first needs one.

The run directories stay the source of truth; the index (``<root>/cache/runs-<project>.v<N>.sqlite``,
N its layout's version, so trackers of two versions sharing a store keep one each rather than
replacing each other's) is written by readers only and trusted as follows:

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

SCHEMA_VERSION = 2  # PRAGMA user_version of an index of this layout; an index of another version is rebuilt
RACY_S = 2.0  # how long after a directory change its mtime is not trusted (clock ticks, NFS server time)
_BUSY_S = 0.2  # how long a reader waits for another reader's write before listing without the index
_MAX_NAMES = 900  # runs whose stored files are looked up by name; more read the whole table (SQLite allows 999
# parameters at least)

# The narrow ``runs`` table answers a listing (the ``listing`` index lists settled runs in order without a sort);
# run.json and summary.json sit in ``records``, read only when a view needs them.
_SCHEMA = (
    "CREATE TABLE meta (key TEXT PRIMARY KEY, value) WITHOUT ROWID",
    """CREATE TABLE runs (
        name TEXT PRIMARY KEY,  -- the run directory's name
        ino INTEGER, size INTEGER, mtime_ns INTEGER,  -- run.json's signature when the row was read, NULL if none
        state TEXT,  -- run.json's state, NULL for a directory without a sound run.json
        created_at TEXT, id TEXT,
        run_group TEXT, job_type TEXT, tags TEXT,  -- run.json's, for the filters (tags: a JSON list)
        problem TEXT,  -- why run.json is unusable, or NULL
        settled INTEGER NOT NULL  -- 1: only a new directory signature can change the row (see _settled)
    ) WITHOUT ROWID""",
    "CREATE INDEX listing ON runs (settled, created_at, id)",
    """CREATE TABLE records (
        name TEXT PRIMARY KEY,
        record BLOB,  -- run.json, compact (encode_json), NULL when unusable
        summary BLOB  -- summary.json of a finished run, compact, NULL to rebuild it from the history
    ) WITHOUT ROWID""",
)
_NARROW = "name, ino, size, mtime_ns, state, created_at, id, run_group, job_type, tags, problem"


class Row(NamedTuple):
    """One run directory as the index holds it; rows read back from the index leave record and summary None."""

    name: str
    ino: int | None = None
    size: int | None = None
    mtime_ns: int | None = None
    state: str | None = None
    created_at: str | None = None
    id: str | None = None
    group: str | None = None
    job_type: str | None = None
    tags: str | None = None
    problem: str | None = None
    record: bytes | None = None
    summary: bytes | None = None


# Rows are read as plain tuples of the narrow columns and become ``Row`` only where they are looked at.
_NAME, _STATE, _PROBLEM = map(Row._fields.index, ("name", "state", "problem"))

# A sound run of a listing: (run directory, id, created_at).
Entry = tuple[str, str, str]


def _settled(row: tuple[Any, ...]) -> bool:
    """Whether only a new directory signature can change this row (a finished run with a sound run.json)."""
    return row[_STATE] in FINAL_STATES and row[_PROBLEM] is None


class Filters(NamedTuple):
    """Which runs a listing keeps (``Api.runs``' filters), as SQL over the index and as a test of a view."""

    group: str | None = None
    job_type: str | None = None
    state: str | None = None
    tags: frozenset[str] = frozenset()

    def sql(self) -> tuple[str, list[str]]:
        """``AND ...`` conditions over ``runs`` with their parameters (tags through SQLite's json_each: where
        SQLite lacks it, the query fails like a locked index and the listing scans)."""
        clauses, parameters = [], []
        for column, value in (("run_group", self.group), ("job_type", self.job_type), ("state", self.state)):
            if value is not None:
                clauses.append(f" AND {column} = ?")
                parameters.append(value)
        for tag in sorted(self.tags):
            clauses.append(" AND EXISTS (SELECT 1 FROM json_each(runs.tags) WHERE value = ?)")
            parameters.append(tag)
        return "".join(clauses), parameters

    def keeps(self, view: Any) -> bool:
        """Whether a run view passes (``view.state`` last: it may have to look at the run's lock)."""
        if self.group is not None and view.group != self.group:
            return False
        if self.job_type is not None and view.job_type != self.job_type:
            return False
        if self.tags and not self.tags <= set(view.tags):
            return False
        return self.state is None or view.state == self.state


class Listing:
    """The sound runs of one project in listing order, with their run.json and summary.json on demand.

    ``runs`` passed the filters in the index; ``unchecked`` (live runs, or every run when the index could
    not be used) still have to be tested against them. The stored files of all the runs the index listed
    are read together, the first time a view needs one: a listing that only looks at ids reads none.
    """

    def __init__(self, directory: str, index: str | None) -> None:
        self.runs: list[Entry] = []
        self.unchecked: list[Entry] = []
        self._prefix = directory + os.sep  # the project directory's
        self._index = index  # None once read (or when there is none)
        self._files: dict[str, tuple[bytes | None, bytes | None]] = {}  # run directory: (run.json, summary.json)

    def files(self, run_directory: str) -> tuple[bytes | None, bytes | None]:
        """(run.json, summary.json) of a listed run, compact; None where the index has none (read the run's files)."""
        found = self._files.get(run_directory)
        if found is None and self._index is not None:
            self._load(self._index)
            found = self._files.get(run_directory)
        return found or (None, None)

    def _load(self, path: str) -> None:
        import sqlite3

        self._index = None
        cut = len(self._prefix)
        wanted = {entry[0][cut:]: entry[0] for entry in (*self.runs, *self.unchecked) if entry[0] not in self._files}
        with contextlib.suppress(sqlite3.Error):  # gone, damaged or rebuilt meanwhile: the views read the run files
            index = _Index(path)
            try:
                for name, record, summary in index.stored_files(list(wanted)):
                    if name in wanted:
                        self._files[wanted[name]] = (record, summary)
            finally:
                index.close()


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
    return os.path.join(root, "cache", f"runs-{project}.v{SCHEMA_VERSION}.sqlite")


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
        group=record.get("group"),
        job_type=record.get("job_type"),
        tags=encode_json("run.json tags", record.get("tags") or [], pretty=False).decode(),
        record=encode_json("run.json", record, pretty=False),
        summary=None if summary is None else encode_json("summary.json", summary, pretty=False),
    )


def _unstarted(directory: str, name: str) -> Row | None:
    """A directory without run.json (a run being started, or debris), or None when the directory is gone."""
    return Row(name) if os.path.isdir(directory) else None


class _Index:
    """The open index file of one project; every method raises sqlite3.Error when the file is unusable.

    Each write holds one reader's snapshot plus what that reader found changed, and only lands if no
    other reader wrote since the snapshot was read (``snapshot``), so rows never mix two scans.
    """

    def __init__(self, path: str) -> None:
        import sqlite3

        self.connection = sqlite3.connect(path, timeout=_BUSY_S, isolation_level=None)
        try:
            self.connection.execute("PRAGMA synchronous=OFF")  # a cache: a file torn by a power cut is rebuilt
        except BaseException:
            self.connection.close()
            raise
        self.snapshot: tuple[int, Any] | None = None  # (user_version, generation) as ``read()`` found them

    def _version(self) -> tuple[int, Any]:
        """(schema version, write generation); a file of another version raises DatabaseError (it is replaced)."""
        import sqlite3

        execute = self.connection.execute
        version = execute("PRAGMA user_version").fetchone()[0]
        if version == SCHEMA_VERSION:
            return version, execute("SELECT value FROM meta WHERE key = 'generation'").fetchone()
        if version != 0 or execute("SELECT count(*) FROM sqlite_master").fetchone()[0]:
            raise sqlite3.DatabaseError(f"a run index of schema version {version}, not {SCHEMA_VERSION}")
        return 0, None  # a new file

    def read(
        self, signature: str, filters: Filters, prefix: str
    ) -> tuple[str | None, list[Entry], list[tuple[Any, ...]]]:
        """(stored project directory signature, settled runs passing ``filters`` in order, the other rows) when
        the stored signature is ``signature``; else (stored signature, [], every row). One snapshot."""
        execute = self.connection.execute
        execute("BEGIN")
        try:
            self.snapshot = self._version()
            if self.snapshot[0] != SCHEMA_VERSION:
                return None, [], []
            stored = execute("SELECT value FROM meta WHERE key = 'signature'").fetchone()
            stored_signature = stored[0] if stored else None
            if stored_signature != signature:
                return stored_signature, [], execute(f"SELECT {_NARROW} FROM runs").fetchall()
            settled = self._settled(filters, prefix)
            return stored_signature, settled, execute(f"SELECT {_NARROW} FROM runs WHERE settled = 0").fetchall()
        finally:
            execute("COMMIT")

    def _settled(self, filters: Filters, prefix: str) -> list[Entry]:
        conditions, parameters = filters.sql()
        return self.connection.execute(
            f"SELECT ? || name, id, created_at FROM runs WHERE settled = 1{conditions} ORDER BY created_at, id",
            [prefix, *parameters],
        ).fetchall()

    def write(
        self, signature: str | None, upserts: list[Row], deletes: list[str], listing: tuple[Filters, str] | None
    ) -> list[Entry] | None:
        """Apply what a listing found changed since ``read()``, unless another reader has written meanwhile
        (then None); with ``listing`` (filters, run directory prefix), return the settled runs as ``read()``."""
        execute = self.connection.execute
        execute("BEGIN IMMEDIATE")
        try:
            if self._version() != self.snapshot:
                execute("ROLLBACK")
                return None
            if self.snapshot is not None and self.snapshot[0] == 0:
                for statement in _SCHEMA:
                    execute(statement)
                execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            self.connection.executemany("DELETE FROM runs WHERE name = ?", [(name,) for name in deletes])
            self.connection.executemany("DELETE FROM records WHERE name = ?", [(name,) for name in deletes])
            self.connection.executemany(
                f"INSERT OR REPLACE INTO runs ({_NARROW}, settled) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [(*row[: Row._fields.index("record")], _settled(row)) for row in upserts],
            )
            self.connection.executemany(
                "INSERT OR REPLACE INTO records VALUES (?, ?, ?)",
                [(row.name, row.record, row.summary) for row in upserts],
            )
            generation = self.snapshot[1][0] if self.snapshot is not None and self.snapshot[1] else 0
            self.connection.executemany(
                "INSERT OR REPLACE INTO meta VALUES (?, ?)", [("signature", signature), ("generation", generation + 1)]
            )
            settled = self._settled(*listing) if listing is not None else []
            execute("COMMIT")
        except BaseException:
            with contextlib.suppress(Exception):
                execute("ROLLBACK")
            raise
        return settled

    def stored_files(self, names: list[str]) -> list[tuple[str, bytes | None, bytes | None]]:
        """(name, run.json, summary.json) of these runs, and of others when that is cheaper (many names); none
        from an index of another version."""
        execute = self.connection.execute
        execute("BEGIN")
        try:
            if execute("PRAGMA user_version").fetchone()[0] != SCHEMA_VERSION:
                return []
            if len(names) > _MAX_NAMES:  # a scan beats that many lookups, and SQLite limits the parameters
                return execute("SELECT name, record, summary FROM records").fetchall()
            return execute(
                f"SELECT name, record, summary FROM records WHERE name IN ({', '.join('?' * len(names))})", names
            ).fetchall()
        finally:
            execute("COMMIT")

    def close(self) -> None:
        self.connection.close()


def _read_index(
    path: str, signature: str, filters: Filters, prefix: str
) -> tuple[_Index | None, str | None, list[Entry], list[tuple[Any, ...]]]:
    """The open index with ``_Index.read()``'s answer, created if missing and replaced if damaged or of another
    version; (None, None, [], []) when it cannot be used now (a read-only store, another reader's write)."""
    import sqlite3

    with contextlib.suppress(OSError):
        os.makedirs(os.path.dirname(path), exist_ok=True)
    for attempt in (1, 2):
        index = None
        try:
            index = _Index(path)
            return index, *index.read(signature, filters, prefix)
        except sqlite3.OperationalError:  # locked, or cannot be opened or created
            pass
        except (sqlite3.DatabaseError, ValueError, TypeError):  # not a database, torn, of another version
            if attempt == 1:
                with contextlib.suppress(OSError):  # whoever has it open keeps reading the old file
                    os.unlink(path)
                if index is not None:
                    index.close()
                continue
        if index is not None:
            index.close()
        break
    return None, None, [], []


def project_listing(
    root: str,
    project: str,
    report: ScanReport,
    filters: Filters,
    progress: Callable[[int, int], None] | None = None,
) -> Listing:
    """Every sound run of a project in listing order (created_at, id); the rest go to ``report``."""
    import sqlite3

    directory = _layout.project_dir(root, project)
    prefix = directory + os.sep
    checked_at = time.time()
    try:
        status = os.stat(directory)
    except FileNotFoundError:
        return Listing(directory, None)
    signature = f"{status.st_ino} {status.st_mtime_ns} {status.st_nlink}"
    trusted = signature if checked_at - status.st_mtime_ns / 1e9 >= RACY_S else None
    path = index_path(root, project)
    index, stored_signature, settled, stored = _read_index(path, signature, filters, prefix)
    listing = Listing(directory, path if index is not None else None)
    try:
        if stored_signature == signature:  # the settled rows hold: look again only at the others
            rows, upserts, deletes = _check_changing(directory, stored)
        else:
            rows, upserts, deletes = _scan(directory, stored, progress)
        scanned = stored_signature != signature
        if index is not None and (upserts or deletes or scanned):
            # after a scan, the index that now holds it filters and orders the settled runs
            with contextlib.suppress(sqlite3.Error):  # locked by another reader, or a read-only store
                written = index.write(trusted, upserts, deletes, (filters, prefix) if scanned else None)
                if written is not None and scanned:
                    settled, rows = written, [row for row in rows if not _settled(row)]
    finally:
        if index is not None:
            index.close()
    listing.runs = settled
    listing.unchecked = _listed(prefix, rows, report, listing)
    if progress is not None:
        listed = len(listing.runs) + len(rows)
        progress(listed, listed)
    return listing


def _check_changing(directory: str, rows: list[tuple[Any, ...]]) -> tuple[list[Row], list[Row], list[str]]:
    """The stored rows, read again: (rows, rows changed, names gone)."""
    current: list[Row] = []
    upserts: list[Row] = []
    deletes: list[str] = []
    for row in rows:
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
) -> tuple[list[Row], list[Row], list[str]]:
    """Every run directory's row, stored rows reused while their run.json is unchanged."""
    previous = {row[_NAME]: row for row in stored}
    try:
        entries = [entry for entry in os.scandir(directory) if entry.is_dir(follow_symlinks=False)]
    except FileNotFoundError:
        entries = []
    rows: list[Row] = []
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


def _listed(prefix: str, rows: list[Row], report: ScanReport, listing: Listing) -> list[Entry]:
    """The sound runs among ``rows`` in order, their files as read now kept in ``listing``; damaged ones and
    directories where no run started go to ``report``."""
    listed: list[Entry] = []
    for row in rows:
        run_directory = prefix + row.name
        if row.problem is not None:
            report.damaged.append(f"{run_directory}: {row.problem}")
        elif row.id is None:
            if not is_held(os.path.join(run_directory, _layout.LOCK_FILE)):  # else a run being started now
                report.incomplete.append(run_directory)
        else:
            assert row.created_at is not None
            listed.append((run_directory, row.id, row.created_at))
            if row.record is not None:
                listing._files[run_directory] = (row.record, row.summary)
    listed.sort(key=operator.itemgetter(2, 1))
    return listed
