"""The launcher's debug events: sweeps launched (this host's store log), and each job's life (its run's log).

A sweep's events go to the per-host global log of the store, since no run exists while jobs are
submitted; a job's events go to the debug log of the run it opened. Names and fields are documented
in ``tracker/FORMAT.md`` ("Debug events").
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from tracker import _logs
from tracker._metadata import hostname

# the scheduler's view of a job: Slurm's ids when under Slurm, submitit's own job id in any case
_JOB_ENVIRONMENT = {
    "slurm_job_id": "SLURM_JOB_ID",
    "slurm_array_job_id": "SLURM_ARRAY_JOB_ID",
    "slurm_array_task_id": "SLURM_ARRAY_TASK_ID",
    "slurm_restart_count": "SLURM_RESTART_COUNT",
    "submitit_job_id": "SUBMITIT_JOB_ID",
}


def sweep_launched(
    store_root: str, group: str, launcher: str, sweep_dir: str, jobs: Sequence[Mapping[str, Any]]
) -> None:
    """The sweep's identity (its group, fixed for all its jobs) and the jobs handed to the launcher."""
    _logs.host_event(store_root, "info", "sweep.identity", group=group, launcher=launcher, sweep_dir=sweep_dir)
    _logs.host_event(
        store_root,
        "info",
        "jobs.submitted",
        group=group,
        launcher=launcher,
        count=len(jobs),
        jobs=[{"num": job["num"], "run_id": job["run_id"], "name": job["name"]} for job in jobs],
    )


def jobs_queued(store_root: str, group: str, jobs: Sequence[Mapping[str, Any]], job_ids: Sequence[str]) -> None:
    """The scheduler took the jobs: each job's scheduler id (Slurm's ``ARRAY_TASK`` or submitit's local id)."""
    pairs = zip(jobs, job_ids, strict=False)  # one submitted job per job, in order; a log line never fails a launch
    queued = [{"num": job["num"], "run_id": job["run_id"], "job_id": job_id} for job, job_id in pairs]
    array_ids = sorted({job_id.partition("_")[0] for job_id in job_ids if "_" in job_id})
    _logs.host_event(store_root, "info", "jobs.queued", group=group, jobs=queued, array_job_ids=array_ids)


def _job_fields() -> dict[str, Any]:
    fields = {name: os.environ[variable] for name, variable in _JOB_ENVIRONMENT.items() if os.environ.get(variable)}
    if "submitit" in sys.modules:
        with contextlib.suppress(Exception):  # only inside a submitit job
            fields["submitit_job_id"] = sys.modules["submitit"].JobEnvironment().job_id
    return {**fields, "host": hostname()}


@contextlib.contextmanager
def job(requeues: int = 0) -> Iterator[None]:
    """``job.started`` (with the scheduler's ids) when a job's run is open, ``job.ended`` (and how) after its task."""
    job_started(requeues)
    try:
        yield
    except BaseException as error:
        _logs.run_event("error", "job.ended", outcome="raised", exception=f"{type(error).__name__}: {error}")
        raise
    _logs.run_event("info", "job.ended", outcome="returned")


def job_started(requeues: int = 0) -> None:
    """A job's run is open: ``job.started`` with the scheduler's ids and how often it was requeued."""
    _logs.run_event("info", "job.started", requeues=requeues, **_job_fields())


def job_ended(status: str) -> None:
    """A job tracked by the callback ended with Hydra's status (COMPLETED, FAILED)."""
    _logs.run_event("info" if status == "COMPLETED" else "error", "job.ended", outcome=status.lower())


def requeued(requeues: int) -> None:
    """submitit is requeuing the job (a preemption signal reached it): the run continues in the next job."""
    _logs.run_event("warning", "job.requeued", requeues=requeues, **_job_fields())


def checkpoint(event: str, path: str, **fields: Any) -> None:
    """``checkpoint.saved`` or ``checkpoint.loaded`` (found or not) for the open run."""
    _logs.run_event("info", event, path=path, **fields)
