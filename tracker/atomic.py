"""Atomic file replacement: readers see the old file or the new one, never a mix.

Temp names carry the pid, the thread and a counter, so concurrent writers (threads, a signal handler
interrupting a write, processes on other hosts) never share one.
"""

from __future__ import annotations

import itertools
import os
import threading

_counter = itertools.count()


def write_all(fd: int, data: bytes) -> None:
    """Hand all bytes to the OS; a short write (a signal, a large payload) continues where it stopped."""
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def write_atomic(path: str, data: bytes) -> None:
    """Write ``data`` to a temp file beside ``path``, then rename it over ``path``."""
    temporary = f"{path}.{os.getpid()}.{threading.get_ident()}.{next(_counter)}.tmp"
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o644)
    try:
        write_all(fd, data)
    finally:
        os.close(fd)
    try:
        os.replace(temporary, path)
    except OSError:
        os.unlink(temporary)
        raise
