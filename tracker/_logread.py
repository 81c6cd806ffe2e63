"""Reading debug logs back: a run's ``logs/debug.log``, this store's per-host logs merged, filtered and followed.

Readers tolerate what a writer killed mid-line leaves (a torn last line) and lines that are not
events; they skip them. ``readable`` is the one text form of an event, shared by ``tracker logs`` and
the ``TRACKER_DEBUG=1`` echo on stderr.
"""

from __future__ import annotations

import fnmatch
import os
from collections.abc import Callable, Iterator
from typing import Any

import orjson

from tracker._layout import HOST_LOGS_DIR
from tracker._logs import LEVELS

# fields every event has, shown in their own columns rather than as key=value
_COLUMNS = ("timestamp", "level", "event")


def read_events(path: str, offset: int = 0) -> tuple[list[dict[str, Any]], int]:
    """The complete events of ``path`` from byte ``offset``, and the offset after the last complete line."""
    try:
        with open(path, "rb") as handle:
            handle.seek(offset)
            data = handle.read()
    except FileNotFoundError:
        return [], offset
    end = data.rfind(b"\n") + 1  # a line still being written (or torn by a kill) waits for its newline
    events = []
    for line in data[:end].splitlines():
        try:
            event = orjson.loads(line)
        except orjson.JSONDecodeError:
            continue
        if isinstance(event, dict) and isinstance(event.get("event"), str):
            events.append(event)
    return events, offset + end


def host_log_files(root: str) -> list[str]:
    """This store's per-host logs (``<store>/.logs/*.jsonl``)."""
    directory = os.path.join(root, HOST_LOGS_DIR)
    try:
        names = sorted(os.listdir(directory))
    except FileNotFoundError:
        return []
    return [os.path.join(directory, name) for name in names if name.endswith(".jsonl")]


def merged_host_events(root: str) -> list[dict[str, Any]]:
    """Every host's events in time order (each file is in order; timestamps are UTC ISO text, so they sort)."""
    events = [event for path in host_log_files(root) for event in read_events(path)[0]]
    return sorted(events, key=lambda event: str(event.get("timestamp", "")))


def event_filter(level: str | None, names: tuple[str, ...]) -> Callable[[dict[str, Any]], bool]:
    """Keep events at ``level`` or above whose name matches one of ``names`` (exact or a glob like ``lock.*``)."""
    threshold = LEVELS[level] if level is not None else 0

    def keep(event: dict[str, Any]) -> bool:
        if LEVELS.get(str(event.get("level")), 0) < threshold:
            return False
        return not names or any(fnmatch.fnmatchcase(str(event["event"]), name) for name in names)

    return keep


def follow(path: str, alive: Callable[[], bool], poll: float = 0.2) -> Iterator[dict[str, Any]]:
    """The events of ``path`` as they are written, until ``alive()`` is false and nothing more came."""
    import time

    offset = 0
    while True:
        running = alive()
        events, offset = read_events(path, offset)
        yield from events
        if not running:
            return
        if not events:
            time.sleep(poll)


def readable(event: dict[str, Any]) -> str:
    """``time level event key=value ...`` on one line (values as compact JSON when not plain words)."""
    return " ".join(part for part, _style in readable_parts(event))


def readable_parts(event: dict[str, Any]) -> list[tuple[str, str]]:
    """The readable line as (text, style) parts, for a terminal that colours them."""
    level = str(event.get("level", "?"))
    parts = [
        (str(event.get("timestamp", "-")), "dim"),
        (f"{level:<7}", {"error": "bold red", "warning": "yellow", "debug": "dim"}.get(level, "green")),
        (str(event.get("event", "?")), "bold"),
    ]
    parts.extend((f"{key}={_value(value)}", "") for key, value in event.items() if key not in _COLUMNS)
    return parts


def _value(value: Any) -> str:
    if isinstance(value, str) and value and not any(char.isspace() or char in "\"'=" for char in value):
        return value
    return orjson.dumps(value, default=str).decode()
