"""``tracker.setup``/``teardown`` and ``tracker.login``: the process-wide calls wandb scripts make around init()."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tracker import _credentials, _process, _settings, console
from tracker._errors import Error, UsageError
from tracker._settings import Settings


def setup(settings: Settings | Mapping[str, Any] | None = None) -> Settings:
    """Make ``settings`` the defaults of every later init() in this process (above the environment)."""
    given = _settings.coerce(settings)
    _settings.process_defaults = _settings.process_defaults.merged(given)
    return _settings.process_defaults


def teardown(exit_code: int | None = None) -> None:
    """Finish every live run and forget what setup() gave."""
    _process.finish_all(exit_code)
    _settings.process_defaults = Settings()


def login(
    key: str | None = None,
    host: str | None = None,
    relogin: bool | None = None,
    anonymous: str | None = None,
    timeout: int | None = None,
    verify: bool = False,
) -> bool:
    """Store a key for ``host`` (else TRACKER_BASE_URL/WANDB_BASE_URL) after the server accepts it.

    Without a key, True when a login for that server is already stored (or a key is in the environment).
    ``anonymous`` and ``timeout`` are accepted for wandb's signature; ``verify`` is implied (the key is
    always checked before it is stored).
    """
    del anonymous, timeout, verify
    url = host or _settings.getenv("TRACKER_BASE_URL")
    key = key or _settings.getenv("TRACKER_API_KEY")
    stored = _credentials.load()
    if url is None:
        if stored is None:
            raise UsageError("login(): no host given and no TRACKER_BASE_URL/WANDB_BASE_URL; pass host=")
        url = stored["base_url"]
    base_url = _settings._base_url("host", url)
    assert base_url is not None  # url is not None here
    if key is None:
        return stored is not None and stored["base_url"] == base_url
    if not relogin and stored is not None and stored["base_url"] == base_url and stored["api_key"] == key:
        return True
    console.info(check_and_store(base_url, key), silent=False)
    return True


def check_and_store(base_url: str, key: str) -> str:
    """Check ``key`` against the server, then keep it; the message says who logged in. Error when refused."""
    from tracker._http import Client, ServerUnreachable

    try:
        answer = Client(base_url, key, timeout=10).get("/api/viewer")
    except ServerUnreachable as error:
        raise Error(str(error)) from None
    if answer.status != 200:
        raise Error(f"{base_url} refused this key ({answer.detail()}); nothing was stored")
    path = _credentials.store(base_url, key, answer.body["entity"])
    return f"logged in to {base_url} as {answer.body['user']} (entity {answer.body['entity']}); key kept in {path}"
