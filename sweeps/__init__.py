"""Sweep <-> group: deterministic group, run names and ids for a sweep's jobs, and the sweep manifest."""

from sweeps.identity import experiment_overrides, job_name, run_id, sweep_group
from sweeps.manifest import SweepManifest

__all__ = ["SweepManifest", "experiment_overrides", "job_name", "run_id", "sweep_group"]
