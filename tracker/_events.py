"""The debug events init() writes: how settings were resolved, why the run is new, resumed or replaced, the lock.

Composed here from what init() decided, so that init() itself only says when; names and fields are
documented in ``tracker/FORMAT.md`` ("Debug events").
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

from tracker import _logs

if TYPE_CHECKING:
    from tracker._claim import Claim
    from tracker._errors import UsageError
    from tracker._logs import DebugLog
    from tracker._run import Run
    from tracker._settings import Settings


def run_opened(log: DebugLog | None, run: Run, claim: Claim, resolved: Settings, mode: str) -> None:
    """The init events of a started run, in its own log and in this host's log."""
    if log is None:
        return
    log.open_for_run()
    if "hydra" in sys.modules or "submitit" in sys.modules:  # their logging is loaded: copy the job's records
        log.capture_libraries(resolved.log_level)
    sources = resolved.sources()
    action = "resumed" if run.resumed else ("replaced" if claim.replaced_to else "new")
    reason = claim.reason
    if run.resumed and claim.action == "new":
        reason = "the tracking server has this run and this store has not: continued from the server's copy"
    lock = claim.lock
    events: list[tuple[str, str, dict[str, Any]]] = [
        (
            "info",
            "settings.resolved",
            {"sources": sources, "values": {name: getattr(resolved, name) for name in sources}},
        ),
        (
            "info",
            "identity.decided",
            {
                "action": action,
                "reason": reason,
                "run_id": claim.run_id,
                "project": claim.project,
                "id_source": sources.get("run_id"),
                "resume": resolved.resume,
                "replaced_to": claim.replaced_to,
            },
        ),
    ]
    if lock.waited_for is not None:
        events.append(
            ("info", "lock.waited", {"path": lock.path, "waited_s": round(lock.waited, 3), "holder": lock.waited_for})
        )
    events.append(("debug", "lock.taken", {"path": lock.path}))
    events.append(
        (
            "info",
            "run.init",
            {"project": claim.project, "dir": claim.paths.directory, "mode": mode, "settings": resolved.to_dict()},
        )
    )
    log.events(events)  # one write for the four
    _logs.host_event(
        claim.root,
        "info",
        "run.opened",
        run_id=claim.run_id,
        project=claim.project,
        action=action,
        dir=claim.paths.directory,
        log=log.path,
    )


def init_refused(root: str, project: str, run_id: str | None, error: UsageError) -> None:
    """init() could not claim the run (its lock is held, resume rules): the reason in this host's log."""
    from tracker._lock import LockRefused

    if isinstance(error, LockRefused):
        holder = error.holder
        _logs.host_event(
            root,
            "error",
            "lock.refused",
            run_id=run_id,
            project=project,
            holder_pid=holder.get("pid"),
            holder_host=holder.get("host"),
            message=str(error),
        )
    else:
        _logs.host_event(root, "error", "init.refused", run_id=run_id, project=project, message=str(error))
