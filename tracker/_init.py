"""``tracker.init()``: resolve and validate everything, decide the run's identity, open its directory."""

from __future__ import annotations

import contextlib
import os
import stat
import sys
import threading
import time
from typing import Any, cast

from tracker import (
    _autoresume,
    _background,
    _claim,
    _config,
    _credentials,
    _events,
    _index,
    _layout,
    _logs,
    _process,
    _run,
    _settings,
    console,
)
from tracker._errors import StorageError, UsageError
from tracker._journal import (
    EVENT,
    RUNTIME,
    BadLines,
    DamagedFile,
    encode_json,
    read_json_object,
    read_records,
    run_record_problem,
)
from tracker._logs import DebugLog
from tracker._metadata import DEFERRED_METADATA_DELAY_S, collect, completed, git_head, program_path, utc_now_iso
from tracker._names import new_run_id, new_run_name
from tracker._run import Identity, Run
from tracker._settings import Settings
from tracker._summary import SummaryState, replay
from tracker._writer import NullWriter, RunWriter
from tracker.atomic import StagedFiles


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
    """Start (or resume) a tracked run, with the semantics documented for ``wandb.init()``.

    Every argument left None falls back to ``settings``, then the ``TRACKER_*`` (else ``WANDB_*``)
    environment, then the settings file; bad values are a UsageError naming the argument.

    Args:
        job_type: a label for the kind of run (``train``, ``eval``, ...), kept with the run.
        dir: the directory holding the store (``tracker-runs/``); default the working directory. An
            unwritable one sends a new run to a private temporary directory, with a warning.
        config: the run's config: a dict, an argparse Namespace, an OmegaConf DictConfig, or the path of
            a YAML file; ``run.config`` holds a copy.
        project: the project the run belongs to.
        entity: the user or team on the tracking server (online mode).
        reinit: what a second init() does while a run is live: ``"return_previous"`` (False, the
            default), ``"finish_previous"`` (True) or ``"create_new"``.
        tags: a list of strings to find the run by.
        group: groups runs together (a sweep's jobs share one).
        name: a display name; default a generated one.
        notes: a longer free-text description.
        magic: capture argparse and absl flags into the config: True, a dict, or JSON/YAML of one.
        config_exclude_keys: config keys left out of ``run.config``.
        config_include_keys: the only config keys kept in ``run.config``.
        anonymous: ``"allow"``, ``"must"`` or ``"never"``: whether an anonymous key is used online.
        mode: ``"online"``, ``"offline"`` or ``"disabled"`` (nothing stored); default online when a
            tracking server is configured, else offline.
        allow_val_change: let a config key change value once set (true by default only in a notebook).
        resume: ``"allow"``, ``"must"``, ``"never"``, ``"auto"``/True (the last unfinished run of the
            store when no ``id`` is given), or None/False: a new run that replaces any stored under ``id``.
        force: online, raise an Error instead of running offline when the server or the key is unusable.
        tensorboard: the same as ``sync_tensorboard``.
        sync_tensorboard: copy what TensorBoard writers write into the run.
        monitor_gym: log the videos Gymnasium's RecordVideo saves.
        save_code: keep a copy of the program's source with the run.
        id: the run's id (to resume it, or to choose it); default a new random id.
        settings: a Settings, or a dict of setting names (``tracker.Settings``) to values.

    Returns:
        The run, also available as ``tracker.run`` (with ``reinit="create_new"``, not made current).
    """
    arguments = locals()
    keywords = {keyword: arguments[keyword] for keyword in _settings.INIT_KEYWORDS}  # the settings among them
    _logs.begin_init()
    resolved = Settings.resolve(settings, **keywords)
    shell = _kernel_shell()
    if shell is not None:  # the documented notebook defaults; the session (not the kernel) is the code saved
        save_notebook = resolved.save_code
        notebook = Settings(save_code=False)
        if not resolved.is_set("allow_val_change"):
            notebook = notebook.merged(Settings(allow_val_change=True))
        if resolved.reinit is None:
            notebook = notebook.merged(Settings(reinit="finish_previous"))
        resolved = resolved.merged(notebook)
    integrations = _check_integrations(magic, tensorboard, sync_tensorboard, monitor_gym)
    config_data = _config.filter_keys(_config.load(config), config_include_keys, config_exclude_keys)

    reinit = resolved.reinit  # True and False are wandb's older spellings
    reinit_mode = reinit if isinstance(reinit, str) else ("finish_previous" if reinit else "return_previous")
    active = cast(Run | None, _process.current() or next(iter(_process.live_runs()), None))
    if active is not None and reinit_mode == "return_previous":
        _process.make_current(active)
        _process.returned(active, {key: value for key, value in keywords.items() if value is not None}, config_data)
        return active
    run_mode = _effective_mode(resolved)
    if active is not None and reinit_mode == "finish_previous":
        _process.finish_all(0)
    make_current = reinit_mode != "create_new"
    if run_mode == "disabled":
        run = _disabled_run(resolved, config_data)
        _process.register(run, make_current=make_current, signals=())
        _start_integrations(run, integrations)
        if shell is not None:
            _setup_notebook(run, shell, save_notebook)
        return run
    run = _open_run(resolved, config_data, run_mode, integrations)
    _process.register(run, make_current=make_current, signals=resolved.preemption_signals)
    _run.start_services(
        run,
        capture_console=resolved.console != "off",
        system_metrics_interval=resolved.system_metrics_interval if resolved.system_metrics else None,
    )
    _start_integrations(run, integrations)
    if shell is not None:
        _setup_notebook(run, shell, save_notebook)
    return run


