"""The sweep manifest: which jobs a sweep launched, with their overrides, run ids and last known states.

It is written by the launching process, at sweep start and as jobs end, into
``<tracker root>/sweeps/<project>/<key>.json`` (one file per group). A sweep launched again gets the
next attempt's group and file unless it resumes (``launch_group``), so earlier runs stay untouched.
Two launches of one sweep at once (a resumed sweep started twice) both write it: each save merges the
launch's own jobs and launch record into what is on disk, under the manifest's lock file, so neither
loses the other's. Run states are re-read from the runs themselves on demand.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import sys
import time
from collections.abc import Iterable, Iterator
from typing import Any

import orjson

import tracker
from sweeps.identity import attempt_group
from tracker import _validate as tracker_validate
from tracker import console
from tracker.atomic import write_atomic

FORMAT_VERSION = 1
PENDING = "pending"


def _problem(data: Any) -> str | None:
    """What makes a manifest unusable (a missing or wrongly typed field), or None."""
    if not isinstance(data, dict):
        return "not a JSON object"
    if data.get("format_version") != FORMAT_VERSION:
        return f"format_version {data.get('format_version')!r} is not {FORMAT_VERSION}"
    if not isinstance(data.get("group"), str) or not isinstance(data.get("project"), str):
        return "group and project must be strings"
    if not isinstance(data.get("launches", []), list):
        return "launches must be a list"
    jobs = data.get("jobs")
    if not isinstance(jobs, dict):
        return "jobs must be an object of run id to job"
    for run_id, job in jobs.items():
        if not isinstance(job, dict) or job.get("run_id") != run_id or not isinstance(job.get("num"), int):
            return f"job {run_id!r} must be an object with its run_id and an integer num"
        try:
            tracker_validate.identifier("run_id", run_id)
        except tracker.UsageError as error:
            return str(error)
    return None


@contextlib.contextmanager
def _locked(path: str) -> Iterator[None]:
    """Hold an exclusive lock on ``path`` (created if missing): the manifest's saves, one at a time."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # releases the lock


def manifests_dir(api: tracker.Api, project: str) -> str:
    return os.path.join(api.root, "sweeps", project)


def launch_group(api: tracker.Api, project: str, group: str, *, resume: bool | str | None) -> tuple[str, int]:
    """(group, attempt) of a launch: the latest earlier attempt when resuming, else a new one.

    Resuming means ``resume`` is true, "allow", "must" or "auto"; anything else never touches earlier runs.
    """
    latest = 0
    while os.path.exists(SweepManifest.path_for(api, project, attempt_group(group, latest + 1))):
        latest += 1
    resuming = resume is True or resume in ("allow", "must", "auto")
    attempt = max(latest, 1) if resuming else latest + 1
    return attempt_group(group, attempt), attempt


class SweepManifest:
    """One sweep's manifest; create or reopen with ``SweepManifest.open()``."""

    def __init__(self, path: str, data: dict[str, Any]) -> None:
        self.path = path
        self.data = data
        self._own_launches: list[dict[str, Any]] = []  # what this object added: kept by every save's merge
        self._own_jobs: set[str] = set()

    @classmethod
    def path_for(cls, api: tracker.Api, project: str, group: str) -> str:
        key = hashlib.sha256(group.encode()).hexdigest()[:16]
        return os.path.join(manifests_dir(api, project), f"{key}.json")

    @classmethod
    def open(cls, api: tracker.Api, project: str, group: str, **details: Any) -> SweepManifest:
        """The sweep's manifest, created if new; each call records one more launch."""
        path = cls.path_for(api, project, group)
        data = cls._read(path) or {
            "format_version": FORMAT_VERSION,
            "group": group,
            "project": project,
            "created_at": time.time(),
            "launches": [],
            "jobs": {},
        }
        data.update(details)
        launch = {"at": time.time(), "argv": list(sys.argv), "host": os.uname().nodename, "pid": os.getpid()}
        data["launches"].append(launch)
        manifest = cls(path, data)
        manifest._own_launches.append(launch)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        manifest.save()
        return manifest

    @classmethod
    def load(cls, api: tracker.Api, project: str, group: str) -> SweepManifest | None:
        path = cls.path_for(api, project, group)
        data = cls._read(path)
        return cls(path, data) if data else None

    @classmethod
    def all(cls, api: tracker.Api, project: str) -> list[SweepManifest]:
        directory = manifests_dir(api, project)
        try:
            names = sorted(os.listdir(directory))
        except FileNotFoundError:
            return []
        manifests = []
        for name in names:
            if name.endswith(".json"):
                data = cls._read(os.path.join(directory, name))
                if data:
                    manifests.append(cls(os.path.join(directory, name), data))
        return manifests

    @staticmethod
    def _read(path: str) -> dict[str, Any] | None:
        """A manifest's data; None (with a warning naming the file, when it exists) if it is unusable."""
        try:
            with open(path, "rb") as handle:
                data = orjson.loads(handle.read())
        except FileNotFoundError:
            return None
        except (OSError, orjson.JSONDecodeError) as error:
            problem: str | None = f"cannot be read ({getattr(error, 'strerror', None) or error})"
        else:
            problem = _problem(data)
        if problem is not None:
            console.warn(f"skipped sweep manifest {path}: {problem}")
            return None
        return data

    @property
    def group(self) -> str:
        return self.data["group"]

    @property
    def project(self) -> str:
        return self.data["project"]

    @property
    def jobs(self) -> list[dict[str, Any]]:
        """Jobs in launch order."""
        return sorted(self.data["jobs"].values(), key=lambda job: job["num"])

    def add_jobs(self, jobs: Iterable[dict[str, Any]]) -> None:
        """Record jobs about to run (keys: num, overrides, run_id, name); a known run id is updated."""
        for job in jobs:
            previous = self.data["jobs"].get(job["run_id"], {})
            self.data["jobs"][job["run_id"]] = {**previous, **job, "state": PENDING}
            self._own_jobs.add(job["run_id"])
        self.save()

    def refresh_states(self, api: tracker.Api, run_ids: Iterable[str] | None = None) -> None:
        """Copy the runs' own states into the manifest (all jobs, or those given)."""
        wanted = set(self.data["jobs"] if run_ids is None else run_ids)
        for run_id in wanted:
            try:
                state = api.run(f"{self.project}/{run_id}").state
            except tracker.Error:
                state = PENDING
            self.data["jobs"][run_id]["state"] = state
            self._own_jobs.add(run_id)
        self.save()

    def save(self) -> None:
        """Merge this launch's jobs and launch record into the manifest on disk, then replace it, under the
        manifest's lock: another launch of the same sweep saving meanwhile keeps what it wrote."""
        with _locked(self.path + ".lock"):
            on_disk = self._read(self.path)
            if on_disk is not None:
                self.data = self._merged(on_disk)
            self.data["updated_at"] = time.time()
            write_atomic(self.path, orjson.dumps(self.data, option=orjson.OPT_INDENT_2))

    def _merged(self, on_disk: dict[str, Any]) -> dict[str, Any]:
        """What is on disk, with this object's fields, its own jobs (as it last saw them) and its launches."""
        jobs = {**self.data["jobs"], **on_disk["jobs"]}
        jobs.update((run_id, self.data["jobs"][run_id]) for run_id in self._own_jobs if run_id in self.data["jobs"])
        recorded = on_disk.get("launches", [])
        launches = [*recorded, *(launch for launch in self._own_launches if launch not in recorded)]
        return {**on_disk, **self.data, "jobs": jobs, "launches": launches}
