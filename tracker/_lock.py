"""One live writer per run: an exclusive flock on the run's lock file, released by the kernel on death.

A reader tells a live run from a crashed one by probing the same lock with a shared, non-blocking
flock, so a dead holder never blocks anyone. Linux's NFS client maps flock onto POSIX byte-range
locks, which NFSv4 servers enforce across hosts.

A lock is only good while its file is still the one at its path: a process that removes a run
directory (a failed init(), ``tracker gc`` clearing debris) does so holding the lock, and whoever
was waiting for that lock finds, once it has it, that the path has gone, and starts over.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import time

import orjson

from tracker._errors import UsageError
from tracker._metadata import hostname

# A reader's probe holds the lock for microseconds; a writer retries this long before giving up.
_ACQUIRE_PATIENCE_S = 0.25


class LockGone(Exception):
    """The lock file was removed or replaced while we waited for it: look the run up again."""


class LockRefused(UsageError):
    """Another live process holds the run's lock; ``holder`` is what it wrote there (pid, host), if readable."""

    def __init__(self, message: str, holder: dict[str, object]) -> None:
        super().__init__(message)
        self.holder = holder


class RunLock:
    """The exclusive lock held by the process writing a run; ``waited_for`` names a holder it had to wait for."""

    __slots__ = ("_fd", "path", "waited", "waited_for")

    def __init__(self, path: str, fd: int) -> None:
        self.path = path
        self._fd: int | None = fd
        self.waited = 0.0  # seconds spent waiting for another holder to let go
        self.waited_for: dict[str, object] | None = None

    @classmethod
    def acquire(cls, path: str, run_id: str, *, patience: float = _ACQUIRE_PATIENCE_S) -> RunLock:
        """Take the lock, raise UsageError naming the live holder, or LockGone if the path vanished."""
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW, 0o644)
        except FileNotFoundError:
            raise LockGone(path) from None
        started = time.monotonic()
        holder: dict[str, object] | None = None
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                holder = holder or _read_holder(fd)
                if time.monotonic() - started >= patience:
                    os.close(fd)
                    raise LockRefused(
                        f"run ID {run_id!r} is in use by {_describe(holder)}; one process writes a run at a time "
                        "(wait for it to finish, or choose another id)",
                        holder,
                    ) from None
                time.sleep(0.01)
        lock = cls(path, fd)
        if holder is not None:
            lock.waited, lock.waited_for = time.monotonic() - started, holder
        if not lock._still_at_path():
            lock.release()
            raise LockGone(path)
        with contextlib.suppress(OSError):  # who holds it is only a courtesy to the next process
            os.ftruncate(fd, 0)
            os.pwrite(fd, orjson.dumps({"pid": os.getpid(), "host": hostname(), "since": time.time()}), 0)
        return lock

    @classmethod
    def try_acquire(cls, path: str) -> RunLock | None:
        """The lock if nobody holds it and its file exists, else None (never waits, never creates)."""
        try:
            fd = os.open(path, os.O_RDWR | os.O_CLOEXEC | os.O_NOFOLLOW)
        except OSError:
            return None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return None
        lock = cls(path, fd)
        if not lock._still_at_path():
            lock.release()
            return None
        return lock

    def _still_at_path(self) -> bool:
        assert self._fd is not None
        try:
            here = os.stat(self.path, follow_symlinks=False)
        except FileNotFoundError:
            return False
        mine = os.fstat(self._fd)
        return (here.st_dev, here.st_ino) == (mine.st_dev, mine.st_ino)

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


def _read_holder(fd: int) -> dict[str, object]:
    """The pid and host the holder wrote into the lock file ({} when unreadable)."""
    try:
        holder = orjson.loads(os.pread(fd, 4096, 0))
        return {"pid": int(holder["pid"]), "host": str(holder["host"])}
    except (OSError, orjson.JSONDecodeError, KeyError, TypeError, ValueError):
        return {}


def _describe(holder: dict[str, object]) -> str:
    return f"pid {holder['pid']} on {holder['host']!r}" if holder else "another process"


def is_held(path: str) -> bool:
    """True while a live process holds the run's lock."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC | os.O_NOFOLLOW)
    except OSError:
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
