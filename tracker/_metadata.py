"""What a run records about where and how it ran: host, process, program, git state, Slurm variables."""

from __future__ import annotations

import datetime as _dt
import functools
import getpass
import os
import sys
from typing import Any


def utc_now_iso(timestamp: float) -> str:
    return _dt.datetime.fromtimestamp(timestamp, _dt.UTC).isoformat().replace("+00:00", "Z")


def program_path() -> str | None:
    """The entry-point script, as the user ran it (None in an interactive session)."""
    main = sys.modules.get("__main__")
    path = getattr(main, "__file__", None)
    return os.path.abspath(path) if path else None


# where getpass.getuser() looks first, in its order
_LOGIN_VARIABLES = ("LOGNAME", "USER", "LNAME", "USERNAME")


@functools.cache
def login_name() -> str | None:
    """The login name, looked up once per process: from the environment, else the password database (NSS,
    which on a cluster may ask LDAP or sssd: so init() does not wait for it, see ``_login_name_now``)."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return None


def _login_name_now() -> str | None:
    """The login name if it costs no lookup (in the environment, or looked up already), else None."""
    if login_name.cache_info().currsize:
        return login_name()
    return next((os.environ[name] for name in _LOGIN_VARIABLES if os.environ.get(name)), None)


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


@functools.cache
def hostname() -> str:
    """This host's name (what socket.gethostname() returns on POSIX, without importing socket), read once:
    init() needs it three times and uname() is a system call."""
    return os.uname().nodename


def collect(start_time: float) -> dict[str, Any]:
    """The cheap part, recorded synchronously at init()."""
    environ = os.environ  # names only, then the hits: a copy or items() would decode every value
    slurm = {name: environ[name] for name in environ if name.startswith(("SLURM_", "SLURMD_"))}
    return {
        "host": hostname(),
        "pid": os.getpid(),
        "user": _login_name_now(),  # completed() looks it up when only the password database has it
        "python": sys.version.split()[0],  # what platform.python_version() reads, without importing it
        "python_executable": sys.executable,
        "platform": sys.platform,
        "program": program_path(),
        "argv": list(sys.argv),
        "cwd": os.getcwd(),
        "started_at": utc_now_iso(start_time),
        "slurm": slurm or None,
        "slurm_job": slurm_job(slurm),
    }


def _git(cwd: str, *args: str) -> str | None:
    import subprocess  # only the git thread needs it: import tracker stays cheap

    try:
        # --no-optional-locks: `git status` must not take the user's index.lock while they commit
        result = subprocess.run(
            ["git", "--no-optional-locks", *args], cwd=cwd, capture_output=True, text=True, timeout=10, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return result.stdout.strip() if result.returncode == 0 else None


def _read(path: str) -> str | None:
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            return handle.read().strip()
    except OSError:
        return None


def _git_dir(start: str) -> tuple[str, str, str] | None:
    """(work tree root, its git dir, the common git dir) of the repository holding ``start``, from files."""
    directory = os.path.abspath(start)
    while not os.path.exists(os.path.join(directory, ".git")):
        parent = os.path.dirname(directory)
        if parent == directory:
            return None
        directory = parent
    git_dir = os.path.join(directory, ".git")
    if os.path.isfile(git_dir):  # a linked worktree or a submodule: ".git" names the real git dir
        pointer = _read(git_dir) or ""
        if not pointer.startswith("gitdir:"):
            return None
        git_dir = os.path.normpath(os.path.join(directory, pointer.removeprefix("gitdir:").strip()))
    common = _read(os.path.join(git_dir, "commondir"))
    return directory, git_dir, os.path.normpath(os.path.join(git_dir, common)) if common else git_dir


def _packed_ref(common: str, ref: str) -> str | None:
    for line in (_read(os.path.join(common, "packed-refs")) or "").splitlines():
        commit, _, name = line.partition(" ")
        if name == ref:
            return commit
    return None


def git_head(program: str | None) -> dict[str, Any] | None:
    """Root, commit and branch of the repository holding the program, read from its files (no git process,
    so init() can afford it); None outside a repository. A detached head has branch "HEAD", as git says."""
    found = _git_dir(os.path.dirname(program) if program else os.getcwd())
    if found is None:
        return None
    root, git_dir, common = found
    head = _read(os.path.join(git_dir, "HEAD"))
    if not head:
        return None
    if head.startswith("ref: "):
        ref = head.removeprefix("ref: ")
        commit = _read(os.path.join(common, ref)) or _packed_ref(common, ref)  # None: no commit yet
        return {"root": root, "commit": commit, "branch": ref.removeprefix("refs/heads/")}
    return {"root": root, "commit": head, "branch": "HEAD"}


# How long after init() completed() runs: `git status`, importing subprocess and a password-database
# lookup would otherwise hold the GIL and the import lock while init() and the first log() calls run.
DEFERRED_METADATA_DELAY_S = 0.5


def completed(metadata: dict[str, Any]) -> dict[str, Any]:
    """``metadata`` with what init() left for later, looked up from a background thread: the login name
    (when only the password database has it) and git's remote and dirty flag (``git status``)."""
    done = {**metadata, "user": metadata.get("user") or login_name()}
    git = metadata.get("git")
    if git is not None:
        done["git"] = {**git, **git_state(git["root"])}
    return done


def git_state(root: str) -> dict[str, Any]:
    """Remote and dirty flag (runs `git status`: slow in big repositories, so off the caller's thread)."""
    status = _git(root, "status", "--porcelain", "--untracked-files=no")
    return {
        "remote": _git(root, "config", "--get", "remote.origin.url"),
        "dirty": None if status is None else bool(status),
    }
