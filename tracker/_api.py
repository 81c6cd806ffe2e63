"""``tracker.Api``: read runs back from a store, including live and crashed ones, without writing."""

from __future__ import annotations

import contextlib
import functools
import heapq
import operator
import os
from collections.abc import Callable, Iterable, Iterator
from typing import IO, TYPE_CHECKING, Any, BinaryIO

from tracker import _layout, _validate, console
from tracker._errors import Error, UsageError
from tracker._index import Entry, Filters, Listing, ScanReport, project_listing, unsupported_format
from tracker._journal import (
    EVENT,
    FINAL_STATES,
    STEP,
    BadLines,
    DamagedFile,
    decode_json,
    last_record,
    read_json_object,
    read_records,
    run_record_problem,
)
from tracker._lock import is_held
from tracker._metadata import utc_now_iso
from tracker._settings import resolve_root_dir
from tracker._summary import replay
from tracker.atomic import write_atomic

if TYPE_CHECKING:
    from tracker._run import Run

STATES = ("running", "finished", "failed", "crashed", "preempted")
_order = operator.attrgetter("created_at", "id")  # listing order


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


def _references(value: Any) -> Iterator[dict[str, Any]]:
    """Media references (dicts with a ``_type`` and a ``path``) in a history value."""
    if isinstance(value, dict) and isinstance(value.get("_type"), str) and "path" in value:
        yield value
    elif isinstance(value, list):
        for item in value:
            yield from _references(item)


