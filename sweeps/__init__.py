"""Sweep <-> group: deterministic group, run names and ids for a sweep's jobs, and the sweep manifest."""

from sweeps.identity import attempt_group, experiment_overrides, job_name, run_id, sweep_group, sweep_params
from sweeps.manifest import SweepManifest

__all__ = [
    "SweepManifest",
    "attempt_group",
    "experiment_overrides",
    "job_name",
    "run_id",
    "sweep_group",
    "sweep_params",
]