def _kernel_shell() -> Any:
    """The IPython shell when this is a Jupyter kernel, else None; nothing is imported outside IPython."""
    if "IPython" not in sys.modules:
        return None
    from tracker.integrations import jupyter

    return jupyter.kernel_shell()


def _setup_notebook(run: Run, shell: Any, save_code: bool) -> None:
    from tracker.integrations import jupyter

    jupyter.setup(run, shell, save_code)


def _check_integrations(magic: Any, tensorboard: Any, sync_tensorboard: Any, monitor_gym: Any) -> dict[str, Any]:
    """Validate the integration arguments; the integrations package is imported only when one is given."""
    if magic is None and tensorboard is None and sync_tensorboard is None and monitor_gym is None:
        return {"magic": None, "sync_tensorboard": False, "monitor_gym": False}
    from tracker import integrations

    return integrations.check(magic, tensorboard, sync_tensorboard, monitor_gym)


def _start_integrations(run: Run, switched_on: dict[str, Any]) -> None:
    if any(switched_on.values()):
        from tracker import integrations

        integrations.start(run, switched_on)


def _effective_mode(resolved: Settings) -> str:
    """The mode asked for; unset, it is online when a tracking server is configured, else offline."""
    if resolved.is_set("mode"):
        return resolved.mode
    try:
        base_url, _ = _credentials.configured_server(resolved.base_url, resolved.api_key)
    except UsageError as error:  # a damaged login must not stop an offline run; the user must hear of it
        console.warn(f"{error}; this run is stored offline")
        return "offline"
    return "online" if base_url is not None else "offline"


def _base_dir(requested: str | None, resuming: bool) -> str:
    """The directory holding the store: the requested one, or (for a new run) a private temp directory."""
    base = requested or os.getcwd()
    try:
        _ensure_writable(_layout.store_root(base))
        return base
    except OSError as error:
        reason = error.strerror or str(error)
        if resuming:
            raise UsageError(
                f"dir={base!r} is not writable ({reason}), and a run that resumes must be written where it "
                "was stored; make the store writable or pass its writable location as dir= (or TRACKER_DIR)"
            ) from error
        fallback = _private_temp_base(base, reason)
        console.warn(f"dir={base!r} is not writable ({reason}); this run goes to {fallback!r}")
        return fallback


