"""Which run ``resume="auto"`` continues: the one started last from this store, from one marker per run.

A run's marker (``resume/<project>/<run_id>.json``) is replaced, when the run starts or resumes, only
by the process holding that run's lock, so no file at the store root has two writers, even with many
hosts on one NFS or Lustre store. Readers merge the markers: the newest wins (by mtime, which the
filesystem sets: on NFS the server's clock, so the hosts' clocks need not agree; ties by the ``at``
written inside). A store written before the markers has one ``resume.json`` at its root, still read
as one more candidate.
"""

from __future__ import annotations

import contextlib
import os
import time
from typing import Any

from tracker import _layout
from tracker._journal import read_json_object, write_json_atomic
from tracker._metadata import hostname

_WHAT = "the resume file"


def mark_started(root: str, project: str, run_id: str) -> None:
    """Record that this process started (or resumed) ``project/run_id``; the caller holds its lock."""
    path = _layout.resume_marker(root, project, run_id)
    _layout.ensure_dir(os.path.dirname(path))
    write_json_atomic(
        path,
        {"run_id": run_id, "project": project, "host": hostname(), "pid": os.getpid(), "at": time.time()},
    )


def last_started(root: str, project: str) -> tuple[str, Any] | None:
    """The newest marker of ``project`` and the run id it names (not yet validated), or None.

    Raises DamagedFile (an ``Error``) when the newest marker cannot be read.
    """
    candidates = _markers(_layout.resume_dir(root, project))
    legacy = _layout.resume_file(root)
    with contextlib.suppress(OSError):
        candidates.append((os.stat(legacy).st_mtime_ns, legacy))
    for mtime in sorted({mtime for mtime, _path in candidates}, reverse=True):  # newest first
        records = []
        for path in (path for candidate_mtime, path in candidates if candidate_mtime == mtime):
            record = read_json_object(path, _WHAT)
            if record is not None and record.get("project") == project:  # an old resume.json may name another
                at = record.get("at")
                records.append((at if isinstance(at, int | float) else 0.0, path, record.get("run_id")))
        if records:
            _at, path, run_id = max(records, key=lambda item: (item[0], item[1]))
            return path, run_id
    return None


def _markers(directory: str) -> list[tuple[int, str]]:
    found = []
    try:
        with os.scandir(directory) as entries:
            for entry in entries:
                if entry.name.endswith(".json"):  # not the temp files of a replace in progress
                    try:
                        found.append((entry.stat(follow_symlinks=False).st_mtime_ns, entry.path))
                    except OSError:  # replaced or removed while listing
                        continue
    except (FileNotFoundError, NotADirectoryError):
        pass
    return found
