"""Structured debug logs (JSON lines): each run's events, and this host's log of opened runs.

An event is written by the thread that emits it, as it happens: run through structlog-protocol
processors (timestamp, secret redaction in ``tracker._redact``, the TRACKER_DEBUG echo), rendered with
orjson and appended with one ``write()`` on an ``O_APPEND`` descriptor, so it is in the file (the
kernel's page cache) when the call returns, and concurrent writers on one host never tear each other's
lines. Events are rare (a run's start and end, warnings, decisions), so they cost their caller a few
tens of microseconds; a writer thread would make init() wait for that thread to be scheduled instead.
A full disk or a vanished directory loses the event, never the caller's work. This module is the
project's one exception to "logs through structlog": it runs structlog's processor protocol
(``processors()``) without importing structlog, whose import costs 2.5 to 4 times ``import tracker``
(measured in tracker/FORMAT.md). The launcher's events come through here too; the server logs through
structlog. Nothing here runs on ``log()``'s path, and ``logging`` is never configured.

Event names and fields are documented in ``tracker/FORMAT.md`` ("Debug events").
"""

from __future__ import annotations

import collections
import contextlib
import functools
import os
import threading
import time
from typing import Any

from tracker import _redact

LEVELS = {"debug": 10, "info": 20, "warning": 30, "error": 40}
DEFAULT_LEVEL = "info"
# run logs open in this process: the warnings shown to the user are written to each of them
_open: list[DebugLog] = []
# events of the run init() is opening, from before its log exists (warnings shown, the server connected to)
_pending: collections.deque[tuple[str, str, dict[str, Any], float]] = collections.deque(maxlen=32)


def echo_enabled() -> bool:
    """TRACKER_DEBUG=1: every event, debug included, is also shown on stderr in readable form."""
    return os.environ.get("TRACKER_DEBUG", "").strip().lower() in ("1", "true", "yes", "on")


class DebugLog:
    """A logger bound to one file, a level and a context (e.g. run_id); cheap to call from any thread."""

    __slots__ = ("_capture", "_closed", "_context", "_echo", "_path", "_threshold")

    def __init__(self, path: str, *, level: str = DEFAULT_LEVEL, **context: Any) -> None:
        self._path = path
        self._context = context
        self._echo = echo_enabled()
        self._threshold = LEVELS["debug"] if self._echo else LEVELS[level]
        self._capture: Any = None  # the handler on Hydra's and submitit's loggers (tracker._logcapture)
        self._closed = False

    @property
    def path(self) -> str:
        return self._path

    def enabled(self, level: str) -> bool:
        return LEVELS[level] >= self._threshold

    def debug(self, event: str, **fields: Any) -> None:
        self.event("debug", event, **fields)

    def info(self, event: str, **fields: Any) -> None:
        self.event("info", event, **fields)

    def warning(self, event: str, **fields: Any) -> None:
        self.event("warning", event, **fields)

    def error(self, event: str, **fields: Any) -> None:
        self.event("error", event, **fields)

    def event(self, level: str, event: str, *, at: float | None = None, **fields: Any) -> None:
        """Write one event if its level passes this log's threshold; dropped (and noted) once closed."""
        self.events([(level, event, fields)], at=at)

    def events(self, events: list[tuple[str, str, dict[str, Any]]], *, at: float | None = None) -> None:
        """Write several ``(level, event, fields)`` at once (one ``write()``: init() has four to say)."""
        kept = [(level, event, fields) for level, event, fields in events if LEVELS[level] >= self._threshold]
        if not kept:
            return
        if self._closed:
            for _level, event, _fields in kept:
                self._note_dropped(event)
            return
        context = self._context
        events = [(level, event, {**context, **fields}) for level, event, fields in kept]
        _write(self._path, events, at or time.time(), os.getpid(), self._echo)

    def open_for_run(self) -> None:
        """Make this the log of a live run: warnings shown from now on (and those pending) are written here."""
        _open.append(self)
        while _pending:
            level, event, fields, at = _pending.popleft()
            self.event(level, event, at=at, **fields)

    def capture_libraries(self, level: str) -> None:
        """Also write Hydra's and submitit's log records (at ``level`` and above) here, until close()."""
        from tracker import _logcapture

        self._capture = _logcapture.attach(self, level)

    def close(self) -> None:
        """Stop capturing, then close the file.

        Later events are dropped: a run's log is closed when its run has ended, and its directory may
        be gone by then (``tracker rm``); reopening the file would re-create it.
        """
        self._closed = True
        if self._capture is not None:
            from tracker import _logcapture

            _logcapture.detach(self._capture)
            self._capture = None
        if self in _open:
            _open.remove(self)
        _close_output(self._path)

    def _note_dropped(self, event: str) -> None:
        """A debug note in this host's log that a run's late event was not written (a thread outliving finish())."""
        run_id = self._context.get("run_id")
        if run_id is None:
            return
        from tracker import _layout

        run_directory = os.path.dirname(os.path.dirname(self._path))
        host_event(
            _layout.root_of_run(run_directory),
            "debug",
            "event.dropped",
            run_id=run_id,
            dropped=event,
            reason="the run had finished: its log was closed",
        )


def warning_shown(message: str) -> None:
    """A warning the user saw (``console.warn``): an event in every open run log, or kept for the next run."""
    logs = list(_open)
    if not logs:
        before_run("warning", "warning.shown", message=message)
    for log in logs:
        log.warning("warning.shown", message=message)