class RunView:
    """A read-only view of one stored run, as ``Api.run()`` and ``Api.runs()`` return it.

    Damaged parts of a run (a bad line in its history, an unreadable config) are skipped with one
    warning naming the run, never raised: one bad file must not hide the rest of a store.
    """

    _listing: Listing  # where views made by ``_listed`` find their run.json and summary (see __getattr__)
    _record: dict[str, Any]  # run.json
    _summary: dict[str, Any] | bytes | None  # the final summary, compact JSON until decoded; None: not stored
    id: str  # both checked in run.json (run_record_problem) before a view is made
    created_at: str
    _state: str | None = None
    _warned: frozenset[str] = frozenset()

    def __init__(self, directory: str, record: dict[str, Any], summary: dict[str, Any] | None = None) -> None:
        problem = unsupported_format(record)
        if problem is not None:
            raise Error(f"{directory} {problem}")
        self.directory = directory  # the run's directory in the store
        self._record = record
        self.id, self.created_at = record["id"], record["created_at"]
        self._summary = summary

    @classmethod
    def _listed(cls, listing: Listing, entries: list[Entry]) -> list[RunView]:
        """Views of listed runs whose run.json and summary are read and decoded only when first needed."""
        new = cls.__new__
        views = []
        for directory, run_id, created_at in entries:
            view = new(cls)
            view.directory, view.id, view.created_at, view._listing = directory, run_id, created_at, listing
            views.append(view)
        return views

    def _stored_record(self) -> dict[str, Any]:
        """run.json as the run index holds it, else as the run's own file holds it (for views made by ``_listed``)."""
        stored = self._listing.files(self.directory)[0]
        try:
            record = None if stored is None else decode_json(stored, "run.json in the run index")
        except DamagedFile:
            record = None
        if not isinstance(record, dict):  # not in the index, or damaged there: the run's own file
            with contextlib.suppress(Error):
                record = read_json_object(self._paths.run, "run.json")
        return record if isinstance(record, dict) else {"id": self.id, "created_at": self.created_at}

    @functools.cached_property
    def _paths(self) -> _layout.RunPaths:
        return _layout.RunPaths(self.directory)

    @classmethod
    def load(cls, directory: str) -> RunView | None:
        """The run stored in ``directory``; None when there is none; DamagedFile when its run.json is unusable."""
        record = read_json_object(os.path.join(directory, _layout.RUN_FILE), "run.json")
        if record is None:
            return None
        problem = run_record_problem(record)
        if problem is not None:
            raise DamagedFile(f"{directory}: {problem}")
        return cls(directory, record)

    def __getattr__(self, name: str) -> Any:
        # reached only for attributes not set yet: a listed view reads its run.json and summary on first use
        if name == "_record":
            self._record = self._stored_record()
            return self._record
        if name == "_summary":
            self._summary = self._listing.files(self.directory)[1]
            return self._summary
        if name in ("name", "project", "entity", "group", "job_type", "notes"):
            return self._record.get(name)
        raise AttributeError(f"{type(self).__name__} has no attribute {name!r}")

    def _warn(self, problem: str) -> None:
        if problem not in self._warned:
            self._warned |= {problem}
            console.warn(f"run {self.project}/{self.id}: {problem}")

    @property
    def path(self) -> str:
        """``entity/project/id`` (``project/id`` without an entity), as Api.run() accepts it."""
        return "/".join(part for part in (self.entity, self.project, self.id) if part)

    @property
    def tags(self) -> tuple[str, ...]:
        return tuple(self._record.get("tags") or ())

    @property
    def state(self) -> str:
        """running, finished, failed, crashed (writer died) or preempted."""
        if self._state is None:
            state = self._record.get("state", "running")
            if state == "running" and not is_held(self._paths.lock):
                state = self._state_after_death()
            self._state = state
        return self._state

    def _state_after_death(self) -> str:
        """No process holds the run: it finished between our reads, or died (after its finish record, maybe)."""
        try:
            fresh = read_json_object(self._paths.run, "run.json")
        except DamagedFile:
            fresh = None
        if fresh is not None and run_record_problem(fresh) is None:
            self._record = fresh
        if self._record.get("state") != "running":
            return str(self._record["state"])
        last = last_record(self._paths.history)
        if last is not None and last.get(EVENT) == "finish":  # finish() could not write run.json (full disk)
            self._record = {**self._record, "state": last["state"], "exit_code": last["exit_code"]}
            return str(last["state"])
        return "preempted" if self._record.get("preempting") else "crashed"

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

    def _object_file(self, path: str, what: str) -> dict[str, Any]:
        try:
            return read_json_object(path, what) or {}
        except DamagedFile as error:
            self._warn(str(error))
            return {}

    @property
    def config(self) -> dict[str, Any]:
        return self._object_file(self._paths.config, "config.json")

    @property
    def metadata(self) -> dict[str, Any]:
        return self._object_file(self._paths.metadata, "metadata.json")

    def _records(self) -> Iterator[dict[str, Any]]:
        """The journal's well-formed records; the bad ones are reported once."""
        bad = BadLines()
        yield from read_records(self._paths.history, bad)
        if (warning := bad.report("history.jsonl")) is not None:
            self._warn(warning)

    @property
    def summary(self) -> dict[str, Any]:
        """The final summary of a finished run; rebuilt from the history for a live or crashed one."""
        if isinstance(self._summary, bytes):
            try:
                decoded = decode_json(self._summary, "summary.json in the run index")
            except DamagedFile:
                decoded = None
            self._summary = decoded if isinstance(decoded, dict) else None
        if self._summary is None:
            # summary.json is final only when run.json itself says the run ended: a resumed run that
            # died keeps the summary.json of its earlier process, which the history has outgrown
            final = self.state in FINAL_STATES and self._record.get("state") in FINAL_STATES
            stored = self._object_file(self._paths.summary, "summary.json") if final else None
            self._summary = stored if stored else replay(self._records())[0].values
        return dict(self._summary)

    @property
    def files_dir(self) -> str:
        return self._paths.files

    def history(self, keys: str | Iterable[str] | None = None, samples: int | None = None) -> list[dict[str, Any]]:
        """Rows in step order; with ``keys``, only rows holding all of them, cut to those keys; with
        ``samples``, at most that many rows, evenly spaced and keeping the first and last."""
        if samples is not None and (isinstance(samples, bool) or not isinstance(samples, int) or samples < 1):
            raise UsageError(f"history(samples={samples!r}) must be a positive int")
        rows = list(self.scan_history(keys))
        if samples is None or len(rows) <= samples:
            return rows
        if samples == 1:
            return rows[-1:]
        last = len(rows) - 1
        return [rows[round(index * last / (samples - 1))] for index in range(samples)]

    def scan_history(self, keys: str | Iterable[str] | None = None) -> Iterator[dict[str, Any]]:
        """Rows one at a time, as ``history()`` filters them, without holding the whole history in memory."""
        rows = merge_rows(self._records())
        if keys is None:
            yield from rows
            return
        wanted = [keys] if isinstance(keys, str) else list(keys)
        kept = ("_step", "_runtime", "_timestamp", *wanted)
        for row in rows:
            if all(key in row for key in wanted):
                yield {key: row[key] for key in kept if key in row}

    def system_metrics(self) -> list[dict[str, Any]]:
        """The background sampler's records (``system/...`` keys with ``_timestamp`` and ``_runtime``)."""
        from tracker._system import read_samples

        return list(read_samples(self.directory))

    def media(self, keys: str | Iterable[str] | None = None) -> list[dict[str, Any]]:
        """The media references of the history (also inside lists), each with its ``_step`` and ``key``."""
        found: list[dict[str, Any]] = []
        for row in self.scan_history(keys):
            for key, value in row.items():
                for reference in _references(value):
                    found.append({"_step": row["_step"], "key": key, **reference})
        return found

    def file(self, path: str | dict[str, Any]) -> BinaryIO:
        """Open a stored file of this run for reading: a path inside the run directory (``media/...``,
        ``files/...``) or a media reference; a path that leads outside the run is refused."""
        if isinstance(path, dict):
            path = path.get("path")  # type: ignore[assignment]
        if not isinstance(path, str) or not path:
            raise UsageError(f"file(path={path!r}) needs a path inside the run directory or a media reference")
        base = os.path.realpath(self.directory)
        target = os.path.realpath(os.path.join(base, path))
        if os.path.commonpath([base, target]) != base or target == base:
            raise UsageError(f"file(path={path!r}) leads outside run {self.id}'s directory")
        try:
            return open(target, "rb")
        except OSError as error:
            raise UsageError(f"file(path={path!r}): run {self.id} has no such file ({error.strerror})") from None

    def _artifacts(self, use: str) -> list[Any]:
        from tracker._artifacts import ArtifactStore, lineage

        root, found = _layout.root_of_run(self.directory), []
        for record in lineage(self.directory):
            if record["use"] == use:
                try:
                    found.append(ArtifactStore(root, record["project"]).get(record["name"], record["version"]))
                except Error as error:
                    self._warn(str(error))
        return found

    def logged_artifacts(self) -> list[Any]:
        """The artifact versions this run logged, in order (as ``tracker.Artifact``, ready to ``download()``)."""
        return self._artifacts("logged")

    def used_artifacts(self) -> list[Any]:
        """The artifact versions this run used as inputs, in order."""
        return self._artifacts("used")

    def __repr__(self) -> str:
        return f"<RunView {self.project}/{self.id} {self.state}>"


