"""A rebuildable cache of each run's run.json and summary.json, so listing 10,000 runs stays fast.

The cache is one file per project under ``<root>/cache/``, written by readers only (atomically;
the last writer wins). An entry is trusted while its run.json keeps the same size and mtime: a
finished run never rewrites it, and anything that changes a run (resume, rename, finish) does.
Deleting the cache loses nothing.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import orjson

from tracker import _layout
from tracker._journal import read_json, write_json_atomic

CACHE_VERSION = 2
# States whose summary.json is final; other runs are summarized from their history on demand.
FINAL_STATES = ("finished", "failed", "preempted")


def _cache_path(root: str, project: str) -> str:
    return os.path.join(root, "cache", f"runs-{project}.json")


def _load_cache(path: str) -> dict[str, Any]:
    try:
        with open(path, "rb") as handle:
            cache = orjson.loads(handle.read())
    except (FileNotFoundError, orjson.JSONDecodeError):
        return {}
    return cache.get("runs", {}) if isinstance(cache, dict) and cache.get("version") == CACHE_VERSION else {}


def project_records(
    root: str, project: str, progress: Callable[[int, int], None] | None = None
) -> list[tuple[str, dict[str, Any], dict[str, Any] | None]]:
    """(run directory, run.json, final summary or None) for every run of a project."""
    directory = _layout.project_dir(root, project)
    try:
        entries = [entry for entry in os.scandir(directory) if entry.is_dir()]
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
            stat = os.stat(os.path.join(entry.path, _layout.RUN_FILE))
        except FileNotFoundError:
            continue  # being created, or not a run
        signature = [stat.st_ino, stat.st_size, stat.st_mtime_ns]  # every atomic replace has a new inode
        hit = cached.get(entry.name)
        if hit is not None and hit["signature"] == signature:
            record, summary = hit["run"], hit["summary"]
        else:
            record = read_json(os.path.join(entry.path, _layout.RUN_FILE))
            if not isinstance(record, dict):
                continue
            summary = None
            if record.get("state") in FINAL_STATES:
                summary = read_json(os.path.join(entry.path, _layout.SUMMARY_FILE))
            changed = True
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
