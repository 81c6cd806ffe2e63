"""``Run``: the live handle init() returns; log() is the hot path, finish() the one way out."""

from __future__ import annotations

import contextlib
import functools
import glob
import operator
import os
import threading
import time
from collections.abc import Callable, Mapping
from threading import get_ident
from typing import Any, Literal

from tracker import _background, _journal, _layout, _output, _process, _validate, console
from tracker._config import Config
from tracker._errors import StorageError, UsageError
from tracker._journal import EVENT, MAX_STEP, RESERVED_KEYS, RUNTIME, STEP, TIMESTAMP
from tracker._logs import DebugLog
from tracker._metadata import utc_now_iso
from tracker._summary import Summary, SummaryState, parse_rule
from tracker._writer import NullWriter, RunWriter

SAVE_POLICIES = ("live", "now", "end")
_PLAIN = frozenset({int, float, str, bool, type(None)})  # values a row can hold without conversion
_STEP_WARNINGS_SHOWN = 5


class Identity:
    """Who a run is: the fields of run.json that users name and filter by."""

    __slots__ = ("entity", "group", "id", "job_type", "name", "notes", "project", "tags")

    def __init__(
        self,
        id: str,
        name: str,
        project: str,
        entity: str | None,
        group: str | None,
        job_type: str,
        tags: tuple[str, ...],
        notes: str | None,
    ) -> None:
        self.id, self.name, self.project, self.entity = id, name, project, entity
        self.group, self.job_type, self.tags, self.notes = group, job_type, tags, notes


def _checked_step(step: Any) -> int:
    """An explicit step of another integer type (numpy, torch) as an int; bools and floats are refused."""
    if isinstance(step, bool):
        raise TypeError(f"log(step={step!r}) must be an int")
    try:
        return operator.index(step)
    except TypeError:
        raise TypeError(f"log(step={step!r}) must be an int, not {type(step).__name__}") from None


