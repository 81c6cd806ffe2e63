"""Encoding of the run's append-only journal (history rows and events) and atomic JSON files.

A record is one JSON object on one line. Rows carry ``_step``; events carry ``_event``. A line that was
torn by a kill (no newline, or not JSON) is skipped by readers, so a reader never fails on a live or
crashed run.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator
from typing import Any

import orjson

from tracker._errors import UsageError

STEP, RUNTIME, TIMESTAMP, EVENT, NONFINITE = "_step", "_runtime", "_timestamp", "_event", "_nonfinite"
RESERVED_KEYS = frozenset((STEP, RUNTIME, TIMESTAMP, EVENT, NONFINITE))

_OPTIONS = orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS
_PRETTY = _OPTIONS | orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS


def _to_plain(value: Any) -> Any:
    """orjson fallback: tensors and 0-d arrays by duck typing, so numpy/torch are never imported here."""
    if hasattr(value, "tolist") and callable(value.tolist):
        return value.tolist()  # torch tensors, numpy arrays outside OPT_SERIALIZE_NUMPY's types
    if hasattr(value, "item") and callable(value.item):
        return value.item()
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    raise TypeError(f"values of type {type(value).__qualname__} cannot be stored")


def _nonfinite_keys(record: dict[str, Any]) -> list[str] | None:
    keys = None
    for key, value in record.items():
        if isinstance(value, float) and not math.isfinite(value):
            keys = [*keys, key] if keys else [key]
    return keys


def encode_record(record: dict[str, Any]) -> bytes:
    """One journal line. Top-level NaN/inf survive as strings listed under ``_nonfinite`` (JSON has none)."""
    nonfinite = _nonfinite_keys(record)
    if nonfinite:
        record = {**record, **{key: repr(float(record[key])) for key in nonfinite}, NONFINITE: nonfinite}
    try:
        return orjson.dumps(record, default=_to_plain, option=_OPTIONS | orjson.OPT_APPEND_NEWLINE)
    except TypeError as error:
        raise UsageError(f"cannot store {_describe(record)}: {error}") from error


def _describe(record: dict[str, Any]) -> str:
    for key, value in record.items():
        try:
            orjson.dumps(value, default=_to_plain, option=_OPTIONS)
        except TypeError:
            return f"key {key!r} (a {type(value).__qualname__}; use numbers, strings, lists or dicts)"
    return "the record"


def decode_record(line: bytes) -> dict[str, Any] | None:
    """A record, or None for a torn or corrupt line."""
    try:
        record = orjson.loads(line)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(record, dict):
        return None
    nonfinite = record.pop(NONFINITE, None)
    if nonfinite:
        for key in nonfinite:
            record[key] = float(record[key])
    return record


def read_records(path: str) -> Iterator[dict[str, Any]]:
    """Every complete record of a journal in order; a torn last line and corrupt lines are skipped."""
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except FileNotFoundError:
        return
    end = data.rfind(b"\n")
    for line in data[: end + 1].splitlines():
        if line:
            record = decode_record(line)
            if record is not None:
                yield record


def write_all(fd: int, payload: bytes) -> None:
    """Hand all bytes to the OS; a short write (signal, large payload) continues where it stopped."""
    view = memoryview(payload)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def dumps_pretty(value: Any) -> bytes:
    return orjson.dumps(value, default=_to_plain, option=_PRETTY)


def write_json_atomic(path: str, value: Any, *, pretty: bool = True) -> None:
    """Replace a materialized file atomically: readers see the old or the new file, never a mix."""
    payload = dumps_pretty(value) if pretty else orjson.dumps(value, default=_to_plain, option=_OPTIONS)
    temporary = f"{path}.{os.getpid()}.tmp"
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o644)
    try:
        write_all(fd, payload)
    finally:
        os.close(fd)
    os.replace(temporary, path)


def read_json(path: str) -> Any:
    """A materialized JSON file, or None when it is missing or unreadable."""
    try:
        with open(path, "rb") as handle:
            return orjson.loads(handle.read())
    except (FileNotFoundError, orjson.JSONDecodeError):
        return None
