"""Console capture: the run's stdout and stderr copied to its ``output.log`` while still reaching the terminal.

Python-level writes are captured (print, logging, warnings, the traceback of an uncaught exception, which
the interpreter prints before the run is finished); output written by subprocesses or C code directly to
file descriptors 1 and 2 is not. Each write is appended with one os.write, so the log survives a kill.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
from typing import Any, TextIO

OUTPUT_FILE = "output.log"
CONSOLE_MODES = ("auto", "wrap", "off")


class _Tee:
    """A text stream that forwards to the stream it replaced and appends the same text to the log."""

    def __init__(self, stream: TextIO, capture: Capture) -> None:
        self._stream = stream
        self._capture = capture

    def write(self, text: str) -> int:
        written = self._stream.write(text)
        self._capture.append(text)
        return written

    def writelines(self, lines: Any) -> None:
        for line in lines:
            self.write(line)

    def __getattr__(self, name: str) -> Any:  # flush, fileno, isatty, encoding, buffer, ...
        return getattr(self._stream, name)


class Capture:
    """The capture of one run; ``stop()`` puts the original streams back if nobody replaced them since.

    A preemption signal can finish the run (and stop the capture) from inside an ``append`` of the same
    thread, so the lock is reentrant and the descriptor is closed only once no append is using it.
    """

    def __init__(self, path: str) -> None:
        self._fd: int | None = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o644)
        self._lock = threading.RLock()
        self._writing = 0
        self._stopping = False
        self._stdout, self._stderr = _Tee(sys.stdout, self), _Tee(sys.stderr, self)
        sys.stdout, sys.stderr = self._stdout, self._stderr

    def append(self, text: str) -> None:
        """Best effort: a full disk or a closed log must never break the user's print()."""
        with self._lock:
            if self._fd is None or self._stopping or not text:
                return
            self._writing += 1
            try:
                with contextlib.suppress(OSError):
                    os.write(self._fd, text.encode("utf-8", "backslashreplace"))
            finally:
                self._writing -= 1
                self._close_if_stopped()

    def _close_if_stopped(self) -> None:
        if self._stopping and not self._writing and self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def stop(self) -> None:
        with self._lock:
            self._stopping = True
            self._close_if_stopped()
        if sys.stdout is self._stdout:
            sys.stdout = self._stdout._stream
        if sys.stderr is self._stderr:
            sys.stderr = self._stderr._stream


def tail(path: str, lines: int = 20, block: int = 16384) -> list[str]:
    """The last ``lines`` lines of a log, reading only its end (a log can be large)."""
    try:
        with open(path, "rb") as file:
            size = file.seek(0, os.SEEK_END)
            file.seek(max(0, size - block))
            data = file.read()
    except OSError:
        return []
    return data.decode("utf-8", "replace").splitlines()[-lines:]