def _private_temp_base(base: str, reason: str) -> str:
    """``$TMPDIR/tracker-<uid>``: created 0700 and used only while it is ours, private and not a symlink."""
    import tempfile  # only for this fallback: import tracker stays cheap

    fallback = os.path.join(tempfile.gettempdir(), f"tracker-{os.getuid()}")
    try:
        with contextlib.suppress(FileExistsError):
            os.mkdir(fallback, 0o700)
        status = os.lstat(fallback)
        if not stat.S_ISDIR(status.st_mode) or status.st_uid != os.getuid() or status.st_mode & 0o077:
            raise UsageError(
                f"dir={base!r} is not writable ({reason}), and the fallback {fallback!r} is not a private directory "
                "of yours (a symlink, another owner, or open to others); pass a writable dir= or set TRACKER_DIR"
            )
        _ensure_writable(_layout.store_root(fallback))
    except OSError as error:
        raise UsageError(
            f"dir={base!r} is not writable ({reason}) and neither is {fallback!r} ({error.strerror or error}); "
            "pass a writable dir= or set TRACKER_DIR"
        ) from error
    return fallback


def _ensure_writable(path: str) -> None:
    _layout.ensure_dir(path)
    if not os.access(path, os.W_OK | os.X_OK):
        raise PermissionError(13, "permission denied", path)


class _Prior:
    """What a resumed run carries over from its earlier processes, read and checked before anything is written."""

    def __init__(
        self,
        run: dict[str, Any],
        config: dict[str, Any],
        metadata: dict[str, Any],
        summary: SummaryState,
        last_step: int | None,
    ) -> None:
        self.run, self.config, self.metadata, self.summary = run, config, metadata, summary
        self.starting_step = 0 if last_step is None else last_step + 1
        runtime = summary.values.get(RUNTIME)
        self.runtime = float(runtime) if isinstance(runtime, int | float) else 0.0
        earlier = metadata.get("previous_processes")
        self.previous_processes = earlier if isinstance(earlier, list) else []

    @classmethod
    def from_disk(cls, paths: _layout.RunPaths, where: str) -> _Prior:
        try:
            run = read_json_object(paths.run, "run.json") or {}
            config = read_json_object(paths.config, "config.json") or {}
            metadata = read_json_object(paths.metadata, "metadata.json") or {}
        except DamagedFile as error:
            raise UsageError(f"{where} cannot be resumed: {error}") from None
        problem = run_record_problem(run)
        if problem is not None:
            raise UsageError(f"{where} cannot be resumed: {problem}")
        bad = BadLines()
        summary, last_step = replay(read_records(paths.history, bad))
        if (warning := bad.report(where)) is not None:
            console.warn(warning)
        return cls(run, config, metadata, summary, last_step)

    @classmethod
    def from_server(cls, view: dict[str, Any]) -> _Prior:
        """A run this node has never seen, continued from the server's copy (another node wrote it)."""
        summary = SummaryState()
        summary.values = dict(view.get("summary") or {})
        run = {
            "created_at": view["created_at"],
            "name": view["name"],
            "group": view.get("group"),
            "job_type": view.get("job_type"),
            "tags": view.get("tags") or [],
            "notes": view.get("notes"),
            "resume_count": 0,
        }
        return cls(
            run, dict(view.get("config") or {}), dict(view.get("metadata") or {}), summary, view.get("last_step")
        )


