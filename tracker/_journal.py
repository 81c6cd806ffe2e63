"""Encoding of the run's append-only journal (history rows and events) and of materialized JSON files.

A record is one JSON object on one line. Rows carry ``_step``; events carry ``_event``. Readers skip a
line torn by a kill (no newline yet) silently, and report a line that is not a well-formed record (not
JSON, or a reserved field of the wrong type), so one bad line never hides the rest of a run.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterator
from typing import Any

import orjson

from tracker import _validate
from tracker._errors import Error, UsageError
from tracker.atomic import write_atomic

STEP, RUNTIME, TIMESTAMP, EVENT, NONFINITE = "_step", "_runtime", "_timestamp", "_event", "_nonfinite"
RESERVED_KEYS = frozenset((STEP, RUNTIME, TIMESTAMP, EVENT, NONFINITE))
MAX_STEP = 2**63 - 1
AGGREGATES = ("min", "max", "mean", "best", "first", "last", "none")
GOALS = ("minimize", "maximize")
FINAL_STATES = ("finished", "failed", "preempted")

_INFINITIES = (math.inf, -math.inf)
_FINITE_TYPES = frozenset({int, bool, str, bytes, type(None), dict, list})  # never NaN at the top level
_OPTIONS = orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS
_PRETTY = _OPTIONS | orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS
_LINE = _OPTIONS | orjson.OPT_APPEND_NEWLINE
_NUMBER = (int, float)


class DamagedFile(Error):
    """A file of the store exists but cannot be read as what it should be; the message says which and why."""


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
    if isinstance(value, int | str | bytes) or not hasattr(value, "__float__") or getattr(value, "ndim", 0) != 0:
        return False
    try:
        return not math.isfinite(value)
    except (TypeError, ValueError):
        return False


def encode_nonfinite(record: dict[str, Any]) -> dict[str, Any]:
    """A copy with top-level NaN/inf as strings listed under ``_nonfinite`` (JSON has no NaN)."""
    for value in record.values():  # inlined for log()'s rows of plain numbers: no call per value
        kind = value.__class__
        if kind is float:
            if value - value != 0.0:  # NaN or infinite (a finite float minus itself is exactly 0.0)
                break
        elif kind not in _FINITE_TYPES:
            break
    else:
        return record
    keys = [key for key, value in record.items() if _is_nonfinite(value)]
    if not keys:
        return record
    return {**record, **{key: repr(float(record[key])) for key in keys}, NONFINITE: keys}


def _decode_nonfinite(record: dict[str, Any]) -> str | None:
    """Undo encode_nonfinite in place; the problem if ``_nonfinite`` does not describe the record."""
    keys = record.pop(NONFINITE, None)
    if keys is None:
        return None
    if not isinstance(keys, list):
        return f"{NONFINITE} must be a list of keys"
    for key in keys:
        value = record.get(key) if isinstance(key, str) else None
        if value not in ("nan", "inf", "-inf"):
            return f"{NONFINITE} names {key!r}, which does not hold 'nan', 'inf' or '-inf'"
        record[key] = float(value)
    return None


def encode_record(record: dict[str, Any]) -> bytes:
    """One journal line.

    orjson writes NaN and infinities as null, so only a line holding ``null`` is looked at again for them
    (``encode_nonfinite``): a row of plain numbers, log()'s common case, costs one call into orjson.
    """
    try:
        line = orjson.dumps(record, default=_to_plain, option=_LINE)
        if b"null" in line:
            encoded = encode_nonfinite(record)
            if encoded is not record:
                line = orjson.dumps(encoded, default=_to_plain, option=_LINE)
        return line
    except TypeError as error:
        raise UsageError(f"cannot store {_describe(record)}: {error}") from error


def encode_json(argument: str, value: Any, *, pretty: bool = True) -> bytes:
    """A materialized file's bytes (top-level NaN/inf kept); UsageError naming ``argument`` if unstorable."""
    if isinstance(value, dict):
        value = encode_nonfinite(value)
    try:
        return orjson.dumps(value, default=_to_plain, option=_PRETTY if pretty else _OPTIONS)
    except TypeError as error:
        described = _describe(value) if isinstance(value, dict) else "the value"
        raise UsageError(f"{argument}: cannot store {described}: {error}") from None


