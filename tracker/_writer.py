"""The single writer of one run directory: journal appends and atomic materialized files.

``append`` hands each record to the OS with one os.write on an O_APPEND descriptor, so a record
whose call returned survives the process being killed an instant later.
"""

from __future__ import annotations

import os
from typing import Any

from tracker import _journal, _layout
from tracker._lock import RunLock
from tracker.atomic import write_all


class RunWriter:
    """Owns a run directory for the lifetime of the run; created by init(), closed by finish()."""

    __slots__ = ("_history_fd", "lock", "paths")

    def __init__(self, paths: _layout.RunPaths, lock: RunLock) -> None:
        self.paths = paths
        self.lock = lock
        self._history_fd: int | None = os.open(
            paths.history, os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o644
        )
        size = os.fstat(self._history_fd).st_size
        if size and os.pread(self._history_fd, 1, size - 1) != b"\n":
            os.write(self._history_fd, b"\n")  # end a line torn by an earlier kill before appending

    @classmethod
    def open(cls, paths: _layout.RunPaths, lock: RunLock) -> RunWriter:
        os.makedirs(paths.files, exist_ok=True)
        os.makedirs(paths.logs, exist_ok=True)
        return cls(paths, lock)

    def append(self, payload: bytes) -> None:
        """Write one encoded journal record."""
        fd = self._history_fd
        if fd is None:
            raise OSError("the run's history file is closed")
        written = os.write(fd, payload)
        if written != len(payload):  # rare: a signal mid-write; a full disk raises on the retry
            write_all(fd, payload[written:])

    def append_record(self, record: dict[str, Any]) -> None:
        self.append(_journal.encode_record(record))

    def materialize(self, path: str, value: Any) -> None:
        _journal.write_json_atomic(path, value)

    def close(self) -> None:
        if self._history_fd is not None:
            os.close(self._history_fd)
            self._history_fd = None
        self.lock.release()

    def forget_after_fork(self) -> None:
        """In a forked child: drop inherited descriptors, leaving the parent's run untouched."""
        if self._history_fd is not None:
            os.close(self._history_fd)
            self._history_fd = None
        self.lock.forget_after_fork()


class NullWriter:
    """The writer of a disabled run: accepts everything, stores nothing."""

    __slots__ = ()
    paths = None

    def append(self, payload: bytes) -> None:
        pass

    def append_record(self, record: dict[str, Any]) -> None:
        pass

    def materialize(self, path: str, value: Any) -> None:
        pass

    def close(self) -> None:
        pass

    def forget_after_fork(self) -> None:
        pass