def _open_run(resolved: Settings, config: dict[str, Any], mode: str, integrations: dict[str, Any]) -> Run:
    remote, server_view, resume = None, None, resolved.resume
    if mode == "online":
        from tracker import _online

        remote = _online.connect(
            resolved.base_url,
            resolved.api_key,
            entity=resolved.entity,
            anonymous=resolved.anonymous,
            force=resolved.force,
        )
        mode = "online" if remote is not None else "offline"
        if remote is not None and resolved.run_id is not None and resume not in (None, False):
            server_view = _online.server_run(remote, resolved.project, resolved.run_id)
            if server_view is not None and resume == "never":
                raise UsageError(
                    f"resume='never': run {resolved.project}/{resolved.run_id} already exists on {remote.base_url}"
                )
            if server_view is not None and resume == "must":
                resume = "allow"  # this node may have no copy: the server's continues
    resuming = resume not in (None, False, "never")
    root = _layout.store_root(_base_dir(resolved.root_dir, resuming))
    try:
        claim = _claim.claim(root, resolved.project, resolved.run_id, resume)
    except UsageError as error:
        _events.init_refused(root, resolved.project, resolved.run_id, error)
        raise
    try:
        run = _start(claim, resolved, config, mode, integrations, remote, server_view)
    except BaseException:
        claim.abandon()
        raise
    if claim.replaced_to is not None:
        console.warn(
            f"run {claim.project}/{claim.run_id} already existed and resume is off: it was replaced; "
            f"the old data is kept in {claim.replaced_to}"
        )
    if remote is not None:
        from tracker._online import Streamer

        _run.attach_streamer(
            run,
            Streamer(
                remote,
                claim.project,
                claim.run_id,
                claim.paths,
                _run.journal_id(run),
                resolved.heartbeat_interval,
                run.summary.as_dict,
            ),
            f"{remote.base_url}/{remote.entity}/{claim.project}/{claim.run_id}",
            resolved.upload_timeout,
        )
    return run


def _start(
    claim: _claim.Claim,
    resolved: Settings,
    config: dict[str, Any],
    mode: str,
    integrations: dict[str, Any],
    remote: Any = None,
    server_view: dict[str, Any] | None = None,
) -> Run:
    """Write the start (or resume) records of a claimed run, all or nothing, and return its Run."""
    paths, run_id, project = claim.paths, claim.run_id, claim.project
    start = time.time()
    if claim.action == "resume":
        prior: _Prior | None = _Prior.from_disk(paths, f"run {project}/{run_id}")
    else:
        prior = _Prior.from_server(server_view) if server_view is not None else None
    identity = _identity(resolved, run_id, project, prior, remote.entity if remote is not None else None)
    if prior is not None:
        config = {**prior.config, **config}
    metadata = _metadata(start, prior, resolved)
    writer = RunWriter.open(paths, claim.lock)
    log = DebugLog(os.path.join(paths.logs, _layout.DEBUG_LOG), level=resolved.log_level, run_id=run_id)
    run = Run(
        identity,
        writer=writer,
        config=config,
        summary=prior.summary if prior else SummaryState(),
        allow_val_change=resolved.allow_val_change,
        starting_step=prior.starting_step if prior else 0,
        resumed=prior is not None,
        runtime_offset=prior.runtime if prior else 0.0,
        created_at=prior.run["created_at"] if prior else utc_now_iso(start),
        mode=mode,
        silent=resolved.silent,
        keep_raw_arrays=resolved.keep_raw_arrays,
        record={
            "format_version": _layout.FORMAT_VERSION,
            "mode": mode,
            "anonymous": resolved.anonymous,
            "resume_count": (int(prior.run.get("resume_count") or 0) + 1) if prior else 0,
            "integrations": integrations,
            # names this journal file for the server (offsets are per file); kept while the file is
            "journal_id": (claim.action == "resume" and prior and prior.run.get("journal_id")) or os.urandom(16).hex(),
        },
        log=log,
    )
    # encode everything first (an unstorable value is a UsageError before any write), then write it all
    files = {
        paths.config: encode_json("config", config),
        paths.metadata: encode_json("settings: run_metadata", metadata),
        paths.run: encode_json("run.json", _run.start_record(run)),
    }
    journal_size = writer.size
    staged = StagedFiles()
    try:
        for path, data in files.items():
            staged.write(path, data)
        if prior is not None:
            writer.append_record({EVENT: "resume", "at": start, "starting_step": prior.starting_step})
        staged.commit()
        for path, data in files.items():
            writer.note_materialized(path, data)
    except BaseException as error:
        staged.discard()
        with contextlib.suppress(OSError):
            writer.truncate(journal_size)
        writer.close_history()
        if isinstance(error, OSError) and not isinstance(error, StorageError):
            raise StorageError.of(
                f"init(): cannot write run {project}/{run_id}", error, "nothing was changed"
            ) from error
        raise
    _after_start(run, claim, resolved, metadata, prior, log, mode)
    return run


