"""Boundary checks for user-supplied values: each failure is a UsageError naming the argument, value and rule."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from tracker._errors import UsageError

# Characters that break a path component or a URL segment; ids and project names become both.
_FORBIDDEN = frozenset('/\\#?%:*"<>|&+=;@ \t\n\r\x00')
MAX_IDENTIFIER = 128
MAX_TAG = 64
MAX_JOB_TYPE = 64


def identifier(argument: str, value: Any) -> str:
    """Validate an id, project or entity: it names a directory and a URL segment."""
    if not isinstance(value, str):
        raise UsageError(f"{argument}={value!r} must be a string, not {type(value).__name__}")
    if not value:
        raise UsageError(f"{argument} must not be empty")
    if len(value) > MAX_IDENTIFIER:
        raise UsageError(f"{argument}={value!r} is {len(value)} characters long; at most {MAX_IDENTIFIER} allowed")
    if value in (".", "..") or value.startswith("."):
        raise UsageError(f"{argument}={value!r} must not start with '.'")
    for char in value:
        if char in _FORBIDDEN or not char.isprintable():
            raise UsageError(
                f"{argument}={value!r} contains {char!r}, which would break paths or URLs; "
                "use letters, digits, '-', '_' and '.'"
            )
    return value


def _encodable(argument: str, value: str) -> None:
    """Reject text that cannot be stored as UTF-8 (lone surrogates, from a bad decode or os.fsdecode)."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as error:
        raise UsageError(
            f"{argument}={value!r} holds {value[error.start]!r} at position {error.start}, which is not a character "
            "(a lone surrogate); pass text that is valid Unicode"
        ) from None


def text(argument: str, value: Any, *, max_length: int | None = None, allow_empty: bool = True) -> str:
    """Validate a free-text string such as a name, group or notes."""
    if not isinstance(value, str):
        raise UsageError(f"{argument}={value!r} must be a string, not {type(value).__name__}")
    _encodable(argument, value)
    if not allow_empty and not value.strip():
        raise UsageError(f"{argument} must not be empty")
    if max_length is not None and len(value) > max_length:
        raise UsageError(f"{argument}={value!r} is {len(value)} characters long; at most {max_length} allowed")
    return value


def tags(value: Any, argument: str = "tags") -> tuple[str, ...]:
    """Normalize tags: one string is one tag; each tag is 1..64 characters; order kept, duplicates dropped."""
    items: Iterable[Any] = (value,) if isinstance(value, str) else value
    if not isinstance(items, Iterable) or isinstance(items, bytes | dict):
        raise UsageError(f"{argument}={value!r} must be a string or a sequence of strings")
    result: list[str] = []
    for tag in items:
        if not isinstance(tag, str):
            raise UsageError(f"{argument}: {tag!r} must be a string, not {type(tag).__name__}")
        _encodable(argument, tag)
        if not 1 <= len(tag) <= MAX_TAG:
            raise UsageError(f"{argument}: {tag!r} is {len(tag)} characters long; each tag must have 1 to {MAX_TAG}")
        if tag not in result:
            result.append(tag)
    return tuple(result)


def choice(argument: str, value: Any, allowed: Iterable[Any]) -> Any:
    """Validate that a value is one of a fixed set (compared with ==, and bools only match bools)."""
    options = tuple(allowed)
    for option in options:
        if type(value) is type(option) and value == option:
            return value
    listed = ", ".join(repr(option) for option in options)
    raise UsageError(f"{argument}={value!r} is not allowed; choose one of {listed}")


def boolean(argument: str, value: Any, *, from_text: bool = False) -> bool:
    """Validate a bool; ``from_text`` (environment variables) also accepts true/false, 1/0, yes/no, on/off."""
    if isinstance(value, bool):
        return value
    if not from_text:
        raise UsageError(f"{argument}={value!r} must be a bool (True or False)")
    if isinstance(value, str):
        lowered = value.strip().lower()
        if lowered in ("1", "true", "yes", "on"):
            return True
        if lowered in ("0", "false", "no", "off", ""):
            return False
    raise UsageError(f"{argument}={value!r} must be a boolean (true/false)")
