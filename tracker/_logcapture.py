"""Hydra's and submitit's standard ``logging`` records, copied into a run's debug log while the run lives.

A handler goes on those named loggers only (never the root logger), at the level the user chose; the
loggers' own levels, handlers and propagation are left as the user or Hydra configured them, so a
record those loggers filter out is not seen here either. Imported only when a run is opened in a
process that already uses Hydra or submitit (``logging`` is then loaded anyway).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tracker._logs import DebugLog

CAPTURED_LOGGERS = ("hydra", "hydra_plugins", "submitit")
_EVENT = "library.log"


class _ToRunLog(logging.Handler):
    """Turns each record into a ``library.log`` event of the run's debug log."""

    def __init__(self, log: DebugLog, level: int) -> None:
        super().__init__(level)
        self._log = log

    def emit(self, record: logging.LogRecord) -> None:
        try:
            level = "error" if record.levelno >= logging.ERROR else logging.getLevelName(record.levelno).lower()
            self._log.event(
                level if level in ("debug", "info", "warning", "error") else "info",
                _EVENT,
                at=record.created,
                logger=record.name,
                message=record.getMessage(),
            )
        except Exception:  # a record that cannot be formatted must not disturb the library that logged it
            self.handleError(record)


def attach(log: DebugLog, level: str) -> _ToRunLog:
    """Add the handler to Hydra's and submitit's loggers; ``detach`` removes it."""
    handler = _ToRunLog(log, logging.getLevelName(level.upper()))
    for name in CAPTURED_LOGGERS:
        logging.getLogger(name).addHandler(handler)
    return handler


def detach(handler: _ToRunLog) -> None:
    for name in CAPTURED_LOGGERS:
        logging.getLogger(name).removeHandler(handler)
