"""User-facing console lines: the one place that prints, to stderr, with TRACKER_SILENT honoured."""

from __future__ import annotations

import sys

_PREFIX = "tracker: "


def info(message: str, *, silent: bool) -> None:
    """A progress line (run header, resume notice); suppressed when silent."""
    if not silent:
        _emit(message)


def warn(message: str) -> None:
    """A warning the user must see: data not stored as asked, a fallback taken. Never suppressed."""
    _emit(f"warning: {message}")


def _emit(line: str) -> None:
    try:
        sys.stderr.write(f"{_PREFIX}{line}\n")
        sys.stderr.flush()
    except (OSError, ValueError, AttributeError):  # closed or missing stderr must not break training
        pass