def _after_start(
    run: Run,
    claim: _claim.Claim,
    resolved: Settings,
    metadata: dict[str, Any],
    prior: _Prior | None,
    log: DebugLog,
    mode: str,
) -> None:
    """What a started run does besides its own records: none of it can fail the start."""
    paths = claim.paths
    if prior is not None:
        _index.note_resumed(paths.directory)  # run.json changed in place: listings must look again
    with contextlib.suppress(OSError):  # only serves resume="auto"; a read-only root must not fail the run
        _autoresume.mark_started(claim.root, claim.project, claim.run_id)
    if resolved.save_code:
        try:
            _run.save_code(run, program_path())
        except OSError as error:
            console.warn(f"save_code: the program could not be saved with the run ({error.strerror or error})")
    _events.run_opened(log, run, claim, resolved, mode)
    console.info(f"run {run.name} ({claim.run_id}) -> {paths.directory}", silent=resolved.silent)
    if prior is not None:
        console.info(f"resumed at step {prior.starting_step}", silent=resolved.silent)
    # last: the first call_later starts the timer thread, which would take the GIL at init()'s next write
    _complete_metadata_later(run, metadata)


def _identity(
    resolved: Settings, run_id: str, project: str, prior: _Prior | None, entity: str | None = None
) -> Identity:
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
        entity=entity or pick("entity", "entity", None),
        group=pick("run_group", "group", None),
        job_type=pick("run_job_type", "job_type", resolved.run_job_type),
        tags=tuple(pick("run_tags", "tags", ()) or ()),
        notes=pick("run_notes", "notes", None),
    )


def _metadata(start: float, prior: _Prior | None, resolved: Settings) -> dict[str, Any]:
    """The cheap metadata, recorded at init(): git's commit and branch too (read from files); its remote
    and dirty flag are added later from a thread."""
    metadata = {**collect(start), **(resolved.run_metadata or {})}
    head = None if resolved.disable_git else git_head(metadata["program"])
    if head is not None:
        metadata["git"] = {**head, "remote": None, "dirty": None}
    if prior is not None:
        keep = ("host", "pid", "started_at", "slurm")
        metadata["previous_processes"] = [*prior.previous_processes, {key: prior.metadata.get(key) for key in keep}]
    return metadata


def _complete_metadata_later(run: Run, metadata: dict[str, Any]) -> None:
    """What init() does not wait for (git's remote and dirty flag, a login name only NSS knows), added from a
    background thread that finish() does not wait for: a run that ends first keeps them unknown (null)."""
    if metadata.get("git") is None and metadata.get("user") is not None:
        return

    def complete() -> None:
        if run.status == "running":
            run.add_metadata(completed(metadata))

    def start_lookup() -> None:  # `git status` can take seconds: never on the timer thread itself
        if run.status == "running":
            threading.Thread(target=complete, name="tracker-metadata", daemon=True).start()

    # not while init() and the first log() calls run (the GIL, the import lock); a shorter run starts no thread
    _background.call_later(DEFERRED_METADATA_DELAY_S, start_lookup)


def _disabled_run(resolved: Settings, config: dict[str, Any]) -> Run:
    """A run that accepts every call and writes nothing."""
    run_id = resolved.run_id or new_run_id()
    identity = _identity(resolved, run_id, resolved.project, None)
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