def check_storable(argument: str, data: dict[str, Any]) -> None:
    """Raise UsageError naming the first key whose value cannot be stored as JSON."""
    encode_json(argument, data, pretty=False)


def _describe(record: dict[str, Any]) -> str:
    for key, value in record.items():
        try:
            orjson.dumps(value, default=_to_plain, option=_OPTIONS)
        except TypeError:
            return f"key {key!r} (a {type(value).__qualname__}; use numbers, strings, lists or dicts)"
    return "the record"


def _is_int(value: Any) -> bool:
    return value.__class__ is int


def _event_problem(record: dict[str, Any]) -> str | None:
    """What is wrong with an event record's fields, or None (unknown events are kept for newer readers)."""
    event = record[EVENT]
    if not isinstance(event, str):
        return f"{EVENT} must be a string"
    if STEP in record:
        return f"a record cannot have both {EVENT} and {STEP}"
    if event == "summary" and not isinstance(record.get("data"), dict):
        return "a summary event needs a 'data' object"
    if event == "summary_delete":
        keys = record.get("keys")
        if not isinstance(keys, list) or not all(isinstance(key, str) for key in keys):
            return "a summary_delete event needs 'keys', a list of strings"
    if event == "metric":
        name, aggregates = record.get("name"), record.get("summary") or []
        if not isinstance(name, str) or not name:
            return "a metric event needs a 'name' string"
        if not isinstance(aggregates, list) or not all(item in AGGREGATES for item in aggregates):
            return f"a metric event's 'summary' must be a list drawn from {', '.join(AGGREGATES)}"
        if not isinstance(record.get("step_metric"), str | None) or record.get("goal") not in (None, *GOALS):
            return "a metric event's 'step_metric' must be a string and 'goal' minimize or maximize"
        if not isinstance(record.get("step_sync"), bool | None):
            return "a metric event's 'step_sync' must be true or false"
    if event == "resume" and not (_is_int(record.get("starting_step")) and record["starting_step"] >= 0):
        return "a resume event needs 'starting_step', a non-negative integer"
    if event == "finish" and (record.get("state") not in FINAL_STATES or not _is_int(record.get("exit_code"))):
        return f"a finish event needs 'state' ({', '.join(FINAL_STATES)}) and an integer 'exit_code'"
    return None


def record_problem(record: Any) -> str | None:
    """What makes a decoded line not a journal record, or None for a good one (decoded in place)."""
    if record.__class__ is not dict:
        return "not a JSON object"
    step = record.get(STEP)
    if step is None:
        return _event_problem(record) if EVENT in record else f"neither {STEP} nor {EVENT}"
    if step.__class__ is not int or not 0 <= step <= MAX_STEP:
        return f"{STEP} must be a non-negative 64-bit integer, not {step!r}"
    for key in (RUNTIME, TIMESTAMP):
        value = record.get(key)
        if value is not None and (value.__class__ not in _NUMBER):
            return f"{key} must be a number, not {value!r}"
    if EVENT in record:
        return f"a record cannot have both {EVENT} and {STEP}"
    return _decode_nonfinite(record) if NONFINITE in record else None


def decode_record(line: bytes) -> dict[str, Any] | None:
    """A record, or None for a corrupt line."""
    try:
        record = orjson.loads(line)
    except orjson.JSONDecodeError:
        return None
    return record if record_problem(record) is None else None


BadRecord = Callable[[int, str], None]


class BadLines:
    """The lines read_records skipped as bad, reported once per file rather than once per line."""

    __slots__ = ("count", "first")

    def __init__(self) -> None:
        self.count = 0
        self.first = ""

    def __call__(self, line: int, problem: str) -> None:
        self.count += 1
        if self.count == 1:
            self.first = f"line {line}: {problem}" if line else problem

    def report(self, where: str) -> str | None:
        """A one-line warning naming ``where``, or None when nothing was skipped."""
        if not self.count:
            return None
        return f"{where}: {self.count} bad record(s) in history.jsonl were skipped (first, {self.first})"


