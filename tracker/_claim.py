"""A run's identity, decided only while holding the run's lock: new, resumed or replaced.

Whether a run exists is read under its lock, so two processes opening one run id at once cannot
both start it, and a decision cannot go stale before it is acted on. A directory is only ever
removed by a process holding its lock and only when no run lives in it (no run.json), so a process
that loses a race never touches the winner's run.
"""

from __future__ import annotations

import contextlib
import os

from tracker import _autoresume, _layout, _validate, console
from tracker._errors import Error, UsageError
from tracker._journal import DamagedFile, read_json_object
from tracker._lock import LockGone, RunLock
from tracker._names import new_run_id


class Claim:
    """A run directory held by this process, and what init() is to do with it (``new`` or ``resume``)."""

    __slots__ = ("action", "lock", "paths", "project", "reason", "replaced_to", "root", "run_id")

    def __init__(
        self,
        root: str,
        project: str,
        run_id: str,
        lock: RunLock,
        action: str,
        replaced_to: str | None = None,
        reason: str = "",
    ) -> None:
        self.root, self.project, self.run_id = root, project, run_id
        self.paths = _layout.RunPaths(_layout.run_dir(root, project, run_id))
        self.lock, self.action, self.replaced_to = lock, action, replaced_to
        self.reason = reason  # why this action, for the debug log's identity.decided event

    def abandon(self) -> None:
        """Undo the claim after a failed start: a new run's directory goes, a replaced run comes back."""
        if self.action == "new":
            _remove_tree(self.paths.directory)
            if self.replaced_to is not None and not os.path.exists(self.paths.directory):
                with contextlib.suppress(OSError):
                    os.rename(self.replaced_to, self.paths.directory)
        self.lock.release()


def claim(root: str, project: str, run_id: str | None, resume: bool | str | None) -> Claim:
    """Hold the run init() asked for, applying the documented resume rules under its lock."""
    _layout.ensure_dir(_layout.project_dir(root, project))
    if resume in (True, "auto"):
        if run_id is None:
            return _auto_candidate(root, project) or _claim_fresh(
                root, project, f"resume={resume!r}: no unfinished run of this store to continue"
            )
        resume = "allow"
    if run_id is None:
        if resume == "must":
            raise UsageError("resume='must' needs the id of the run to resume: pass id=... or set TRACKER_RUN_ID")
        return _claim_fresh(root, project, "no run id given")
    return _claim_named(root, project, run_id, resume)


def _claim_fresh(root: str, project: str, reason: str) -> Claim:
    while True:
        run_id = new_run_id()
        try:
            os.mkdir(_layout.run_dir(root, project, run_id))
        except FileExistsError:
            continue
        try:
            lock = RunLock.acquire(os.path.join(_layout.run_dir(root, project, run_id), _layout.LOCK_FILE), run_id)
        except LockGone:
            continue
        return Claim(root, project, run_id, lock, "new", reason=f"{reason}: a new id")


def _claim_named(root: str, project: str, run_id: str, resume: bool | str | None) -> Claim:
    paths = _layout.RunPaths(_layout.run_dir(root, project, run_id))
    replaced_to: str | None = None
    while True:
        with contextlib.suppress(FileExistsError):
            os.mkdir(paths.directory)
        try:
            lock = RunLock.acquire(paths.lock, run_id)
        except LockGone:
            continue  # a failed start or `tracker gc` removed it meanwhile: look again
        exists = os.path.lexists(paths.run)
        where = f"run {project}/{run_id}"
        if not exists:
            if resume == "must":
                Claim(root, project, run_id, lock, "new").abandon()
                raise UsageError(f"resume='must': {where} does not exist in {root}")
            _clear_debris(paths)
            reason = f"resume={resume!r} and the run existed" if replaced_to else "no run with this id is stored"
            return Claim(root, project, run_id, lock, "new", replaced_to, reason)
        if resume == "never":
            lock.release()
            raise UsageError(f"resume='never': {where} already exists in {root}; choose another id or resume='allow'")
        if resume in ("allow", "must"):
            return Claim(root, project, run_id, lock, "resume", reason=f"resume={resume!r} and the run is stored")
        if replaced_to is not None:
            lock.release()
            raise UsageError(f"{where} was started again by another process while this one replaced it")
        replaced_to = _layout.trash_target(root, project, run_id, "replaced")
        try:
            os.rename(paths.directory, replaced_to)
        finally:
            lock.release()


def _remove_tree(path: str) -> None:
    import shutil  # only on these rare paths: import tracker stays cheap

    shutil.rmtree(path, ignore_errors=True)


def _clear_debris(paths: _layout.RunPaths) -> None:
    """Remove what a process killed while starting this run left (no run.json means no run lives here)."""
    for entry in os.scandir(paths.directory):
        if entry.name == _layout.LOCK_FILE:
            continue
        if entry.is_dir(follow_symlinks=False):
            _remove_tree(entry.path)
        else:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(entry.path)


def _auto_candidate(root: str, project: str) -> Claim | None:
    """resume='auto': the last run started from this store, if it did not finish and nobody holds it."""
    path = _layout.resume_dir(root, project)
    try:
        found = _autoresume.last_started(root, project)
        if found is None:
            return None
        path, run_id = found
        candidate = _validate.identifier("run_id", run_id)
    except Error as error:
        console.warn(f"resume='auto': ignoring {path} ({error}); starting a new run")
        return None
    paths = _layout.RunPaths(_layout.run_dir(root, project, candidate))
    lock = RunLock.try_acquire(paths.lock)  # None while another process writes it
    if lock is None:
        return None
    try:
        record = read_json_object(paths.run, "run.json")
    except DamagedFile:
        record = None
    if record is None or record.get("state") == "finished":
        lock.release()
        return None
    return Claim(
        root, project, candidate, lock, "resume", reason=f"resume='auto': {path} names an unfinished run nobody holds"
    )


def remove_abandoned(directory: str) -> bool:
    """Remove a run directory where no run lives (a process was killed while starting it), holding its lock.

    Returns False, touching nothing, when a run lives there or a process holds it.
    """
    paths = _layout.RunPaths(directory)
    try:
        lock = RunLock.acquire(paths.lock, os.path.basename(directory), patience=0)
    except (LockGone, UsageError, OSError):
        return False
    try:
        if os.path.lexists(paths.run):
            return False
        _remove_tree(directory)
        return True
    finally:
        lock.release()
