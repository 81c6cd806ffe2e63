"""``tracker.Api``: read runs back from a store, including live and crashed ones, without writing."""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from tracker import _layout, console
from tracker._errors import Error, UsageError
from tracker._index import FINAL_STATES, project_records
from tracker._journal import EVENT, STEP, read_json, read_records
from tracker._lock import is_held
from tracker._metadata import utc_now_iso
from tracker._settings import Settings
from tracker._summary import replay

STATES = ("running", "finished", "failed", "crashed", "preempted")


def merge_rows(records: Iterable[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """History rows in step order: consecutive records of one step (commit=False, explicit steps) merge."""
    pending: dict[str, Any] | None = None
    for record in records:
        if EVENT in record or STEP not in record:
            continue
        if pending is not None and pending[STEP] == record[STEP]:
            pending.update(record)
            continue
        if pending is not None:
            yield pending
        pending = dict(record)
    if pending is not None:
        yield pending


class RunView:
    """A read-only view of one stored run, as ``Api.run()`` and ``Api.runs()`` return it."""

    def __init__(self, directory: str, record: dict[str, Any], summary: dict[str, Any] | None = None) -> None:
        version = record.get("format_version", _layout.FORMAT_VERSION)
        if not isinstance(version, int) or version > _layout.FORMAT_VERSION:
            raise Error(
                f"{directory} uses store format {version!r}; this tracker reads up to {_layout.FORMAT_VERSION} "
                "(upgrade tracker)"
            )
        self.path = directory
        self._record = record
        self._state: str | None = None
        self._summary = summary

    @functools.cached_property
    def _paths(self) -> _layout.RunPaths:
        return _layout.RunPaths(self.path)

    @classmethod
    def load(cls, directory: str) -> RunView | None:
        record = read_json(os.path.join(directory, _layout.RUN_FILE))
        return cls(directory, record) if isinstance(record, dict) else None

    def __getattr__(self, name: str) -> Any:
        if name in ("id", "name", "project", "entity", "group", "job_type", "notes", "created_at"):
            return self._record.get(name)
        raise AttributeError(f"{type(self).__name__} has no attribute {name!r}")

    @property
    def tags(self) -> tuple[str, ...]:
        return tuple(self._record.get("tags") or ())

    @property
    def state(self) -> str:
        """running, finished, failed, crashed (writer died) or preempted."""
        if self._state is None:
            state = self._record.get("state", "running")
            if state == "running" and not is_held(self._paths.lock):
                # the writer may have finished between our read and the probe: look again
                fresh = read_json(self._paths.run)
                if isinstance(fresh, dict):
                    self._record = fresh
                state = self._record.get("state", "running")
                if state == "running":
                    state = "preempted" if self._record.get("preempting") else "crashed"
            self._state = state
        return self._state

    @property
    def exit_code(self) -> int | None:
        return self._record.get("exit_code") if self.state != "crashed" else None

    @property
    def updated_at(self) -> str | None:
        if self.state != "running":
            return self._record.get("updated_at")
        try:
            return utc_now_iso(os.stat(self._paths.history).st_mtime)
        except FileNotFoundError:
            return self._record.get("updated_at")

    @property
    def config(self) -> dict[str, Any]:
        return read_json(self._paths.config) or {}

    @property
    def metadata(self) -> dict[str, Any]:
        return read_json(self._paths.metadata) or {}

    @property
    def summary(self) -> dict[str, Any]:
        """The final summary of a finished run; rebuilt from the history for a live or crashed one."""
        if self._summary is None:
            # summary.json is final only when run.json itself says the run ended: a resumed run that
            # died keeps the summary.json of its earlier process, which the history has outgrown
            final = self.state in FINAL_STATES and self._record.get("state") in FINAL_STATES
            stored = read_json(self._paths.summary) if final else None
            if isinstance(stored, dict):
                self._summary = stored
            else:
                self._summary = replay(read_records(self._paths.history))[0].values
        return dict(self._summary)

    @property
    def files_dir(self) -> str:
        return self._paths.files

    def history(self, keys: Iterable[str] | None = None) -> list[dict[str, Any]]:
        """Rows in step order; with ``keys``, only rows holding all of them, cut to those keys."""
        rows = merge_rows(read_records(self._paths.history))
        if keys is None:
            return list(rows)
        wanted = [keys] if isinstance(keys, str) else list(keys)
        kept = ("_step", "_runtime", "_timestamp", *wanted)
        return [{key: row[key] for key in kept if key in row} for row in rows if all(k in row for k in wanted)]

    def __repr__(self) -> str:
        return f"<RunView {self.project}/{self.id} {self.state}>"


class Api:
    """Read access to the runs under ``dir`` (the same value given to ``init(dir=...)``)."""

    def __init__(self, dir: str | os.PathLike[str] | None = None) -> None:
        self.root = _layout.store_root(Settings.resolve(dir=dir).root_dir or os.getcwd())

    def projects(self) -> list[str]:
        try:
            return sorted(entry.name for entry in os.scandir(_layout.projects_dir(self.root)) if entry.is_dir())
        except FileNotFoundError:
            return []

    def runs(
        self,
        project: str | None,
        *,
        group: str | None = None,
        tags: str | Iterable[str] | None = None,
        state: str | None = None,
        job_type: str | None = None,
        progress: Callable[[int, int], None] | None = None,
    ) -> list[RunView]:
        """Runs of a project (None: of every project), oldest first.

        ``tags`` keeps runs holding all the given tags; ``progress(done, total)`` is called while a
        large project is scanned.
        """
        if state is not None and state not in STATES:
            raise UsageError(f"state={state!r} is not a run state; choose one of {', '.join(STATES)}")
        wanted_tags = set([tags] if isinstance(tags, str) else tags or ())
        projects = self.projects() if project is None else [project]
        result = []
        for name in projects:
            for directory, record, summary in project_records(self.root, name, progress):
                try:
                    view = RunView(directory, record, summary)
                except Error as error:
                    console.warn(f"skipped: {error}")
                    continue
                if self._keep(view, group, wanted_tags, state, job_type):
                    result.append(view)
        result.sort(key=lambda view: (view.created_at or "", view.id or ""))
        return result

    @staticmethod
    def _keep(view: RunView, group: str | None, tags: set[str], state: str | None, job_type: str | None) -> bool:
        if group is not None and view.group != group:
            return False
        if job_type is not None and view.job_type != job_type:
            return False
        if tags and not tags <= set(view.tags):
            return False
        return state is None or view.state == state

    def run(self, path: str) -> RunView:
        """One run by ``project/id`` or ``entity/project/id``."""
        parts = path.strip("/").split("/")
        if len(parts) not in (2, 3) or not all(parts):
            raise UsageError(f"run path {path!r} must be 'project/run_id' or 'entity/project/run_id'")
        project, run_id = parts[-2], parts[-1]
        view = RunView.load(_layout.run_dir(self.root, project, run_id))
        if view is None:
            raise Error(f"no run {project}/{run_id} in {self.root}")
        return view