def read_records(path: str, on_bad: BadRecord | None = None) -> Iterator[dict[str, Any]]:
    """Every complete record of a journal in order. A torn last line is skipped; each other line that is
    not a well-formed record is skipped and reported to ``on_bad(line_number, problem)``."""
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except FileNotFoundError:
        return
    except OSError as error:
        if on_bad is not None:
            on_bad(0, f"cannot be read: {error.strerror or error}")
        return
    end = data.rfind(b"\n")
    for number, line in enumerate(data[: end + 1].split(b"\n")[:-1], 1):
        if not line:
            continue
        try:
            record = orjson.loads(line)
        except orjson.JSONDecodeError:
            problem: str | None = "not JSON"
        else:
            problem = record_problem(record)
        if problem is None:
            yield record
        elif on_bad is not None:
            on_bad(number, problem)


def last_record(path: str) -> dict[str, Any] | None:
    """The journal's last complete, well-formed record, reading only its tail."""
    try:
        with open(path, "rb") as handle:
            size = handle.seek(0, os.SEEK_END)
            handle.seek(max(0, size - 65536))
            tail = handle.read()
    except OSError:
        return None
    lines = tail[: tail.rfind(b"\n") + 1].split(b"\n")[:-1]
    for line in reversed(lines):
        record = decode_record(line) if line else None
        if record is not None:
            return record
    return None


def write_json_atomic(path: str, value: Any, *, pretty: bool = True) -> None:
    """Replace a materialized file atomically; top-level NaN/inf are kept as in journal records."""
    write_atomic(path, encode_json(os.path.basename(path), value, pretty=pretty))


def decode_json(data: bytes, path: str) -> Any:
    """A materialized file's value from its bytes (NaN/inf restored); DamagedFile naming ``path`` if unparsable."""
    try:
        value = orjson.loads(data)
    except orjson.JSONDecodeError as error:
        raise DamagedFile(f"{path} is not valid JSON ({error})") from None
    if isinstance(value, dict) and NONFINITE in value:
        problem = _decode_nonfinite(value)
        if problem is not None:
            raise DamagedFile(f"{path}: {problem}")
    return value


def read_json(path: str) -> Any:
    """A materialized JSON file; None when it does not exist; DamagedFile when it cannot be read or parsed."""
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except FileNotFoundError:
        return None
    except OSError as error:
        raise DamagedFile(f"{path} cannot be read: {error.strerror or error}") from None
    return decode_json(data, path)


def read_json_object(path: str, what: str) -> dict[str, Any] | None:
    """A JSON file that must hold an object; None when missing; DamagedFile naming ``what`` otherwise."""
    value = read_json(path)
    if value is not None and not isinstance(value, dict):
        raise DamagedFile(f"{path}: {what} must be a JSON object, not {type(value).__name__}")
    return value


RUN_STATES = ("running", *FINAL_STATES)
_OPTIONAL_TEXT = ("name", "entity", "group", "job_type", "notes", "updated_at", "finished_at")


def run_record_problem(record: Any) -> str | None:
    """What makes a run.json unusable (a field of the wrong type), or None when it is sound."""
    if not isinstance(record, dict):
        return "run.json is not a JSON object"
    for field in ("id", "project"):
        try:
            _validate.identifier(field, record.get(field))
        except UsageError as error:
            return f"run.json: {error}"
    if record.get("state") not in RUN_STATES:
        return f"run.json: state must be one of {', '.join(RUN_STATES)}, not {record.get('state')!r}"
    if not isinstance(record.get("created_at"), str):
        return f"run.json: created_at must be an ISO 8601 string, not {record.get('created_at')!r}"
    for field in _OPTIONAL_TEXT:
        if not isinstance(record.get(field), str | None):
            return f"run.json: {field} must be a string, not {record[field]!r}"
    tags = record.get("tags")
    if tags is not None and (not isinstance(tags, list) or not all(isinstance(tag, str) for tag in tags)):
        return f"run.json: tags must be a list of strings, not {tags!r}"
    for field in ("exit_code", "starting_step", "resume_count", "format_version"):
        value = record.get(field)
        if value is not None and not _is_int(value):
            return f"run.json: {field} must be an integer, not {value!r}"
    if not isinstance(record.get("preempting", False), bool):
        return f"run.json: preempting must be true or false, not {record['preempting']!r}"
    return None
