"""The single writer of one run directory: journal appends and atomic materialized files.

``append`` hands each record to the OS with one os.write on an O_APPEND descriptor, so a record
whose call returned survives the process being killed an instant later. A write that fails part-way
(a full disk) is cut off again before anything else is appended, so the journal only ever holds
whole records followed, at worst, by the torn tail of a process that was killed mid-write.
"""

from __future__ import annotations

import contextlib
import os
import weakref
from typing import Any

from tracker import _journal, _layout
from tracker._errors import StorageError
from tracker._lock import RunLock
from tracker.atomic import write_all, write_atomic

_NOT_STORED = "nothing of this call was stored and the run's journal is intact"
_OPEN: weakref.WeakSet[RunWriter] = weakref.WeakSet()  # what a forked child must let go of


def _whole_records_end(fd: int) -> int:
    """The offset just after the journal's last newline (0 for an empty file)."""
    size = os.fstat(fd).st_size
    block = 65536
    end = size
    while end > 0:
        start = max(0, end - block)
        chunk = os.pread(fd, end - start, start)
        newline = chunk.rfind(b"\n")
        if newline >= 0:
            return start + newline + 1
        end = start
    return 0


class RunWriter:
    """Owns a run directory for the lifetime of the run; created by init(), closed by finish()."""

    __slots__ = ("__weakref__", "_damaged", "_history_fd", "_materialized", "_size", "lock", "paths")

    def __init__(self, paths: _layout.RunPaths, lock: RunLock) -> None:
        self.paths = paths
        self.lock = lock
        self._history_fd: int | None = os.open(
            paths.history, os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW, 0o644
        )
        self._size = _whole_records_end(self._history_fd)
        self._damaged = os.fstat(self._history_fd).st_size != self._size  # a tail torn by an earlier kill
        if self._damaged:
            self._mend()
        self._materialized: dict[str, bytes] = {}  # the bytes this writer last put in each materialized file
        _OPEN.add(self)

    @classmethod
    def open(cls, paths: _layout.RunPaths, lock: RunLock) -> RunWriter:
        _layout.ensure_dir(paths.files)
        _layout.ensure_dir(paths.logs)
        return cls(paths, lock)

    @property
    def size(self) -> int:
        """The journal's length in whole records."""
        return self._size

    def _mend(self) -> None:
        """Cut the journal back to its last whole record (a failed or torn write leaves a fragment)."""
        assert self._history_fd is not None
        os.ftruncate(self._history_fd, self._size)
        self._damaged = False

    def append(self, payload: bytes) -> None:
        """Write one encoded journal record, or raise StorageError having stored none of it."""
        fd = self._history_fd
        if fd is None:
            raise StorageError("the run's history file is closed")
        try:
            if self._damaged:
                self._mend()
            written = os.write(fd, payload)
            if written != len(payload):  # rare: a signal mid-write; a full disk raises on the retry
                write_all(fd, payload[written:])
        except OSError as error:
            self._damaged = True
            with contextlib.suppress(OSError):  # else mended before the next append, or by the next process
                self._mend()
            raise StorageError.of(f"cannot append to {self.paths.history}", error, _NOT_STORED) from error
        self._size += len(payload)

    def truncate(self, size: int) -> None:
        """Undo appends back to ``size`` (a failed init() leaves the journal as it found it)."""
        self._size = size
        self._mend()

    def append_record(self, record: dict[str, Any]) -> None:
        self.append(_journal.encode_record(record))

    def materialize(self, path: str, value: Any) -> None:
        """Replace a materialized file, unless it already holds exactly these bytes (written by this writer,
        the run directory's only one: finish() rewrites config.json, which rarely changed since)."""
        data = _journal.encode_json(os.path.basename(path), value)
        if self._materialized.get(path) == data:
            return
        try:
            write_atomic(path, data)
        except OSError as error:
            self._materialized.pop(path, None)
            raise StorageError.of(f"cannot write {path}", error, "the previous version of it is intact") from error
        self._materialized[path] = data

    def note_materialized(self, path: str, data: bytes) -> None:
        """``path`` now holds ``data``, written by init() with its other start files (all or nothing)."""
        self._materialized[path] = data

    def close_history(self) -> None:
        if self._history_fd is not None:
            os.close(self._history_fd)
            self._history_fd = None

    def close(self) -> None:
        """Close the journal and release the run's lock."""
        self.close_history()
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
    size = 0

    def append(self, payload: bytes) -> None:
        pass

    def append_record(self, record: dict[str, Any]) -> None:
        pass

    def truncate(self, size: int) -> None:
        pass

    def close_history(self) -> None:
        pass

    def materialize(self, path: str, value: Any) -> None:
        pass

    def close(self) -> None:
        pass

    def forget_after_fork(self) -> None:
        pass


def _forget_after_fork() -> None:
    """A forked child must not write or unlock its parent's runs: it drops every inherited descriptor."""
    for writer in list(_OPEN):
        writer.forget_after_fork()
    _OPEN.clear()


os.register_at_fork(after_in_child=_forget_after_fork)
