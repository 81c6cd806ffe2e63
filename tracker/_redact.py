"""Secrets kept out of debug logs: values under known key names, URL credentials, and the keys in use.

Applied by the debug-log writer to every event before it is rendered, whatever code produced it (an
error message quoting a URL, a settings dict, a library's log line), so no log file needs its own care.
"""

from __future__ import annotations

import functools
import re
from typing import Any

REDACTED = "<redacted>"
# field names whose value is a secret wherever they appear (api_key, X-Api-Key, db_password, auth_token...):
# substrings of the lower-cased name, not a regular expression, so init()'s events compile nothing for them
_SECRET_KEY_PARTS = (
    "apikey",
    "api_key",
    "api-key",
    "token",
    "secret",
    "password",
    "passwd",
    "authorization",
    "cookie",
    "credential",
)


@functools.cache
def _patterns() -> tuple[re.Pattern[str], re.Pattern[str], re.Pattern[str]]:
    """The text patterns, compiled on the first text that could hold a secret (not at import: init() writes
    its events itself, and compiling these costs more than writing them)."""
    # scheme://user:password@host -> scheme://user:<redacted>@host (database and proxy URLs)
    url_password = re.compile(r"(?P<head>[a-z][a-z0-9+.-]*://[^:/@\s]*:)[^@/\s]+@", re.IGNORECASE)
    # ?token=...&api_key=... in URLs
    query_secret = re.compile(
        r"(?P<head>[?&](?:api[_-]?key|apikey|key|token|access_token|auth|secret|password|signature)=)[^&\s#]+",
        re.IGNORECASE,
    )
    # Authorization header values quoted in messages
    auth_header = re.compile(r"(?P<head>\b(?:Bearer|Basic|Token)\s+)[A-Za-z0-9._~+/=-]{8,}")
    return url_password, query_secret, auth_header


# the API keys this process uses, replaced wherever they occur (an immutable tuple: events of any thread read it)
_known: tuple[str, ...] = ()
_SHORTEST_KNOWN = 8  # shorter values would redact ordinary words


def add_secret(value: str | None) -> None:
    """Redact ``value`` from every later event (called with the API key once it is known)."""
    global _known
    if value and len(value) >= _SHORTEST_KNOWN and value not in _known:
        _known = (*_known, value)


_PLAIN = frozenset((bool, int, float))


def redact(value: Any, key: str | None = None) -> Any:
    """``value`` with secrets replaced: the whole value under a secret key name, else secrets inside text."""
    if key is not None and _is_secret_name(key) and value not in (None, "", False):
        return REDACTED
    if value is None or type(value) in _PLAIN:  # most fields: nothing to look into
        return value
    if isinstance(value, str):
        return _redact_text(value)
    if isinstance(value, dict):
        return {name: redact(item, str(name)) for name, item in value.items()}
    if isinstance(value, list | tuple):
        return [redact(item) for item in value]
    return value


@functools.lru_cache(maxsize=4096)
def _is_secret_name(key: str) -> bool:
    """Cached: the same few dozen field and setting names come back in every event."""
    name = key.lower()
    return any(part in name for part in _SECRET_KEY_PARTS)


def _redact_text(text: str) -> str:
    for secret in _known:
        if secret in text:
            text = text.replace(secret, REDACTED)
    if "://" in text:
        text = _patterns()[0].sub(rf"\g<head>{REDACTED}@", text)
    if "=" in text:
        text = _patterns()[1].sub(rf"\g<head>{REDACTED}", text)
    if " " in text and ("Bearer" in text or "Basic" in text or "Token" in text):
        text = _patterns()[2].sub(rf"\g<head>{REDACTED}", text)
    return text


def processor(_logger: Any, _name: str, event: dict[str, Any]) -> dict[str, Any]:
    """A structlog-protocol processor: the event dict with every field redacted (its ``event`` name too)."""
    return {name: redact(value, name) if name != "event" else _redact_text(str(value)) for name, value in event.items()}
