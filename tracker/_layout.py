"""Where things live in a tracker root; the single place that knows the on-disk layout (see FORMAT.md)."""

from __future__ import annotations

import os
import time

FORMAT_VERSION = 1
STORE_DIRNAME = "tracker-runs"

RUN_FILE = "run.json"
CONFIG_FILE = "config.json"
SUMMARY_FILE = "summary.json"
METADATA_FILE = "metadata.json"
HISTORY_FILE = "history.jsonl"
LOCK_FILE = "lock"
FILES_DIR = "files"
LOGS_DIR = "logs"
MEDIA_DIR = "media"
ARTIFACTS_DIR = "artifacts"
ARTIFACTS_FILE = "artifacts.jsonl"
DEBUG_LOG = "debug.log"
HOST_LOGS_DIR = ".logs"
RESUME_FILE = "resume.json"
RESUME_DIR = "resume"


def ensure_dir(path: str) -> None:
    """``os.makedirs(path, exist_ok=True)``, in one system call when the parent exists (init()'s common case:
    makedirs looks at the parent first, then at the directory again when it exists)."""
    try:
        os.mkdir(path)
    except FileNotFoundError:
        os.makedirs(path, exist_ok=True)
    except FileExistsError:
        if not os.path.isdir(path):
            raise


def store_root(base_dir: str) -> str:
    """The store inside the directory given as ``init(dir=...)``."""
    return os.path.join(base_dir, STORE_DIRNAME)


def projects_dir(root: str) -> str:
    return os.path.join(root, "projects")


def project_dir(root: str, project: str) -> str:
    return os.path.join(projects_dir(root), project)


def run_dir(root: str, project: str, run_id: str) -> str:
    return os.path.join(project_dir(root, project), run_id)


def artifacts_dir(root: str, project: str) -> str:
    """A project's artifacts: shared blobs and one folder of versions per name."""
    return os.path.join(root, ARTIFACTS_DIR, project)


def root_of_run(directory: str) -> str:
    """The store a run directory (``<root>/projects/<project>/<id>``) belongs to."""
    return os.path.dirname(os.path.dirname(os.path.dirname(directory)))


def trash_dir(root: str) -> str:
    return os.path.join(root, "trash")


def trash_target(root: str, project: str, run_id: str, reason: str) -> str:
    """A fresh path in the trash for a run moved aside (``replaced`` or ``removed``); its parent exists."""
    parent = os.path.join(trash_dir(root), project)
    os.makedirs(parent, exist_ok=True)
    stamp = time.strftime("%Y%m%dT%H%M%S")
    target = os.path.join(parent, f"{run_id}.{reason}.{stamp}")
    suffix = 1
    while os.path.exists(target):
        target = os.path.join(parent, f"{run_id}.{reason}.{stamp}.{suffix}")
        suffix += 1
    return target


def resume_file(root: str) -> str:
    """The single resume file of stores written before per-run markers (read, never written)."""
    return os.path.join(root, RESUME_FILE)


def resume_dir(root: str, project: str) -> str:
    return os.path.join(root, RESUME_DIR, project)


def resume_marker(root: str, project: str, run_id: str) -> str:
    """``<store>/resume/<project>/<run_id>.json``: written only by the process holding that run's lock."""
    return os.path.join(resume_dir(root, project), f"{run_id}.json")


def host_log(root: str, host: str) -> str:
    """``<store>/.logs/<host>.jsonl``: one global debug log per host, so no two hosts append to one file."""
    return os.path.join(root, HOST_LOGS_DIR, f"{host.replace(os.sep, '_') or 'unknown-host'}.jsonl")


class RunPaths:
    """The files of one run directory."""

    __slots__ = ("config", "directory", "files", "history", "lock", "logs", "metadata", "run", "summary")

    def __init__(self, directory: str) -> None:
        self.directory = directory
        self.run = os.path.join(directory, RUN_FILE)
        self.config = os.path.join(directory, CONFIG_FILE)
        self.summary = os.path.join(directory, SUMMARY_FILE)
        self.metadata = os.path.join(directory, METADATA_FILE)
        self.history = os.path.join(directory, HISTORY_FILE)
        self.lock = os.path.join(directory, LOCK_FILE)
        self.files = os.path.join(directory, FILES_DIR)
        self.logs = os.path.join(directory, LOGS_DIR)
