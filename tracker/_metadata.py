"""What a run records about where and how it ran: host, process, program, git state, Slurm variables."""

from __future__ import annotations

import datetime as _dt
import getpass
import os
import platform
import socket
import subprocess
import sys
from typing import Any


def utc_now_iso(timestamp: float) -> str:
    return _dt.datetime.fromtimestamp(timestamp, _dt.UTC).isoformat().replace("+00:00", "Z")


def program_path() -> str | None:
    """The entry-point script, as the user ran it (None in an interactive session)."""
    main = sys.modules.get("__main__")
    path = getattr(main, "__file__", None)
    return os.path.abspath(path) if path else None


def _user() -> str | None:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return None


def slurm_job(environ: dict[str, str]) -> dict[str, Any] | None:
    """The Slurm job this process runs in: job, array and task ids, node, restart count."""
    if "SLURM_JOB_ID" not in environ:
        return None
    return {
        "job_id": environ["SLURM_JOB_ID"],
        "array_job_id": environ.get("SLURM_ARRAY_JOB_ID"),
        "array_task_id": environ.get("SLURM_ARRAY_TASK_ID"),
        "node": environ.get("SLURMD_NODENAME"),
        "restart_count": int(environ.get("SLURM_RESTART_COUNT") or 0),
    }


def collect(start_time: float) -> dict[str, Any]:
    """The cheap part, recorded synchronously at init()."""
    return {
        "host": socket.gethostname(),
        "pid": os.getpid(),
        "user": _user(),
        "python": platform.python_version(),
        "python_executable": sys.executable,
        "platform": sys.platform,
        "program": program_path(),
        "argv": list(sys.argv),
        "cwd": os.getcwd(),
        "started_at": utc_now_iso(start_time),
        "slurm": {key: value for key, value in os.environ.items() if key.startswith(("SLURM_", "SLURMD_"))} or None,
        "slurm_job": slurm_job(dict(os.environ)),
    }


def _git(cwd: str, *args: str) -> str | None:
    try:
        # --no-optional-locks: `git status` must not take the user's index.lock while they commit
        result = subprocess.run(
            ["git", "--no-optional-locks", *args], cwd=cwd, capture_output=True, text=True, timeout=10, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return result.stdout.strip() if result.returncode == 0 else None


def collect_git(program: str | None) -> dict[str, Any] | None:
    """Commit, branch, remote and dirty flag of the repository holding the program (slow: run it off-thread)."""
    cwd = os.path.dirname(program) if program else os.getcwd()
    described = _git(cwd, "rev-parse", "--show-toplevel", "HEAD", "--abbrev-ref", "HEAD")
    if described is None:
        lines = (_git(cwd, "rev-parse", "--show-toplevel") or "").splitlines()  # a repository with no commit yet
        if not lines:
            return None
        root, commit, branch = lines[0], None, None
    else:
        root, commit, branch = described.splitlines()
    status = _git(root, "status", "--porcelain", "--untracked-files=no")
    return {
        "root": root,
        "commit": commit,
        "branch": branch,
        "remote": _git(root, "config", "--get", "remote.origin.url"),
        "dirty": None if status is None else bool(status),
    }