def before_run(level: str, event: str, **fields: Any) -> None:
    """An event of the run init() is opening, decided before its log exists (the server it connects to)."""
    _pending.append((level, event, fields, time.time()))


def run_event(level: str, event: str, **fields: Any) -> None:
    """An event for the runs open in this process (the launcher's job events); nothing when none is open."""
    for log in list(_open):
        log.event(level, event, **fields)


def host_event(root: str, level: str, event: str, **fields: Any) -> None:
    """One event in this host's global log of the store at ``root`` (runs opened, refused, sweeps launched).

    Every process on this host appends to the one file with single O_APPEND writes (atomic on one host);
    other hosts have their own file, so no line is ever shared across hosts (readers merge the files).
    """
    from tracker import _layout
    from tracker._metadata import hostname

    DebugLog(_layout.host_log(root, hostname()), level="debug").event(level, event, **fields)


def begin_init() -> None:
    """A new init(): drop events pending from before it."""
    _pending.clear()


class _AppendFile:
    """The output end: one write() per rendered batch of lines on an O_APPEND descriptor (never torn, never
    buffered).

    Only the file's own directory is created (a run's ``logs/``, the store's ``.logs/``), and only when
    the file cannot be opened without it; never its parents: an event for a run directory that is gone
    must not bring it back.
    """

    __slots__ = ("fd",)

    def __init__(self, path: str) -> None:
        flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC
        try:
            self.fd = os.open(path, flags, 0o644)
        except FileNotFoundError:
            with contextlib.suppress(FileExistsError):
                os.mkdir(os.path.dirname(path) or ".")
            self.fd = os.open(path, flags, 0o644)

    def write_lines(self, lines: str) -> None:
        os.write(self.fd, lines.encode("utf-8", "backslashreplace"))


_second_text: tuple[int, str] = (-1, "")  # the last whole second stamped, formatted (strftime is the dear part)


def _stamp(_logger: Any, _name: str, event: dict[str, Any]) -> dict[str, Any]:
    global _second_text
    timestamp = event["timestamp"]
    second = int(timestamp)
    if _second_text[0] != second:
        _second_text = (second, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second)))
    event["timestamp"] = f"{_second_text[1]}.{int(timestamp % 1 * 1e6):06d}Z"
    return event


def _echo(_logger: Any, _name: str, event: dict[str, Any]) -> dict[str, Any]:
    if event.pop("_echo", False):
        from tracker import _logread, console

        console.echo(_logread.readable(event))
    return event


def _render(event: dict[str, Any]) -> str:
    import orjson

    return orjson.dumps(event, default=str).decode()


_COMMON = ("timestamp", "level", "event", "pid", "_echo")


def processors() -> tuple[Any, ...]:
    """The pipeline every event goes through, as structlog processors ``(logger, method, event) -> event``.

    Applied by this module itself rather than through ``structlog.wrap_logger``: importing structlog (it
    loads rich and asyncio) costs several times ``import tracker`` whole, and init() writes its events
    (measured in tracker/FORMAT.md, "Why the writer does not import structlog").
    """
    return (_stamp, _redact.processor, _echo)


# the files events go to, by path, opened on their first event; one writer at a time (reentrant: a
# preemption signal's handler may write while the main thread is inside a write)
_outputs: dict[str, _AppendFile] = {}
_writing = threading.RLock()


@functools.cache
def _pipeline() -> tuple[Any, ...]:
    return processors()


def _render_line(level: str, event: str, fields: dict[str, Any], timestamp: float, pid: int, echo: bool) -> str:
    """One event through the pipeline, as a line; one that cannot be rendered is written as such."""
    record = {"timestamp": timestamp, "level": level, "event": event, "pid": pid, "_echo": echo}
    record.update((key, value) for key, value in fields.items() if key not in _COMMON)
    try:
        for processor in _pipeline():
            record = processor(None, level, record)
        return _render(record) + "\n"
    except (TypeError, ValueError) as error:
        fallback = {"event": event, "level": level, "unrenderable": f"{type(error).__name__}: {error}"}
        return _render({key: _safe(value) for key, value in fallback.items()}) + "\n"


def _write(path: str, events: list[tuple[str, str, dict[str, Any]]], timestamp: float, pid: int, echo: bool) -> None:
    """Render events and append them to their file with one write; any failure loses them, never the
    caller's work."""
    try:
        lines = "".join(_render_line(level, event, fields, timestamp, pid, echo) for level, event, fields in events)
        with _writing:
            output = _outputs.get(path)
            if output is None:
                output = _outputs[path] = _AppendFile(path)
            output.write_lines(lines)
    except Exception:  # a full disk or a vanished directory must never stop training
        return


def _close_output(path: str) -> None:
    with _writing:
        output = _outputs.pop(path, None)
        if output is not None:
            with contextlib.suppress(OSError):
                os.close(output.fd)


def _safe(value: object) -> str:
    """Text that any JSON encoder takes (lone surrogates escaped)."""
    return str(value).encode("utf-8", "backslashreplace").decode("utf-8")


def _reset_after_fork() -> None:
    """A forked child has no runs of its own: its copies of the parent's log files are closed (and the
    lock, which another thread may have held at the fork, is new)."""
    global _writing
    _writing = threading.RLock()
    for output in _outputs.values():
        with contextlib.suppress(OSError):
            os.close(output.fd)
    _outputs.clear()
    _open.clear()
    _pending.clear()


os.register_at_fork(after_in_child=_reset_after_fork)
