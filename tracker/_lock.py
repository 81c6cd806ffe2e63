"""One live writer per run: an exclusive flock on the run's lock file, released by the kernel on death.

A reader tells a live run from a crashed one by probing the same lock with a shared, non-blocking
flock, so a dead holder never blocks anyone. Linux's NFS client maps flock onto POSIX byte-range
locks, which NFSv4 servers enforce across hosts.
"""

from __future__ import annotations

import fcntl
import os
import socket
import time

import orjson

from tracker._errors import UsageError

# A reader's probe holds the lock for microseconds; a writer retries this long before giving up.
_ACQUIRE_PATIENCE_S = 0.25


class RunLock:
    """The exclusive lock held by the process writing a run."""

    __slots__ = ("_fd", "path")

    def __init__(self, path: str, fd: int) -> None:
        self.path = path
        self._fd: int | None = fd

    @classmethod
    def acquire(cls, path: str, run_id: str) -> RunLock:
        """Take the lock or raise UsageError naming the live holder."""
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        deadline = time.monotonic() + _ACQUIRE_PATIENCE_S
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    holder = _read_holder(fd)
                    os.close(fd)
                    raise UsageError(
                        f"run ID {run_id!r} is in use by {holder}; one process writes a run at a time "
                        "(wait for it to finish, or choose another id)"
                    ) from None
                time.sleep(0.01)
        os.ftruncate(fd, 0)
        holder = {"pid": os.getpid(), "host": socket.gethostname(), "since": time.time()}
        os.pwrite(fd, orjson.dumps(holder), 0)
        return cls(path, fd)

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    def forget_after_fork(self) -> None:
        """In a forked child: drop the inherited descriptor without unlocking the parent's lock."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def _read_holder(fd: int) -> str:
    try:
        holder = orjson.loads(os.pread(fd, 4096, 0))
        return f"pid {holder['pid']} on {holder['host']}"
    except (OSError, orjson.JSONDecodeError, KeyError, TypeError):
        return "another process"


def is_held(path: str) -> bool:
    """True while a live process holds the run's lock."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    else:
        fcntl.flock(fd, fcntl.LOCK_UN)
        return False
    finally:
        os.close(fd)
