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
from tracker.atomic import write_atomic

STEP, RUNTIME, TIMESTAMP, EVENT, NONFINITE = "_step", "_runtime", "_timestamp", "_event", "_nonfinite"
RESERVED_KEYS = frozenset((STEP, RUNTIME, TIMESTAMP, EVENT, NONFINITE))

_INFINITIES = (math.inf, -math.inf)
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


def _is_nonfinite(value: Any) -> bool:
    """NaN or infinite: Python floats fast, then numpy/torch scalars and 0-d arrays by duck typing."""
    if value.__class__ is float:
        return value != value or value in _INFINITIES
    if isinstance(value, int | str | bytes) or not hasattr(value, "__float__") or getattr(value, "ndim", 0):
        return False
    try:
        return not math.isfinite(value)
    except (TypeError, ValueError):
        return False


def encode_nonfinite(record: dict[str, Any]) -> dict[str, Any]:
    """A copy with top-level NaN/inf as strings listed under ``_nonfinite`` (JSON has no NaN)."""
    keys = [key for key, value in record.items() if _is_nonfinite(value)]
    if not keys:
        return record
    return {**record, **{key: repr(float(record[key])) for key in keys}, NONFINITE: keys}


def decode_nonfinite(record: dict[str, Any]) -> dict[str, Any]:
    """Undo encode_nonfinite in place."""
    keys = record.pop(NONFINITE, None)
    if keys:
        for key in keys:
            record[key] = float(record[key])
    return record


def encode_record(record: dict[str, Any]) -> bytes:
    """One journal line."""
    try:
        return orjson.dumps(encode_nonfinite(record), default=_to_plain, option=_OPTIONS | orjson.OPT_APPEND_NEWLINE)
    except TypeError as error:
        raise UsageError(f"cannot store {_describe(record)}: {error}") from error


def check_storable(argument: str, data: dict[str, Any]) -> None:
    """Raise UsageError naming the first key whose value cannot be stored as JSON."""
    try:
        orjson.dumps(data, default=_to_plain, option=_OPTIONS)
    except TypeError as error:
        raise UsageError(f"{argument}: cannot store {_describe(data)}: {error}") from None


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
    return decode_nonfinite(record)


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


def dumps_pretty(value: Any) -> bytes:
    return orjson.dumps(value, default=_to_plain, option=_PRETTY)


def write_json_atomic(path: str, value: Any, *, pretty: bool = True) -> None:
    """Replace a materialized file atomically; top-level NaN/inf are kept as in journal records."""
    if isinstance(value, dict):
        value = encode_nonfinite(value)
    write_atomic(path, dumps_pretty(value) if pretty else orjson.dumps(value, default=_to_plain, option=_OPTIONS))


def read_json(path: str) -> Any:
    """A materialized JSON file, or None when it is missing or unreadable."""
    try:
        with open(path, "rb") as handle:
            value = orjson.loads(handle.read())
    except (FileNotFoundError, orjson.JSONDecodeError):
        return None
    return decode_nonfinite(value) if isinstance(value, dict) else value
