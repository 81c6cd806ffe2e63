"""Structured debug logs (JSON lines through structlog) written by a background thread.

structlog costs ~50 ms to import here, more than init() may take, so callers only enqueue events;
one daemon thread imports structlog, renders and appends. structlog is never configured globally:
the user's own structlog and logging setup stay untouched.
"""

from __future__ import annotations

import os
import queue
import threading
import time
from typing import Any

_queue: queue.SimpleQueue[tuple[Any, ...]] = queue.SimpleQueue()
_thread: threading.Thread | None = None
_thread_lock = threading.Lock()
_CLOSE = "close"
_FLUSH = "flush"


class DebugLog:
    """A logger bound to one file and a context (e.g. run_id); cheap to call from any thread."""

    __slots__ = ("_context", "_path")

    def __init__(self, path: str, **context: Any) -> None:
        self._path = path
        self._context = context

    def debug(self, event: str, **fields: Any) -> None:
        self._put("debug", event, fields)

    def info(self, event: str, **fields: Any) -> None:
        self._put("info", event, fields)

    def warning(self, event: str, **fields: Any) -> None:
        self._put("warning", event, fields)

    def error(self, event: str, **fields: Any) -> None:
        self._put("error", event, fields)

    def close(self) -> None:
        """Close the file once what was queued before is written."""
        _ensure_thread()
        _queue.put((_CLOSE, self._path))

    def _put(self, level: str, event: str, fields: dict[str, Any]) -> None:
        _ensure_thread()
        _queue.put(("log", self._path, level, event, {**self._context, **fields}, time.time(), os.getpid()))


def flush(timeout: float = 2.0) -> bool:
    """Wait until everything queued so far is written; False if the writer did not catch up in time."""
    if _thread is None:
        return True
    if not _thread.is_alive():  # the writer died (e.g. structlog missing): nothing will be written
        return False
    done = threading.Event()
    _queue.put((_FLUSH, done))
    return done.wait(timeout)


def _ensure_thread() -> None:
    global _thread
    if _thread is not None:
        return
    with _thread_lock:
        if _thread is None:
            _thread = threading.Thread(target=_write_forever, name="tracker-debug-log", daemon=True)
            _thread.start()


def _write_forever() -> None:
    import orjson
    import structlog

    def stamp(_logger: Any, _name: str, event: dict[str, Any]) -> dict[str, Any]:
        event["timestamp"] = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(event["timestamp"])) + (
            f".{int(event['timestamp'] % 1 * 1e6):06d}Z"
        )
        return event

    processors = [
        structlog.processors.add_log_level,
        stamp,
        structlog.processors.format_exc_info,
        structlog.processors.JSONRenderer(serializer=lambda obj, **_: orjson.dumps(obj, default=str).decode()),
    ]
    loggers: dict[str, Any] = {}
    files: dict[str, Any] = {}

    def write(path: str, level: str, event: str, fields: dict[str, Any], timestamp: float, pid: int) -> None:
        logger = loggers.get(path)
        if logger is None:
            handle = open(path, "a", encoding="utf-8", buffering=1)  # noqa: SIM115 - kept open across events
            files[path] = handle
            logger = loggers[path] = structlog.wrap_logger(structlog.WriteLogger(handle), processors=processors)
        try:
            getattr(logger, level)(event, timestamp=timestamp, pid=pid, **fields)
        except (TypeError, ValueError) as error:  # one event that cannot be rendered is written as such
            fallback = {"event": event, "level": level, "unrenderable": f"{type(error).__name__}: {error}"}
            files[path].write(orjson.dumps({key: _safe(value) for key, value in fallback.items()}).decode() + "\n")

    while True:
        item = _queue.get()
        kind = item[0]
        try:
            if kind == _FLUSH:
                item[1].set()
            elif kind == _CLOSE:
                loggers.pop(item[1], None)
                handle = files.pop(item[1], None)
                if handle is not None:
                    handle.close()
            else:
                write(*item[1:])
        except Exception:  # a full disk or a vanished file must never stop this thread, nor training
            continue


def _safe(value: object) -> str:
    """Text that any JSON encoder takes (lone surrogates escaped)."""
    return str(value).encode("utf-8", "backslashreplace").decode("utf-8")


def _reset_after_fork() -> None:
    """A forked child has no writer thread; start a fresh one on demand."""
    global _queue, _thread, _thread_lock
    _queue = queue.SimpleQueue()
    _thread = None
    _thread_lock = threading.Lock()


os.register_at_fork(after_in_child=_reset_after_fork)
