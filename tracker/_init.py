"""``tracker.init()``: resolve and validate everything, decide the run's identity, open its directory."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import threading
import time
from collections.abc import Iterator
from typing import Any

from tracker import _config, _layout, _process, _settings, console
from tracker._errors import UsageError
from tracker._journal import EVENT, RUNTIME, read_json, read_records, write_json_atomic
from tracker._lock import RunLock, is_held
from tracker._logs import DebugLog
from tracker._metadata import collect, collect_git, program_path, utc_now_iso
from tracker._names import new_run_id, new_run_name
from tracker._run import Identity, Run
from tracker._settings import Settings
from tracker._summary import SummaryState, replay
from tracker._writer import NullWriter, RunWriter

_warned_online = False


def init(
    job_type: str | None = None,
    dir: str | os.PathLike[str] | None = None,
    config: Any = None,
    project: str | None = None,
    entity: str | None = None,
    reinit: bool | str | None = None,
    tags: Any = None,
    group: str | None = None,
    name: str | None = None,
    notes: str | None = None,
    magic: bool | dict[str, Any] | str | None = None,
    config_exclude_keys: list[str] | None = None,
    config_include_keys: list[str] | None = None,
    anonymous: str | None = None,
    mode: str | None = None,
    allow_val_change: bool | None = None,
    resume: bool | str | None = None,
    force: bool | None = None,
    tensorboard: bool | None = None,
    sync_tensorboard: bool | None = None,
    monitor_gym: bool | None = None,
    save_code: bool | None = None,
    id: str | None = None,
    settings: Settings | dict[str, Any] | None = None,
) -> Run:
    """Start (or resume) a tracked run, with the semantics documented for ``wandb.init()``."""
    keywords = {
        "job_type": job_type,
        "dir": dir,
        "project": project,
        "entity": entity,
        "reinit": reinit,
        "tags": tags,
        "group": group,
        "name": name,
        "notes": notes,
        "anonymous": anonymous,
        "mode": mode,
        "allow_val_change": allow_val_change,
        "resume": resume,
        "force": force,
        "save_code": save_code,
        "id": id,
    }
    resolved = _settings.resolve(keywords, settings)
    integrations = _check_integrations(magic, tensorboard, sync_tensorboard, monitor_gym)
    config_data = _config.filter_keys(_config.load(config), config_include_keys, config_exclude_keys)

    reinit_mode = {None: "return_previous", False: "return_previous", True: "finish_previous"}.get(
        resolved.reinit, resolved.reinit
    )
    active = _process.current() or next(iter(_process.live_runs()), None)
    if active is not None and reinit_mode == "return_previous":
        _process.make_current(active)
        return active
    run_mode = _effective_mode(resolved)
    if active is not None and reinit_mode == "finish_previous":
        _process.finish_all(0)
    make_current = reinit_mode != "create_new"
    if run_mode == "disabled":
        run = _disabled_run(resolved, config_data)
        _process.register(run, make_current=make_current, signals=())
        return run
    run = _open_run(resolved, config_data, run_mode, integrations)
    _process.register(run, make_current=make_current, signals=resolved.preemption_signals)
    return run


def _check_integrations(magic: Any, tensorboard: Any, sync_tensorboard: Any, monitor_gym: Any) -> dict[str, Any]:
    """Validate the integration arguments; asking for one that does not exist yet is an error, not a no-op."""
    for argument, value in (
        ("tensorboard", tensorboard),
        ("sync_tensorboard", sync_tensorboard),
        ("monitor_gym", monitor_gym),
    ):
        if value is not None and not isinstance(value, bool):
            raise UsageError(f"{argument}={value!r} must be a bool")
        if value:
            raise UsageError(f"{argument}=True: this integration is not available yet in tracker; remove it")
    magic_value = _parse_magic(magic)
    if magic_value:
        raise UsageError(f"magic={magic!r}: argparse/absl capture is not available yet in tracker; remove it")
    return {
        "magic": magic_value or None,
        "tensorboard": tensorboard,
        "sync_tensorboard": sync_tensorboard,
        "monitor_gym": monitor_gym,
    }


def _parse_magic(magic: Any) -> Any:
    if magic is None or isinstance(magic, bool | dict):
        return magic
    if isinstance(magic, str):
        import json

        try:
            return json.loads(magic)
        except ValueError:
            if os.path.isfile(magic):
                return _config.load(magic, "magic")
        raise UsageError(f"magic={magic!r} is neither JSON nor the path of a YAML file")
    raise UsageError(f"magic={magic!r} must be a bool, a dict, a JSON string or a YAML file path")


def _effective_mode(resolved: Settings) -> str:
    """No tracking server exists yet: online runs offline (one warning), or fails when forced."""
    global _warned_online
    if resolved.mode != "online":
        return resolved.mode
    if resolved.force:
        raise UsageError(
            "mode='online' with force=True needs a tracking server, and this version has none; "
            "use mode='offline' (the default) or drop force=True"
        )
    if not _warned_online:
        _warned_online = True
        console.warn("mode='online': no tracking server is available yet; storing this run offline")
    return "offline"


def _base_dir(requested: str | None) -> str:
    """The directory holding the store: the requested one, or the temp dir (with a warning) if unwritable."""
    base = requested or os.getcwd()
    try:
        _ensure_writable(_layout.store_root(base))
        return base
    except OSError as error:
        fallback = tempfile.gettempdir()
        try:
            _ensure_writable(_layout.store_root(fallback))
        except OSError as fallback_error:
            raise UsageError(
                f"dir={base!r} is not writable ({error}) and neither is the temp dir {fallback!r} "
                f"({fallback_error}); pass a writable dir= or set TRACKER_DIR"
            ) from fallback_error
        console.warn(f"dir={base!r} is not writable ({error.strerror or error}); runs go to {fallback!r}")
        return fallback


def _ensure_writable(path: str) -> None:
    os.makedirs(path, exist_ok=True)
    if not os.access(path, os.W_OK | os.X_OK):
        raise PermissionError(13, "permission denied", path)


def _exists(root: str, project: str, run_id: str) -> bool:
    return os.path.exists(os.path.join(_layout.run_dir(root, project, run_id), _layout.RUN_FILE))


def _decide_identity(resolved: Settings, root: str, project: str) -> tuple[str, str]:
    """The run id and what to do with it: ``new``, ``resume`` or ``replace`` (documented resume rules)."""
    run_id = resolved.run_id
    resume = resolved.resume
    if resume in (True, "auto"):
        if run_id is None:
            previous = read_json(_layout.resume_file(root)) or {}
            candidate = previous.get("run_id")
            if previous.get("project") == project and candidate and _exists(root, project, candidate):
                candidate_dir = _layout.run_dir(root, project, candidate)
                state = read_json(os.path.join(candidate_dir, _layout.RUN_FILE)) or {}
                live = is_held(os.path.join(candidate_dir, _layout.LOCK_FILE))  # another process's run
                if state.get("state") != "finished" and not live:
                    return candidate, "resume"
            return _fresh_id(root, project), "new"
        resume = "allow"
    if run_id is None:
        if resume == "must":
            raise UsageError("resume='must' needs the id of the run to resume: pass id=... or set TRACKER_RUN_ID")
        return _fresh_id(root, project), "new"
    exists = _exists(root, project, run_id)
    if resume == "must" and not exists:
        raise UsageError(f"resume='must': run {project}/{run_id} does not exist in {root}")
    if resume == "never" and exists:
        raise UsageError(
            f"resume='never': run {project}/{run_id} already exists in {root}; choose another id or resume='allow'"
        )
    if not exists:
        return run_id, "new"
    return run_id, ("resume" if resume in ("allow", "must") else "replace")


def _fresh_id(root: str, project: str) -> str:
    while True:
        run_id = new_run_id()
        if not os.path.exists(_layout.run_dir(root, project, run_id)):
            return run_id


def _replace(paths: _layout.RunPaths, root: str, project: str, run_id: str) -> None:
    """Move a previous run with the same id aside (never destroy it), once no process holds it."""
    RunLock.acquire(paths.lock, run_id).release()
    target = _layout.trash_target(root, project, run_id, "replaced")
    shutil.move(paths.directory, target)
    console.warn(
        f"run {project}/{run_id} already existed and resume is off: it was replaced; the old data is kept in {target}"
    )


class _Prior:
    """What a resumed run carries over from its earlier processes."""

    def __init__(self, paths: _layout.RunPaths) -> None:
        self.run = read_json(paths.run) or {}
        self.config = read_json(paths.config) or {}
        self.metadata = read_json(paths.metadata) or {}
        self.summary, last_step = replay(read_records(paths.history))
        self.starting_step = 0 if last_step is None else last_step + 1
        self.runtime = float(self.summary.values.get(RUNTIME) or 0.0)


def _open_run(resolved: Settings, config: dict[str, Any], mode: str, integrations: dict[str, Any]) -> Run:
    root = _layout.store_root(_base_dir(resolved.root_dir))
    project = resolved.project
    run_id, action = _decide_identity(resolved, root, project)
    paths = _layout.RunPaths(_layout.run_dir(root, project, run_id))
    if action == "replace":
        _replace(paths, root, project, run_id)
    with _claimed(paths, run_id) as lock:
        return _start_in(paths, lock, resolved, config, mode, integrations, root, project, action)


@contextlib.contextmanager
def _claimed(paths: _layout.RunPaths, run_id: str) -> Iterator[RunLock]:
    """The run directory with its lock held; if starting the run fails, no lock and no new directory remain."""
    created = not os.path.isdir(paths.directory)
    os.makedirs(paths.directory, exist_ok=True)
    lock = None
    try:
        lock = RunLock.acquire(paths.lock, run_id)
        yield lock
    except BaseException:
        if lock is not None:
            lock.release()
        if created:
            shutil.rmtree(paths.directory, ignore_errors=True)
        raise


def _start_in(
    paths: _layout.RunPaths,
    lock: RunLock,
    resolved: Settings,
    config: dict[str, Any],
    mode: str,
    integrations: dict[str, Any],
    root: str,
    project: str,
    action: str,
) -> Run:
    """Write the start (or resume) records of a claimed run directory and return its Run."""
    run_id = os.path.basename(paths.directory)
    start = time.time()
    prior = _Prior(paths) if action == "resume" else None
    identity = _identity(resolved, run_id, project, prior)
    if prior is not None:
        config = {**prior.config, **config}
    writer = RunWriter.open(paths, lock)
    log = DebugLog(os.path.join(paths.logs, _layout.DEBUG_LOG), run_id=run_id)
    run = Run(
        identity,
        writer=writer,
        config=config,
        summary=prior.summary if prior else SummaryState(),
        allow_val_change=resolved.allow_val_change,
        starting_step=prior.starting_step if prior else 0,
        resumed=prior is not None,
        runtime_offset=prior.runtime if prior else 0.0,
        created_at=prior.run.get("created_at", utc_now_iso(start)) if prior else utc_now_iso(start),
        mode=mode,
        silent=resolved.silent,
        record={
            "format_version": _layout.FORMAT_VERSION,
            "mode": mode,
            "anonymous": resolved.anonymous,
            "resume_count": (int(prior.run.get("resume_count") or 0) + 1) if prior else 0,
            "integrations": integrations,
        },
        log=log,
    )
    writer.materialize(paths.config, config)
    if prior is not None:
        writer.append_record({EVENT: "resume", "at": start, "starting_step": prior.starting_step})
    run._write_run_file()
    _record_metadata(run, writer, start, prior, resolved)
    write_json_atomic(_layout.resume_file(root), {"run_id": run_id, "project": project})
    if resolved.save_code:
        run._save_code(program_path())
    log.info("init", project=project, action=action, dir=paths.directory, settings=resolved.to_dict())
    DebugLog(_layout.global_log(root)).info("run opened", run_id=run_id, project=project, dir=paths.directory)
    console.info(f"run {identity.name} ({run_id}) -> {paths.directory}", silent=resolved.silent)
    if prior is not None:
        console.info(f"resumed at step {prior.starting_step}", silent=resolved.silent)
    return run


def _identity(resolved: Settings, run_id: str, project: str, prior: _Prior | None) -> Identity:
    """Explicit values win; a resumed run keeps what it had for everything not given again."""
    before = prior.run if prior else {}

    def pick(setting: str, field: str, default: Any) -> Any:
        if resolved.is_set(setting):
            return getattr(resolved, setting)
        return before.get(field, default) if before else default

    return Identity(
        id=run_id,
        name=pick("run_name", "name", None) or new_run_name(run_id),
        project=project,
        entity=pick("entity", "entity", None),
        group=pick("run_group", "group", None),
        job_type=pick("run_job_type", "job_type", resolved.run_job_type),
        tags=tuple(pick("run_tags", "tags", ()) or ()),
        notes=pick("run_notes", "notes", None),
    )


def _record_metadata(run: Run, writer: RunWriter, start: float, prior: _Prior | None, resolved: Settings) -> None:
    """Write the cheap metadata now; add git state from a background thread (git can take 50 ms)."""
    metadata = {**collect(start), **(resolved.run_metadata or {})}
    if prior is not None:
        earlier = prior.metadata.get("previous_processes", [])
        keep = ("host", "pid", "started_at", "slurm")
        metadata["previous_processes"] = [*earlier, {key: prior.metadata.get(key) for key in keep}]
    writer.materialize(writer.paths.metadata, metadata)
    if resolved.disable_git:
        return

    def add_git() -> None:
        git = collect_git(metadata["program"])
        if git is not None and not run._finished:
            writer.materialize(writer.paths.metadata, {**metadata, "git": git})

    run._metadata_thread = threading.Thread(target=add_git, name="tracker-git-metadata", daemon=True)
    run._metadata_thread.start()


def _disabled_run(resolved: Settings, config: dict[str, Any]) -> Run:
    """A run that accepts every call and writes nothing."""
    run_id = resolved.run_id or new_run_id()
    identity = Identity(
        run_id,
        resolved.run_name or new_run_name(run_id),
        resolved.project,
        resolved.entity,
        resolved.run_group,
        resolved.run_job_type,
        tuple(resolved.run_tags or ()),
        resolved.run_notes,
    )
    return Run(
        identity,
        writer=NullWriter(),
        config=config,
        summary=SummaryState(),
        allow_val_change=resolved.allow_val_change,
        starting_step=0,
        resumed=False,
        runtime_offset=0.0,
        created_at=utc_now_iso(time.time()),
        mode="disabled",
        silent=resolved.silent,
        record={},
        log=None,
    )
