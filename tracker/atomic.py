"""Atomic file replacement: readers see the old file or the new one, never a mix.

Temp names carry the pid, the thread and a counter, so concurrent writers (threads, a signal handler
interrupting a write, processes on other hosts) never share one. A write that fails (a full disk)
leaves no temp file behind and the old file untouched.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import threading

_counter = itertools.count()


def write_all(fd: int, data: bytes) -> None:
    """Hand all bytes to the OS; a short write (a signal, a large payload) continues where it stopped."""
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _write_temporary(path: str, data: bytes, mode: int = 0o644) -> str:
    """``data`` in a fresh temp file beside ``path``; nothing is left behind if writing fails."""
    temporary = f"{path}.{os.getpid()}.{threading.get_ident()}.{next(_counter)}.tmp"
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC | os.O_NOFOLLOW, mode)
    try:
        write_all(fd, data)
    except BaseException:
        os.close(fd)
        _discard(temporary)
        raise
    os.close(fd)
    return temporary


def _discard(temporary: str) -> None:
    with contextlib.suppress(OSError):
        os.unlink(temporary)


def write_atomic(path: str, data: bytes, mode: int = 0o644) -> None:
    """Write ``data`` to a temp file beside ``path`` (created with ``mode``), then rename it over ``path``."""
    temporary = _write_temporary(path, data, mode)
    try:
        os.replace(temporary, path)
    except BaseException:
        _discard(temporary)
        raise


class StagedFiles:
    """Several files replaced together: every new version is written first, then all are renamed.

    If any write fails, ``discard()`` leaves every file as it was; renames do not need free space, so
    once everything is staged, ``commit()`` does not fail for want of it.
    """

    def __init__(self) -> None:
        self._staged: list[tuple[str, str]] = []

    def write(self, path: str, data: bytes) -> None:
        self._staged.append((_write_temporary(path, data), path))

    def commit(self) -> None:
        while self._staged:
            temporary, path = self._staged.pop(0)
            os.replace(temporary, path)

    def discard(self) -> None:
        while self._staged:
            _discard(self._staged.pop()[0])