class Run:
    """A tracked run. Create it with ``tracker.init()``."""

    def __init__(
        self,
        identity: Identity,
        *,
        writer: RunWriter | NullWriter,
        config: dict[str, Any],
        summary: SummaryState,
        allow_val_change: bool,
        starting_step: int,
        resumed: bool,
        runtime_offset: float,
        created_at: str,
        mode: str,
        silent: bool,
        record: dict[str, Any],
        log: DebugLog | None,
        keep_raw_arrays: bool = False,
    ) -> None:
        self._identity = identity
        self._keep_raw_arrays = keep_raw_arrays
        self._writer = writer
        self._disabled = mode == "disabled"
        self._mode = mode
        self._silent = silent
        self._start = time.time()
        self._runtime_offset = runtime_offset
        self._created_at = created_at
        self._step = starting_step
        self._starting_step = starting_step
        self._resumed = resumed
        self._record = record  # extra run.json fields fixed at init (settings, resume count, ...)
        self._lock = threading.RLock()
        self._finished = False
        self._state = "running"
        self._preempting = False
        self._owner_pid = os.getpid()
        self._dropped_steps = 0
        self._saved_globs: list[tuple[str, str]] = []
        self._debug = log
        self._summary_state = summary
        self.config = Config(
            config, allow_val_change=allow_val_change, on_change=None if self._disabled else self._write_config
        )
        self.summary = Summary(summary, self._journal_event)
        self._disabled_dir: str | None = None
        self._streamer: Any = None  # online mode: the thread shipping the journal (tracker._online.Streamer)
        self._url: str | None = None
        self._upload_timeout = 0.0
        self._capture: _output.Capture | None = None
        self._sampler: _background.Deferred | None = None  # the system sampler, built after a delay
        self._finish_hooks: list[Callable[[], None]] = []  # integrations' teardowns, run once the run has ended

    # ------------------------------------------------------------------ identity
    @property
    def id(self) -> str:
        return self._identity.id

    @property
    def name(self) -> str:
        return self._identity.name

    @name.setter
    def name(self, value: str) -> None:
        name = _validate.text("name", value, max_length=_validate.MAX_IDENTIFIER, allow_empty=False)
        self._change_identity("name", name)

    @property
    def project(self) -> str:
        return self._identity.project

    @property
    def entity(self) -> str | None:
        return self._identity.entity

    @property
    def group(self) -> str | None:
        return self._identity.group

    @property
    def job_type(self) -> str:
        return self._identity.job_type

    @property
    def tags(self) -> tuple[str, ...]:
        return self._identity.tags

    @tags.setter
    def tags(self, value: Any) -> None:
        self._change_identity("tags", _validate.tags(value))

    @property
    def notes(self) -> str | None:
        return self._identity.notes

    @notes.setter
    def notes(self, value: str | None) -> None:
        self._change_identity("notes", None if value is None else _validate.text("notes", value))

    def _change_identity(self, field: str, value: Any) -> None:
        """Set a field of run.json; if it cannot be stored, the run keeps the old value."""
        self._ensure_live("run metadata")
        with _process.critical(), self._lock:
            previous = getattr(self._identity, field)
            setattr(self._identity, field, value)
            try:
                self._write_run_file()
            except BaseException:
                setattr(self._identity, field, previous)
                raise

    @property
    def path(self) -> str:
        """``entity/project/id`` (``project/id`` without an entity), as Api.run() accepts it."""
        parts = (self._identity.entity, self._identity.project, self._identity.id)
        return "/".join(part for part in parts if part)

    @property
    def dir(self) -> str:
        """The folder for the run's own files (save(), save_code)."""
        if self._writer.paths is not None:
            return self._writer.paths.files
        if self._disabled_dir is None:
            import tempfile

            self._disabled_dir = tempfile.mkdtemp(prefix="tracker-disabled-")
        return self._disabled_dir

    @property
    def _paths(self) -> _layout.RunPaths:
        """The run's files, for the code paths that only a run that writes takes (a disabled run has none)."""
        paths = self._writer.paths
        assert paths is not None, "a disabled run has no files"
        return paths

    @property
    def step(self) -> int:
        """The step the next log() call uses."""
        return self._step

    @property
    def starting_step(self) -> int:
        return self._starting_step

    @property
    def resumed(self) -> bool:
        return self._resumed

    @property
    def offline(self) -> bool:
        return self._mode == "offline"

    @property
    def disabled(self) -> bool:
        return self._disabled

    @property
    def url(self) -> str | None:
        """The run on its tracking server (online mode), else None."""
        return self._url

    def get_url(self) -> str | None:
        """As wandb's: the run's page on its server, or None offline."""
        return self._url

    @property
    def status(self) -> str:
        """``running`` until finish(), then the state it ended in (finished, failed, preempted)."""
        return self._state

    @property
    def start_time(self) -> float:
        """When this process started the run (seconds since the epoch)."""
        return self._start

    def __repr__(self) -> str:
        return f"<Run {self.path} name={self.name!r} step={self._step}>"

    # ------------------------------------------------------------------ logging
    def log(self, data: Mapping[str, Any], step: int | None = None, commit: bool | None = None) -> None:
        """Log a row of metrics; durable (in the OS) once this returns.

        A call that raises has changed nothing: not the history, the summary or the step.

        Args:
            data: metric names (str) to values: numbers, strings, lists and dicts of them, or media
                (``tracker.Image``, ``Histogram``, ``Table``, ...), whose files are stored content-addressed.
            step: the step of this row. None: the current step, committed (the step advances) unless
                ``commit=False``. Given: the row stays open for more keys until a higher step arrives,
                unless ``commit=True``; a step lower than the current one is dropped with a warning.
            commit: close the row now (True) or keep it open for more keys (False); see ``step``.
        """
        if self._finished:
            raise UsageError(f"run {self.id} is finished; log() needs a live run (call tracker.init())")
        if data.__class__ is not dict and not isinstance(data, Mapping):
            raise TypeError(f"log() takes a mapping of metric names to values, not {type(data).__name__}")
        if self._disabled:
            return
        if self._owner_pid != _process.PID:
            raise UsageError(f"run {self.id} belongs to process {self._owner_pid}; a forked child cannot log to it")
        for key in data:  # exact str first: a subclass of str is fine too, but rare
            if key.__class__ is not str and not isinstance(key, str):
                raise TypeError(f"log() keys must be str, not {type(key).__name__} ({key!r})")
        if not RESERVED_KEYS.isdisjoint(data):
            reserved = next(key for key in data if key in RESERVED_KEYS)
            raise UsageError(f"log(): {reserved!r} is reserved; the tracker sets it")
        if step is not None and step.__class__ is not int:
            step = _checked_step(step)
        for value in data.values():  # a plain loop: scalar-only rows pay one set lookup per value
            if value.__class__ not in _PLAIN:
                data = self._store_rich_values(data)
                break
        # a critical section (see _process): a preemption signal waits until the row and summary agree
        deferral = _process.DEFERRAL if get_ident() == _process.MAIN_THREAD else None
        if deferral is not None:
            deferral.depth += 1
        try:
            with self._lock:
                if self._finished:
                    raise UsageError(f"run {self.id} is finished; log() needs a live run (call tracker.init())")
                current = self._step
                if step is None:
                    advance = commit is not False
                elif step < current:
                    self._drop_decreasing_step(step, current)
                    return
                else:
                    if step > MAX_STEP:
                        raise UsageError(f"log(step={step}) is too large; steps go up to {MAX_STEP}")
                    current = step
                    advance = commit is True
                now = time.time()
                record = {STEP: current, RUNTIME: now - self._start + self._runtime_offset, TIMESTAMP: now}
                record.update(data)
                if self._summary_state.step_syncs:  # define_metric(step_metric=...): wandb's step_sync
                    self._summary_state.sync_steps(record)
                self._writer.append(_journal.encode_record(record))  # raises before anything has changed
                self._summary_state.observe_row(record)
                self._step = current + 1 if advance else current
        finally:
            if deferral is not None:
                deferral.leave()

    def _store_rich_values(self, data: Mapping[str, Any]) -> dict[str, Any]:
        """Media files written (before the row that references them) and large arrays as histograms."""
        from tracker import _media  # encoders load only for runs that log rich values

        store = _media.MediaStore(self._paths.directory)
        try:
            return _media.convert_row(data, store, self._keep_raw_arrays)
        except OSError as error:
            raise StorageError(f"run {self.id}: cannot write a media file: {error}") from error

    def _drop_decreasing_step(self, step: int, current: int) -> None:
        self._dropped_steps += 1
        if self._debug:
            self._debug.warning("step.dropped", step=step, current=current, dropped=self._dropped_steps)
        if self._dropped_steps <= _STEP_WARNINGS_SHOWN:
            suffix = "" if self._dropped_steps < _STEP_WARNINGS_SHOWN else " (further such warnings are counted)"
            console.warn(
                f"log(step={step}) was not stored: run {self.id} is at step {current} and steps must not "
                f"decrease{suffix}"
            )

    def define_metric(
        self,
        name: str,
        step_metric: str | None = None,
        step_sync: bool | None = None,
        hidden: bool | None = None,
        summary: str | None = None,
        goal: str | None = None,
        overwrite: bool | None = None,
    ) -> None:
        """Declare how a metric (or a trailing-``*`` glob of them) is summarized and plotted.

        A later call for the same name is merged into the earlier one unless ``overwrite=True``, as in wandb.

        Args:
            name: the metric, or a prefix glob such as ``"val/*"`` (``*`` only at the end).
            step_metric: the metric plotted as this one's x axis (e.g. ``"epoch"``).
            step_sync: copy the step metric's last value into rows that log this metric without it
                (default: on when ``step_metric`` is given).
            hidden: recorded with the rule (wandb keeps such metrics out of its default charts).
            summary: what ``run.summary`` keeps: ``"min"``, ``"max"``, ``"mean"``, ``"best"`` (by ``goal``),
                ``"first"``, ``"last"`` (the default; ``"copy"`` is the same) or ``"none"``, or several joined
                by commas (``"min,max"``). One aggregate is stored as a plain value, several as a dict.
            goal: ``"minimize"`` or ``"maximize"``: which direction is better (``best`` uses it).
            overwrite: replace an earlier definition of the same name instead of merging into it.
        """
        self._ensure_live("define_metric()")
        rule = parse_rule(
            name,
            step_metric,
            summary,
            goal,
            hidden,
            step_sync=step_sync,
            overwrite=overwrite,
            defined=self._summary_state.rules,
        )
        self._journal_event(rule.to_event())
        self._summary_state.define(rule)
        if self._debug:
            self._debug.info("summary.rule", **{key: value for key, value in rule.to_event().items() if key != EVENT})

    def _journal_event(self, event: dict[str, Any]) -> None:
        self._ensure_live("summary")
        with _process.critical(), self._lock:
            self._writer.append_record(event)

    def _write_config(self, data: dict[str, Any]) -> None:
        with _process.critical(), self._lock:  # the last replace always holds the newest config
            self._writer.materialize(self._paths.config, data)

    def _ensure_live(self, what: str) -> None:
        if self._finished:
            raise UsageError(f"run {self.id} is finished; {what} cannot change it")

    # ------------------------------------------------------------------ files
    def save(self, glob_str: str | os.PathLike[str], base_path: str | None = None, policy: str = "live") -> list[str]:
        """Copy matching files into the run's files; ``live``/``end`` copy them again at finish()."""
        self._ensure_live("save()")
        _validate.choice("save: policy", policy, SAVE_POLICIES)
        pattern = os.path.abspath(os.fspath(glob_str))
        if base_path is None:
            prefix = pattern.split("*", 1)[0].split("?", 1)[0].split("[", 1)[0]
            base = os.path.dirname(prefix) if os.path.isabs(os.fspath(glob_str)) else os.getcwd()
        else:
            base = os.path.abspath(base_path)
        if os.path.relpath(pattern, base).startswith(".."):
            raise UsageError(f"save: {os.fspath(glob_str)!r} is not under base_path {base!r}")
        if self._disabled:
            return []
        copied = self._copy_matches(pattern, base) if policy != "end" else []
        if policy != "now":
            self._saved_globs.append((pattern, base))
        if self._debug:
            self._debug.info("files.saved", pattern=pattern, base=base, policy=policy, copied=len(copied))
        return copied

    def _copy_matches(self, pattern: str, base: str) -> list[str]:
        import shutil  # imported where files are copied: import tracker stays cheap

        copied = []
        for source in sorted(glob.glob(pattern, recursive=True)):
            if not os.path.isfile(source) or source.startswith(self.dir + os.sep):
                continue
            target = os.path.join(self.dir, os.path.relpath(source, base))
            os.makedirs(os.path.dirname(target), exist_ok=True)
            shutil.copy2(source, target)
            copied.append(target)
        return copied

    # ------------------------------------------------------------------ artifacts
    def _artifact_store(self, project: str | None = None) -> Any:
        from tracker._artifacts import ArtifactStore

        return ArtifactStore(_layout.root_of_run(self._paths.directory), project or self.project)

    def log_artifact(
        self,
        artifact_or_path: Any,
        name: str | None = None,
        type: str | None = None,
        aliases: list[str] | None = None,
    ) -> Any:
        """Store an Artifact (or a file or directory, wrapped in one) as its next version; returns it logged.

        Content already stored under that name (same files, same digests) reuses its version; ``latest``
        and the given ``aliases`` move to the version logged.
        """
        from tracker._artifacts import Artifact, _checked_alias, record_lineage

        self._ensure_live("log_artifact()")
        if isinstance(artifact_or_path, Artifact):
            artifact = artifact_or_path
        elif isinstance(artifact_or_path, str | os.PathLike):
            path = os.fspath(artifact_or_path)
            artifact = Artifact(name or os.path.basename(os.path.abspath(path)), type or "unspecified")
            (artifact.add_dir if os.path.isdir(path) else artifact.add_file)(path)
        else:
            raise UsageError(
                f"log_artifact: {artifact_or_path!r} must be a tracker.Artifact or a path, "
                f"not {artifact_or_path.__class__.__name__}"
            )
        if isinstance(aliases, str):
            aliases = [aliases]
        chosen = [_checked_alias(alias) for alias in aliases or []]
        if artifact.version is not None:
            raise UsageError(f"log_artifact: {artifact.qualified_name} is already logged (make a new Artifact)")
        if self._disabled:
            return artifact
        with _process.critical():
            self._artifact_store().log(artifact, chosen, self.id)
            record_lineage(self._paths.directory, "logged", artifact)
        return artifact

    def use_artifact(self, artifact_or_name: Any, type: str | None = None, aliases: list[str] | None = None) -> Any:
        """The artifact this run consumes (``name``, ``name:v3``, ``name:alias``, ``project/name:alias``, or an
        Artifact), recorded as the run's input; ``download()`` it to get the files."""
        from tracker._artifacts import Artifact, parse_reference, record_lineage

        self._ensure_live("use_artifact()")
        if isinstance(artifact_or_name, Artifact):
            artifact = artifact_or_name
            if artifact.version is None:
                self.log_artifact(artifact, aliases=aliases)
        elif isinstance(artifact_or_name, str):
            project, name, alias = parse_reference(artifact_or_name, self.project)
            if self._disabled:
                raise UsageError("use_artifact: a disabled run has no store to read artifacts from")
            artifact = self._artifact_store(project).get(name, alias)
        else:
            raise UsageError(
                f"use_artifact: {artifact_or_name!r} must be a name such as 'data:latest' or a tracker.Artifact"
            )
        if type is not None and artifact.type != type:
            raise UsageError(f"use_artifact: {artifact.qualified_name} is of type {artifact.type!r}, not {type!r}")
        if not self._disabled:
            record_lineage(self._paths.directory, "used", artifact)
        return artifact

    def log_code(
        self,
        root: str | os.PathLike[str] = ".",
        name: str | None = None,
        include_fn: Callable[[str, str], bool] | None = None,
        exclude_fn: Callable[[str, str], bool] | None = None,
    ) -> Any:
        """Save the source files under ``root`` (``*.py`` by default) as a ``code`` artifact; None if none match."""
        from tracker import _artifacts

        top = os.path.abspath(os.fspath(root))
        if not os.path.isdir(top):
            raise UsageError(f"log_code: root={os.fspath(root)!r} is not a directory")
        include, exclude = include_fn or _artifacts.default_include, exclude_fn or _artifacts.default_exclude
        artifact = _artifacts.Artifact(name or f"source-{self.project}-{self.id}", "code")
        for path in _artifacts.code_files(top, include, exclude):
            artifact.add_file(path, os.path.relpath(path, top).replace(os.sep, "/"))
        if not artifact.manifest:
            console.warn(f"log_code: no file under {top} was selected; nothing was logged")
            return None
        return self.log_artifact(artifact)

    # ------------------------------------------------------------------ lifecycle
    def mark_preempting(self) -> None:
        """Say the process is about to be preempted: if it ends without finishing, the run reads preempted."""
        with _process.critical(), self._lock:
            if self._finished or self._preempting:
                return
            self._journal_event({EVENT: "preempting", "at": time.time()})
            self._preempting = True
            self._write_run_file()
        if self._debug:
            self._debug.info("run.preempting")

    def finish(self, exit_code: int | None = None, quiet: bool | None = None) -> None:
        """End the run: state from the exit code, materialized summary and config, lock released.

        Idempotent. If the store cannot be written (a full disk), the run is still ended and its lock
        released, and StorageError says what could not be written; every row log() stored stays readable.

        Args:
            exit_code: 0 or None: ``finished``; any other: ``failed`` (``preempted`` after
                ``mark_preempting()``, which a finish() without an exit code also reads as).
            quiet: True leaves out the closing lines on the terminal, as the ``silent`` setting does.
        """
        with _process.critical(), self._lock:
            if self._finished:
                return
            if self._preempting and exit_code is None:
                state = "preempted"
            elif exit_code is None or exit_code == 0:
                state = "finished"
            else:
                state = "preempted" if self._preempting else "failed"
            code = 0 if exit_code is None else int(exit_code)
            owned = self._owner_pid == os.getpid()
            self._finished, self._state = True, state
            self.config._freeze(f"run {self.id} is finished")
            try:
                if owned and not self._disabled:
                    self._close_store(state, code)
            finally:
                if self._sampler is not None:
                    self._sampler.stop()
                if self._capture is not None:
                    self._capture.stop()
                _process.unregister(self)
        if owned and self._streamer is not None:
            self._streamer.finish(self._upload_timeout, silent=self._silent or bool(quiet), name=self.name)
        if owned and not self._disabled:
            line = f"run {self.name} ({self.id}) {state}"
            if self._dropped_steps:
                line += f"; {self._dropped_steps} log() calls with decreasing steps were not stored"
            console.info(line, silent=self._silent or bool(quiet))
        for hook in self._finish_hooks:
            try:
                hook()
            except Exception as error:  # an integration's teardown must not undo a finished run
                console.warn(f"run {self.id}: an integration's teardown failed ({type(error).__name__}: {error})")
        if owned and self._debug:  # last: the upload's end and the teardown warnings are still the run's
            self._debug.close()

    def _close_store(self, state: str, code: int) -> None:
        """Write the final records, each on its own, then release the lock whatever failed."""
        paths = self._paths
        failed: list[str] = []

        def attempt(what: str, action: Callable[[], object]) -> bool:
            try:
                action()
                return True
            except OSError as error:
                failed.append(f"{what} ({error.strerror or error})")
                return False

        for pattern, base in self._saved_globs:
            attempt(f"the files saved as {pattern!r}", functools.partial(self._copy_matches, pattern, base))
        event = {EVENT: "finish", "state": state, "exit_code": code, "at": time.time()}
        journaled = attempt("the finish record", lambda: self._writer.append_record(event))
        attempt("summary.json", lambda: self._writer.materialize(paths.summary, self._summary_state.values))
        attempt("config.json", lambda: self._writer.materialize(paths.config, self.config._data))
        attempt("run.json", lambda: self._write_run_file(state=state, exit_code=code))
        self._writer.close()
        if self._debug:
            self._debug.info("run.finished", state=state, exit_code=code, steps=self._step, failed=failed or None)
        if failed:
            if self._debug:  # finish() ends here
                self._debug.close()
            reads = state if journaled else ("preempted" if self._preempting else "crashed")
            raise StorageError(
                f"finish(): run {self.id} could not write {'; '.join(failed)}. Every row log() stored is intact "
                f"in {paths.history}; the lock is released and the run reads {reads!r}"
            )

    def add_metadata(self, metadata: dict[str, Any]) -> None:
        """Replace metadata.json from another thread (git state comes late); never once the run has ended."""
        with self._lock:
            if not self._finished and self._writer.paths is not None:
                with contextlib.suppress(OSError):
                    self._writer.materialize(self._writer.paths.metadata, metadata)

    def _run_record(self, state: str = "running", exit_code: int | None = None) -> dict[str, Any]:
        """run.json's content."""
        now = time.time()
        identity = self._identity
        return {
            **self._record,
            "id": identity.id,
            "name": identity.name,
            "project": identity.project,
            "entity": identity.entity,
            "group": identity.group,
            "job_type": identity.job_type,
            "tags": list(identity.tags),
            "notes": identity.notes,
            "state": state,
            "exit_code": exit_code,
            "preempting": self._preempting,
            "created_at": self._created_at,
            "updated_at": utc_now_iso(now),
            "finished_at": utc_now_iso(now) if state != "running" else None,
            "starting_step": self._starting_step,
        }

    def _write_run_file(self, state: str = "running", exit_code: int | None = None) -> None:
        if self._writer.paths is not None:
            self._writer.materialize(self._writer.paths.run, self._run_record(state, exit_code))

    def __enter__(self) -> Run:
        return self

    def __exit__(self, exc_type: Any, exc: BaseException | None, traceback: Any) -> Literal[False]:
        self.finish(exit_code=_process.exit_code_of(exc))
        return False


