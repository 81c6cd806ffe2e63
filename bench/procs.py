"""Process mechanics: child environment, spawning in its own session, killing only what we started."""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import stat
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent  # holds bench/ and (once written) tracker/

# Same for every tool, so no tool pays for another's settings: no network, no telemetry, quiet.
COMMON_ENV = {
    "TRACKER_SILENT": "true",
    "WANDB_SILENT": "true",
    "WANDB_MODE": "offline",
    "HF_HUB_OFFLINE": "1",
    "HF_HUB_DISABLE_TELEMETRY": "1",
    "MLFLOW_DISABLE_TELEMETRY": "true",
    "DO_NOT_TRACK": "true",
    "PYTHONUNBUFFERED": "1",
}


def child_env(extra: dict[str, str]) -> dict[str, str]:
    env = dict(os.environ)
    # as on a user's machine, every tool's modules run from cached bytecode (written by the probe run), not
    # recompiled in each child
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env.update(COMMON_ENV)
    env.update(extra)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO_ROOT), os.environ.get("PYTHONPATH")) if p)
    return env


class ChildFailed(RuntimeError):
    """A child exited non-zero, timed out, or wrote no result; the message is short enough for a cell."""


@dataclass
class Child:
    """A running child process, alone in its own session (process group id == pid)."""

    proc: subprocess.Popen[bytes]
    log_path: Path
    started: float

    @property
    def pid(self) -> int:
        return self.proc.pid

    def wait(self, timeout: float) -> float:
        """Wait for exit, return wall seconds since spawn; on timeout kill the group and raise."""
        try:
            self.proc.wait(timeout=max(0.0, timeout - (time.perf_counter() - self.started)))
        except subprocess.TimeoutExpired:
            kill_group(self.pid)
            self.proc.wait()
            raise ChildFailed(f"timed out after {timeout:.0f} s") from None
        return time.perf_counter() - self.started

    def failure(self) -> str:
        return f"exit {self.proc.returncode}: {tail(self.log_path)}"


def spawn(argv: list[str], env: dict[str, str], cwd: Path, log_path: Path, pass_fds: tuple[int, ...] = ()) -> Child:
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "wb") as log:
        started = time.perf_counter()
        proc = subprocess.Popen(
            argv,
            env=env,
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            pass_fds=pass_fds,
            start_new_session=True,
        )
    return Child(proc, log_path, started)


def workload_argv(spec: dict[str, Any]) -> list[str]:
    return [sys.executable, "-m", "bench.workloads", json.dumps(spec)]


def kill_group(pgid: int) -> None:
    """SIGKILL every process left in a session we created (e.g. a tool's helper daemon)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)


def group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except (ProcessLookupError, PermissionError):
        return False
    return True


def settle_group(pgid: int, grace_s: float) -> None:
    """Give helpers of an exited child `grace_s` to leave on their own, then kill the rest."""
    end = time.monotonic() + grace_s
    while group_alive(pgid) and time.monotonic() < end:
        time.sleep(0.02)
    kill_group(pgid)


_EXCEPTION_LINE = re.compile(r"^[A-Za-z_][\w.]*(Error|Exception|Exit|Interrupt)\b.*")


def tail(path: Path, limit: int = 160) -> str:
    """The line naming the error in a child's output (the last exception line, else the last line)."""
    try:
        lines = [ln.strip() for ln in path.read_text(errors="replace").splitlines() if ln.strip()]
    except OSError:
        return "no output"
    errors = [ln for ln in lines if _EXCEPTION_LINE.match(ln)]
    return (errors[-1] if errors else lines[-1] if lines else "no output")[:limit]


def disk_bytes(path: Path) -> int:
    """Apparent size of every regular file under path (symlinks not followed)."""
    total = 0
    for dirpath, _dirs, files in os.walk(path):
        for name in files:
            try:
                st = os.lstat(os.path.join(dirpath, name))
            except OSError:
                continue
            if stat.S_ISREG(st.st_mode):
                total += st.st_size
    return total