class Api:
    """Read access to the runs under ``dir`` (the same value given to ``init(dir=...)``), or on a server.

    With ``base_url`` (or, when no ``dir`` is given, ``TRACKER_BASE_URL``), the runs come from that
    tracking server, read with ``api_key`` (else ``TRACKER_API_KEY``, else the key `tracker login` stored).
    """

    def __new__(
        cls, dir: str | os.PathLike[str] | None = None, base_url: str | None = None, api_key: str | None = None
    ) -> Any:
        from tracker._settings import getenv

        if base_url is None and dir is None:
            base_url = getenv("TRACKER_BASE_URL")
        if base_url is None:
            return super().__new__(cls)
        from tracker import _credentials
        from tracker._remote import RemoteApi
        from tracker._settings import _base_url

        url, key = _credentials.configured_server(_base_url("base_url", base_url), api_key or getenv("TRACKER_API_KEY"))
        assert url is not None
        return RemoteApi(url, key)

    def __init__(
        self, dir: str | os.PathLike[str] | None = None, base_url: str | None = None, api_key: str | None = None
    ) -> None:
        self.root = _layout.store_root(resolve_root_dir(dir) or os.getcwd())

    def projects(self) -> list[str]:
        try:
            entries = os.scandir(_layout.projects_dir(self.root))
        except FileNotFoundError:
            return []
        return sorted(entry.name for entry in entries if entry.is_dir(follow_symlinks=False) and _is_name(entry.name))

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
        """Runs of a project, oldest first, read from the store without locking it (live runs included).

        Damaged runs are skipped, each with a warning naming it, so one broken directory does not hide
        the others.

        Args:
            project: the project's name; None lists the runs of every project in the store.
            group: keep only the runs of this group (e.g. one sweep).
            tags: keep only the runs holding all of these tags (a single tag may be given as a str).
            state: keep only the runs in this state (``running``, ``finished``, ``failed``, ``crashed``,
                ``preempted``); any other value is a UsageError.
            job_type: keep only the runs of this job type.
            progress: called as ``progress(done, total)`` while a large project is scanned.

        Returns:
            A RunView per run, sorted by creation time, then id.

        >>> import tempfile
        >>> import tracker
        >>> with tempfile.TemporaryDirectory() as store:
        ...     tracker.init(project="demo", dir=store, name="first", mode="offline").finish()
        ...     [run.name for run in tracker.Api(store).runs("demo", state="finished")]
        ['first']
        """
        if state is not None and state not in STATES:
            raise UsageError(f"state={state!r} is not a run state; choose one of {', '.join(STATES)}")
        filters = Filters(group, job_type, state, frozenset([tags] if isinstance(tags, str) else tags or ()))
        projects = self.projects() if project is None else [_validate.identifier("project", project)]
        report = ScanReport()
        result: list[RunView] = []
        for name in projects:
            listing = project_listing(self.root, name, report, filters, progress)
            views = RunView._listed(listing, listing.runs)
            checked = [view for view in RunView._listed(listing, listing.unchecked) if filters.keeps(view)]
            result.extend(heapq.merge(views, checked, key=_order) if checked else views)
        for warning in report.warnings():
            console.warn(warning)
        if len(projects) > 1:
            result.sort(key=_order)
        return result

    def run(self, path: str) -> RunView:
        """One run by ``project/id`` or ``entity/project/id``."""
        parts = path.strip("/").split("/") if isinstance(path, str) else []
        if len(parts) not in (2, 3):
            raise UsageError(f"run path {path!r} must be 'project/run_id' or 'entity/project/run_id'")
        for part, what in zip(parts, ("entity", "project", "run id")[3 - len(parts) :], strict=True):
            _validate.identifier(f"run path {path!r}: {what}", part)
        project, run_id = parts[-2], parts[-1]
        view = RunView.load(_layout.run_dir(self.root, project, run_id))
        if view is None:
            raise Error(f"no run {project}/{run_id} in {self.root}")
        return view

    def artifact(self, name: str, type: str | None = None) -> Any:
        """One artifact version: ``project/name:alias`` or ``project/name:v3`` (``latest`` if no alias)."""
        from tracker._artifacts import ArtifactStore, parse_reference

        if not isinstance(name, str) or "/" not in name:
            raise UsageError(f"artifact {name!r} must be 'project/name', 'project/name:alias' or 'project/name:v3'")
        project, artifact_name, alias = parse_reference(name, "")
        artifact = ArtifactStore(self.root, project).get(artifact_name, alias)
        if type is not None and artifact.type != type:
            raise UsageError(f"artifact {artifact.qualified_name} is of type {artifact.type!r}, not {type!r}")
        return artifact

    def artifact_versions(self, project: str, name: str) -> list[Any]:
        """Every version of one artifact, oldest first."""
        from tracker._artifacts import ArtifactStore

        return ArtifactStore(self.root, project).versions(name)

    def artifact_names(self, project: str) -> list[str]:
        """The artifact names of a project."""
        from tracker._artifacts import ArtifactStore

        return ArtifactStore(self.root, project).names()