# ------------------------------------------------------------------ what init() does to the Run it opened
# Kept beside the state they touch, so that tracker/_init.py never reaches into a Run.


def start_record(run: Run) -> dict[str, Any]:
    """run.json's content for a run that is starting."""
    return run._run_record()


def journal_id(run: Run) -> str:
    """The id naming this run's journal file for the server (offsets are per file)."""
    return str(run._record["journal_id"])


# The system sampler is built this long after init() (at most one interval): importing its module and
# psutil and walking the process tree hold the GIL for milliseconds, which would stall init() and the
# caller's first log() calls; a shorter run builds none.
FIRST_SAMPLE_DELAY_S = 1.0


def start_services(run: Run, *, capture_console: bool, system_metrics_interval: float | None) -> None:
    """Copy stdout/stderr to the run's output.log, and sample system metrics to its system.jsonl from a
    background thread (None: off); both until finish()."""
    if capture_console:
        run._capture = _output.Capture(os.path.join(run._paths.directory, _output.OUTPUT_FILE))
    if system_metrics_interval is not None:
        directory, started = run._paths.directory, run._start - run._runtime_offset

        def build_sampler() -> _background.Service:
            from tracker import _system

            return _system.Sampler(directory, system_metrics_interval, started)

        delay = min(system_metrics_interval, FIRST_SAMPLE_DELAY_S)
        run._sampler = _background.Deferred(delay, build_sampler)


def attach_streamer(run: Run, streamer: Any, url: str, upload_timeout: float) -> None:
    """Online mode: the thread shipping the journal to ``url``; finish() waits up to ``upload_timeout`` for it."""
    run._streamer, run._url, run._upload_timeout = streamer, url, upload_timeout
    streamer.debug = run._debug


def save_code(run: Run, program: str | None) -> None:
    """Keep a copy of the program's source with the run (``save_code``)."""
    if program and os.path.isfile(program):
        import shutil

        target = os.path.join(run.dir, "code", os.path.basename(program))
        os.makedirs(os.path.dirname(target), exist_ok=True)
        shutil.copy2(program, target)
