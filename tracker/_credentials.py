"""The key ``tracker login`` stored: one server, its key and entity, in a file only its owner can read."""

from __future__ import annotations

import contextlib
import os
from typing import Any

import orjson

from tracker._errors import UsageError
from tracker._settings import settings_file_path
from tracker.atomic import write_atomic


def credentials_path() -> str:
    """``$TRACKER_CREDENTIALS_FILE``, else ``credentials.json`` beside the settings file."""
    return os.environ.get("TRACKER_CREDENTIALS_FILE") or os.path.join(
        os.path.dirname(settings_file_path()), "credentials.json"
    )


def load() -> dict[str, Any] | None:
    """The stored login ({"base_url", "api_key", "entity"}), or None when there is none."""
    path = credentials_path()
    try:
        with open(path, "rb") as handle:
            data = orjson.loads(handle.read())
    except FileNotFoundError:
        return None
    except (OSError, orjson.JSONDecodeError) as error:
        raise UsageError(f"the stored login {path} cannot be read ({error}); run `tracker login` again") from None
    if not isinstance(data, dict) or not all(isinstance(data.get(key), str) for key in ("base_url", "api_key")):
        raise UsageError(f"the stored login {path} is damaged; run `tracker login` again")
    return data


def store(base_url: str, api_key: str, entity: str | None) -> str:
    """Keep the login (mode 0600, replaced atomically); returns the file's path."""
    path = credentials_path()
    os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
    write_atomic(path, orjson.dumps({"base_url": base_url, "api_key": api_key, "entity": entity}), mode=0o600)
    return path


def remove() -> bool:
    """Forget the stored login; False when there was none."""
    with contextlib.suppress(FileNotFoundError):
        os.unlink(credentials_path())
        return True
    return False


def configured_server(base_url: str | None, api_key: str | None) -> tuple[str | None, str | None]:
    """The server and key to use: the settings', else what `tracker login` stored (for that server)."""
    if base_url is not None and api_key is not None:
        return base_url, api_key
    stored = load()
    if stored is not None and (base_url is None or stored["base_url"] == base_url):
        return base_url or stored["base_url"], api_key or stored["api_key"]
    return base_url, api_key