def _is_name(name: str) -> bool:
    """Whether a directory name is a valid project (anything else under projects/ is not ours)."""
    try:
        _validate.identifier("project", name)
    except UsageError:
        return False
    return True


def restore(name: str, *, run_path: str | None, replace: bool, root: str | None, current: Run | None) -> IO[str]:
    """``tracker.restore``: the run's saved file ``name`` copied into ``root`` (default: the current run's
    folder, else the cwd) unless it is there already, then opened for reading."""
    if run_path is None:
        if current is None:
            raise UsageError("restore: run_path is needed without an active run (e.g. 'project/run_id')")
        run_path = current.path
    run_directory = os.path.dirname(current.dir) if current is not None else None
    if run_directory is not None and os.path.isfile(os.path.join(run_directory, _layout.RUN_FILE)):
        reader: Any = Api(dir=os.path.dirname(_layout.root_of_run(run_directory)))  # the current run's store
    else:
        reader = Api()
    target = os.path.join(root if root is not None else (current.dir if current is not None else "."), name)
    if replace or not os.path.exists(target):
        with reader.run(run_path).file(f"{_layout.FILES_DIR}/{name}") as source:
            data = source.read()
        os.makedirs(os.path.dirname(os.path.abspath(target)), exist_ok=True)
        write_atomic(target, data)
    return open(target, encoding="utf-8")
