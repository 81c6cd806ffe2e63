"""A rebuildable cache of each run's run.json and summary.json, so listing 10,000 runs stays fast.

The cache is one file per project under ``<root>/cache/``, written by readers only (atomically;
the last writer wins). An entry is trusted while its run.json keeps the same inode, size and mtime:
a finished run never rewrites it, and anything that changes a run (resume, rename, finish) does.
Deleting the cache, or finding it damaged or of another version, loses nothing: it is rebuilt.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable
from typing import Any

import orjson

from tracker import _layout
from tracker._errors import Error
from tracker._journal import FINAL_STATES, read_json_object, run_record_problem, write_json_atomic
from tracker._lock import is_held

CACHE_VERSION = 3


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


def _cache_path(root: str, project: str) -> str:
    return os.path.join(root, "cache", f"runs-{project}.json")


def _load_cache(path: str) -> dict[str, Any]:
    try:
        with open(path, "rb") as handle:
            cache = orjson.loads(handle.read())
    except (OSError, orjson.JSONDecodeError):
        return {}
    if not isinstance(cache, dict) or cache.get("version") != CACHE_VERSION or not isinstance(cache.get("runs"), dict):
        return {}
    return cache["runs"]


def _cached(entry: Any, signature: list[int]) -> tuple[dict[str, Any], dict[str, Any] | None] | None:
    """A cache entry's (run.json, summary) if it is well-formed and still describes that run.json.

    Entries are checked in full when they are read from the run (``_read_run``), not again here:
    listing 10,000 cached runs must not pay for 10,000 validations.
    """
    if not isinstance(entry, dict) or entry.get("signature") != signature:
        return None
    record, summary = entry.get("run"), entry.get("summary")
    if not isinstance(record, dict) or not isinstance(summary, dict | None):
        return None
    return record, summary


def _read_run(directory: str) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """(run.json, final summary or None) from the run's files; DamagedFile when run.json is unusable."""
    record = read_json_object(os.path.join(directory, _layout.RUN_FILE), "run.json")
    problem = run_record_problem(record)
    if problem is not None:
        raise Error(problem)
    assert record is not None
    summary = None
    if record["state"] in FINAL_STATES:
        with contextlib.suppress(Error):  # a damaged summary.json is rebuilt from the history on demand
            summary = read_json_object(os.path.join(directory, _layout.SUMMARY_FILE), "summary.json")
    return record, summary


def project_records(
    root: str, project: str, report: ScanReport, progress: Callable[[int, int], None] | None = None
) -> list[tuple[str, dict[str, Any], dict[str, Any] | None]]:
    """(run directory, run.json, final summary or None) for every sound run of a project; the rest go to ``report``."""
    directory = _layout.project_dir(root, project)
    try:
        entries = [entry for entry in os.scandir(directory) if entry.is_dir(follow_symlinks=False)]
    except FileNotFoundError:
        return []
    cache_path = _cache_path(root, project)
    cached = _load_cache(cache_path)
    fresh: dict[str, Any] = {}
    records = []
    changed = False
    for done, entry in enumerate(entries, 1):
        if progress is not None and done % 500 == 0:
            progress(done, len(entries))
        try:
            status = os.stat(os.path.join(entry.path, _layout.RUN_FILE), follow_symlinks=False)
        except FileNotFoundError:
            if not is_held(os.path.join(entry.path, _layout.LOCK_FILE)):  # else a run being started now
                report.incomplete.append(entry.path)
            continue
        except OSError as error:
            report.damaged.append(f"{entry.path}: run.json cannot be read ({error.strerror or error})")
            continue
        signature = [status.st_ino, status.st_size, status.st_mtime_ns]  # every atomic replace has a new inode
        hit = _cached(cached.get(entry.name), signature)
        if hit is None:
            try:
                hit = _read_run(entry.path)
            except Error as error:
                report.damaged.append(f"{entry.path}: {error}")
                continue
            changed = True
        record, summary = hit
        fresh[entry.name] = {"signature": signature, "run": record, "summary": summary}
        records.append((entry.path, record, summary))
    if changed or len(fresh) != len(cached):
        try:
            os.makedirs(os.path.dirname(cache_path), exist_ok=True)
            write_json_atomic(cache_path, {"version": CACHE_VERSION, "runs": fresh}, pretty=False)
        except OSError:
            pass  # a read-only store is still readable, only slower
    if progress is not None:
        progress(len(entries), len(entries))
    return records
